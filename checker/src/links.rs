//! The host's network links, as /sys/class/net shows them, and undoing a leak.

use std::os::fd::AsRawFd;

/// (name, flags) of every link in the checker's network namespace (the host's).
pub fn host_links() -> Vec<(String, String)> {
    let mut links: Vec<(String, String)> = std::fs::read_dir("/sys/class/net")
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let flags = std::fs::read_to_string(e.path().join("flags")).unwrap_or_default();
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        flags.trim().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    links.sort();
    links
}

/// Removes a link a runtime left behind, when we know how: a persistent tun/tap device (the
/// kind a runtime can create without netlink) is deleted by clearing its persist flag.
/// Anything else is only reported: we never touch links we cannot prove we may remove.
pub fn remove_leaked(name: &str) -> bool {
    let Ok(tun_flags) = std::fs::read_to_string(format!("/sys/class/net/{name}/tun_flags")) else {
        return false;
    };
    let Ok(flags) = i16::from_str_radix(tun_flags.trim().trim_start_matches("0x"), 16) else {
        return false;
    };
    // Closing the device after clearing persist deletes it.
    attach_tun(name, flags).is_ok_and(|tun| set_persist(&tun, false).is_ok())
}

/// The tun/tap device `name` with `flags` (IFF_TUN, IFF_NO_PI…), created if it does not exist:
/// `/dev/net/tun`, attached to it. It goes when this closes, unless it persists.
pub fn attach_tun(name: &str, flags: i16) -> std::io::Result<std::fs::File> {
    let tun = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")?;
    // SAFETY: ifreq is plain old data; all zeroes is a valid request.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in request
        .ifr_name
        .iter_mut()
        .zip(name.bytes().take(libc::IFNAMSIZ - 1))
    {
        *dst = src as libc::c_char;
    }
    request.ifr_ifru.ifru_flags = flags;
    // SAFETY: TUNSETIFF reads the ifreq we own.
    if unsafe { libc::ioctl(tun.as_raw_fd(), TUNSETIFF, &request) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(tun)
}

/// Whether the attached device outlives its last file (TUNSETPERSIST).
pub fn set_persist(tun: &std::fs::File, persist: bool) -> std::io::Result<()> {
    // SAFETY: TUNSETPERSIST takes an integer.
    if unsafe { libc::ioctl(tun.as_raw_fd(), TUNSETPERSIST, libc::c_int::from(persist)) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// From linux/if_tun.h: _IOW('T', 202, int) and _IOW('T', 203, int).
pub const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
pub const TUNSETPERSIST: libc::c_ulong = 0x4004_54cb;
