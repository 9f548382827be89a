//! The protective namespace every learner runtime runs in.
//!
//! The learner's code runs as root and will be wrong. Before each check the checker starts a small
//! holder process in a new mount and UTS namespace whose mounts are *slaves* of the host's (nothing
//! done inside can propagate out) and *shared* among themselves (so a runtime that forgets to make
//! its mounts private still leaks them into the sandbox, where the checker sees it — and, like on
//! a systemd host, pivot_root refuses its shared mounts). The runtime joins the holder's
//! namespaces with setns(2) just before it execs. When the check is over the holder exits and its
//! namespaces, with anything leaked into them, disappear.
//!
//! For a check about the runtime's network (L6.net-ns.loopback) the holder also gets a network
//! namespace of its own, whose `lo` starts down: what a runtime does to "the host's" network then
//! happens there, where the checker can see it and name it.
//!
//! As root, the holder is also PID 1 of a PID namespace of its own, and the runtime is started
//! in it (as the checker's child, so that the checker still waits for it and traces it). Every
//! process of the run is then in that namespace or one below it, wherever it moves itself in the
//! cgroup tree: when the holder exits, the kernel kills them all. The holder dies with the
//! checker (PR_SET_PDEATHSIG), even a SIGKILLed one, so nothing of a run outlives the checker.
//!
//! Rootless (`--rootless`), the holder first creates a user namespace that maps the user's own
//! id to root: the runtime joins it too, and is root there, with every capability over the
//! namespaces the holder created, and none over the host.

use crate::mounts::{self, Mount};
use anyhow::{bail, Context, Result};
use nix::mount::{mount, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

/// The hidden subcommand the holder runs as.
pub const HOLD_COMMAND: &str = "__sandbox-hold";

/// A running protective namespace.
pub struct Sandbox {
    holder: Child,
    /// The holder's answers (see [`hold`]).
    answers: BufReader<std::process::ChildStdout>,
    /// The user namespace, when rootless: joined first, so that the others can be joined.
    user: Option<File>,
    mnt: File,
    uts: File,
    /// The network namespace, for a sandbox that has one of its own ([`Sandbox::start_with_network`]).
    net: Option<File>,
    /// The PID namespace the holder is PID 1 of (root only), where runs are started.
    pid: Option<File>,
    /// Processes the checker itself started in the PID namespace (not the run's).
    own: std::sync::Mutex<Vec<u32>>,
    /// The sandbox's mount table when it was created.
    pub initial_mounts: Vec<Mount>,
    /// How to stop the holder (and with it every process of the run) if the checker is
    /// interrupted.
    _interrupt: crate::interrupt::Registered,
}

impl Sandbox {
    pub fn start(rootless: bool) -> Result<Sandbox> {
        Sandbox::start_with(rootless, false)
    }

    /// A sandbox that also has a network namespace of its own, whose `lo` starts down: what a
    /// runtime does to "the host's" network (configuring `lo` through a socket opened before
    /// its unshare(CLONE_NEWNET)) then shows in it, where the checker can see it.
    pub fn start_with_network(rootless: bool) -> Result<Sandbox> {
        Sandbox::start_with(rootless, true)
    }

    fn start_with(rootless: bool, network: bool) -> Result<Sandbox> {
        // /proc/self/exe, not current_exe(): it still works when the checker's file was replaced
        // (rebuilt) while it runs.
        let mut command = Command::new("/proc/self/exe");
        command
            .arg(HOLD_COMMAND)
            .args(rootless.then_some(ROOTLESS_FLAG))
            .args(network.then_some(NETWORK_FLAG))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        die_with_the_checker(&mut command);
        let own_pid_ns = !rootless && nix::unistd::geteuid().is_root();
        let mut holder = match own_pid_ns {
            true => spawn_as_pid_one(&mut command),
            false => command.spawn(),
        }
        .context("starting the sandbox holder")?;
        let mut line = String::new();
        let mut answers = BufReader::new(holder.stdout.take().context("holder stdout")?);
        answers.read_line(&mut line)?;
        if line.trim() != "ready" {
            let _ = holder.kill();
            let _ = holder.wait();
            bail!("the protective namespace could not be created (is this root, with mount namespaces enabled?)");
        }
        let pid = holder.id();
        let user = match rootless {
            true => Some(File::open(format!("/proc/{pid}/ns/user"))?),
            false => None,
        };
        let mnt = File::open(format!("/proc/{pid}/ns/mnt"))?;
        let uts = File::open(format!("/proc/{pid}/ns/uts"))?;
        let net = match network {
            true => Some(File::open(format!("/proc/{pid}/ns/net"))?),
            false => None,
        };
        let pid_ns = match own_pid_ns {
            true => Some(File::open(format!("/proc/{pid}/ns/pid"))?),
            false => None,
        };
        let holder_pid = pid;
        let mut sandbox = Sandbox {
            _interrupt: crate::interrupt::register(move || {
                // The holder is PID 1 of the run's namespace: the kernel kills the rest with it.
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(holder_pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
                own_pid_ns.then(|| "the runtime and every process it started".to_string())
            }),
            pid: pid_ns,
            own: std::sync::Mutex::new(Vec::new()),
            holder,
            answers,
            user,
            mnt,
            uts,
            net,
            initial_mounts: Vec::new(),
        };
        sandbox.initial_mounts = sandbox.mounts()?;
        Ok(sandbox)
    }

    pub fn holder_pid(&self) -> u32 {
        self.holder.id()
    }

    /// The sandbox's mount table now.
    pub fn mounts(&self) -> Result<Vec<Mount>> {
        mounts::read(&format!("/proc/{}/mountinfo", self.holder_pid()))
    }

    /// Mounts made in the sandbox since it started: those that arrived from the host side (a
    /// slave receives the host's new mounts) are someone else's (see guard.rs).
    pub fn leftover_mounts(&self) -> Result<Vec<Mount>> {
        // The host is read before and after the sandbox, so that a host mount that came or
        // went meanwhile is in one of them.
        let host_before = mounts::read("/proc/self/mountinfo")?;
        let added = mounts::added(&self.initial_mounts, &self.mounts()?);
        let host_after = mounts::read("/proc/self/mountinfo")?;
        Ok(made_in_sandbox(added, &[&host_before, &host_after]))
    }

    /// The id of the sandbox's namespace of `kind` (`uts:[...]`, `pid:[...]`): the runtime's own.
    pub fn ns(&self, kind: &str) -> String {
        std::fs::read_link(format!("/proc/{}/ns/{kind}", self.holder_pid()))
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    /// The hostname in the sandbox's UTS namespace: what the runtime itself sees.
    pub fn hostname(&mut self) -> Result<String> {
        self.ask("hostname")
    }

    /// Whether `lo` is up in the sandbox's network namespace (one of its own, see
    /// [`Sandbox::start_with_network`]): the runtime's "host" lo, which starts down.
    pub fn lo_is_up(&mut self) -> Result<bool> {
        Ok(self.ask("lo")? == "up")
    }

    /// Starts a TCP server in the sandbox's network namespace (one of its own): the runtime's
    /// "host" side, where a container's cable ends: on `port` (0: one the kernel chooses), on
    /// every address there. Its port.
    pub fn listen(&mut self, port: u16) -> Result<u16> {
        let answer = self.ask(&format!("listen {port}"))?;
        answer
            .parse()
            .with_context(|| format!("a TCP server in the sandbox's network namespace: {answer}"))
    }

    /// What the connections to [`Sandbox::listen`]'s server sent (their first lines).
    pub fn accepted(&mut self) -> Result<Vec<String>> {
        let answer = self.ask("accepted")?;
        Ok(match answer.as_str() {
            "none" => Vec::new(),
            _ => answer.split(' ').map(str::to_string).collect(),
        })
    }

    /// The links of the sandbox's network namespace (its `/proc/<holder>/net/dev`): the
    /// runtime's "host" links.
    pub fn links(&self) -> Result<Vec<String>> {
        let path = format!("/proc/{}/net/dev", self.holder_pid());
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        Ok(probe::net_dev_names(&text))
    }

    /// One request to the holder, one line of answer.
    fn ask(&mut self, request: &str) -> Result<String> {
        let stdin = self.holder.stdin.as_mut().context("holder stdin")?;
        stdin.write_all(format!("{request}\n").as_bytes())?;
        stdin.flush()?;
        let mut line = String::new();
        self.answers.read_line(&mut line)?;
        Ok(line.trim_end_matches('\n').to_string())
    }

    /// Whether the sandbox has a network namespace of its own ([`Sandbox::start_with_network`]).
    pub fn has_network(&self) -> bool {
        self.net.is_some()
    }

    /// Whether the runs live in a PID namespace of the sandbox's (as root): then every process
    /// of a run is among [`Sandbox::run_processes`], wherever it went.
    pub fn has_pid_namespace(&self) -> bool {
        self.pid.is_some()
    }

    /// Starts `command` in the sandbox's PID namespace (where it has one): a process of the run
    /// (the runtime), still this thread's child.
    pub fn spawn(&self, command: &mut Command) -> std::io::Result<Child> {
        match &self.pid {
            Some(ns) => spawn_in_pid_ns(ns, command),
            None => command.spawn(),
        }
    }

    /// Starts `command`, a process of the checker's own, in the sandbox's PID namespace: where
    /// the runtime's processes see it. It is not the run's (see [`Sandbox::run_processes`]).
    pub fn spawn_own(&self, command: &mut Command) -> std::io::Result<Child> {
        let child = self.spawn(command)?;
        if let Ok(mut own) = self.own.lock() {
            own.push(child.id());
        }
        Ok(child)
    }

    /// The pid `pid` (a host pid) has in the sandbox's PID namespace: what a process of the run
    /// sees (`NSpid` in /proc/<pid>/status, its last field).
    pub fn pid_inside(&self, pid: u32) -> u32 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|status| {
                let line = status.lines().find(|l| l.starts_with("NSpid:"))?;
                line.split_whitespace().last()?.parse().ok()
            })
            .unwrap_or(pid)
    }

    /// The live processes of the runs in the sandbox's PID namespace (or a namespace below it):
    /// every process there but the holder and the checker's own. Empty without a namespace.
    ///
    /// Each process's PID namespace is read first (one readlink): those in the checker's own
    /// namespace, most of the host's, are never a run's (a process cannot leave its PID
    /// namespace for one above it), and only the others are read further. Reading every
    /// process's stat and walking its ancestors cost 2-5 ms per call with a hundred processes,
    /// and each run calls it at least twice.
    pub fn run_processes(&self) -> Vec<u32> {
        let Some(ns) = &self.pid else {
            return Vec::new();
        };
        let ns_id = fd_ns_id(ns);
        let checkers = checkers_pid_ns();
        let holder = self.holder_pid();
        let own = self.own.lock().map(|o| o.clone()).unwrap_or_default();
        let ns_of = |pid: u32| {
            std::fs::read_link(format!("/proc/{pid}/ns/pid"))
                .ok()
                .map(|l| l.to_string_lossy().into_owned())
        };
        let in_ns = |pid: u32| ns_id.is_some() && ns_of(pid) == ns_id;
        let mut found = Vec::new();
        for pid in probe::proc::pids() {
            if pid == holder || own.contains(&pid) {
                continue;
            }
            let ns = ns_of(pid);
            if ns.is_none() || (checkers.is_some() && ns == checkers) {
                continue;
            }
            let Some(stat) = probe::proc::stat(pid) else {
                continue;
            };
            if stat.is_zombie() {
                continue;
            }
            if ns == ns_id {
                found.push(pid);
                continue;
            }
            // A namespace below the sandbox's has a process of the sandbox's among its
            // ancestors; another namespace (a container of the host's) has none.
            let (mut at, mut hops) = (stat.ppid, 0);
            while at > 1 && hops < 64 {
                if own.contains(&at) {
                    break;
                }
                if in_ns(at) {
                    found.push(pid);
                    break;
                }
                match probe::proc::stat(at) {
                    Some(s) => at = s.ppid,
                    None => break,
                }
                hops += 1;
            }
        }
        found
    }

    /// Kills the processes of the runs (see [`Sandbox::run_processes`]) that are `chosen` until
    /// none is left (at most 2 s).
    pub fn kill_run_processes_where(&self, chosen: impl Fn(u32) -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        loop {
            let left: Vec<u32> = self
                .run_processes()
                .into_iter()
                .filter(|&p| chosen(p))
                .collect();
            if left.is_empty() || std::time::Instant::now() > deadline {
                return;
            }
            for pid in left {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// Makes `command` join the sandbox's namespaces between fork and exec.
    pub fn enter_on_spawn(&self, command: &mut Command) {
        use std::os::fd::AsRawFd;
        let (mnt, uts) = (self.mnt.as_raw_fd(), self.uts.as_raw_fd());
        let user = self.user.as_ref().map(|f| f.as_raw_fd());
        let net = self.net.as_ref().map(|f| f.as_raw_fd());
        // SAFETY: the closure runs in the forked child before exec and only calls setns(2), which
        // is async-signal-safe; the fds stay open in the parent for the whole spawn.
        unsafe {
            command.pre_exec(move || {
                use std::os::fd::BorrowedFd;
                // The user namespace first: it is what gives the right to join the others.
                if let Some(user) = user {
                    let user = BorrowedFd::borrow_raw(user);
                    setns(user.as_fd(), CloneFlags::CLONE_NEWUSER).map_err(std::io::Error::from)?;
                }
                let mnt = BorrowedFd::borrow_raw(mnt);
                let uts = BorrowedFd::borrow_raw(uts);
                setns(mnt.as_fd(), CloneFlags::CLONE_NEWNS).map_err(std::io::Error::from)?;
                setns(uts.as_fd(), CloneFlags::CLONE_NEWUTS).map_err(std::io::Error::from)?;
                if let Some(net) = net {
                    let net = BorrowedFd::borrow_raw(net);
                    setns(net.as_fd(), CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)?;
                }
                Ok(())
            });
        }
    }
}

/// The checker's own PID namespace (`pid:[…]`): its threads enter the sandbox's only for the
/// time of a spawn, and only for their children (setns(CLONE_NEWPID)); the process's own
/// namespace, which /proc/self names, never changes.
fn checkers_pid_ns() -> Option<String> {
    static OWN: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    OWN.get_or_init(|| {
        std::fs::read_link("/proc/self/ns/pid")
            .ok()
            .map(|l| l.to_string_lossy().into_owned())
    })
    .clone()
}

/// `pid:[4026532…]` of a namespace file.
fn fd_ns_id(ns: &File) -> Option<String> {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", ns.as_raw_fd()))
        .ok()
        .map(|l| l.to_string_lossy().into_owned())
}

/// The holder gets SIGKILL when the checker's thread that started it ends: a checker killed
/// (even by SIGKILL) takes its sandbox, and the PID namespace with every process of its run,
/// with it.
fn die_with_the_checker(command: &mut Command) {
    // SAFETY: prctl(2) is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Spawns `command` as PID 1 of a new PID namespace: this thread unshares one for its children,
/// forks the holder into it, and goes back to its own.
fn spawn_as_pid_one(command: &mut Command) -> std::io::Result<Child> {
    let own = File::open("/proc/thread-self/ns/pid")?;
    unshare(CloneFlags::CLONE_NEWPID).map_err(std::io::Error::from)?;
    let spawned = command.spawn();
    let back = setns(own.as_fd(), CloneFlags::CLONE_NEWPID).map_err(std::io::Error::from);
    let child = spawned?;
    back?;
    Ok(child)
}

/// Spawns `command` in the PID namespace `ns` (the calling thread's children go there for the
/// time of the spawn).
fn spawn_in_pid_ns(ns: &File, command: &mut Command) -> std::io::Result<Child> {
    let own = File::open("/proc/thread-self/ns/pid")?;
    setns(ns.as_fd(), CloneFlags::CLONE_NEWPID).map_err(std::io::Error::from)?;
    let spawned = command.spawn();
    let back = setns(own.as_fd(), CloneFlags::CLONE_NEWPID).map_err(std::io::Error::from);
    let child = spawned?;
    back?;
    Ok(child)
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _t = crate::trace::span("sandbox.drop");
        // Closing its stdin tells the holder to exit; the namespace goes with it.
        drop(self.holder.stdin.take());
        let _ = self.holder.wait();
    }
}

/// The holder's argument for a rootless sandbox.
pub const ROOTLESS_FLAG: &str = "--rootless";

/// The holder's argument for a sandbox with a network namespace of its own.
pub const NETWORK_FLAG: &str = "--network";

/// The holder's side: create the namespaces, set propagation, say "ready", then answer
/// `hostname` and `lo` requests on stdin until EOF.
pub fn hold(rootless: bool, network: bool) -> Result<()> {
    if rootless {
        enter_user_namespace()?;
    }
    let mut namespaces = CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS;
    if network {
        namespaces |= CloneFlags::CLONE_NEWNET;
    }
    unshare(namespaces).context("unshare(CLONE_NEWNS | CLONE_NEWUTS)")?;
    if nix::unistd::getpid().as_raw() == 1 {
        // PID 1 of the runs' namespace: their orphans come here; reap them as they end.
        // SAFETY: setting a signal's disposition to SIG_IGN installs no handler.
        unsafe {
            let _ = nix::sys::signal::signal(
                nix::sys::signal::Signal::SIGCHLD,
                nix::sys::signal::SigHandler::SigIgn,
            );
        }
    }
    // Slave first: events from the host still arrive, ours never leave. Then shared: every mount
    // gets a new peer group, so namespaces copied from this one propagate back into it.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .context("making / a slave")?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SHARED,
        None::<&str>,
    )
    .context("making / shared")?;
    if nix::unistd::getpid().as_raw() == 1 {
        // The runs' processes live in this PID namespace: a /proc of its own, so that the pid a
        // runtime got from fork names that process here (runc reads /proc/<child>/fd; the
        // host's procfs would show another process, or none, under that number).
        mount(
            Some("proc"),
            "/proc",
            Some("proc"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None::<&str>,
        )
        .context("mounting a /proc for the runs' PID namespace")?;
    }
    let mut out = std::io::stdout();
    writeln!(out, "ready")?;
    out.flush()?;
    // A TCP server on the runtime's "host" (level 13): containers connect to it over their cable.
    let mut listener: Option<std::net::TcpListener> = None;
    for request in std::io::stdin().lines() {
        let answer = match request?.trim() {
            "hostname" => nix::unistd::gethostname()?.to_string_lossy().into_owned(),
            listen if listen.starts_with("listen ") => {
                match std::net::TcpListener::bind(format!("0.0.0.0:{}", &listen[7..])) {
                    Ok(bound) => {
                        let port = bound.local_addr().map(|a| a.port()).unwrap_or(0);
                        listener = Some(bound);
                        port.to_string()
                    }
                    Err(e) => format!("error {e}"),
                }
            }
            "accepted" => accepted(listener.as_ref()),
            "lo" => match lo_flags() {
                Ok(flags) if flags & libc::IFF_UP != 0 => "up".into(),
                Ok(_) => "down".into(),
                Err(e) => format!("unknown ({e})"),
            },
            _ => continue,
        };
        writeln!(out, "{answer}")?;
        out.flush()?;
    }
    Ok(())
}

/// What the connections made to the holder's TCP server so far sent, first lines joined by
/// spaces (the probe sends its nonce); `none` if none came. Never blocks: a connection the
/// kernel completed is queued, with its bytes, whether or not it was accepted yet.
fn accepted(listener: Option<&std::net::TcpListener>) -> String {
    use std::io::Read;
    let Some(listener) = listener else {
        return "none".into();
    };
    let _ = listener.set_nonblocking(true);
    let mut lines = Vec::new();
    while let Ok((mut stream, _)) = listener.accept() {
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
        let mut bytes = Vec::new();
        let _ = Read::by_ref(&mut stream).take(256).read_to_end(&mut bytes);
        let text = String::from_utf8_lossy(&bytes);
        lines.push(text.lines().next().unwrap_or("").trim().to_string());
    }
    match lines.is_empty() {
        true => "none".into(),
        false => lines.join(" "),
    }
}

/// The flags of `lo` in this process's network namespace (SIOCGIFFLAGS, netdevice(7)).
fn lo_flags() -> Result<i32> {
    use std::os::fd::AsRawFd;
    let socket = std::net::UdpSocket::bind("127.0.0.1:0")
        .or_else(|_| std::net::UdpSocket::bind("0.0.0.0:0"))
        .context("a socket to ask about lo")?;
    // SAFETY: ifreq is plain old data, zeroed; the ioctl writes only into the request we own.
    let flags = unsafe {
        let mut request: libc::ifreq = std::mem::zeroed();
        request.ifr_name[0] = b'l' as libc::c_char;
        request.ifr_name[1] = b'o' as libc::c_char;
        nix::errno::Errno::result(libc::ioctl(
            socket.as_raw_fd(),
            libc::SIOCGIFFLAGS,
            &mut request,
        ))
        .context("SIOCGIFFLAGS on lo")?;
        request.ifr_ifru.ifru_flags
    };
    Ok(i32::from(flags))
}

/// A new user namespace in which this user is root (user_namespaces(7)): the one id we may map
/// without privilege is our own. setgroups must be denied before an unprivileged gid_map.
fn enter_user_namespace() -> Result<()> {
    let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
    unshare(CloneFlags::CLONE_NEWUSER).context("unshare(CLONE_NEWUSER)")?;
    std::fs::write("/proc/self/setgroups", "deny").context("writing /proc/self/setgroups")?;
    std::fs::write("/proc/self/uid_map", format!("0 {uid} 1")).context("writing uid_map")?;
    std::fs::write("/proc/self/gid_map", format!("0 {gid} 1")).context("writing gid_map")?;
    Ok(())
}

/// Whether this host lets this user create a user namespace, and if not, why. Tried for real
/// in a child (a sysctl or an LSM may forbid it whatever the kernel supports).
pub fn user_namespaces_allowed() -> std::result::Result<(), String> {
    // SAFETY: the child only calls unshare(2) and _exit(2).
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            let code = match unshare(CloneFlags::CLONE_NEWUSER) {
                Ok(()) => 0,
                Err(errno) => errno as i32,
            };
            // SAFETY: _exit is async-signal-safe and ends the child at once.
            unsafe { libc::_exit(code) }
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => match nix::sys::wait::waitpid(child, None)
        {
            Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => Ok(()),
            Ok(nix::sys::wait::WaitStatus::Exited(_, errno)) => {
                Err(why_no_user_namespaces(nix::errno::Errno::from_raw(errno)))
            }
            other => Err(format!("the test child ended with {other:?}")),
        },
        Err(e) => Err(format!("fork failed: {e}")),
    }
}

/// The likely reason, from the sysctls that control unprivileged user namespaces.
pub fn why_no_user_namespaces(errno: nix::errno::Errno) -> String {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_string())
            .ok()
    };
    if read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return "unprivileged user namespaces are disabled (sysctl kernel.unprivileged_userns_clone=0)".into();
    }
    if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        return "AppArmor restricts unprivileged user namespaces (sysctl kernel.apparmor_restrict_unprivileged_userns=1)".into();
    }
    if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return "user namespaces are disabled (sysctl user.max_user_namespaces=0)".into();
    }
    format!("unshare(CLONE_NEWUSER) failed: {}", errno.desc())
}

/// The mounts of `added` (new in the sandbox) that were made there: not those that arrived
/// from the host. The sandbox's mounts are slaves of the host's, so one that arrived has a
/// `master:` tag, and the host has the same filesystem at the same place.
pub fn made_in_sandbox(added: Vec<mounts::Mount>, host: &[&[mounts::Mount]]) -> Vec<mounts::Mount> {
    let on_host = |m: &mounts::Mount| {
        host.iter().flat_map(|table| table.iter()).any(|h| {
            h.mount_point == m.mount_point
                && h.fstype == m.fstype
                && h.major_minor == m.major_minor
                && h.root == m.root
        })
    };
    added
        .into_iter()
        .filter(|m| !(m.propagation().iter().any(|p| p.starts_with("master:")) && on_host(m)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_that_arrived_from_the_host_are_not_the_sandboxs() {
        let line = |id: u32, point: &str, tags: &str, dev: &str| {
            format!("{id} 22 {dev} / {point} rw {tags} - tmpfs tmpfs rw\n")
        };
        let sandbox = mounts::parse(&format!(
            "{}{}{}",
            line(301, "/tmp/rcnoise1/m3", "shared:90 master:12", "0:77"),
            line(302, "/leaked", "shared:91", "0:78"),
            line(303, "/bound", "shared:92 master:13", "0:79"),
        ));
        let host = mounts::parse(&line(150, "/tmp/rcnoise1/m3", "shared:12", "0:77"));
        let made: Vec<String> = made_in_sandbox(sandbox, &[&host, &[]])
            .iter()
            .map(|m| m.mount_point.clone())
            .collect();
        // A bind mount made in the sandbox is a slave too, but the host has nothing there.
        assert_eq!(made, ["/leaked", "/bound"]);
    }
}
