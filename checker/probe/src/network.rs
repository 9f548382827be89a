//! `network`: what the container's network looks like from inside (level 13), and whether the
//! host's end of its cable answers.

use std::ffi::CStr;
use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use probe::{Address, Link, Network, Outcome};

use crate::hold::reply_then_hold;

pub fn network(nonce: &str, connect: Option<&str>, hold: bool) -> i32 {
    let look = || {
        let mut reply = match interfaces() {
            Ok((links, addresses)) => Network {
                ok: true,
                links,
                addresses,
                ..Network::default()
            },
            Err(e) => Network {
                error: Some(format!("getifaddrs: {e}")),
                ..Network::default()
            },
        };
        reply.routes =
            probe::parse_routes(&std::fs::read_to_string("/proc/net/route").unwrap_or_default());
        reply.connect = connect.map(|to| Outcome::from_result(send_nonce(to, nonce)));
        reply
    };
    reply_then_hold(nonce, hold, look, |reply| reply.ok)
}

/// Connects to `to` (ADDR:PORT), sends the nonce, closes: the other end learns who came.
fn send_nonce(to: &str, nonce: &str) -> io::Result<()> {
    let to: SocketAddr = to
        .parse()
        .map_err(|_| io::Error::other(format!("{to:?} is not ADDR:PORT")))?;
    let mut stream = TcpStream::connect_timeout(&to, Duration::from_secs(3))?;
    stream.write_all(format!("{nonce}\n").as_bytes())?;
    stream.flush()
}

/// Links with their IFF_UP flag and IPv4 addresses, from getifaddrs(3).
fn interfaces() -> io::Result<(Vec<Link>, Vec<Address>)> {
    let mut first: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills in a list it allocates; freed below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut first) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let (mut links, mut addresses) = (Vec::<Link>::new(), Vec::new());
    let mut at = first;
    while !at.is_null() {
        // SAFETY: `at` is an entry of the list getifaddrs made, alive until freeifaddrs.
        let entry = unsafe { &*at };
        at = entry.ifa_next;
        // SAFETY: ifa_name is a NUL-terminated string of the entry.
        let name = unsafe { CStr::from_ptr(entry.ifa_name) }
            .to_string_lossy()
            .into_owned();
        if !links.iter().any(|l| l.name == name) {
            let up = entry.ifa_flags & libc::IFF_UP as u32 != 0;
            links.push(Link {
                name: name.clone(),
                up,
            });
        }
        if entry.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: ifa_addr points at a sockaddr whose family says its type.
        if i32::from(unsafe { (*entry.ifa_addr).sa_family }) != libc::AF_INET {
            continue;
        }
        let ipv4 = |sa: *const libc::sockaddr| {
            // SAFETY: an AF_INET entry's address and netmask are sockaddr_in.
            let sin = unsafe { &*(sa as *const libc::sockaddr_in) };
            Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr))
        };
        let prefix_len = match entry.ifa_netmask.is_null() {
            true => 32,
            false => u32::from(ipv4(entry.ifa_netmask)).count_ones() as u8,
        };
        addresses.push(Address {
            interface: name,
            address: ipv4(entry.ifa_addr).to_string(),
            prefix_len,
        });
    }
    // SAFETY: the list getifaddrs made, freed once; no reference into it outlives this.
    unsafe { libc::freeifaddrs(first) };
    Ok((links, addresses))
}
