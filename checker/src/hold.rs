//! Holding the runtime's parent still while its child runs, and looking at the command at the
//! very moment it execs.
//!
//! The kernel keeps no history: a runtime whose child does not wait on its sync pipe, or whose
//! parent releases the child before it attaches it (or writes a limit), behaves correctly in
//! almost every run, because the child's own setup (namespaces, mounts) outlasts the parent's
//! few writes. To make the order observable, the checker traces the runtime (ptrace(2)) for the
//! runs that ask for it ([`crate::run::Spec::watch_exec`]):
//!
//! - The runtime's children (its forks, not its threads) are traced for their exec and exit
//!   only; their own children are not traced at all.
//! - The runtime itself may run only while each such child is quiescent: asleep (`S`) without
//!   having run since it was last seen asleep (its context switches unchanged), for
//!   [`SETTLE`] at least. While a child is quiet the runtime runs one system call at a time; at
//!   each stop, a child that woke up (the parent just wrote its sync pipe, say) holds the
//!   runtime again until that child sleeps again, or execs.
//! - At a child's exec of the command (its argv holds the run's nonce), before the command's
//!   first instruction, [`AtExec`] records the command's groups, the runtime's, and the limit
//!   files of the command's groups. Then everything is detached: the rest of the run sees no
//!   tracing at all.
//!
//! A correct runtime is never slowed for long (its child sleeps on the pipe at once) and never
//! judged wrong: whatever the hold cannot follow (a command started by a grandchild, a Go
//! runtime's threads, a stop signal, a child that spins) ends the hold with no record, and the
//! checks judge what the probe and the host show, as without it.

use crate::levels::cgroup::membership;
use std::time::{Duration, Instant};

/// How long a child must be seen asleep, without running, before its parent may go on.
pub const SETTLE: Duration = Duration::from_millis(10);

/// The most a hold may last: past it, everything is detached and nothing is recorded.
pub const CAP: Duration = Duration::from_secs(3);

/// How often the hold samples the children while nothing happens.
const POLL: Duration = Duration::from_micros(300);

/// How often, at most, the host is searched for the command started by a process the hold does
/// not see.
const SEARCH: Duration = Duration::from_millis(50);

/// What the kernel showed at the command's exec.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AtExec {
    /// The command's `/proc/<pid>/cgroup` lines.
    pub cgroup: Vec<String>,
    /// The runtime's (the command's parent's) `/proc/<pid>/cgroup` lines at that moment.
    pub runtime_cgroup: Vec<String>,
    /// The limit files of the command's groups, as they were.
    pub limits: Vec<Limit>,
}

/// One limit file of the command's group for a controller, at its exec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub controller: &'static str,
    /// `pids.max`, `cpu.max`, `memory.limit_in_bytes`...
    pub file: &'static str,
    /// The group, relative to its hierarchy's root, as `/proc/<pid>/cgroup` names it.
    pub group: String,
    /// The file's content, trimmed; None where the group has no such file.
    pub value: Option<String>,
}

impl Limit {
    /// `<group>/<file>`, as verdicts name it.
    pub fn path(&self) -> String {
        format!("{}/{}", self.group.trim_end_matches('/'), self.file)
    }
}

/// The limit files read at exec, per controller: v2 names first, then v1's.
const LIMIT_FILES: &[(&str, &[&str])] = &[
    ("cpu", &["cpu.max", "cpu.cfs_quota_us", "cpu.cfs_period_us"]),
    ("memory", &["memory.max", "memory.limit_in_bytes"]),
    ("pids", &["pids.max"]),
];

impl AtExec {
    /// The command's group for `controller` at its exec (see [`membership`]).
    pub fn group(&self, controller: &str) -> Option<String> {
        membership(&self.cgroup, controller).map(|m| m.path)
    }

    /// The runtime's group for `controller` at that moment.
    pub fn runtime_group(&self, controller: &str) -> Option<String> {
        membership(&self.runtime_cgroup, controller).map(|m| m.path)
    }

    /// The limit file `file` of the command's group, where the group has it.
    pub fn limit(&self, file: &str) -> Option<&Limit> {
        self.limits
            .iter()
            .find(|l| l.file == file && l.value.is_some())
    }

    /// Reads what the kernel shows of `pid` (the command, stopped at its exec) and of `parent`.
    fn read(pid: i32, parent: i32) -> AtExec {
        let lines = |pid: i32| -> Vec<String> {
            std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
                .unwrap_or_default()
                .lines()
                .map(String::from)
                .collect()
        };
        let cgroup = lines(pid);
        let layout = crate::cgroups::host_layout();
        let mut limits = Vec::new();
        for (controller, files) in LIMIT_FILES {
            let Some(m) = membership(&cgroup, controller) else {
                continue;
            };
            let Some(dir) = layout.group_dir(controller, &m.path) else {
                continue;
            };
            for file in *files {
                limits.push(Limit {
                    controller,
                    file,
                    group: m.path.clone(),
                    value: std::fs::read_to_string(dir.join(file))
                        .ok()
                        .map(|v| v.trim().to_string()),
                });
            }
        }
        AtExec {
            cgroup,
            runtime_cgroup: lines(parent),
            limits,
        }
    }
}

/// How a hold ended.
#[derive(Debug)]
pub struct Held {
    /// What the kernel showed at the command's exec, or why the hold saw no such moment.
    pub at_exec: Result<AtExec, String>,
    /// The runtime's raw wait status, when the hold had to reap it (it was SIGKILLed while
    /// traced): the run's status then comes from here, not from `Child::try_wait`.
    pub reaped: Option<i32>,
}

/// Makes the spawned runtime traced by the spawning thread, which must then call [`hold`] at
/// once (the runtime stops right after its exec). Register it after every other `pre_exec`.
pub fn trace_on_spawn(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: runs in the forked child before exec; ptrace(2) is async-signal-safe. A refusal
    // (a seccomp filter, Yama's scope 3) is not an error: the runtime then runs untraced, and
    // `hold` notices it.
    unsafe {
        command.pre_exec(|| {
            libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0);
            Ok(())
        });
    }
}

/// A process's state and its context switches, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub state: char,
    /// voluntary + nonvoluntary context switches: unchanged means it has not run since.
    pub switches: u64,
}

/// Parses `/proc/<pid>/status` for [`Sample`].
pub fn parse_status(text: &str) -> Option<Sample> {
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .map(str::trim)
    };
    let state = value("State")?.chars().next()?;
    let count = |key: &str| value(key).and_then(|v| v.parse::<u64>().ok());
    Some(Sample {
        state,
        switches: count("voluntary_ctxt_switches")? + count("nonvoluntary_ctxt_switches")?,
    })
}

/// `pid`'s [`Sample`] now; None when it is gone.
pub fn sample(pid: i32) -> Option<Sample> {
    parse_status(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// The tracer of `pid`, from `/proc/<pid>/status`.
fn tracer(pid: i32) -> Option<i32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("TracerPid:"))?
        .trim()
        .parse()
        .ok()
}

/// Whether `pid` is a thread of another process (its Tgid is not its pid).
fn is_thread(pid: i32) -> bool {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|t| t.trim().parse::<i32>().ok())
        .is_some_and(|tgid| tgid != pid)
}

/// Whether a child, as sampled, lets its parent go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quiet {
    /// The sample it has been asleep with, unchanged, and since when.
    asleep: Option<(u64, Instant)>,
}

impl Quiet {
    /// Takes a new sample (None: the process is gone); true when it has been asleep, without
    /// running, for [`SETTLE`] up to `now`.
    pub fn settled(&mut self, seen: Option<Sample>, now: Instant) -> bool {
        match seen {
            // Gone, or a zombie: it will not run again (its exit is an event of its own).
            None => true,
            Some(s) if matches!(s.state, 'Z' | 'X') => true,
            Some(s) if s.state == 'S' => match self.asleep {
                Some((switches, since)) if switches == s.switches => now - since >= SETTLE,
                _ => {
                    self.asleep = Some((s.switches, now));
                    false
                }
            },
            // Running, in the kernel (D), or in a stop the hold has not seen yet.
            Some(_) => {
                self.asleep = None;
                false
            }
        }
    }

    /// At a stop of the parent: whether the child is still asleep since it settled (it has not
    /// run at all); when it has, it must settle again before the parent goes on.
    pub fn still(&mut self, seen: Option<Sample>) -> bool {
        match (seen, self.asleep) {
            (None, _) => true,
            (Some(s), _) if matches!(s.state, 'Z' | 'X') => true,
            (Some(s), Some((switches, _))) if s.state == 'S' && s.switches == switches => true,
            _ => {
                self.asleep = None;
                false
            }
        }
    }
}

/// One child of the runtime, traced for its exec and exit.
struct Child {
    pid: i32,
    quiet: Quiet,
}

/// How the runtime runs when it is let go: to its next fork only, or stopping at each system
/// call while a child is alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Cont,
    Syscall,
}

struct Hold<'a> {
    root: i32,
    nonce: &'a str,
    program: &'a str,
    /// The runtime is in a ptrace stop, and the signal to deliver when it goes on.
    root_stopped: Option<i32>,
    children: Vec<Child>,
    reaped: Option<i32>,
}

/// Raw ptrace and waitpid, on the tracer thread.
mod raw {
    pub fn ptrace(request: libc::c_uint, pid: i32, data: usize) -> bool {
        // SAFETY: requests that take no address and an integer (a signal, options) as data.
        unsafe { libc::ptrace(request, pid, 0usize, data) == 0 }
    }

    /// The new pid of a fork event.
    pub fn event_message(pid: i32) -> Option<i32> {
        let mut message: libc::c_ulong = 0;
        // SAFETY: PTRACE_GETEVENTMSG writes one unsigned long to the address given.
        let done = unsafe {
            libc::ptrace(
                libc::PTRACE_GETEVENTMSG,
                pid,
                0usize,
                &mut message as *mut libc::c_ulong,
            )
        };
        (done == 0).then_some(message as i32)
    }

    /// waitpid(pid, __WALL [| WNOHANG]): the raw status, None when nothing happened (or the
    /// wait failed: no such tracee).
    pub fn wait(pid: i32, block: bool) -> Option<i32> {
        let mut status = 0;
        let flags = libc::__WALL | if block { 0 } else { libc::WNOHANG };
        loop {
            // SAFETY: waitpid writes the status to the int given.
            let got = unsafe { libc::waitpid(pid, &mut status, flags) };
            if got == pid {
                return Some(status);
            }
            if got < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return None;
        }
    }

    pub fn tgkill(pid: i32, signal: i32) {
        // SAFETY: a plain syscall on a pid the hold traces.
        unsafe {
            libc::syscall(libc::SYS_tgkill, pid, pid, signal);
        }
    }
}

/// What a raw wait status says, for the hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Exited or killed: reaped.
    Gone,
    /// A ptrace event (PTRACE_EVENT_*).
    Event(i32),
    /// A system call stop (with PTRACE_O_TRACESYSGOOD).
    Syscall,
    /// A signal-delivery stop (or, under PTRACE_TRACEME, a group stop) for this signal.
    Signal(i32),
}

fn stop_of(status: i32) -> Stop {
    if !libc::WIFSTOPPED(status) {
        return Stop::Gone;
    }
    let signal = libc::WSTOPSIG(status);
    let event = status >> 16;
    if signal == libc::SIGTRAP | 0x80 {
        Stop::Syscall
    } else if signal == libc::SIGTRAP && event != 0 {
        Stop::Event(event)
    } else {
        Stop::Signal(signal)
    }
}

fn is_stop_signal(signal: i32) -> bool {
    matches!(
        signal,
        libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU
    )
}

/// Holds the runtime `pid` (spawned with [`trace_on_spawn`] by this thread) until its command
/// execs, or the hold can tell nothing. `program` and `nonce` tell the command from anything
/// else a child execs.
pub fn hold(pid: u32, program: &str, nonce: &str) -> Held {
    let root = pid as i32;
    if tracer(root) != Some(nix::unistd::gettid().as_raw()) {
        return Held {
            at_exec: Err("the runtime could not be traced (ptrace refused)".into()),
            reaped: None,
        };
    }
    let mut hold = Hold {
        root,
        nonce,
        program,
        root_stopped: None,
        children: Vec::new(),
        reaped: None,
    };
    let at_exec = hold.run();
    hold.release_all();
    Held {
        at_exec,
        reaped: hold.reaped,
    }
}

impl Hold<'_> {
    fn run(&mut self) -> Result<AtExec, String> {
        // The stop right after the runtime's exec.
        match raw::wait(self.root, true).map(|s| (s, stop_of(s))) {
            Some((_, Stop::Signal(libc::SIGTRAP))) => {}
            Some((status, Stop::Gone)) => {
                self.reaped = Some(status);
                return Err("the runtime was gone before it could be held".into());
            }
            other => return Err(format!("unexpected first stop of the runtime: {other:?}")),
        }
        let options = libc::PTRACE_O_TRACEFORK
            | libc::PTRACE_O_TRACEVFORK
            | libc::PTRACE_O_TRACECLONE
            | libc::PTRACE_O_TRACEEXEC
            | libc::PTRACE_O_TRACEEXIT
            | libc::PTRACE_O_TRACESYSGOOD
            | libc::PTRACE_O_EXITKILL;
        if !raw::ptrace(libc::PTRACE_SETOPTIONS, self.root, options as usize) {
            return Err("PTRACE_SETOPTIONS refused".into());
        }
        self.root_stopped = Some(0);
        let deadline = Instant::now() + CAP;
        let mut searched = Instant::now();
        loop {
            let mut busy = false;
            if self.root_stopped.is_none() {
                if let Some(status) = raw::wait(self.root, false) {
                    busy = true;
                    if let Some(done) = self.on_root(status) {
                        return done;
                    }
                }
            }
            let mut i = 0;
            while i < self.children.len() {
                let pid = self.children[i].pid;
                match raw::wait(pid, false) {
                    Some(status) => {
                        busy = true;
                        if let Some(done) = self.on_child(i, status) {
                            return done;
                        }
                        // on_child may have removed it.
                        if self.children.get(i).is_some_and(|c| c.pid == pid) {
                            i += 1;
                        }
                    }
                    None => i += 1,
                }
            }
            if self.root_stopped.is_some() {
                let now = Instant::now();
                let all_quiet = self
                    .children
                    .iter_mut()
                    .all(|c| c.quiet.settled(sample(c.pid), now));
                if all_quiet {
                    let mode = match self.children.is_empty() {
                        true => Mode::Cont,
                        false => Mode::Syscall,
                    };
                    self.resume_root(mode)?;
                    busy = true;
                }
            }
            let now = Instant::now();
            if now > deadline {
                return Err(format!(
                    "the command had not started after {} s of holding",
                    CAP.as_secs()
                ));
            }
            if now - searched >= SEARCH {
                searched = now;
                let elsewhere = probe::proc::running_with(self.program, self.nonce)
                    .into_iter()
                    .any(|pid| self.children.iter().all(|c| c.pid as u32 != pid));
                if elsewhere {
                    return Err("the command was started by a process the hold does not see (a grandchild of the runtime, or a thread of it)".into());
                }
            }
            if !busy {
                std::thread::sleep(POLL);
            }
        }
    }

    fn resume_root(&mut self, mode: Mode) -> Result<(), String> {
        let signal = self.root_stopped.take().unwrap_or(0);
        let request = match mode {
            Mode::Cont => libc::PTRACE_CONT,
            Mode::Syscall => libc::PTRACE_SYSCALL,
        };
        if raw::ptrace(request, self.root, signal as usize) {
            Ok(())
        } else {
            Err("the runtime could not be resumed".into())
        }
    }

    /// A stop (or the end) of the runtime; Some when the hold is over.
    fn on_root(&mut self, status: i32) -> Option<Result<AtExec, String>> {
        match stop_of(status) {
            Stop::Gone => {
                self.reaped = Some(status);
                Some(Err("the runtime was killed while held".into()))
            }
            Stop::Event(libc::PTRACE_EVENT_EXIT) => {
                self.root_stopped = Some(0);
                Some(Err("the runtime exited before its command ran".into()))
            }
            Stop::Event(
                libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK | libc::PTRACE_EVENT_CLONE,
            ) => {
                self.root_stopped = Some(0);
                if let Some(new) = raw::event_message(self.root) {
                    self.adopt(new);
                }
                None
            }
            Stop::Event(_) | Stop::Syscall => {
                self.root_stopped = Some(0);
                // A child that ran since it settled holds the runtime again.
                for child in &mut self.children {
                    child.quiet.still(sample(child.pid));
                }
                None
            }
            Stop::Signal(signal) if is_stop_signal(signal) => {
                // Under PTRACE_TRACEME a stop cannot be told from its delivery: let it be real.
                self.root_stopped = Some(signal);
                Some(Err(format!("the runtime got stop signal {signal}")))
            }
            Stop::Signal(signal) => {
                self.root_stopped = Some(signal);
                None
            }
        }
    }

    /// A new task of the runtime, attached by the kernel: a thread goes free, a child is traced
    /// for its exec and exit.
    fn adopt(&mut self, pid: i32) {
        // Its first stop (SIGSTOP) comes for sure; the task cannot run before it.
        if raw::wait(pid, true).is_none() {
            return;
        }
        if is_thread(pid) {
            raw::ptrace(libc::PTRACE_DETACH, pid, 0);
            return;
        }
        let options = libc::PTRACE_O_TRACEEXEC | libc::PTRACE_O_TRACEEXIT;
        if !raw::ptrace(libc::PTRACE_SETOPTIONS, pid, options as usize) {
            raw::ptrace(libc::PTRACE_DETACH, pid, 0);
            return;
        }
        self.children.push(Child {
            pid,
            quiet: Quiet::default(),
        });
        raw::ptrace(libc::PTRACE_CONT, pid, 0);
    }

    /// A stop (or the end) of child `i`; Some when the hold is over.
    fn on_child(&mut self, i: usize, status: i32) -> Option<Result<AtExec, String>> {
        let pid = self.children[i].pid;
        match stop_of(status) {
            // Reaped by the tracer: the kernel tells its parent now.
            Stop::Gone => {
                self.children.remove(i);
            }
            Stop::Event(libc::PTRACE_EVENT_EXEC) => {
                let argv = probe::proc::argv(pid as u32);
                let is_command = argv.first().is_some_and(|a| a == self.program)
                    && argv.iter().any(|a| a == self.nonce);
                if is_command {
                    let seen = AtExec::read(pid, self.root);
                    raw::ptrace(libc::PTRACE_DETACH, pid, 0);
                    self.children.remove(i);
                    return Some(Ok(seen));
                }
                // Something else (a helper program, a runtime re-executing itself): not the
                // command; what it starts is not followed.
                raw::ptrace(libc::PTRACE_DETACH, pid, 0);
                self.children.remove(i);
            }
            Stop::Event(_) => {
                raw::ptrace(libc::PTRACE_DETACH, pid, 0);
                self.children.remove(i);
            }
            Stop::Signal(signal) if is_stop_signal(signal) => {
                raw::ptrace(libc::PTRACE_DETACH, pid, signal as usize);
                self.children.remove(i);
                return Some(Err(format!("the runtime's child got stop signal {signal}")));
            }
            Stop::Signal(signal) => {
                raw::ptrace(libc::PTRACE_CONT, pid, signal as usize);
            }
            Stop::Syscall => {
                raw::ptrace(libc::PTRACE_CONT, pid, 0);
            }
        }
        None
    }

    /// Detaches every task still traced: the stopped ones at once, the running ones at their
    /// next stop (a SIGSTOP makes one, and is dropped).
    fn release_all(&mut self) {
        for child in std::mem::take(&mut self.children) {
            self.stop_and_detach(child.pid);
        }
        if self.reaped.is_some() {
            return;
        }
        match self.root_stopped.take() {
            Some(signal) => {
                raw::ptrace(libc::PTRACE_DETACH, self.root, signal as usize);
            }
            None => {
                if let Some(status) = self.stop_and_detach(self.root) {
                    self.reaped = Some(status);
                }
            }
        }
    }

    /// Stops a running tracee with SIGSTOP and detaches it at its next stop, dropping the
    /// SIGSTOP; the raw status if it died meanwhile (it was reaped).
    fn stop_and_detach(&mut self, pid: i32) -> Option<i32> {
        raw::tgkill(pid, libc::SIGSTOP);
        loop {
            let status = raw::wait(pid, true)?;
            match stop_of(status) {
                Stop::Gone => return Some(status),
                Stop::Signal(libc::SIGSTOP) => {
                    raw::ptrace(libc::PTRACE_DETACH, pid, 0);
                    return None;
                }
                Stop::Event(
                    libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK | libc::PTRACE_EVENT_CLONE,
                ) => {
                    // A new task was attached on the way: let it go too.
                    if let Some(new) = raw::event_message(pid) {
                        if raw::wait(new, true).is_some() {
                            raw::ptrace(libc::PTRACE_DETACH, new, 0);
                        }
                    }
                    raw::ptrace(libc::PTRACE_CONT, pid, 0);
                }
                Stop::Event(_) | Stop::Syscall => {
                    raw::ptrace(libc::PTRACE_CONT, pid, 0);
                }
                Stop::Signal(signal) => {
                    raw::ptrace(libc::PTRACE_CONT, pid, signal as usize);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tprobe\nState:\tS (sleeping)\nTgid:\t7\nPid:\t7\nTracerPid:\t0\nvoluntary_ctxt_switches:\t12\nnonvoluntary_ctxt_switches:\t3\n";

    #[test]
    fn a_status_gives_the_state_and_the_switches() {
        assert_eq!(
            parse_status(STATUS),
            Some(Sample {
                state: 'S',
                switches: 15
            })
        );
        let running = STATUS.replace("S (sleeping)", "R (running)");
        assert_eq!(parse_status(&running).map(|s| s.state), Some('R'));
        assert_eq!(parse_status("Name:\tx\n"), None);
    }

    fn asleep(switches: u64) -> Option<Sample> {
        Some(Sample {
            state: 'S',
            switches,
        })
    }

    #[test]
    fn a_child_settles_after_sleeping_without_running_for_the_settle_time() {
        let t0 = Instant::now();
        let mut quiet = Quiet::default();
        assert!(!quiet.settled(asleep(5), t0), "first seen asleep");
        assert!(!quiet.settled(asleep(5), t0 + SETTLE / 2));
        assert!(quiet.settled(asleep(5), t0 + SETTLE));
        // It ran in between (one more switch): the wait starts again.
        let mut quiet = Quiet::default();
        quiet.settled(asleep(5), t0);
        assert!(!quiet.settled(asleep(6), t0 + SETTLE));
        assert!(quiet.settled(asleep(6), t0 + 2 * SETTLE));
        // Running or in the kernel: never settled.
        let running = Some(Sample {
            state: 'R',
            switches: 6,
        });
        assert!(!quiet.settled(running, t0 + 3 * SETTLE));
        let disk = Some(Sample {
            state: 'D',
            switches: 6,
        });
        assert!(!quiet.settled(disk, t0 + 4 * SETTLE));
        // Gone or a zombie: it will not run again.
        assert!(Quiet::default().settled(None, t0));
        let zombie = Some(Sample {
            state: 'Z',
            switches: 1,
        });
        assert!(Quiet::default().settled(zombie, t0));
    }

    #[test]
    fn a_child_that_ran_since_it_settled_holds_the_parent_again() {
        let t0 = Instant::now();
        let mut quiet = Quiet::default();
        quiet.settled(asleep(5), t0);
        assert!(quiet.settled(asleep(5), t0 + SETTLE));
        assert!(quiet.still(asleep(5)), "still asleep on the pipe");
        // The parent's write woke it: runnable, or already asleep elsewhere.
        assert!(!quiet.still(Some(Sample {
            state: 'R',
            switches: 5
        })));
        let mut quiet = Quiet::default();
        quiet.settled(asleep(5), t0);
        quiet.settled(asleep(5), t0 + SETTLE);
        assert!(!quiet.still(asleep(7)), "woke, ran and slept again");
        assert!(!quiet.settled(asleep(7), t0 + SETTLE), "settles anew");
    }

    #[test]
    fn wait_statuses_are_told_apart() {
        // Stopped: 0x7f in the low byte, the signal above it, the event above that.
        let stopped = |signal: i32, event: i32| (event << 16) | (signal << 8) | 0x7f;
        assert_eq!(stop_of(stopped(libc::SIGTRAP | 0x80, 0)), Stop::Syscall);
        assert_eq!(
            stop_of(stopped(libc::SIGTRAP, libc::PTRACE_EVENT_EXEC)),
            Stop::Event(libc::PTRACE_EVENT_EXEC)
        );
        assert_eq!(
            stop_of(stopped(libc::SIGCHLD, 0)),
            Stop::Signal(libc::SIGCHLD)
        );
        assert_eq!(stop_of(3 << 8), Stop::Gone, "exited 3");
        assert_eq!(stop_of(9), Stop::Gone, "killed by SIGKILL");
    }

    #[test]
    fn limits_are_named_by_their_group() {
        let at = AtExec {
            cgroup: vec!["8:pids:/c/p/abc".into(), "0::/".into()],
            runtime_cgroup: vec!["8:pids:/c".into()],
            limits: vec![Limit {
                controller: "pids",
                file: "pids.max",
                group: "/c/p/abc".into(),
                value: Some("max".into()),
            }],
        };
        assert_eq!(at.group("pids").as_deref(), Some("/c/p/abc"));
        assert_eq!(at.runtime_group("pids").as_deref(), Some("/c"));
        let limit = at.limit("pids.max").unwrap();
        assert_eq!(limit.path(), "/c/p/abc/pids.max");
        assert_eq!(limit.value.as_deref(), Some("max"));
        assert!(at.limit("memory.max").is_none());
    }
}
