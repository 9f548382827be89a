//! `probe`: runs inside the learner's containers and reports what it sees.
//!
//! `probe <subcommand> --nonce NONCE [args...]` prints exactly one line
//! `RCPROBE <nonce> <json>` on stdout (see the library docs). Usage errors go to stderr with
//! exit status 2. Unless a subcommand sets its own status, the exit status is 0 when the reply
//! says `ok` and 1 otherwise.
//!
//! ```text
//! report [--read PATH]... [--hold]      what the process sees (see probe::Report)
//! echo [--stdout TEXT] [--stderr TEXT]  TEXT lines on stdout (before the RCPROBE line) / stderr
//! exit N                                the line, then exit status N
//! kill-self SIG                         the line, then raise SIG (exit 99 if still alive 1 s later)
//! sleep MS [--exit N]                   sleep, then the line, then exit status N
//! write PATH [--content TEXT] [--hold]  create/truncate PATH (default content "rubber-crab\n")
//! delete PATH [--hold]                  remove a file (or an empty directory)
//! escape --target PATH                  the classic chroot escape, then read PATH
//! kill-check PID                        kill(PID, 0): the errno name, or null if PID is visible
//! tcp-loopback                          a TCP round trip over 127.0.0.1
//! ```
//!
//! `--hold` keeps the process alive after the line until SIGTERM, SIGUSR1 or SIGINT, at most
//! 30 s, then exits 0.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::time::{Duration, Instant};
use std::{env, process, ptr, thread};

use probe::{format_line, Device, Escape, KillCheck, Outcome, Report, CONTENT_CAP, MARKER};
use serde::Serialize;

/// Appended to every usage error, which stays on one line.
const USAGE: &str =
    "usage: probe report|echo|exit|kill-self|sleep|write|delete|escape|kill-check|tcp-loopback \
                     --nonce NONCE [ARGS...]";

/// Namespaces listed in `report`'s `ns`.
const NAMESPACES: [&str; 7] = ["mnt", "uts", "ipc", "pid", "net", "user", "cgroup"];
/// Keys of `/proc/self/status` copied into `report`'s `status`.
const STATUS_KEYS: [&str; 7] = [
    "CapEff",
    "CapBnd",
    "CapPrm",
    "NoNewPrivs",
    "NSpid",
    "Uid",
    "Gid",
];
/// Devices checked by `report`.
const DEVICES: [&str; 5] = [
    "/dev/null",
    "/dev/zero",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
];
/// Signals that end `--hold`.
const HOLD_SIGNALS: [libc::c_int; 3] = [libc::SIGTERM, libc::SIGUSR1, libc::SIGINT];
/// Longest `--hold`.
const HOLD_MAX: Duration = Duration::from_secs(30);
/// How often `escape` climbs `..`.
const ESCAPE_CLIMBS: usize = 64;

enum Cmd {
    Report {
        reads: Vec<String>,
        hold: bool,
    },
    Echo {
        stdout: Option<String>,
        stderr: Option<String>,
    },
    Exit(i32),
    KillSelf(libc::c_int),
    Sleep {
        ms: u64,
        exit: i32,
    },
    Write {
        path: String,
        content: String,
        hold: bool,
    },
    KillCheck(libc::pid_t),
    TcpLoopback,
    Delete {
        path: String,
        hold: bool,
    },
    Escape {
        target: String,
    },
}

fn main() {
    let args: Vec<String> = env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let code = match parse(&args) {
        Ok((nonce, cmd)) => run(&nonce, cmd),
        Err(msg) => {
            eprintln!("probe: {msg} ({USAGE})");
            2
        }
    };
    process::exit(code);
}

fn run(nonce: &str, cmd: Cmd) -> i32 {
    match cmd {
        Cmd::Report { reads, hold } => report(nonce, &reads, hold),
        Cmd::Echo { stdout, stderr } => echo(nonce, stdout.as_deref(), stderr.as_deref()),
        Cmd::Exit(code) => exit(nonce, code),
        Cmd::KillSelf(sig) => kill_self(nonce, sig),
        Cmd::Sleep { ms, exit } => sleep(nonce, ms, exit),
        Cmd::Write {
            path,
            content,
            hold,
        } => write(nonce, &path, &content, hold),
        Cmd::KillCheck(pid) => kill_check(nonce, pid),
        Cmd::TcpLoopback => tcp_loopback(nonce),
        Cmd::Delete { path, hold } => delete(nonce, &path, hold),
        Cmd::Escape { target } => escape(nonce, &target),
    }
}

// ---------------------------------------------------------------------------------------------
// Argument parsing

/// Splits off `--nonce NONCE` (anywhere) and parses the subcommand and its arguments.
fn parse(args: &[String]) -> Result<(String, Cmd), String> {
    let mut nonce = None;
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--" {
            // Words after `--` are data, never options.
            rest.push(arg.clone());
            rest.extend(it.by_ref().cloned());
            break;
        }
        let value = if arg == "--nonce" {
            it.next().ok_or("--nonce needs a value")?.clone()
        } else if let Some(v) = arg.strip_prefix("--nonce=") {
            v.to_string()
        } else {
            rest.push(arg.clone());
            continue;
        };
        if nonce.replace(value).is_some() {
            return Err("--nonce given twice".into());
        }
    }
    let nonce = nonce.ok_or("missing --nonce NONCE")?;
    if nonce.is_empty()
        || nonce
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    {
        return Err(format!(
            "bad nonce {nonce:?}: must be non-empty, without spaces or '/'"
        ));
    }
    let (sub, rest) = rest.split_first().ok_or("missing subcommand")?;
    let cmd = match sub.as_str() {
        "report" => {
            let f = Flags::parse(rest, &["--read"], &["--hold"])?;
            let [] = f.positionals([])?;
            Cmd::Report {
                reads: f.all("--read"),
                hold: f.has("--hold"),
            }
        }
        "echo" => {
            let f = Flags::parse(rest, &["--stdout", "--stderr"], &[])?;
            let [] = f.positionals([])?;
            Cmd::Echo {
                stdout: f.last("--stdout"),
                stderr: f.last("--stderr"),
            }
        }
        "exit" => {
            let f = Flags::parse(rest, &[], &[])?;
            let [n] = f.positionals(["N"])?;
            Cmd::Exit(parse_exit_code(n)?)
        }
        "kill-self" => {
            let f = Flags::parse(rest, &[], &[])?;
            let [sig] = f.positionals(["SIG"])?;
            match sig.parse() {
                Ok(sig @ 1..=64) => Cmd::KillSelf(sig),
                _ => return Err(format!("SIG must be a signal number 1..=64, got {sig:?}")),
            }
        }
        "sleep" => {
            let f = Flags::parse(rest, &["--exit"], &[])?;
            let [ms] = f.positionals(["MS"])?;
            let ms = ms
                .parse()
                .map_err(|_| format!("MS must be a number, got {ms:?}"))?;
            let exit = f.last("--exit").as_deref().map_or(Ok(0), parse_exit_code)?;
            Cmd::Sleep { ms, exit }
        }
        "kill-check" => {
            let f = Flags::parse(rest, &[], &[])?;
            let [pid] = f.positionals(["PID"])?;
            Cmd::KillCheck(
                pid.parse()
                    .map_err(|_| format!("PID must be a number, got {pid:?}"))?,
            )
        }
        "tcp-loopback" => {
            let f = Flags::parse(rest, &[], &[])?;
            let [] = f.positionals([])?;
            Cmd::TcpLoopback
        }
        "write" => {
            let f = Flags::parse(rest, &["--content"], &["--hold"])?;
            let [path] = f.positionals(["PATH"])?;
            let content = f
                .last("--content")
                .unwrap_or_else(|| "rubber-crab\n".into());
            Cmd::Write {
                path: path.into(),
                content,
                hold: f.has("--hold"),
            }
        }
        "delete" => {
            let f = Flags::parse(rest, &[], &["--hold"])?;
            let [path] = f.positionals(["PATH"])?;
            Cmd::Delete {
                path: path.into(),
                hold: f.has("--hold"),
            }
        }
        "escape" => {
            let f = Flags::parse(rest, &["--target"], &[])?;
            let [] = f.positionals([])?;
            let target = f.last("--target").ok_or("escape needs --target PATH")?;
            Cmd::Escape { target }
        }
        other => return Err(format!("unknown subcommand {other:?}")),
    };
    Ok((nonce, cmd))
}

fn parse_exit_code(n: &str) -> Result<i32, String> {
    n.parse::<u8>()
        .map(i32::from)
        .map_err(|_| format!("exit status must be 0..=255, got {n:?}"))
}

/// A subcommand's arguments: positionals, `--flag VALUE` pairs and `--switch`es.
#[derive(Default)]
struct Flags {
    positional: Vec<String>,
    values: Vec<(&'static str, String)>,
    switches: Vec<&'static str>,
}

impl Flags {
    fn parse(
        args: &[String],
        valued: &[&'static str],
        switches: &[&'static str],
    ) -> Result<Self, String> {
        let mut flags = Flags::default();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            if arg == "--" {
                // Everything after `--` is carried in argv only: the checker's argv check sends
                // words there that a runtime must pass on untouched (spaces, "", flags, unicode).
                break;
            }
            if let Some(&name) = valued.iter().find(|n| **n == arg) {
                let value = it.next().ok_or_else(|| format!("{name} needs a value"))?;
                flags.values.push((name, value.clone()));
            } else if let Some(&name) = switches.iter().find(|n| **n == arg) {
                flags.switches.push(name);
            } else if arg.starts_with("--") {
                return Err(format!("unknown option {arg:?}"));
            } else {
                flags.positional.push(arg.clone());
            }
        }
        Ok(flags)
    }

    /// Exactly `N` positionals, named `names` in the error message.
    fn positionals<const N: usize>(&self, names: [&str; N]) -> Result<[&str; N], String> {
        let got: Vec<&str> = self.positional.iter().map(String::as_str).collect();
        got.try_into().map_err(|got: Vec<&str>| {
            format!("expected arguments [{}], got {got:?}", names.join(" "))
        })
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.values
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn last(&self, name: &str) -> Option<String> {
        self.all(name).pop()
    }

    fn has(&self, name: &str) -> bool {
        self.switches.contains(&name)
    }
}

// ---------------------------------------------------------------------------------------------
// Output

/// Prints the `RCPROBE` line for `reply` and flushes it.
fn emit(nonce: &str, reply: &impl Serialize) {
    let value = serde_json::to_value(reply).unwrap_or_else(|e| {
        serde_json::json!({ "ok": false, "error": format!("probe: cannot encode the reply: {e}") })
    });
    let line = format_line(nonce, &value) + "\n";
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
        eprintln!("probe: cannot write the {MARKER} line: {e}");
    }
}

fn status_of(ok: bool) -> i32 {
    if ok {
        0
    } else {
        1
    }
}

/// `path`'s content, at most [`CONTENT_CAP`] bytes, as lossy UTF-8.
fn read_capped(path: &str) -> io::Result<String> {
    let mut bytes = Vec::new();
    File::open(path)?
        .take(CONTENT_CAP as u64)
        .read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The lines of `path` (lossy UTF-8); empty when it cannot be read.
fn read_lines(path: &str) -> Vec<String> {
    fs::read(path)
        .map(|bytes| {
            String::from_utf8_lossy(&bytes)
                .lines()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Subcommands

fn report(nonce: &str, reads: &[String], hold: bool) -> i32 {
    let held = hold.then(block_hold_signals);
    let report = collect_report(nonce, reads);
    emit(nonce, &report);
    match held {
        Some(set) => wait_for_signal(&set),
        None => status_of(report.ok),
    }
}

fn echo(nonce: &str, stdout: Option<&str>, stderr: Option<&str>) -> i32 {
    if let Some(text) = stdout {
        let mut out = io::stdout().lock();
        // Best effort: a closed stdout also loses the RCPROBE line, which emit reports.
        let _ = writeln!(out, "{text}").and_then(|()| out.flush());
    }
    if let Some(text) = stderr {
        eprintln!("{text}");
    }
    emit(
        nonce,
        &Outcome {
            ok: true,
            error: None,
        },
    );
    0
}

fn exit(nonce: &str, code: i32) -> i32 {
    emit(
        nonce,
        &Outcome {
            ok: true,
            error: None,
        },
    );
    code
}

fn kill_self(nonce: &str, sig: libc::c_int) -> i32 {
    emit(
        nonce,
        &Outcome {
            ok: true,
            error: None,
        },
    );
    let set = sigset(&[sig]);
    // SAFETY: plain syscalls on this process's own signal state. SIG_DFL is a valid
    // disposition; they fail harmlessly (EINVAL) for SIGKILL/SIGSTOP, which need no reset.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, ptr::null_mut());
        libc::raise(sig);
    }
    thread::sleep(Duration::from_secs(1));
    eprintln!(
        "probe: still alive 1 s after raising signal {sig} \
         (its default action is to ignore, or the probe is PID 1 of a pid namespace)"
    );
    99
}

fn sleep(nonce: &str, ms: u64, code: i32) -> i32 {
    thread::sleep(Duration::from_millis(ms));
    emit(
        nonce,
        &Outcome {
            ok: true,
            error: None,
        },
    );
    code
}

fn write(nonce: &str, path: &str, content: &str, hold: bool) -> i32 {
    let held = hold.then(block_hold_signals);
    let outcome = Outcome::from_result(fs::write(path, content));
    emit(nonce, &outcome);
    match held {
        Some(set) => wait_for_signal(&set),
        None => status_of(outcome.ok),
    }
}

/// kill(pid, 0): can this process see `pid` at all? ESRCH means no such process here.
fn kill_check(nonce: &str, pid: libc::pid_t) -> i32 {
    // SAFETY: signal 0 sends nothing; kill only checks that `pid` exists and may be signalled.
    let rc = unsafe { libc::kill(pid, 0) };
    let errno =
        (rc != 0).then(|| errno_name(io::Error::last_os_error().raw_os_error().unwrap_or(0)));
    emit(
        nonce,
        &KillCheck {
            ok: true,
            error: None,
            errno,
        },
    );
    0
}

fn errno_name(errno: i32) -> String {
    match errno {
        libc::ESRCH => "ESRCH".into(),
        libc::EPERM => "EPERM".into(),
        other => format!("errno {other}"),
    }
}

/// A TCP round trip over 127.0.0.1: listen on a free port, connect, send, receive.
fn tcp_loopback(nonce: &str) -> i32 {
    let result = (|| -> io::Result<()> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let mut client =
            std::net::TcpStream::connect_timeout(&listener.local_addr()?, Duration::from_secs(2))?;
        let (mut server, _) = listener.accept()?;
        client.write_all(b"ping")?;
        let mut got = [0u8; 4];
        server.read_exact(&mut got)?;
        if &got != b"ping" {
            return Err(io::Error::other("the bytes came back changed"));
        }
        Ok(())
    })();
    let outcome = Outcome::from_result(result);
    emit(nonce, &outcome);
    status_of(outcome.ok)
}

fn delete(nonce: &str, path: &str, hold: bool) -> i32 {
    let held = hold.then(block_hold_signals);
    let result = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir(path),
        _ => fs::remove_file(path),
    };
    let outcome = Outcome::from_result(result);
    emit(nonce, &outcome);
    match held {
        Some(set) => wait_for_signal(&set),
        None => status_of(outcome.ok),
    }
}

/// The classic chroot escape: chroot into a subdirectory while the working directory stays
/// outside it, climb `..`, chroot there, then read `target`.
fn escape(nonce: &str, target: &str) -> i32 {
    let mut steps = Vec::new();
    let mut chroot_refused = false;
    let mut refused = |e: &io::Error| chroot_refused |= e.raw_os_error() == Some(libc::EPERM);
    let name = format!(".rc-escape-{nonce}");
    let dir = format!("/{name}");
    let old_root = File::open("/").ok();
    match fs::create_dir(&dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
            steps.push(format!("mkdir {dir}: {e}"))
        }
        _ => {}
    }
    if let Err(e) = std::os::unix::fs::chroot(&dir) {
        refused(&e);
        steps.push(format!("chroot {dir}: {e}"));
    }
    for climb in 1..=ESCAPE_CLIMBS {
        if let Err(e) = env::set_current_dir("..") {
            steps.push(format!("chdir .. (climb {climb}): {e}"));
            break;
        }
    }
    if let Err(e) = std::os::unix::fs::chroot(".") {
        refused(&e);
        steps.push(format!("chroot .: {e}"));
    }
    let content = read_capped(target)
        .map_err(|e| steps.push(format!("read {target}: {e}")))
        .ok();
    if let (Some(root), Ok(name)) = (old_root, CString::new(name)) {
        // SAFETY: a valid directory fd and a NUL-terminated name; failure is harmless (the
        // directory stays behind).
        unsafe { libc::unlinkat(root.as_raw_fd(), name.as_ptr(), libc::AT_REMOVEDIR) };
    }
    let reply = Escape {
        ok: true,
        error: None,
        reached: content.is_some(),
        content,
        steps,
        chroot_refused,
    };
    emit(nonce, &reply);
    0
}

// ---------------------------------------------------------------------------------------------
// report's pieces

fn collect_report(nonce: &str, reads: &[String]) -> Report {
    let mut errors = Vec::new();
    let mut note = |what: &str, e: io::Error| errors.push(format!("{what}: {e}"));
    let cwd = env::current_dir()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|e| {
            note("getcwd", e);
            String::new()
        });
    let hostname = nodename().unwrap_or_else(|e| {
        note("uname", e);
        String::new()
    });
    let groups = groups().unwrap_or_else(|e| {
        note("getgroups", e);
        Vec::new()
    });
    let pid = process::id();
    Report {
        ok: errors.is_empty(),
        error: (!errors.is_empty()).then(|| errors.join("; ")),
        pid: pid as i32,
        ppid: std::os::unix::process::parent_id() as i32,
        // SAFETY: getuid/getgid take no arguments and cannot fail.
        uid: unsafe { libc::getuid() },
        // SAFETY: as above.
        gid: unsafe { libc::getgid() },
        groups,
        cwd,
        hostname,
        argv: env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        proc_self: fs::read_link("/proc/self")
            .ok()
            .map(|p| p.to_string_lossy().into_owned()),
        ns: NAMESPACES
            .iter()
            .filter_map(|ns| {
                let link = fs::read_link(format!("/proc/self/ns/{ns}")).ok()?;
                Some((ns.to_string(), link.to_string_lossy().into_owned()))
            })
            .collect(),
        mountinfo: read_lines("/proc/self/mountinfo"),
        cgroup: read_lines("/proc/self/cgroup"),
        status: proc_status(),
        interfaces: interfaces(),
        files: reads
            .iter()
            .map(|path| (path.clone(), read_capped(path).ok()))
            .collect(),
        root_entries: root_entries(),
        devices: DEVICES.iter().map(|path| check_device(path)).collect(),
        proc_shows_self: fs::read(format!("/proc/{pid}/cmdline"))
            .map(|cmdline| cmdline.windows(nonce.len()).any(|w| w == nonce.as_bytes()))
            .unwrap_or(false),
        proc_pids: proc_pids(),
    }
}

/// The numeric entries of /proc: every process this /proc shows.
fn proc_pids() -> Vec<u32> {
    let mut pids: Vec<u32> = fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    pids.sort_unstable();
    pids
}

fn nodename() -> io::Result<String> {
    let mut uts = MaybeUninit::<libc::utsname>::uninit();
    // SAFETY: uname writes a whole utsname into the pointed-to buffer.
    if unsafe { libc::uname(uts.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: uname succeeded, so the struct is initialised.
    let uts = unsafe { uts.assume_init() };
    let bytes: Vec<u8> = uts
        .nodename
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn groups() -> io::Result<Vec<u32>> {
    // SAFETY: a size of 0 with a null list only asks for the number of groups.
    let count = unsafe { libc::getgroups(0, ptr::null_mut()) };
    let count = usize::try_from(count).map_err(|_| io::Error::last_os_error())?;
    let mut list: Vec<libc::gid_t> = vec![0; count];
    // SAFETY: `list` has room for `count` entries, the size we pass.
    let got = unsafe { libc::getgroups(count as libc::c_int, list.as_mut_ptr()) };
    let got = usize::try_from(got).map_err(|_| io::Error::last_os_error())?;
    list.truncate(got);
    Ok(list)
}

fn proc_status() -> BTreeMap<String, String> {
    read_lines("/proc/self/status")
        .iter()
        .filter_map(|line| {
            let (key, value) = line.split_once(':')?;
            STATUS_KEYS
                .contains(&key)
                .then(|| (key.to_string(), value.trim().to_string()))
        })
        .collect()
}

/// Interface names from `/proc/net/dev`.
fn interfaces() -> Vec<String> {
    probe::net_dev_names(&read_lines("/proc/net/dev").join("\n"))
}

fn root_entries() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir("/")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn check_device(path: &str) -> Device {
    let mut dev = Device {
        path: path.to_string(),
        ..Device::default()
    };
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) => {
            dev.error = Some(e.to_string());
            return dev;
        }
    };
    dev.exists = true;
    let kind = meta.file_type();
    dev.char_device = kind.is_char_device();
    if kind.is_char_device() || kind.is_block_device() {
        dev.major = Some(libc::major(meta.rdev()));
        dev.minor = Some(libc::minor(meta.rdev()));
    }
    let check = match path {
        "/dev/null" => write_device(path),
        "/dev/zero" => read_device(
            path,
            |bytes| bytes.iter().all(|&b| b == 0),
            "read non-zero bytes",
        ),
        "/dev/tty" if dev.char_device && (dev.major, dev.minor) == (Some(5), Some(0)) => Ok(()),
        "/dev/tty" => Err("not the character device 5:0".to_string()),
        _ => read_device(
            path,
            |bytes| bytes.iter().any(|&b| b != 0),
            "read 16 zero bytes",
        ),
    };
    match check {
        Ok(()) => dev.works = true,
        Err(e) => dev.error = Some(e),
    }
    dev
}

/// Opens without blocking (a FIFO or an unseeded /dev/random must not hang the probe) and
/// without creating anything.
fn open_device(path: &str, write: bool) -> io::Result<File> {
    OpenOptions::new()
        .read(!write)
        .write(write)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

fn write_device(path: &str) -> Result<(), String> {
    open_device(path, true)
        .and_then(|mut f| f.write_all(b"crab"))
        .map_err(|e| e.to_string())
}

fn read_device(path: &str, good: fn(&[u8]) -> bool, bad: &str) -> Result<(), String> {
    let mut bytes = [0u8; 16];
    open_device(path, false)
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| e.to_string())?;
    if good(&bytes) {
        Ok(())
    } else {
        Err(bad.to_string())
    }
}

// ---------------------------------------------------------------------------------------------
// --hold

/// A signal set holding `signals`.
fn sigset(signals: &[libc::c_int]) -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set; sigaddset only fails for invalid numbers,
    // which callers never pass (signal numbers are validated at parse time).
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        for &sig in signals {
            libc::sigaddset(set.as_mut_ptr(), sig);
        }
        set.assume_init()
    }
}

/// Does nothing: the hold signals are blocked and collected by sigtimedwait. The handler only
/// makes sure they are not ignored (a signal without a handler is dropped for PID 1 of a pid
/// namespace, and an ignored disposition may have been inherited).
extern "C" fn on_hold_signal(_: libc::c_int) {}

/// Installs handlers for the hold signals and blocks them, before the line is printed so that
/// none sent in reaction to it is lost.
fn block_hold_signals() -> libc::sigset_t {
    let set = sigset(&HOLD_SIGNALS);
    // SAFETY: an all-zero sigaction is valid (empty mask, no flags); the handler is an
    // `extern "C"` function that does nothing, so it is async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_hold_signal as *const () as libc::sighandler_t;
        for sig in HOLD_SIGNALS {
            if libc::sigaction(sig, &action, ptr::null_mut()) != 0 {
                eprintln!("probe: sigaction({sig}): {}", io::Error::last_os_error());
            }
        }
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, ptr::null_mut()) != 0 {
            eprintln!("probe: cannot block the hold signals");
        }
    }
    set
}

/// Waits for one of the blocked signals in `set`, at most [`HOLD_MAX`]; returns exit status 0.
fn wait_for_signal(set: &libc::sigset_t) -> i32 {
    let deadline = Instant::now() + HOLD_MAX;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return 0;
        }
        let timeout = libc::timespec {
            tv_sec: left.as_secs() as libc::time_t,
            tv_nsec: libc::c_long::from(left.subsec_nanos()),
        };
        // SAFETY: valid pointers to a signal set and a timespec; a null info is allowed.
        let rc = unsafe { libc::sigtimedwait(set, ptr::null_mut(), &timeout) };
        if rc > 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return 0;
        }
    }
}
