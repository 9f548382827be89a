//! Level 6 — a network namespace.

use crate::check::{fail, fail_hinting, own_namespaces, report_or_fail, Check, Ctx, Verdict};
use anyhow::{bail, Context, Result};
use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::waitpid;
use nix::unistd::ForkResult;
use probe::{Outcome, REPORT, TCP_LOOPBACK};
use std::io::Read;
use std::os::fd::AsRawFd;

const NET_NS: &str = "https://man7.org/linux/man-pages/man7/network_namespaces.7.html";

pub const CHECKS: &[Check] = &[
    Check {
        id: "L6.net-ns.namespace",
        level: 6,
        title: "the container has a network namespace of its own",
        hint: "In the child, unshare(CloneFlags::CLONE_NEWNET).",
        doc: NET_NS,
        run: own_network_namespace,
    },
    Check {
        id: "L6.net-ns.only-lo",
        level: 6,
        title: "/proc/net/dev lists only what a fresh network namespace has (lo, and tunnels' fallback devices)",
        hint: "A new network namespace has lo, plus sit0, tunl0… where tunnel modules are loaded, and none of the host's links: if the host's eth0 shows up, CLONE_NEWNET is missing.",
        doc: NET_NS,
        run: only_loopback,
    },
    Check {
        id: "L6.net-ns.loopback",
        level: 6,
        title: "a TCP connection to 127.0.0.1 inside works",
        hint: "lo starts down in a new network namespace: in the child, after unshare(CLONE_NEWNET), open a socket, then SIOCGIFFLAGS, add IFF_UP, SIOCSIFFLAGS (netdevice(7)).",
        doc: "https://man7.org/linux/man-pages/man7/netdevice.7.html",
        run: loopback_works,
    },
];

fn own_network_namespace(ctx: &mut Ctx) -> Result<Verdict> {
    own_namespaces(ctx, &["net"])
}

fn only_loopback(ctx: &mut Ctx) -> Result<Verdict> {
    let run = ctx.probe(REPORT, &[])?;
    let report = report_or_fail!(run);
    let inside: Vec<&str> = report.interfaces.iter().map(String::as_str).collect();
    let mut fresh = fresh_namespace_interfaces()?;
    if ctx.env.runtime_level >= crate::check::option_level("--ip") {
        // From level 13 the container has its end of the cable too.
        fresh.push("eth0".into());
    }
    Ok(match extra_interfaces(&inside, &fresh) {
        extra if extra.is_empty() => Verdict::Pass,
        extra => fail(
            format!("only what a fresh network namespace has on this host: {fresh:?}"),
            format!("{inside:?}: {extra:?} come from elsewhere"),
        ),
    })
}

/// The interfaces seen inside that a fresh namespace does not have. (One that a fresh namespace
/// has and the container lacks was deleted by the runtime: no leak, so no failure.)
fn extra_interfaces<'a>(inside: &[&'a str], fresh: &[String]) -> Vec<&'a str> {
    inside
        .iter()
        .filter(|name| !fresh.iter().any(|f| f == *name))
        .copied()
        .collect()
}

/// What a new network namespace has on this host: `lo`, plus the fallback devices of loaded
/// tunnel modules (`sit0` for sit, `tunl0` for ipip, `gre0`…). Read in a forked child that
/// unshares a network namespace (in a user namespace of its own when not root) and sends
/// `/proc/self/net/dev` back through a pipe.
pub fn fresh_namespace_interfaces() -> Result<Vec<String>> {
    let (read_end, write_end) = nix::unistd::pipe().context("pipe")?;
    let mut flags = CloneFlags::CLONE_NEWNET;
    if !nix::unistd::geteuid().is_root() {
        flags |= CloneFlags::CLONE_NEWUSER;
    }
    // SAFETY: the child makes only async-signal-safe calls (unshare, open, read, write, _exit)
    // on a buffer of its stack, and never returns into the checker's code.
    match unsafe { nix::unistd::fork() }.context("fork")? {
        ForkResult::Child => {
            let mut buffer = [0u8; 16384];
            // SAFETY: as above; the path is a NUL-terminated literal, the buffer is ours.
            unsafe {
                if unshare(flags).is_ok() {
                    let fd = libc::open(c"/proc/self/net/dev".as_ptr(), libc::O_RDONLY);
                    let mut filled = 0;
                    while fd >= 0 && filled < buffer.len() {
                        let n = libc::read(
                            fd,
                            buffer[filled..].as_mut_ptr().cast(),
                            buffer.len() - filled,
                        );
                        if n <= 0 {
                            break;
                        }
                        filled += n as usize;
                    }
                    libc::write(write_end.as_raw_fd(), buffer.as_ptr().cast(), filled);
                }
                libc::_exit(0)
            }
        }
        ForkResult::Parent { child } => {
            drop(write_end);
            let mut text = String::new();
            std::fs::File::from(read_end).read_to_string(&mut text)?;
            waitpid(child, None)?;
            let names = probe::net_dev_names(&text);
            if names.is_empty() {
                bail!("a fresh network namespace could not be made to compare with (unshare(CLONE_NEWNET) failed)");
            }
            Ok(names)
        }
    }
}

/// The hint when the ioctls brought up the `lo` of the runtime's own namespace instead.
const SOCKET_BEFORE_UNSHARE: &str = "The interface ioctls act on the network namespace of the socket they are made on, and a socket belongs to the namespace it was opened in: yours was opened before unshare(CLONE_NEWNET), so it configured the host's lo. Open the socket after the unshare.";

fn loopback_works(ctx: &mut Ctx) -> Result<Verdict> {
    // First with the runtime's "host" a network namespace of the checker's whose lo starts down:
    // if the runtime's ioctls bring up that lo instead of the container's, the checker sees it.
    ctx.with_network()?;
    let run = ctx.probe(TCP_LOOPBACK, &[])?;
    let report = report_or_fail!(run);
    if report.ok {
        return Ok(Verdict::Pass);
    }
    let expected = "listen on 127.0.0.1, connect, send and receive";
    if ctx.sandbox.lo_is_up()? {
        return Ok(fail_hinting(
            format!("{expected}, with the container's lo up"),
            format!("it failed: {}; the container's lo stayed down, and the runtime's own lo (the host's, as the runtime sees it) was brought up instead", error(report)),
            SOCKET_BEFORE_UNSHARE,
        ));
    }
    // Nothing came up: judge as on the host, whose lo is up (a runtime without a network
    // namespace of its own uses it, as it would anywhere).
    ctx.sandbox = crate::check::sandbox_for(ctx.env)?;
    let run = ctx.probe(TCP_LOOPBACK, &[])?;
    let report = report_or_fail!(run);
    Ok(match report.ok {
        true => Verdict::Pass,
        false => fail(expected, format!("it failed: {}", error(report))),
    })
}

/// Why the round trip failed, as the probe said.
fn error(outcome: &Outcome) -> &str {
    outcome.error.as_deref().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_tunnels_of_a_fresh_namespace_are_no_leak() {
        let fresh = ["lo".to_string(), "sit0".to_string(), "tunl0".to_string()];
        assert!(extra_interfaces(&["lo", "sit0", "tunl0"], &fresh).is_empty());
        assert!(extra_interfaces(&["lo"], &fresh).is_empty());
        assert_eq!(extra_interfaces(&["lo", "sit0", "eth0"], &fresh), ["eth0"]);
        assert_eq!(
            extra_interfaces(&["lo", "sit0"], &["lo".to_string()]),
            ["sit0"]
        );
    }

    #[test]
    fn a_fresh_namespace_has_lo() {
        // Needs root, or unprivileged user namespaces.
        if let Ok(names) = fresh_namespace_interfaces() {
            assert!(names.iter().any(|n| n == "lo"), "{names:?}");
        }
    }
}
