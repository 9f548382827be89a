//! The running kernel: its release, and the version in it, for what depends on it (overlayfs in
//! a user namespace from 5.11, a watched call that goes on from 5.5).

/// The running kernel's release (`uname -r`: `6.1.0-13-amd64`); empty when uname fails.
pub fn release() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The (major, minor) version a release starts with; (0, 0) for what is not one.
pub fn version(release: &str) -> (u32, u32) {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_reads_as_major_and_minor() {
        assert!(version("6.18.44-fc-v1272") >= (5, 5));
        assert!(version("5.10.0-28-amd64") >= (5, 5));
        assert!(version("5.5.0") >= (5, 5));
        assert!(version("5.4.0-186-generic") < (5, 5));
        assert!(version("4.19.0") < (5, 5));
        assert!(version("") < (5, 5));
        assert_eq!(version("5.10.0-28-amd64"), (5, 10));
    }
}
