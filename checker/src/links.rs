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

/// Every link created in the host's network namespace while it is open, told by the kernel as
/// it happens (rtnetlink(7), the RTMGRP_LINK group): a leaked link may be deleted again before
/// the check ends (by the runtime, or by the host's own tooling), and is still seen.
pub struct LinkWatch {
    socket: std::os::fd::OwnedFd,
}

impl LinkWatch {
    /// None where the kernel refuses the socket: then only the links still there are seen.
    pub fn start() -> Option<LinkWatch> {
        use std::os::fd::FromRawFd;
        // SAFETY: socket(2) with constant arguments; the fd is owned below.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return None;
        }
        // SAFETY: fd is a new socket that nothing else owns.
        let socket = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        // SAFETY: sockaddr_nl is plain old data; all zeroes is a valid address.
        let mut address: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        address.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        address.nl_groups = libc::RTMGRP_LINK as u32;
        // SAFETY: bind(2) reads the address we own, of the size we pass.
        let bound = unsafe {
            libc::bind(
                socket.as_raw_fd(),
                std::ptr::addr_of!(address).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        (bound == 0).then_some(LinkWatch { socket })
    }

    /// The names of the links the kernel announced (created, or changed) since the last call.
    pub fn announced(&self) -> Vec<String> {
        let mut names = Vec::new();
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: recv(2) writes at most buffer.len() bytes into the buffer we own.
            let n = unsafe {
                libc::recv(
                    self.socket.as_raw_fd(),
                    buffer.as_mut_ptr().cast(),
                    buffer.len(),
                    0,
                )
            };
            // EAGAIN once nothing is queued; ENOBUFS when some were lost: read on.
            if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOBUFS) {
                continue;
            }
            let Ok(n @ 1..) = usize::try_from(n) else {
                return names;
            };
            names.extend(new_link_names(&buffer[..n]));
        }
    }
}

/// The IFLA_IFNAME of each RTM_NEWLINK message in a netlink datagram (rtnetlink(7)): a 16-byte
/// nlmsghdr, a 16-byte ifinfomsg, then attributes (length, type, value), each 4-byte aligned.
pub fn new_link_names(datagram: &[u8]) -> Vec<String> {
    let u16_at = |b: &[u8], at: usize| b.get(at..at + 2).map(|v| u16::from_ne_bytes([v[0], v[1]]));
    let u32_at = |b: &[u8], at: usize| {
        b.get(at..at + 4)
            .map(|v| u32::from_ne_bytes([v[0], v[1], v[2], v[3]]))
    };
    let align = |n: usize| (n + 3) & !3;
    let mut names = Vec::new();
    let mut message = datagram;
    while let (Some(len), Some(kind)) = (u32_at(message, 0), u16_at(message, 4)) {
        let len = len as usize;
        let Some(body) = message.get(16..len) else {
            break;
        };
        if kind == libc::RTM_NEWLINK {
            let mut attributes = body.get(16..).unwrap_or(&[]);
            while let (Some(attr_len), Some(attr_kind)) =
                (u16_at(attributes, 0), u16_at(attributes, 2))
            {
                let attr_len = usize::from(attr_len);
                let Some(value) = attributes.get(4..attr_len) else {
                    break;
                };
                if attr_kind == libc::IFLA_IFNAME {
                    let name = value.split(|b| *b == 0).next().unwrap_or(&[]);
                    names.push(String::from_utf8_lossy(name).into_owned());
                }
                attributes = attributes.get(align(attr_len.max(4))..).unwrap_or(&[]);
            }
        }
        message = message.get(align(len.max(16))..).unwrap_or(&[]);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One netlink message: header, ifinfomsg, then (type, value) attributes.
    fn message(kind: u16, attributes: &[(u16, &[u8])]) -> Vec<u8> {
        let mut body = vec![0u8; 16];
        for (attr_kind, value) in attributes {
            let len = 4 + value.len();
            body.extend((len as u16).to_ne_bytes());
            body.extend(attr_kind.to_ne_bytes());
            body.extend(*value);
            body.resize((body.len() + 3) & !3, 0);
        }
        let mut out = ((16 + body.len()) as u32).to_ne_bytes().to_vec();
        out.extend(kind.to_ne_bytes());
        out.extend([0u8; 10]);
        out.extend(body);
        out
    }

    #[test]
    fn the_names_of_new_links_are_read_from_a_datagram() {
        let mut datagram = message(
            libc::RTM_NEWLINK,
            &[
                (libc::IFLA_MTU, &1500u32.to_ne_bytes()),
                (libc::IFLA_IFNAME, b"rcleak3f\0"),
            ],
        );
        datagram.extend(message(
            libc::RTM_DELLINK,
            &[(libc::IFLA_IFNAME, b"gone\0")],
        ));
        datagram.extend(message(
            libc::RTM_NEWLINK,
            &[(libc::IFLA_IFNAME, b"veth12345\0")],
        ));
        assert_eq!(new_link_names(&datagram), ["rcleak3f", "veth12345"]);
        assert!(new_link_names(&datagram[..20]).is_empty(), "a cut message");
        assert!(new_link_names(&[]).is_empty());
    }
}
