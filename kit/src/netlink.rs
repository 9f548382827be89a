//! Netlink, the socket the kernel's network configuration is asked through (netlink(7),
//! rtnetlink(7)): what `ip link`, `ip addr` and `ip route` send. Written by hand, about a hundred
//! lines, so that every byte a level sends can be read here.
//!
//! A request is one message: a header (`struct nlmsghdr`), a fixed struct for its kind
//! (`ifinfomsg` for links, `ifaddrmsg` for addresses, `rtmsg` for routes), then attributes, each
//! a length, a type and a value padded to 4 bytes; an attribute can hold attributes (nested).
//! The kernel answers every request sent with `NLM_F_ACK` with an error message whose errno is 0
//! on success.
//!
//! ```no_run
//! use kit::netlink::{self, Message, Netlink};
//! let mut socket = Netlink::open()?;
//! // ip link set dev lo up
//! let lo = nix::net::if_::if_nametoindex("lo")?;
//! socket.ask(Message::new(netlink::RTM_NEWLINK, 0).link(lo, netlink::IFF_UP))?;
//! # Ok::<(), anyhow::Error>(())
//! ```
//!
//! A netlink socket configures the network namespace it was opened in, whichever namespace its
//! process is in later: open one before `unshare(CLONE_NEWNET)` and it still speaks to the host.

use nix::errno::Errno;
use nix::sys::socket::{
    bind, recv, send, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol,
    SockType,
};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};

// Message types (linux/rtnetlink.h).
pub const RTM_NEWLINK: u16 = 16;
pub const RTM_DELLINK: u16 = 17;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_NEWROUTE: u16 = 24;

// Header flags (linux/netlink.h): every request is a REQUEST that asks for an ACK.
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
/// Fail with EEXIST if the object exists already.
pub const NLM_F_EXCL: u16 = 0x200;
/// Create the object if it does not exist.
pub const NLM_F_CREATE: u16 = 0x400;
/// The answer to a request: an errno, 0 for success.
const NLMSG_ERROR: u16 = 0x2;

// Link attributes (linux/if_link.h, linux/veth.h).
pub const IFLA_IFNAME: u16 = 3;
pub const IFLA_LINKINFO: u16 = 18;
pub const IFLA_INFO_KIND: u16 = 1;
pub const IFLA_INFO_DATA: u16 = 2;
pub const VETH_INFO_PEER: u16 = 1;
pub const IFLA_NET_NS_FD: u16 = 28;
/// `ifinfomsg.ifi_flags`: the link is up (linux/if.h).
pub const IFF_UP: u32 = 0x1;

// Address attributes (linux/if_addr.h): on a point-to-point link LOCAL is ours and ADDRESS is
// the other end's; otherwise both are ours.
pub const IFA_ADDRESS: u16 = 1;
pub const IFA_LOCAL: u16 = 2;

// Route attributes and values (linux/rtnetlink.h).
pub const RTA_GATEWAY: u16 = 5;
pub const RTA_OIF: u16 = 4;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_BOOT: u8 = 3;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RTN_UNICAST: u8 = 1;

/// A route netlink socket, bound to the network namespace the caller is in when it is opened.
pub struct Netlink {
    fd: OwnedFd,
    sequence: u32,
}

impl Netlink {
    /// `socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)`, bound to a port the kernel
    /// chooses.
    pub fn open() -> anyhow::Result<Netlink> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )
        .map_err(|e| anyhow::anyhow!("socket(AF_NETLINK, NETLINK_ROUTE): {}", e.desc()))?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))
            .map_err(|e| anyhow::anyhow!("bind(netlink socket): {}", e.desc()))?;
        Ok(Netlink { fd, sequence: 0 })
    }

    /// Sends `message` and waits for the kernel's answer: Ok, or the errno it refused with.
    pub fn ask(&mut self, message: Message) -> nix::Result<()> {
        self.sequence += 1;
        let bytes = message.finish(self.sequence);
        send(self.fd.as_raw_fd(), &bytes, MsgFlags::empty())?;
        let mut answer = [0u8; 8192];
        loop {
            let n = recv(self.fd.as_raw_fd(), &mut answer, MsgFlags::empty())?;
            // Each answer: nlmsghdr (len u32, type u16, flags u16, seq u32, pid u32), then for
            // NLMSG_ERROR an i32: 0 or minus an errno.
            let mut at = 0;
            while at + 20 <= n {
                let len = u32::from_ne_bytes(answer[at..at + 4].try_into().unwrap()) as usize;
                let kind = u16::from_ne_bytes(answer[at + 4..at + 6].try_into().unwrap());
                let seq = u32::from_ne_bytes(answer[at + 8..at + 12].try_into().unwrap());
                if kind == NLMSG_ERROR && seq == self.sequence {
                    let error = i32::from_ne_bytes(answer[at + 16..at + 20].try_into().unwrap());
                    return match error {
                        0 => Ok(()),
                        e => Err(Errno::from_raw(-e)),
                    };
                }
                if len < 16 {
                    break;
                }
                at += align(len);
            }
        }
    }
}

/// Rounds up to netlink's alignment, 4 bytes.
fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// One request being written: the header, a struct, attributes.
#[must_use]
pub struct Message {
    bytes: Vec<u8>,
}

impl Message {
    /// A request of `kind` (`RTM_NEWLINK`...), with `flags` (`NLM_F_CREATE | NLM_F_EXCL`...)
    /// besides REQUEST and ACK.
    pub fn new(kind: u16, flags: u16) -> Message {
        let mut bytes = Vec::with_capacity(256);
        bytes.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_len, filled in by finish
        bytes.extend_from_slice(&kind.to_ne_bytes());
        bytes.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        bytes.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_seq, filled in by finish
        bytes.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: 0, the kernel
        Message { bytes }
    }

    /// `struct ifinfomsg` for link `index` (0: a new one): family, type, index, then the flags
    /// to set and the mask of those to change (here the same: `IFF_UP` brings it up).
    pub fn link(mut self, index: u32, flags: u32) -> Message {
        self.bytes.extend_from_slice(&[libc::AF_UNSPEC as u8, 0]); // ifi_family, padding
        self.bytes.extend_from_slice(&0u16.to_ne_bytes()); // ifi_type
        self.bytes.extend_from_slice(&(index as i32).to_ne_bytes()); // ifi_index
        self.bytes.extend_from_slice(&flags.to_ne_bytes()); // ifi_flags
        self.bytes.extend_from_slice(&flags.to_ne_bytes()); // ifi_change
        self
    }

    /// `struct ifaddrmsg`: an IPv4 address with `prefix_len` bits of network, on link `index`.
    pub fn address(mut self, prefix_len: u8, index: u32) -> Message {
        // ifa_family, ifa_prefixlen, ifa_flags, ifa_scope (0: universe), ifa_index
        self.bytes
            .extend_from_slice(&[libc::AF_INET as u8, prefix_len, 0, 0]);
        self.bytes.extend_from_slice(&index.to_ne_bytes());
        self
    }

    /// `struct rtmsg`: an IPv4 unicast route to `destination_len` bits (0: the default route)
    /// in the main table.
    pub fn route(mut self, destination_len: u8) -> Message {
        // rtm_family, rtm_dst_len, rtm_src_len, rtm_tos, rtm_table, rtm_protocol, rtm_scope,
        // rtm_type, then rtm_flags (u32)
        self.bytes.extend_from_slice(&[
            libc::AF_INET as u8,
            destination_len,
            0,
            0,
            RT_TABLE_MAIN,
            RTPROT_BOOT,
            RT_SCOPE_UNIVERSE,
            RTN_UNICAST,
        ]);
        self.bytes.extend_from_slice(&0u32.to_ne_bytes());
        self
    }

    /// An attribute: length (u16, header included), type (u16), value, padding to 4 bytes.
    pub fn attribute(mut self, kind: u16, value: &[u8]) -> Message {
        self.bytes
            .extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
        self.bytes.extend_from_slice(&kind.to_ne_bytes());
        self.bytes.extend_from_slice(value);
        self.bytes.resize(align(self.bytes.len()), 0);
        self
    }

    /// A string attribute, NUL-terminated as the kernel expects (`IFLA_IFNAME`).
    pub fn string(self, kind: u16, value: &str) -> Message {
        let mut bytes = value.as_bytes().to_vec();
        bytes.push(0);
        self.attribute(kind, &bytes)
    }

    pub fn u32(self, kind: u16, value: u32) -> Message {
        self.attribute(kind, &value.to_ne_bytes())
    }

    /// An IPv4 address attribute, in network byte order.
    pub fn ipv4(self, kind: u16, address: Ipv4Addr) -> Message {
        self.attribute(kind, &address.octets())
    }

    /// An attribute holding what `inside` writes: its length is known once it is written.
    pub fn nested(mut self, kind: u16, inside: impl FnOnce(Message) -> Message) -> Message {
        let start = self.bytes.len();
        self = self.attribute(kind, &[]);
        self = inside(self);
        let len = (self.bytes.len() - start) as u16;
        self.bytes[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    /// The bytes to send: the header's length and sequence number filled in.
    fn finish(mut self, sequence: u32) -> Vec<u8> {
        let len = self.bytes.len() as u32;
        self.bytes[0..4].copy_from_slice(&len.to_ne_bytes());
        self.bytes[8..12].copy_from_slice(&sequence.to_ne_bytes());
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_padded_and_nests_measured() {
        let bytes = Message::new(RTM_NEWLINK, 0)
            .link(0, 0)
            .nested(IFLA_LINKINFO, |m| m.string(IFLA_INFO_KIND, "veth"))
            .finish(7);
        assert_eq!(bytes.len(), 16 + 16 + 4 + 12);
        assert_eq!(u32::from_ne_bytes(bytes[0..4].try_into().unwrap()), 48);
        assert_eq!(u32::from_ne_bytes(bytes[8..12].try_into().unwrap()), 7);
        // the nest: 4 + the inner attribute's 4 + "veth\0" (5), padded in the buffer
        assert_eq!(u16::from_ne_bytes(bytes[32..34].try_into().unwrap()), 16);
        assert_eq!(u16::from_ne_bytes(bytes[36..38].try_into().unwrap()), 9);
    }
}
