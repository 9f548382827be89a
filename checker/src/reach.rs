//! What a run does in the checker's own namespaces. A root runtime can leave the sandbox: join
//! the checker's (the host's) mount or UTS namespace with setns(2), as `nsenter -t <pid> -m -u`
//! does, and mount or set the hostname there. The guard sees the host change, but not who made
//! it, and other software changes the host too (guard.rs): a change is the run's only when a
//! process of the run made it.
//!
//! So every run's runtime gets a seccomp filter (inherited by everything it starts, wherever it
//! moves) that stops mount(2), umount2(2), move_mount(2), sethostname(2) and setdomainname(2)
//! for the checker to look at (SECCOMP_RET_USER_NOTIF, seccomp_unotify(2)). While the caller
//! waits in the call, the checker reads which namespace it is in: in the checker's own or
//! PID 1's, the call is recorded (who, what, where) for the guard; then the call goes on as it
//! would have (SECCOMP_USER_NOTIF_FLAG_CONTINUE). Nothing is refused: a runtime's own mounts
//! and hostname, in namespaces it made, are only let through.
//!
//! Only as root (rootless, the runtime has no power over the host's namespaces) and only for
//! the calls of the host's own architecture (a 32-bit call passes unseen; this is an observer,
//! not a wall).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// What a process of the run did in the checker's namespaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    /// sethostname or setdomainname in the checker's UTS namespace.
    Hostname,
    /// A mount (mount(2) or move_mount(2)) on this path, in the checker's mount namespace.
    Mount(String),
    /// An unmount of this path.
    Unmount(String),
}

/// One call a process of the run made in the checker's namespaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reached {
    pub pid: u32,
    /// The process's name (`comm`), e.g. `hostname`.
    pub comm: String,
    pub act: Act,
}

impl Reached {
    /// Who made the change, how, and what a runtime does instead.
    pub fn describe(&self) -> String {
        let (call, ns, flag) = match &self.act {
            Act::Hostname => ("sethostname".to_string(), "UTS", "-u"),
            Act::Mount(at) => (format!("mount on {at}"), "mount", "-m"),
            Act::Unmount(at) => (format!("umount of {at}"), "mount", "-m"),
        };
        format!(
            "pid {} ({}), a process of this run, joined the checker's own {ns} namespace (setns(2), as nsenter -t <the checker's pid> {flag} does) and made the {call} there: a runtime changes only the namespaces it made (unshare, clone), never another process's",
            self.pid, self.comm
        )
    }
}

/// What the runs of the current check reached, since the last [`take`].
static REACHED: Mutex<Vec<Reached>> = Mutex::new(Vec::new());

/// What the runs reached since the last call (the guard takes it at the start and the end of a
/// check).
pub fn take() -> Vec<Reached> {
    std::mem::take(&mut *REACHED.lock().unwrap_or_else(|p| p.into_inner()))
}

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

/// The calls the filter stops for the checker to see.
const WATCHED: [libc::c_long; 5] = [
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_move_mount,
    libc::SYS_sethostname,
    libc::SYS_setdomainname,
];

/// The filter: calls of another architecture pass; the watched ones go to the checker; the
/// rest pass.
fn filter() -> Vec<libc::sock_filter> {
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jump = |k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    };
    let load = |offset: u32| stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, offset);
    // struct seccomp_data: nr at 0, arch at 4.
    let mut program = vec![
        load(4),
        jump(AUDIT_ARCH, 1, 0),
        stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW),
        load(0),
    ];
    let n = WATCHED.len() as u8;
    for (i, nr) in WATCHED.iter().enumerate() {
        // Equal: jump to the USER_NOTIF return, past the remaining tests and the ALLOW.
        program.push(jump(*nr as u32, n - i as u8, 0));
    }
    program.push(stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW));
    program.push(stmt(
        libc::BPF_RET | libc::BPF_K,
        libc::SECCOMP_RET_USER_NOTIF,
    ));
    program
}

/// Whether this kernel lets a watched call go on (SECCOMP_USER_NOTIF_FLAG_CONTINUE, Linux 5.5):
/// without it every mount of the run would wait for an answer the checker cannot give.
fn lets_calls_continue() -> bool {
    crate::kernel::version(&crate::kernel::release()) >= (5, 5)
}

/// A watch prepared for one spawn: the socket on which the child sends its listener.
pub struct Pending {
    ours: std::os::unix::net::UnixDatagram,
    _theirs: std::os::unix::net::UnixDatagram,
}

/// Makes `command` install the filter between fork and exec and send its listener to the
/// checker. None where there is nothing to watch (not root) or no socket.
pub fn watch_on_spawn(command: &mut Command) -> Option<Pending> {
    if !nix::unistd::geteuid().is_root() || !lets_calls_continue() {
        return None;
    }
    // Close-on-exec both: the child's end is used before its exec only.
    let (ours, theirs) = std::os::unix::net::UnixDatagram::pair().ok()?;
    let program = filter();
    let sock = theirs.as_raw_fd();
    // SAFETY: the closure runs in the forked child before exec; it allocates nothing (the
    // program was built before the fork) and only calls seccomp(2), sendmsg(2) and close(2).
    unsafe {
        command.pre_exec(move || {
            install_and_send(&program, sock);
            // A runtime the filter cannot be given to still runs: unwatched.
            Ok(())
        });
    }
    Some(Pending {
        ours,
        _theirs: theirs,
    })
}

/// In the child: installs the filter with a listener and sends the listener on `sock`.
///
/// # Safety
/// Called between fork and exec: async-signal-safe calls only.
unsafe fn install_and_send(program: &[libc::sock_filter], sock: RawFd) {
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    let listener = libc::syscall(
        libc::SYS_seccomp,
        libc::SECCOMP_SET_MODE_FILTER,
        libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
        &fprog as *const libc::sock_fprog,
    ) as RawFd;
    if listener < 0 {
        return;
    }
    // One byte, and the listener as SCM_RIGHTS, from a buffer on the stack.
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = [0u64; 8];
    let mut msg: libc::msghdr = std::mem::zeroed();
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as _;
    let cmsg = libc::CMSG_FIRSTHDR(&msg);
    if !cmsg.is_null() {
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), listener);
        libc::sendmsg(sock, &msg, 0);
    }
    libc::close(listener);
}

/// One descriptor received as SCM_RIGHTS on `sock`, without waiting.
fn receive_fd(sock: RawFd) -> Option<OwnedFd> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = [0u64; 8];
    // SAFETY: msghdr is plain old data; every pointer in it is to a buffer of ours that
    // outlives the call, and the lengths are theirs.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        if libc::recvmsg(sock, &mut msg, libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC) < 1 {
            return None;
        }
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null()
            || (*cmsg).cmsg_level != libc::SOL_SOCKET
            || (*cmsg).cmsg_type != libc::SCM_RIGHTS
        {
            return None;
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>());
        // SCM_RIGHTS gave this process a new descriptor, owned by nothing else.
        Some(OwnedFd::from_raw_fd(fd))
    }
}

/// The checker's side of one run's filter: a thread that looks at each stopped call.
pub struct Watch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Pending {
    /// After the spawn: the listener the child sent, watched by a thread of its own until
    /// [`Watch::stop`]. None when the child sent none (the filter could not be installed).
    pub fn start(self) -> Option<Watch> {
        // The child sent it before its exec, and the spawn returned after the exec.
        let listener = receive_fd(self.ours.as_raw_fd())?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || supervise(listener, &stopping));
        Some(Watch {
            stop,
            thread: Some(thread),
        })
    }
}

impl Watch {
    /// Stops watching once the calls already stopped are answered. Calls made after this (by a
    /// process that outlived the run) fail with ENOSYS.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The namespaces of `kind` that are the host's to the checker: its own and PID 1's.
fn host_namespaces(kind: &str) -> Vec<std::path::PathBuf> {
    ["/proc/self", "/proc/1"]
        .iter()
        .filter_map(|p| std::fs::read_link(format!("{p}/ns/{kind}")).ok())
        .collect()
}

fn supervise(listener: OwnedFd, stop: &AtomicBool) {
    let (uts, mnt) = (host_namespaces("uts"), host_namespaces("mnt"));
    let fd = listener.as_raw_fd();
    loop {
        let mut poll = [libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: one pollfd, of ours.
        let ready = unsafe { libc::poll(poll.as_mut_ptr(), 1, 20) };
        if ready > 0 && poll[0].revents & libc::POLLIN != 0 {
            answer_one(fd, &uts, &mnt);
            continue;
        }
        if ready > 0 && poll[0].revents & (libc::POLLHUP | libc::POLLERR) != 0 {
            return;
        }
        if stop.load(Ordering::SeqCst) {
            return;
        }
    }
}

/// Receives one stopped call, records it if it was made in the host's namespaces, and lets it
/// go on.
fn answer_one(fd: RawFd, uts: &[std::path::PathBuf], mnt: &[std::path::PathBuf]) {
    // SAFETY: seccomp_notif is plain old data; the kernel wants it zeroed.
    let mut notif: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: the ioctl writes one seccomp_notif into ours.
    if unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_RECV as _, &mut notif) } != 0 {
        // The caller died meanwhile (ENOENT), or was interrupted: nothing to answer.
        return;
    }
    if let Some(reached) = look_at(&notif, uts, mnt) {
        // The pid named the caller only if the call is still waiting (pids are reused).
        let mut id = notif.id;
        // SAFETY: the ioctl reads one u64 of ours.
        let valid =
            unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_ID_VALID as _, &mut id) } == 0;
        if valid {
            REACHED
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(reached);
        }
    }
    let mut response = libc::seccomp_notif_resp {
        id: notif.id,
        val: 0,
        error: 0,
        flags: libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
    };
    // SAFETY: the ioctl reads one seccomp_notif_resp of ours.
    unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_SEND as _, &mut response) };
}

/// The call, when its caller is in the host's namespace of that call's kind.
fn look_at(
    notif: &libc::seccomp_notif,
    uts: &[std::path::PathBuf],
    mnt: &[std::path::PathBuf],
) -> Option<Reached> {
    let pid = notif.pid;
    let nr = libc::c_long::from(notif.data.nr);
    let args = notif.data.args;
    let in_host = |kind: &str, host: &[std::path::PathBuf]| {
        std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).is_ok_and(|ns| host.contains(&ns))
    };
    let act = if nr == libc::SYS_sethostname || nr == libc::SYS_setdomainname {
        in_host("uts", uts).then_some(Act::Hostname)?
    } else {
        if !in_host("mnt", mnt) {
            return None;
        }
        match nr {
            n if n == libc::SYS_mount => Act::Mount(path_of(pid, libc::AT_FDCWD, args[1])?),
            n if n == libc::SYS_umount2 => Act::Unmount(path_of(pid, libc::AT_FDCWD, args[0])?),
            // move_mount(from_dfd, from_path, to_dfd, to_path, flags)
            _ => Act::Mount(path_of(pid, args[2] as i32, args[3])?),
        }
    };
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| c.trim_end().to_string())
        .unwrap_or_default();
    Some(Reached { pid, comm, act })
}

/// The path the caller `pid` passed at `address`, made absolute against `dirfd` (or its cwd).
fn path_of(pid: u32, dirfd: i32, address: u64) -> Option<String> {
    use std::os::unix::fs::FileExt;
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).ok()?;
    let mut buffer = vec![0u8; 4096];
    let read = mem.read_at(&mut buffer, address).ok()?;
    buffer.truncate(read);
    let end = buffer.iter().position(|&b| b == 0)?;
    let path = String::from_utf8_lossy(&buffer[..end]).into_owned();
    if path.starts_with('/') {
        return Some(path);
    }
    let base = match dirfd {
        libc::AT_FDCWD => format!("/proc/{pid}/cwd"),
        fd => format!("/proc/{pid}/fd/{fd}"),
    };
    let base = std::fs::read_link(base).ok()?;
    Some(base.join(path).display().to_string())
}

/// Whether the mount point `point` (from the host's mountinfo) is the path `target` a process
/// of the run named (which may go through symlinks).
pub fn same_place(target: &str, point: &str) -> bool {
    target == point || std::fs::canonicalize(target).is_ok_and(|t| t == std::path::Path::new(point))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_sends_each_watched_call_to_the_checker_and_lets_the_rest_pass() {
        let program = filter();
        // A tiny interpreter for the program's few instructions.
        let run = |arch: u32, nr: i64| -> u32 {
            let (mut acc, mut pc) = (0u32, 0usize);
            loop {
                let i = program[pc];
                match u32::from(i.code) {
                    c if c == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS => {
                        acc = if i.k == 4 { arch } else { nr as u32 };
                        pc += 1;
                    }
                    c if c == libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K => {
                        pc += 1 + usize::from(if acc == i.k { i.jt } else { i.jf });
                    }
                    _ => return i.k,
                }
            }
        };
        for nr in WATCHED {
            assert_eq!(run(AUDIT_ARCH, nr), libc::SECCOMP_RET_USER_NOTIF, "{nr}");
            assert_eq!(run(0x4000_0003, nr), libc::SECCOMP_RET_ALLOW, "other arch");
        }
        for nr in [libc::SYS_read, libc::SYS_setns, libc::SYS_unshare] {
            assert_eq!(run(AUDIT_ARCH, nr), libc::SECCOMP_RET_ALLOW, "{nr}");
        }
    }
}
