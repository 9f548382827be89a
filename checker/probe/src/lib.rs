//! The probe's wire format, shared by the probe binary (inside containers) and the checker (on
//! the host).
//!
//! The probe prints exactly one machine-readable line on stdout:
//! `RCPROBE <nonce> <json>`, where `<json>` is an object with at least `"ok": bool` and
//! `"error": string|null`. Everything else the container prints is ignored by [`find_line`].

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub mod proc;

/// First word of the probe's machine-readable line.
pub const MARKER: &str = "RCPROBE";

/// Largest number of bytes the probe reports from any file it reads.
pub const CONTENT_CAP: usize = 4096;

/// The machine-readable line for `nonce` and `value`, without the trailing newline.
///
/// `serde_json` never emits a raw newline in compact output, so the result is one line.
pub fn format_line(nonce: &str, value: &serde_json::Value) -> String {
    format!("{MARKER} {nonce} {value}")
}

/// Why [`find_line`] found no usable probe line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// No line starts with `RCPROBE <nonce> `.
    NoLine,
    /// The last such line does not hold a JSON object; the payload is the reason.
    BadJson(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::NoLine => write!(f, "the probe printed no {MARKER} line with our nonce"),
            ParseError::BadJson(why) => {
                write!(f, "the probe's {MARKER} line is not valid JSON: {why}")
            }
        }
    }
}

impl std::error::Error for ParseError {}

/// Finds the LAST line of `output` that starts with `RCPROBE <nonce> ` and parses its JSON.
///
/// Lines with other nonces, lines that merely contain the marker somewhere in the middle (e.g.
/// learner output glued in front of it) and other noise are ignored. A trailing `\r` is
/// tolerated (output that went through a terminal).
pub fn find_line(output: &str, nonce: &str) -> Result<serde_json::Value, ParseError> {
    let prefix = format!("{MARKER} {nonce} ");
    let payload = output
        .lines()
        .filter_map(|line| line.strip_prefix(&prefix))
        .next_back()
        .ok_or(ParseError::NoLine)?;
    let value: serde_json::Value =
        serde_json::from_str(payload.trim_end()).map_err(|e| ParseError::BadJson(e.to_string()))?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(ParseError::BadJson(format!(
            "expected a JSON object, got {value}"
        )))
    }
}

/// A subcommand of the probe, and the type of its reply: the checker names what to run by one of
/// the constants below, so the reply it parses is the type the probe sent, and a field renamed on
/// one side is a compile error on the other.
pub struct Subcommand<R> {
    pub name: &'static str,
    reply: PhantomData<fn() -> R>,
}

impl<R> Subcommand<R> {
    const fn new(name: &'static str) -> Self {
        Subcommand {
            name,
            reply: PhantomData,
        }
    }
}

impl<R> Clone for Subcommand<R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for Subcommand<R> {}

pub const REPORT: Subcommand<Report> = Subcommand::new("report");
pub const ECHO: Subcommand<Outcome> = Subcommand::new("echo");
pub const EXIT: Subcommand<Outcome> = Subcommand::new("exit");
pub const KILL_SELF: Subcommand<Outcome> = Subcommand::new("kill-self");
pub const SLEEP: Subcommand<Outcome> = Subcommand::new("sleep");
pub const WRITE: Subcommand<Outcome> = Subcommand::new("write");
pub const DELETE: Subcommand<Outcome> = Subcommand::new("delete");
pub const ESCAPE: Subcommand<Escape> = Subcommand::new("escape");
pub const KILL_CHECK: Subcommand<KillCheck> = Subcommand::new("kill-check");
pub const TCP_LOOPBACK: Subcommand<Outcome> = Subcommand::new("tcp-loopback");
pub const BURN: Subcommand<Burn> = Subcommand::new("burn");
pub const TOUCH_MEMORY: Subcommand<Touched> = Subcommand::new("touch-memory");
pub const FORK_UNTIL_REFUSED: Subcommand<Forks> = Subcommand::new("fork-until-refused");
pub const PTY: Subcommand<Pty> = Subcommand::new("pty");
pub const NETWORK: Subcommand<Network> = Subcommand::new("network");

/// Parses the JSON of a reply into its type. A reply that does not fit says why, with the
/// probe's own error when it sent one (a reply that fails is often cut short).
pub fn parse_reply<R: DeserializeOwned>(value: serde_json::Value) -> Result<R, String> {
    let said = value
        .get("error")
        .and_then(serde_json::Value::as_str)
        .map(|e| format!(" (the probe said: {e})"))
        .unwrap_or_default();
    serde_json::from_value(value).map_err(|e| format!("the probe's reply did not parse: {e}{said}"))
}

/// The reply of subcommands that have nothing more to say (`echo`, `exit`, `kill-self`,
/// `sleep`, `write`, `delete`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub ok: bool,
    pub error: Option<String>,
}

impl Outcome {
    /// Done, nothing to add.
    pub const OK: Outcome = Outcome {
        ok: true,
        error: None,
    };

    /// `ok` when `result` is `Ok`, else the error's text.
    pub fn from_result<T, E: fmt::Display>(result: Result<T, E>) -> Self {
        match result {
            Ok(_) => Outcome {
                ok: true,
                error: None,
            },
            Err(e) => Outcome {
                ok: false,
                error: Some(e.to_string()),
            },
        }
    }
}

/// The reply of `network`: the container's links, IPv4 addresses and routes, and whether a TCP
/// connection to `--connect ADDR:PORT` was made (the nonce sent on it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub ok: bool,
    pub error: Option<String>,
    /// Every link (getifaddrs), with whether it is up (IFF_UP).
    pub links: Vec<Link>,
    /// Every IPv4 address (getifaddrs).
    pub addresses: Vec<Address>,
    /// `/proc/net/route`, parsed.
    pub routes: Vec<Route>,
    /// null when not asked to connect.
    pub connect: Option<Outcome>,
}

impl Network {
    pub fn link(&self, name: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.name == name)
    }

    /// The addresses on `interface`, as `10.13.0.7/24`.
    pub fn addresses_of(&self, interface: &str) -> Vec<String> {
        self.addresses
            .iter()
            .filter(|a| a.interface == interface)
            .map(|a| format!("{}/{}", a.address, a.prefix_len))
            .collect()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub name: String,
    pub up: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub interface: String,
    pub address: String,
    pub prefix_len: u8,
}

/// One line of `/proc/net/route`: the default route is destination 0.0.0.0/0.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub interface: String,
    pub destination: String,
    pub prefix_len: u8,
    /// 0.0.0.0 when the destination is on the link itself.
    pub gateway: String,
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (d, n) = (&self.destination, self.prefix_len);
        let to = if n == 0 {
            "default".into()
        } else {
            format!("{d}/{n}")
        };
        match self.gateway.as_str() {
            "0.0.0.0" => write!(f, "{to} dev {}", self.interface),
            via => write!(f, "{to} via {via} dev {}", self.interface),
        }
    }
}

/// The routes of `/proc/net/route` (addresses are hex in host byte order: little-endian here).
pub fn parse_routes(text: &str) -> Vec<Route> {
    let ip = |hex: &str| {
        u32::from_str_radix(hex, 16)
            .ok()
            .map(|v| std::net::Ipv4Addr::from(v.to_le_bytes()).to_string())
    };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            Some(Route {
                interface: f.first()?.to_string(),
                destination: ip(f.get(1)?)?,
                gateway: ip(f.get(2)?)?,
                prefix_len: mask.count_ones() as u8,
            })
        })
        .collect()
}

/// The reply of `kill-check`: what kill(pid, 0) answered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillCheck {
    pub ok: bool,
    pub error: Option<String>,
    /// The errno name (`ESRCH`, `EPERM`), or null when the signal could be sent.
    pub errno: Option<String>,
}

/// The reply of `pty`: whether a pseudo-terminal pair opens, as the user it ran as.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pty {
    pub ok: bool,
    pub error: Option<String>,
    /// The uid and gid it ran as (`--as UID` switches to UID:UID first).
    pub uid: u32,
    pub gid: u32,
    /// The step that failed (`open /dev/ptmx`, `unlockpt`, `ptsname`, `open /dev/pts/N`) and its
    /// errno name, or null when the pair opened.
    pub failed: Option<String>,
    pub errno: Option<String>,
    /// The slave's name, once known (`/dev/pts/0`).
    pub slave: Option<String>,
    /// What /dev/ptmx is, as `ls -l` would show its type and mode (`-> pts/ptmx c---------`),
    /// to explain a refusal.
    pub ptmx: Option<String>,
}

/// The reply of `burn`: how long it spun, by the wall clock and in CPU time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Burn {
    pub ok: bool,
    pub error: Option<String>,
    /// CPU time the probe used while it spun (CLOCK_PROCESS_CPUTIME_ID), in milliseconds.
    pub cpu_ms: u64,
    /// Wall time it spun (CLOCK_MONOTONIC), in milliseconds.
    pub wall_ms: u64,
}

impl Burn {
    /// CPU time over wall time: 1.0 for a process that had a CPU all along, 0.25 for one a
    /// quota of a quarter CPU held back.
    pub fn ratio(&self) -> f64 {
        self.cpu_ms as f64 / self.wall_ms.max(1) as f64
    }
}

/// The reply of `touch-memory`: how much it allocated and touched. With `--wait`, a first line
/// says 0 (ready) before anything is touched; a probe the OOM killer stops sends no other.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Touched {
    pub ok: bool,
    pub error: Option<String>,
    /// MiB allocated and written to, every page.
    pub mib: u64,
}

/// The reply of `fork-until-refused`: how many children it forked before fork failed or the
/// maximum was reached, and why fork failed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forks {
    pub ok: bool,
    pub error: Option<String>,
    /// Children forked (all alive at once; the probe itself is one more process).
    pub forked: u32,
    /// The errno name of the fork that failed (`EAGAIN` at a pids limit), or null when the
    /// maximum was reached first.
    pub errno: Option<String>,
}

/// The reply of `report`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub ok: bool,
    pub error: Option<String>,
    pub pid: i32,
    pub ppid: i32,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups (getgroups).
    pub groups: Vec<u32>,
    pub cwd: String,
    /// uname's nodename.
    pub hostname: String,
    pub argv: Vec<String>,
    /// Target of the `/proc/self` link (the pid as this /proc sees it), if readable.
    pub proc_self: Option<String>,
    /// Namespace name (`mnt`, `uts`, `ipc`, `pid`, `net`, `user`, `cgroup`) to the target of
    /// `/proc/self/ns/NAME`, e.g. `mnt:[4026531840]`. Unreadable ones are omitted.
    pub ns: BTreeMap<String, String>,
    /// Raw lines of `/proc/self/mountinfo` (see [`parse_mountinfo_line`]).
    pub mountinfo: Vec<String>,
    /// Raw lines of `/proc/self/cgroup`, read before anything else: a runtime that moves the
    /// command into its group only after exec may be too late for this read.
    pub cgroup: Vec<String>,
    /// `CapEff`, `CapBnd`, `CapPrm`, `NoNewPrivs`, `NSpid`, `Uid`, `Gid` from
    /// `/proc/self/status`, values trimmed.
    pub status: BTreeMap<String, String>,
    /// Interface names from `/proc/net/dev`.
    pub interfaces: Vec<String>,
    /// Each `--read PATH` to its content (lossy UTF-8, at most [`CONTENT_CAP`] bytes) or null.
    pub files: BTreeMap<String, Option<String>>,
    /// Sorted names in `/`.
    pub root_entries: Vec<String>,
    pub devices: Vec<Device>,
    /// `/proc/<getpid()>/cmdline` exists and contains the nonce.
    pub proc_shows_self: bool,
    /// The pids `/proc` lists (its numeric entries), sorted.
    pub proc_pids: Vec<u32>,
}

impl Report {
    /// The device entry for `path`, if the report has one.
    pub fn device(&self, path: &str) -> Option<&Device> {
        self.devices.iter().find(|d| d.path == path)
    }

    /// The content of `path`, read with `--read PATH`, if it was readable.
    pub fn file(&self, path: &str) -> Option<&str> {
        self.files.get(path)?.as_deref()
    }

    /// The parsed mount table (lines that do not parse are skipped).
    pub fn mounts(&self) -> Vec<MountEntry> {
        self.mountinfo
            .iter()
            .filter_map(|l| parse_mountinfo_line(l))
            .collect()
    }
}

/// What the probe found at one device path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub path: String,
    pub exists: bool,
    pub char_device: bool,
    /// Device numbers; null when the path is missing or not a character/block device.
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// null: writing 4 bytes succeeds; zero: 16 bytes read are all zero; random/urandom:
    /// 16 bytes read, not all zero; tty: it is the character device 5:0 (not opened).
    pub works: bool,
    pub error: Option<String>,
}

/// The reply of `escape`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escape {
    /// The attempt ran (true even when it did not reach the target).
    pub ok: bool,
    pub error: Option<String>,
    /// The target was readable after the escape attempt.
    pub reached: bool,
    /// The target's content (lossy UTF-8, at most [`CONTENT_CAP`] bytes), if reached.
    pub content: Option<String>,
    /// The error of each step that failed; empty when every step succeeded.
    pub steps: Vec<String>,
    /// A chroot was refused with EPERM (no CAP_SYS_CHROOT, as with runc's default capabilities):
    /// the escape was not really tried.
    pub chroot_refused: bool,
}

/// One line of `/proc/<pid>/mountinfo` (proc(5)).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountEntry {
    pub id: u32,
    pub parent: u32,
    /// `major:minor` of the filesystem's device.
    pub major_minor: String,
    /// Root of the mount within its filesystem (unescaped).
    pub root: String,
    /// Mount point relative to the process's root (unescaped).
    pub mount_point: String,
    /// Per-mount options.
    pub options: String,
    /// Optional fields, e.g. `shared:12`, `master:2`, `propagate_from:3`, `unbindable`.
    pub optional: Vec<String>,
    pub fstype: String,
    pub source: String,
    /// Per-superblock options.
    pub super_options: String,
}

impl MountEntry {
    /// The propagation tags among the optional fields (`shared:N`, `master:N`,
    /// `propagate_from:N`, `unbindable`). Empty means a private mount.
    pub fn propagation(&self) -> Vec<&str> {
        self.optional
            .iter()
            .map(String::as_str)
            .filter(|tag| {
                *tag == "unbindable"
                    || ["shared:", "master:", "propagate_from:"]
                        .iter()
                        .any(|p| tag.starts_with(p))
            })
            .collect()
    }

    /// The peer group of a shared mount (`shared:N`).
    pub fn shared_group(&self) -> Option<u32> {
        self.tag_number("shared:")
    }

    /// The peer group this mount is a slave of (`master:N`).
    pub fn master_group(&self) -> Option<u32> {
        self.tag_number("master:")
    }

    fn tag_number(&self, prefix: &str) -> Option<u32> {
        self.optional
            .iter()
            .find_map(|t| t.strip_prefix(prefix)?.parse().ok())
    }
}

/// Interface names from the text of `/proc/net/dev` (two header lines, then `name: counters`).
#[cfg(test)]
mod route_tests {
    #[test]
    fn proc_net_route_lines_become_routes() {
        let text =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                    eth0\t00000000\t01000D0A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                    eth0\t00000D0A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        let routes = super::parse_routes(text);
        assert_eq!(routes[0].to_string(), "default via 10.13.0.1 dev eth0");
        assert_eq!(routes[1].to_string(), "10.13.0.0/24 dev eth0");
    }
}

pub fn net_dev_names(text: &str) -> Vec<String> {
    text.lines()
        .skip(2)
        .filter_map(|line| Some(line.split_once(':')?.0.trim().to_string()))
        .collect()
}

/// Parses one line of `/proc/<pid>/mountinfo`:
///
/// `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`
///
/// Optional fields run up to the `-` separator. Octal escapes (`\040` for a space, `\011`,
/// `\012`, `\134`) in root, mount point, fstype and source are decoded. Returns `None` for a
/// malformed line.
pub fn parse_mountinfo_line(line: &str) -> Option<MountEntry> {
    let line = line.trim_end_matches(['\n', '\r']);
    let mut fields = line.split(' ');
    let id = fields.next()?.parse().ok()?;
    let parent = fields.next()?.parse().ok()?;
    let major_minor = fields.next()?.to_string();
    let root = unescape_octal(fields.next()?);
    let mount_point = unescape_octal(fields.next()?);
    let options = fields.next()?.to_string();
    let mut optional = Vec::new();
    loop {
        match fields.next()? {
            "-" => break,
            "" => {}
            tag => optional.push(tag.to_string()),
        }
    }
    let fstype = unescape_octal(fields.next()?);
    let source = unescape_octal(fields.next()?);
    let super_options = fields.next().unwrap_or_default().to_string();
    Some(MountEntry {
        id,
        parent,
        major_minor,
        root,
        mount_point,
        options,
        optional,
        fstype,
        source,
        super_options,
    })
}

/// Decodes the kernel's `\NNN` octal escapes; anything else is kept as is.
pub fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let digits = bytes.get(i + 1..i + 4);
        if let (b'\\', Some(&[a, b, c])) = (bytes[i], digits) {
            if [a, b, c].iter().all(|d| (b'0'..=b'7').contains(d)) && a <= b'3' {
                out.push((a - b'0') * 64 + (b - b'0') * 8 + (c - b'0'));
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn format_then_find() {
        let value = json!({"ok": true, "error": null, "n": 1});
        let line = format_line("abc", &value);
        assert_eq!(line, r#"RCPROBE abc {"error":null,"n":1,"ok":true}"#);
        assert_eq!(find_line(&format!("{line}\n"), "abc").unwrap(), value);
    }

    #[test]
    fn find_line_ignores_noise_and_takes_the_last() {
        let output = "\
starting container...
RCPROBE other {\"ok\":false,\"error\":\"wrong nonce\"}
learner says RCPROBE n1 {\"ok\":false,\"error\":\"mid-line\"}
RCPROBE n1 {\"ok\":false,\"error\":\"first\"}
RCPROBE n10 {\"ok\":false,\"error\":\"longer nonce\"}
RCPROBE n1 {\"ok\":true,\"error\":null}\r
  RCPROBE n1 {\"ok\":false,\"error\":\"indented\"}
RCPROBE n1{\"ok\":false,\"error\":\"no space\"}
container exited";
        let value = find_line(output, "n1").unwrap();
        assert_eq!(value, json!({"ok": true, "error": null}));
    }

    #[test]
    fn find_line_without_a_line() {
        assert_eq!(find_line("", "n"), Err(ParseError::NoLine));
        assert_eq!(
            find_line("hello\nRCPROBE m {}\n", "n"),
            Err(ParseError::NoLine)
        );
        assert_eq!(find_line("x RCPROBE n {}\n", "n"), Err(ParseError::NoLine));
    }

    #[test]
    fn find_line_reports_bad_json() {
        let good_then_cut = "RCPROBE n {\"ok\":true}\nRCPROBE n {\"ok\":tr";
        assert!(matches!(
            find_line(good_then_cut, "n"),
            Err(ParseError::BadJson(_))
        ));
        assert!(matches!(
            find_line("RCPROBE n [1]\n", "n"),
            Err(ParseError::BadJson(_))
        ));
        let err = find_line("RCPROBE n nope\n", "n").unwrap_err();
        assert!(err.to_string().contains("not valid JSON"), "{err}");
    }

    #[test]
    fn mountinfo_with_optional_fields() {
        let line = "36 35 98:0 /mnt1 /mnt2 rw,noatime shared:1 master:2 - ext3 /dev/root rw,errors=continue\n";
        let m = parse_mountinfo_line(line).unwrap();
        assert_eq!(
            m,
            MountEntry {
                id: 36,
                parent: 35,
                major_minor: "98:0".into(),
                root: "/mnt1".into(),
                mount_point: "/mnt2".into(),
                options: "rw,noatime".into(),
                optional: vec!["shared:1".into(), "master:2".into()],
                fstype: "ext3".into(),
                source: "/dev/root".into(),
                super_options: "rw,errors=continue".into(),
            }
        );
        assert_eq!(m.propagation(), vec!["shared:1", "master:2"]);
        assert_eq!(m.shared_group(), Some(1));
        assert_eq!(m.master_group(), Some(2));
    }

    #[test]
    fn mountinfo_without_optional_fields() {
        let line = "1195 1194 0:87 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw";
        let m = parse_mountinfo_line(line).unwrap();
        assert_eq!(m.id, 1195);
        assert_eq!(m.parent, 1194);
        assert_eq!(m.mount_point, "/proc");
        assert!(m.optional.is_empty());
        assert!(m.propagation().is_empty());
        assert_eq!(m.shared_group(), None);
        assert_eq!((m.fstype.as_str(), m.source.as_str()), ("proc", "proc"));
        assert_eq!(m.super_options, "rw");
    }

    #[test]
    fn mountinfo_with_escapes() {
        let line = r"40 25 0:35 /my\040dir /mnt/with\040space\011tab rw,relatime shared:7 - tmpfs my\134src rw,size=1024k";
        let m = parse_mountinfo_line(line).unwrap();
        assert_eq!(m.root, "/my dir");
        assert_eq!(m.mount_point, "/mnt/with space\ttab");
        assert_eq!(m.source, r"my\src");
        assert_eq!(m.propagation(), vec!["shared:7"]);
        // Not an escape: kept verbatim.
        assert_eq!(unescape_octal(r"a\9b\04"), r"a\9b\04");
    }

    #[test]
    fn mountinfo_malformed() {
        assert_eq!(parse_mountinfo_line(""), None);
        assert_eq!(parse_mountinfo_line("x 1 0:1 / / rw - tmpfs t rw"), None);
        assert_eq!(
            parse_mountinfo_line("1 2 0:1 / / rw shared:1 tmpfs t rw"),
            None
        );
    }

    #[test]
    fn report_round_trip() {
        let report = Report {
            ok: true,
            error: None,
            pid: 1,
            ppid: 0,
            uid: 0,
            gid: 0,
            groups: vec![0, 10],
            cwd: "/".into(),
            hostname: "crab".into(),
            argv: vec!["/probe".into(), "report".into()],
            proc_self: Some("1".into()),
            ns: [("mnt".to_string(), "mnt:[4026531840]".to_string())].into(),
            mountinfo: vec!["1 0 0:1 / / rw - overlay overlay rw".into()],
            cgroup: vec!["0::/".into()],
            status: [("NoNewPrivs".to_string(), "0".to_string())].into(),
            interfaces: vec!["lo".into()],
            files: [
                ("/etc/hostname".to_string(), Some("crab\n".to_string())),
                ("/nope".to_string(), None),
            ]
            .into(),
            root_entries: vec!["bin".into(), "etc".into()],
            devices: vec![Device {
                path: "/dev/null".into(),
                exists: true,
                char_device: true,
                major: Some(1),
                minor: Some(3),
                works: true,
                error: None,
            }],
            proc_shows_self: true,
            proc_pids: vec![1],
        };
        let value = serde_json::to_value(&report).unwrap();
        let line = format_line("rt", &value);
        let back: Report = serde_json::from_value(find_line(&line, "rt").unwrap()).unwrap();
        assert_eq!(back, report);
        assert_eq!(back.device("/dev/null").unwrap().minor, Some(3));
        assert_eq!(back.mounts()[0].fstype, "overlay");
    }

    #[test]
    fn a_reply_missing_a_field_does_not_parse() {
        let partial = json!({"ok": false, "error": "boom", "pid": 7});
        let err = parse_reply::<Report>(partial).unwrap_err();
        assert!(
            err.starts_with("the probe's reply did not parse: missing field"),
            "{err}"
        );
        assert!(err.ends_with("(the probe said: boom)"), "{err}");
        let escape = json!({"ok": true, "reached": true});
        assert!(parse_reply::<Escape>(escape).is_err());
        // Optional fields may be left out; every other one must be there.
        let outcome: Outcome = parse_reply(json!({"ok": true})).unwrap();
        assert_eq!(outcome.error, None);
        let err = parse_reply::<KillCheck>(json!({"ok": "yes"})).unwrap_err();
        assert!(err.contains("invalid type"), "{err}");
    }

    #[test]
    fn a_burn_ratio_is_cpu_over_wall_time() {
        let burn = Burn {
            ok: true,
            error: None,
            cpu_ms: 250,
            wall_ms: 1000,
        };
        assert_eq!(burn.ratio(), 0.25);
        assert_eq!(
            Burn::default().ratio(),
            0.0,
            "no wall time is no division by zero"
        );
        let forks: Forks =
            parse_reply(json!({"ok": true, "forked": 19, "errno": "EAGAIN"})).unwrap();
        assert_eq!((forks.forked, forks.errno.as_deref()), (19, Some("EAGAIN")));
        let touched: Touched = parse_reply(json!({"ok": true, "mib": 32})).unwrap();
        assert_eq!(touched.mib, 32);
    }

    #[test]
    fn a_file_is_found_by_its_path() {
        let report = Report {
            files: [
                ("/etc/hostname".to_string(), Some("crab\n".to_string())),
                ("/nope".to_string(), None),
            ]
            .into(),
            ..Report::default()
        };
        assert_eq!(report.file("/etc/hostname"), Some("crab\n"));
        assert_eq!(report.file("/nope"), None);
        assert_eq!(report.file("/never-asked"), None);
    }
}
