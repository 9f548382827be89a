//! The subcommands that do one thing and say whether it worked, and the output they share.

use std::ffi::CString;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::time::Duration;
use std::{env, ptr, thread};

use probe::{format_line, Escape, KillCheck, Outcome, Privileges, Pty, Tried, CONTENT_CAP, MARKER};
use serde::Serialize;

use crate::hold::{reply_then_hold, sigset};

/// How often `escape` climbs `..`.
const ESCAPE_CLIMBS: usize = 64;

/// Prints the `RCPROBE` line for `reply` and flushes it.
pub fn emit(nonce: &str, reply: &impl Serialize) {
    let value = serde_json::to_value(reply).unwrap_or_else(|e| {
        serde_json::json!({ "ok": false, "error": format!("probe: cannot encode the reply: {e}") })
    });
    let line = format_line(nonce, &value) + "\n";
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
        eprintln!("probe: cannot write the {MARKER} line: {e}");
    }
}

pub fn status_of(ok: bool) -> i32 {
    if ok {
        0
    } else {
        1
    }
}

/// `path`'s content, at most [`CONTENT_CAP`] bytes, as lossy UTF-8.
pub fn read_capped(path: &str) -> io::Result<String> {
    let mut bytes = Vec::new();
    File::open(path)?
        .take(CONTENT_CAP as u64)
        .read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The lines of `path` (lossy UTF-8); empty when it cannot be read.
pub fn read_lines(path: &str) -> Vec<String> {
    fs::read(path)
        .map(|bytes| {
            String::from_utf8_lossy(&bytes)
                .lines()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

pub fn echo(nonce: &str, stdout: Option<&str>, stderr: Option<&str>) -> i32 {
    if let Some(text) = stdout {
        let mut out = io::stdout().lock();
        // Best effort: a closed stdout also loses the RCPROBE line, which emit reports.
        let _ = writeln!(out, "{text}").and_then(|()| out.flush());
    }
    if let Some(text) = stderr {
        eprintln!("{text}");
    }
    emit(nonce, &Outcome::OK);
    0
}

pub fn exit(nonce: &str, code: i32) -> i32 {
    emit(nonce, &Outcome::OK);
    code
}

pub fn kill_self(nonce: &str, sig: libc::c_int) -> i32 {
    emit(nonce, &Outcome::OK);
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

pub fn sleep(nonce: &str, ms: u64, code: i32) -> i32 {
    thread::sleep(Duration::from_millis(ms));
    emit(nonce, &Outcome::OK);
    code
}

pub fn write(nonce: &str, path: &str, content: &str, hold: bool) -> i32 {
    let write = || Outcome::from_result(fs::write(path, content));
    reply_then_hold(nonce, hold, write, |outcome| outcome.ok)
}

/// kill(pid, 0): can this process see `pid` at all? ESRCH means no such process here.
pub fn kill_check(nonce: &str, pid: libc::pid_t) -> i32 {
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

/// Opens a pseudo-terminal pair as a terminal program does (posix_openpt(3), unlockpt(3),
/// ptsname(3), open), after switching to `user` (uid and gid, no supplementary groups) when
/// given: `docker run -it --user 1000` needs the pair to open for a user without privileges.
pub fn pty(nonce: &str, user: Option<u32>) -> i32 {
    let mut reply = Pty {
        ok: true,
        ptmx: describe_ptmx(),
        ..Pty::default()
    };
    if let Some(id) = user {
        // SAFETY: plain syscalls on this single-threaded process; groups first, uid last.
        let switched = unsafe {
            libc::setgroups(0, std::ptr::null()) == 0
                && libc::setgid(id) == 0
                && libc::setuid(id) == 0
        };
        if !switched {
            reply.ok = false;
            reply.error = Some(format!(
                "switching to uid {id}: {}",
                io::Error::last_os_error()
            ));
            emit(nonce, &reply);
            return 1;
        }
    }
    // SAFETY: getuid and getgid cannot fail.
    (reply.uid, reply.gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let failed = |step: &str| {
        let errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
        (Some(step.to_string()), Some(errno_name(errno)))
    };
    // SAFETY: posix_openpt returns a new fd or -1; each fd is closed below.
    let master = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY) };
    if master < 0 {
        (reply.failed, reply.errno) = failed("open /dev/ptmx");
    } else {
        // SAFETY: `master` is an open pty master; ptsname's buffer is copied at once.
        unsafe {
            if libc::unlockpt(master) != 0 {
                (reply.failed, reply.errno) = failed("unlockpt");
            } else {
                let name = libc::ptsname(master);
                if name.is_null() {
                    (reply.failed, reply.errno) = failed("ptsname");
                } else {
                    let name = std::ffi::CStr::from_ptr(name);
                    reply.slave = Some(name.to_string_lossy().into_owned());
                    let slave = libc::open(name.as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
                    if slave < 0 {
                        (reply.failed, reply.errno) = failed("open the slave");
                    } else {
                        libc::close(slave);
                    }
                }
            }
            libc::close(master);
        }
    }
    emit(nonce, &reply);
    0
}

/// /dev/ptmx as `ls -l` shows its type and mode, following a symlink (`-> pts/ptmx`).
fn describe_ptmx() -> Option<String> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let link = std::fs::read_link("/dev/ptmx")
        .ok()
        .map(|target| format!("a symlink to {}, ", target.display()));
    let meta = std::fs::metadata("/dev/ptmx").ok()?;
    let kind = if meta.file_type().is_char_device() {
        "a character device"
    } else if meta.is_dir() {
        "a directory"
    } else {
        "not a device"
    };
    Some(format!(
        "{}{kind} of mode {:03o}",
        link.unwrap_or_default(),
        meta.permissions().mode() & 0o7777
    ))
}

pub fn errno_name(errno: i32) -> String {
    match errno {
        libc::EACCES => "EACCES".into(),
        libc::ENOENT => "ENOENT".into(),
        libc::EIO => "EIO".into(),
        libc::ESRCH => "ESRCH".into(),
        libc::EPERM => "EPERM".into(),
        libc::EAGAIN => "EAGAIN".into(),
        libc::ENOMEM => "ENOMEM".into(),
        libc::EINVAL => "EINVAL".into(),
        libc::EROFS => "EROFS".into(),
        libc::EBUSY => "EBUSY".into(),
        libc::EADDRINUSE => "EADDRINUSE".into(),
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL".into(),
        libc::ETXTBSY => "ETXTBSY".into(),
        libc::EEXIST => "EEXIST".into(),
        other => format!("errno {other}"),
    }
}

/// A TCP round trip over 127.0.0.1: listen on a free port, connect, send, receive.
pub fn tcp_loopback(nonce: &str) -> i32 {
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

/// Removes a file, or an empty directory.
pub fn delete(nonce: &str, path: &str, hold: bool) -> i32 {
    let delete = || {
        Outcome::from_result(match fs::symlink_metadata(path) {
            Ok(meta) if meta.is_dir() => fs::remove_dir(path),
            _ => fs::remove_file(path),
        })
    };
    reply_then_hold(nonce, hold, delete, |outcome| outcome.ok)
}

/// The classic chroot escape: chroot into a subdirectory while the working directory stays
/// outside it, climb `..`, chroot there, then read `target`.
pub fn escape(nonce: &str, target: &str) -> i32 {
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

/// Whether `privileges` knows the operation `op`.
pub fn is_privileged_op(op: &str) -> bool {
    matches!(op, "sethostname" | "mount" | "chown" | "bind-80") || op.starts_with("write:")
}

/// Tries each operation in `ops` and says how each went: the errno that refused it, or null.
/// Each leaves nothing behind: a hostname set to what it was, a mount undone, a file removed.
pub fn privileges(nonce: &str, ops: &[String]) -> i32 {
    let tried: Vec<Tried> = ops.iter().map(|op| try_op(nonce, op)).collect();
    let reply = Privileges {
        ok: true,
        error: None,
        // SAFETY: getuid/getgid take no arguments and cannot fail.
        uid: unsafe { libc::getuid() },
        // SAFETY: as above.
        gid: unsafe { libc::getgid() },
        tried,
    };
    emit(nonce, &reply);
    0
}

fn try_op(nonce: &str, op: &str) -> Tried {
    let errno = |e: &io::Error| errno_name(e.raw_os_error().unwrap_or(0));
    let mut detail = None;
    let result = match op {
        "sethostname" => same_hostname_again(),
        "mount" => mount_and_unmount(),
        "chown" => chown_a_new_file(nonce),
        "bind-80" => std::net::TcpListener::bind("127.0.0.1:80").map(drop),
        _ => {
            let path = op.strip_prefix("write:").unwrap_or(op);
            detail = owner_and_mode(path);
            // For writing, without O_TRUNC: opening is the test, nothing is written.
            fs::OpenOptions::new().write(true).open(path).map(drop)
        }
    };
    Tried {
        op: op.to_string(),
        errno: result.as_ref().err().map(errno),
        detail,
    }
}

/// sethostname to the hostname it has: refused without CAP_SYS_ADMIN, a no-op otherwise.
fn same_hostname_again() -> io::Result<()> {
    let mut name = [0u8; 65];
    // SAFETY: gethostname writes at most len bytes into the buffer we own.
    if unsafe { libc::gethostname(name.as_mut_ptr().cast(), name.len() - 1) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let len = name.iter().position(|&b| b == 0).unwrap_or(name.len() - 1);
    // SAFETY: sethostname reads len bytes of the buffer we own.
    if unsafe { libc::sethostname(name.as_ptr().cast(), len) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A tmpfs on /dev (a directory every container has), unmounted at once when it worked.
fn mount_and_unmount() -> io::Result<()> {
    let (source, target, kind) = (c"tmpfs", c"/dev", c"tmpfs");
    // SAFETY: every pointer is a NUL-terminated string we own; data may be null.
    let mounted = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            kind.as_ptr(),
            0,
            ptr::null(),
        )
    };
    if mounted != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    Ok(())
}

/// Creates a file at `/` and gives it to uid 1, gid 1 (CAP_CHOWN), then removes it.
fn chown_a_new_file(nonce: &str) -> io::Result<()> {
    let path = format!("/.rc-chown-{nonce}");
    fs::write(&path, "")?;
    let given = std::os::unix::fs::chown(&path, Some(1), Some(1));
    let _ = fs::remove_file(&path);
    given
}

/// `uid 0 gid 0 mode 644` of `path`.
fn owner_and_mode(path: &str) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(path).ok()?;
    Some(format!(
        "uid {} gid {} mode {:o}",
        meta.uid(),
        meta.gid(),
        meta.mode() & 0o7777
    ))
}
