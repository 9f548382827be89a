//! Level 13, written apart from the solutions: `ip` (iproute2) does the netlink, and the child
//! moves its end in from a helper that joins the host's network namespace (setns) first.

use super::is;
use anyhow::{bail, Context, Result};
use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::sync::OnceLock;

/// The pair of this container: its address, the host's end, and the container's end before it
/// is moved in and renamed eth0.
pub struct Cable {
    pub address: Ipv4Addr,
    pub host: String,
    pub peer: String,
}

/// Set by the parent before fork; the child inherits it.
pub static CABLE: OnceLock<Cable> = OnceLock::new();

/// Runs `ip ARGS`, in the network namespace `ns` when given (joined by the process that execs
/// ip, before it does).
pub fn ip(ns: Option<&File>, args: &[&str]) -> Result<String> {
    let mut command = std::process::Command::new("ip");
    command.args(args).stdin(std::process::Stdio::null());
    if let Some(ns) = ns {
        let fd = ns.as_raw_fd();
        // SAFETY: setns is async-signal-safe; the fd stays open in the parent while it waits.
        unsafe {
            command.pre_exec(move || {
                nix::errno::Errno::result(libc::setns(fd, libc::CLONE_NEWNET))
                    .map(drop)
                    .map_err(std::io::Error::from)
            });
        }
    }
    let out = command.output().context("running ip")?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Before fork, in the host's namespace: the pair, the host's end addressed (10.13.0.1, the
/// container's address as peer) and up.
pub fn plug(args: &kit::cli::RunArgs, id: &str) -> Result<()> {
    let address = match args.ip.filter(|_| !is("ip-ignored")) {
        Some(ip) => ip,
        None => free_address()?,
    };
    let short: String = id.chars().take(10).collect();
    let cable = Cable {
        address,
        host: format!("vb{short}"),
        peer: format!("vc{short}"),
    };
    ip(
        None,
        &[
            "link",
            "add",
            &cable.host,
            "type",
            "veth",
            "peer",
            "name",
            &cable.peer,
        ],
    )?;
    let configured = ip(
        None,
        &[
            "addr",
            "add",
            "10.13.0.1",
            "peer",
            &format!("{address}/32"),
            "dev",
            &cable.host,
        ],
    )
    .and_then(|_| match is("host-end-down") {
        true => Ok(String::new()),
        false => ip(None, &["link", "set", &cable.host, "up"]),
    });
    if let Err(err) = configured {
        let _ = ip(None, &["link", "del", &cable.host]);
        return Err(err);
    }
    // After the command the runtime is in a PID namespace whose PID 1 is dead: it cannot fork
    // any more. A janitor started now deletes the host end when told (or when the runtime dies).
    if !is("host-end-kept") {
        let janitor = std::process::Command::new("sh")
            // Already gone with the container's namespace is fine: quiet.
            .args([
                "-c",
                "read _; exec ip link del \"$0\" 2>/dev/null",
                &cable.host,
            ])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .context("starting the janitor")?;
        let _ = JANITOR.set(std::sync::Mutex::new(Some(janitor)));
    }
    let _ = CABLE.set(cable);
    Ok(())
}

static JANITOR: OnceLock<std::sync::Mutex<Option<std::process::Child>>> = OnceLock::new();

/// The first 10.13.0.N (N from 2) that no host end has as its peer (`ip -4 -o addr`).
fn free_address() -> Result<Ipv4Addr> {
    if is("fixed-default-ip") {
        return Ok(Ipv4Addr::new(10, 13, 0, 2));
    }
    let taken = ip(None, &["-4", "-o", "addr", "show"])?;
    (2..=254)
        .map(|n| Ipv4Addr::new(10, 13, 0, n))
        .find(|a| !taken.contains(&format!("peer {a}/32")))
        .context("no free address in 10.13.0.0/24")
}

/// In the child, after unshare(CLONE_NEWNET): its end moved in (by a helper in `host`, the
/// host's namespace) as eth0, addressed, up, a default route.
pub fn take_end(host: &File) -> Result<()> {
    let Some(cable) = CABLE.get() else {
        return Ok(());
    };
    let me = nix::unistd::getpid().to_string();
    ip(
        Some(host),
        &[
            "link",
            "set",
            "dev",
            &cable.peer,
            "netns",
            &me,
            "name",
            "eth0",
        ],
    )?;
    ip(
        None,
        &[
            "addr",
            "add",
            &format!("{}/24", cable.address),
            "dev",
            "eth0",
        ],
    )?;
    if is("eth0-down") {
        return Ok(());
    }
    ip(None, &["link", "set", "eth0", "up"])?;
    if !is("no-default-route") {
        ip(
            None,
            &["route", "add", "default", "via", "10.13.0.1", "dev", "eth0"],
        )?;
    }
    Ok(())
}

/// After the command: the host's end deleted (its peer goes with it).
pub fn unplug() {
    let Some(mut janitor) = JANITOR.get().and_then(|j| j.lock().ok()?.take()) else {
        return;
    };
    if let Some(mut stdin) = janitor.stdin.take() {
        use std::io::Write;
        let _ = stdin.write_all(b"now\n");
    }
    let _ = janitor.wait();
}

/// The host's namespace, opened before the child leaves it.
pub fn host_namespace() -> Result<File> {
    File::open("/proc/self/ns/net").context("opening /proc/self/ns/net")
}
