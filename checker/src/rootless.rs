//! Which levels can be checked without root (`--rootless`): the runtime runs as root in a user
//! namespace the checker creates, which is enough for namespaces, chroot, pivot_root, proc,
//! tmpfs, sethostname and `lo`, and for overlayfs from Linux 5.11 on. Cgroups are the host's:
//! levels that need them are skipped, with the reason.

/// Why level `level` cannot be checked rootless here, or None when it can.
pub fn blocker(level: u32) -> Option<String> {
    blocker_on(level, &kernel_release())
}

fn kernel_release() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The overlay level: overlayfs can be mounted in a user namespace from Linux 5.11 on.
const OVERLAY_LEVEL: u32 = 7;

fn blocker_on(level: u32, release: &str) -> Option<String> {
    if level == OVERLAY_LEVEL && version(release) < (5, 11) {
        return Some(format!(
            "overlayfs cannot be mounted in a user namespace before Linux 5.11 (this is {release}): check it as root"
        ));
    }
    None
}

/// `(major, minor)` of a kernel release such as `6.1.0-18-amd64`.
fn version(release: &str) -> (u32, u32) {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_needs_linux_5_11_in_a_user_namespace() {
        assert!(blocker_on(7, "5.10.0-28-amd64").is_some());
        assert!(blocker_on(7, "5.11.0").is_none());
        assert!(blocker_on(7, "6.18.44-fc-v782").is_none());
        assert!(blocker_on(3, "4.19.0").is_none());
    }
}
