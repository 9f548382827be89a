//! Running the learner's runtime: spawn it in the sandbox, capture its output (capped), enforce the
//! timeout by killing its whole process group, and find the probe it started by its nonce.

use crate::capture::{read_capped, Capture};
use crate::cgroups::{Cage, LeftGroup, Usage};
use crate::hold::AtExec;
use crate::sandbox::Sandbox;
use crate::text::shell_quote;
use anyhow::{Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use probe::proc;
use serde::de::DeserializeOwned;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Exited(i32),
    Signaled(i32),
    /// SIGKILLed by the kernel's OOM killer: the cage's memory cap.
    OutOfMemory,
    TimedOut,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Status::Exited(code) => write!(f, "exit status {code}"),
            Status::Signaled(sig) => write!(f, "the runtime itself died of signal {sig}"),
            Status::OutOfMemory => write!(
                f,
                "the runtime was killed by the kernel's OOM killer (with its command it used more than the checker's {} MiB memory cap)",
                crate::cgroups::MEMORY_LIMIT >> 20
            ),
            Status::TimedOut => write!(
                f,
                "no exit: it was still running at the timeout and was killed"
            ),
        }
    }
}

/// Everything one run of the runtime produced; `R` is the type of the probe's reply.
#[derive(Debug)]
pub struct Run<R> {
    pub command_line: String,
    pub nonce: String,
    pub status: Status,
    pub stdout: String,
    pub stderr: String,
    /// Bytes of output dropped past the cap.
    pub dropped: usize,
    /// The `--cgroup-parent` the runtime was given (see [`Spec::cgroup_parent`]).
    pub cgroup_parent: String,
    /// The probe's reply, parsed into its type, or why there is none.
    pub reply: Result<R, String>,
    /// The runtime's host pid.
    pub runtime_pid: u32,
    /// Processes the runtime started (the command, most likely) still running right after the
    /// runtime exited: members of its process group, or of its cage.
    pub stragglers: Vec<u32>,
    /// Whether the kernel's OOM killer killed a process of the runtime's tree (the cage's
    /// memory cap).
    pub oom_killed: bool,
    /// Whether a fork of the runtime's tree was refused at the cage's pids cap.
    pub hit_pids_cap: bool,
    /// What the cage held when the runtime was killed at the timeout (and the grace after it)
    /// while it was still filling up: it was racing toward a cap, not hanging.
    pub filling_at_kill: Option<Usage>,
    /// What the runtime's processes were doing when the timeout killed them.
    pub at_timeout: Option<String>,
    /// The groups the runtime left below its `--cgroup-parent` when it exited, each described
    /// with the processes still in it (none after a timeout: the checker killed the runtime
    /// before it could clean up). The host guard blames them. A check that judges cleanup reads
    /// them here: the cage, and everything below it, is gone once the run has ended.
    pub left_groups: Vec<String>,
    /// Those of `left_groups` that still held a process: a process left running is harm the
    /// host guard blames in whatever check it happens. An empty group left behind is only the
    /// cleanup checks' verdict (`L8`-`L10` `cleanup`): it is inside the cage, which removes it.
    pub left_busy_groups: Vec<String>,
    /// The limits the runtime wrote to its `--cgroup-parent` itself rather than to its
    /// container's group below it (see `Cage::parent_limits_changed`).
    pub parent_limits: Vec<String>,
    /// Processes of the run that moved themselves (or were moved) out of its cage, each told
    /// with where they went: harm the host guard blames (the checker killed them).
    pub escaped: Vec<String>,
    /// The cage's own limits the run changed (the checker restored them): harm the guard blames.
    pub cage_limits: Vec<String>,
    /// With [`Spec::watch_exec`]: what the kernel showed at the very moment the command
    /// exec'd, or why the hold could not tell (see hold.rs). None when not asked for.
    pub at_exec: Option<Result<AtExec, String>>,
}

/// What a check sees while a holding probe is alive.
pub struct Held<'a> {
    pub sandbox: &'a Sandbox,
    pub runtime_pid: u32,
    /// The probe's host pid, found by its nonce.
    pub probe_pid: Option<u32>,
    /// The `--cgroup-parent` the runtime was given (see [`Spec::cgroup_parent`]).
    pub cgroup_parent: &'a str,
}

pub struct Spec<'a> {
    pub runtime: &'a Path,
    pub runtime_args: Vec<String>,
    /// The command the runtime must run, argv[0] first.
    pub command: Vec<String>,
    pub nonce: String,
    pub timeout: Duration,
    pub output_cap: usize,
    /// The `--cgroup-parent` passed to the runtime (also in `runtime_args`): a group path
    /// relative to each hierarchy's root, inside this run's cage. A container's group is
    /// `<cgroup_parent>/<container-id>`.
    pub cgroup_parent: String,
    /// Hold the runtime's parent still while its child runs, and record the command's groups
    /// and limits at its exec (see hold.rs): for the checks that judge the order of attach,
    /// limits and release.
    pub watch_exec: bool,
}

/// The `--cgroup-parent` of the run with this nonce: inside the run's cage (see [`cage_for`]).
pub fn cgroup_parent_for(nonce: &str) -> String {
    crate::cgroups::containers_path(&cage_name(nonce))
}

fn cage_name(nonce: &str) -> String {
    format!("{}-{nonce}", std::process::id())
}

impl Spec<'_> {
    /// The command to reproduce the run by hand. Without the `--cgroup-parent` of the run's
    /// cage: the cage is gone with the checker, and a runtime given that parent would make
    /// `rubber-crab-checker/…` groups of its own on the host; the default parent applies instead.
    pub fn command_line(&self) -> String {
        let mut words = vec![self.runtime.display().to_string()];
        let cage_parent = ["--cgroup-parent".to_string(), self.cgroup_parent.clone()];
        let mut rest = self.runtime_args.as_slice();
        while let Some((arg, after)) = rest.split_first() {
            if rest.starts_with(&cage_parent) {
                rest = &rest[2..];
                continue;
            }
            words.push(arg.clone());
            rest = after;
        }
        words.push("--".into());
        words.extend(self.command.iter().cloned());
        words
            .iter()
            .map(|w| shell_quote(w))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Runs the spec to completion; the probe's reply is parsed as an `R`.
pub fn run<R: DeserializeOwned>(spec: &Spec, sandbox: &Sandbox) -> Result<Run<R>> {
    let spawned = spawn(spec, sandbox)?;
    Ok(finish(
        spec,
        sandbox,
        spawned,
        Instant::now() + spec.timeout,
    ))
}

/// Runs the spec, waits for the probe's report, lets `observe` look at the live container, then
/// releases the probe and waits for the runtime to end. `observe` is not called when the probe
/// never reported (the run's `report` says why).
pub fn run_holding<R: DeserializeOwned, T>(
    spec: &Spec,
    sandbox: &Sandbox,
    observe: impl FnOnce(&Held) -> T,
) -> Result<(Run<R>, Option<T>)> {
    let mut spawned = spawn(spec, sandbox)?;
    let deadline = Instant::now() + spec.timeout;
    let mut observed = None;
    let waiting = crate::trace::span("wait.probe");
    loop {
        let reads = spawned.stdout.reads();
        // Read the cage as `finish` does, so that its grace judges the last moments alone.
        spawned.racing_to_a_cap();
        if spawned.stdout.probe_report(&spec.nonce).is_ok() {
            let probe_pid = probes_of(spec, Some(sandbox)).first().copied();
            let held = Held {
                sandbox,
                runtime_pid: spawned.child.id(),
                probe_pid,
                cgroup_parent: &spec.cgroup_parent,
            };
            drop(waiting);
            let _t = crate::trace::span("observe");
            observed = Some(observe(&held));
            match probe_pid {
                Some(pid) => {
                    let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
                }
                None => kill_probes(spec, Some(sandbox)),
            }
            break;
        }
        if spawned.exited() || Instant::now() > deadline {
            break;
        }
        // Wakes as soon as the runtime prints (the report, most likely).
        spawned.stdout.wait_past(reads, Duration::from_millis(5));
    }
    Ok((finish(spec, sandbox, spawned, deadline), observed))
}

struct Spawned {
    child: Child,
    /// The cgroups holding the runtime's whole tree, where the host has them.
    cage: Option<Cage>,
    /// The cage's usage since the spawn.
    growth: Option<Growth>,
    stdout: Arc<Capture>,
    stderr: Arc<Capture>,
    readers: Vec<JoinHandle<()>>,
    /// What the hold saw at the command's exec (with [`Spec::watch_exec`]).
    at_exec: Option<Result<AtExec, String>>,
    /// The runtime's raw wait status, when the hold reaped it (see `hold::Held::reaped`).
    reaped: Option<i32>,
    /// What the run does in the checker's namespaces (reach.rs), while it runs.
    watch: Option<crate::reach::Watch>,
    /// A pidfd of the runtime (Linux 5.3+), readable once it has exited.
    pidfd: Option<std::os::fd::OwnedFd>,
}

impl Spawned {
    fn exited(&self) -> bool {
        // try_wait needs &mut; peek at /proc instead: a zombie or a missing entry means it ended.
        proc::stat(self.child.id()).is_none_or(|s| s.is_zombie())
    }

    /// Waits until the runtime exits, at most `timeout`: poll(2) on a pidfd wakes as soon as it
    /// does, where a sleep would add up to its whole length to every run.
    fn wait_exit(&self, timeout: Duration) {
        match &self.pidfd {
            Some(pidfd) => {
                use std::os::fd::AsRawFd;
                let mut fd = libc::pollfd {
                    fd: pidfd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
                // SAFETY: one pollfd we own, for the length we pass; the fd stays open meanwhile.
                unsafe { libc::poll(&mut fd, 1, ms) };
            }
            None => std::thread::sleep(timeout),
        }
    }

    /// Whether the runtime is racing toward a cap of its cage rather than hanging (see GRACE).
    /// Called all along the run, so that at the timeout the last readings tell.
    fn racing_to_a_cap(&mut self) -> bool {
        match (&mut self.growth, &self.cage) {
            (Some(growth), Some(cage)) => growth.racing(cage),
            _ => false,
        }
    }
}

/// The supplementary groups every runtime starts with (see [`seed_credentials`]).
pub const RUNTIME_GROUPS: [u32; 2] = [4001, 4002];
/// The capability every runtime starts with in its inheritable and ambient sets:
/// CAP_NET_ADMIN, which Docker's default set leaves out (see [`seed_credentials`]).
pub const RUNTIME_AMBIENT_CAP: u32 = 12;

/// The runtime starts with what its command must not inherit: supplementary groups
/// ([`RUNTIME_GROUPS`]), and CAP_NET_ADMIN in its inheritable and ambient sets. Root started from
/// a shell here has none of these, so a runtime that forgets setgroups (level 11), or leaves the
/// inheritable and ambient sets as it found them (level 12), would otherwise pass unseen. As a
/// login shell's root often has groups, and a process started by a service manager may have
/// ambient capabilities. Best effort: in a user namespace (rootless) setgroups may be refused.
fn seed_credentials(command: &mut Command) {
    // SAFETY: the closure runs between fork and exec and only makes raw syscalls (setgroups,
    // capget, capset, prctl), which are async-signal-safe, on memory of its own stack.
    unsafe {
        command.pre_exec(|| {
            let groups = RUNTIME_GROUPS.map(|g| g as libc::gid_t);
            libc::setgroups(groups.len(), groups.as_ptr());
            let mut header = [crate::levels::l12::CAPABILITY_VERSION_3, 0]; // this thread
            let mut data = [0u32; 6]; // { effective, permitted, inheritable } x 2
            let bit = 1u32 << RUNTIME_AMBIENT_CAP;
            if libc::syscall(libc::SYS_capget, header.as_mut_ptr(), data.as_mut_ptr()) == 0
                && data[1] & bit != 0
            {
                data[2] |= bit;
                if libc::syscall(libc::SYS_capset, header.as_mut_ptr(), data.as_ptr()) == 0 {
                    libc::prctl(
                        libc::PR_CAP_AMBIENT,
                        libc::PR_CAP_AMBIENT_RAISE,
                        RUNTIME_AMBIENT_CAP as libc::c_ulong,
                        0,
                        0,
                    );
                }
            }
            Ok(())
        });
    }
}

fn spawn(spec: &Spec, sandbox: &Sandbox) -> Result<Spawned> {
    // After Ctrl-C the checks go no further: nothing new is started.
    crate::interrupt::checkpoint();
    let mut command = Command::new(spec.runtime);
    command
        .args(&spec.runtime_args)
        .arg("--")
        .args(&spec.command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("RUST_BACKTRACE")
        // Its own process group, so a timeout can kill the runtime and everything it started.
        .process_group(0);
    sandbox.enter_on_spawn(&mut command);
    seed_credentials(&mut command);
    let cage = {
        let _t = crate::trace::span("cage.create");
        cage_for(&spec.nonce)
    };
    if let Some(cage) = &cage {
        cage.enter_on_spawn(&mut command);
    }
    // What the run does in the checker's own namespaces is seen (reach.rs); only where runs
    // have a PID namespace of their own (root).
    let pending = sandbox
        .has_pid_namespace()
        .then(|| crate::reach::watch_on_spawn(&mut command))
        .flatten();
    // Last: the sandbox and the cage are entered untraced.
    if spec.watch_exec {
        crate::hold::trace_on_spawn(&mut command);
    }
    // In the sandbox's PID namespace: whatever the runtime starts dies with the run.
    let spawning = crate::trace::span("spawn");
    let mut child = sandbox
        .spawn(&mut command)
        .with_context(|| format!("starting {}", spec.runtime.display()))?;
    // Before anything waits on the runtime: its watched calls wait for this.
    let watch = pending.and_then(crate::reach::Pending::start);
    drop(spawning);
    // Now, while the child is ours and unreaped (the hold may reap it): its pid names it alone.
    let pidfd = pidfd_of(child.id());
    let stdout = Arc::new(Capture::default());
    let stderr = Arc::new(Capture::default());
    let readers = vec![
        read_capped(
            child.stdout.take().context("stdout")?,
            stdout.clone(),
            spec.output_cap,
        ),
        read_capped(
            child.stderr.take().context("stderr")?,
            stderr.clone(),
            spec.output_cap,
        ),
    ];
    // The readers run already: a runtime that prints while it is held is never blocked on a
    // full pipe.
    let held = spec.watch_exec.then(|| {
        let _t = crate::trace::span("hold");
        crate::hold::hold(child.id(), &spec.command[0], &spec.nonce)
    });
    let (at_exec, reaped) = match held {
        Some(held) => (Some(held.at_exec), held.reaped),
        None => (None, None),
    };
    Ok(Spawned {
        pidfd,
        child,
        watch,
        at_exec,
        reaped,
        growth: cage.as_ref().map(Growth::start),
        cage,
        stdout,
        stderr,
        readers,
    })
}

fn finish<R: DeserializeOwned>(
    spec: &Spec,
    sandbox: &Sandbox,
    mut spawned: Spawned,
    deadline: Instant,
) -> Run<R> {
    let mut filling_at_kill = None;
    let mut at_timeout = None;
    let waiting = crate::trace::span("wait.runtime");
    let status = loop {
        let now = Instant::now();
        let racing = spawned.racing_to_a_cap();
        let waited = match spawned.reaped {
            Some(raw) => Ok(Some(std::process::ExitStatus::from_raw(raw))),
            None => spawned.child.try_wait(),
        };
        match waited {
            Ok(Some(status)) => break status_of(status),
            Ok(None) if now < deadline || (racing && now < deadline + GRACE) => {
                spawned.wait_exit(Duration::from_millis(5))
            }
            _ => {
                // Before the kill: what each process was waiting in is the clue to why.
                let caged = spawned.cage.as_ref().map(Cage::members);
                at_timeout = Some(crate::hang::describe(spawned.child.id(), caged));
                if racing {
                    filling_at_kill = spawned.cage.as_ref().map(Cage::usage);
                }
                kill_everything(&spawned, spec, None);
                let _ = spawned.child.wait();
                break Status::TimedOut;
            }
        }
    };
    drop(waiting);
    let after = crate::trace::span("after.left-groups");
    let left: Vec<LeftGroup> = match &spawned.cage {
        Some(cage) if status != Status::TimedOut => {
            let left = cage.groups_in_parent();
            crate::cgroups::SameGroup::gather(&left)
                .iter()
                .map(|same| {
                    let processes = same.processes();
                    LeftGroup {
                        busy: !processes.is_empty(),
                        text: format!(
                            "cgroup {} ({}) was left behind after the container exited{processes}",
                            same.path,
                            same.hierarchies(),
                        ),
                    }
                })
                .collect()
        }
        // No cage (no controllers to cage with, or a rootless run): read the parent directly.
        None if status != Status::TimedOut => crate::cgroups::left_below(&spec.cgroup_parent),
        _ => Vec::new(),
    };
    let left_busy_groups = left
        .iter()
        .filter(|group| group.busy)
        .map(|group| group.text.clone())
        .collect();
    let left_groups = left.into_iter().map(|group| group.text).collect();
    drop(after);
    let after = crate::trace::span("after.cage-checks");
    let parent_limits = spawned
        .cage
        .as_ref()
        .map(Cage::parent_limits_changed)
        .unwrap_or_default();
    // Every process of the run, wherever it went in the cgroup tree: those in the sandbox's PID
    // namespace (or below it).
    let in_namespace = sandbox.run_processes();
    // Those that left every cage are this run's (the cages of runs sharing the sandbox hold
    // theirs): each told, and killed with the stragglers.
    let escapees: Vec<(u32, String)> = match &spawned.cage {
        Some(cage) => in_namespace
            .iter()
            .filter_map(|&pid| Some((pid, cage.outside(pid)?)))
            .collect(),
        None => Vec::new(),
    };
    let cage_limits = spawned
        .cage
        .as_ref()
        .map(Cage::restore_own_limits)
        .unwrap_or_default();
    // The runtime's process group: in its PID namespace, where it has one.
    let mut stragglers = match sandbox.has_pid_namespace() {
        true => in_namespace
            .iter()
            .copied()
            .filter(|&pid| {
                proc::stat(pid).is_some_and(|s| !s.is_zombie() && s.pgrp == spawned.child.id())
            })
            .collect(),
        false => proc::live_members_of_group(spawned.child.id()),
    };
    if let Some(cage) = &spawned.cage {
        stragglers.extend(cage.members());
    }
    stragglers.extend(escapees.iter().map(|(pid, _)| pid));
    let escaped = escapees.into_iter().map(|(_, text)| text).collect();
    stragglers.sort_unstable();
    stragglers.dedup();
    drop(after);
    let after = crate::trace::span("after.kill");
    // Whatever the runtime left running goes now: its process group, its cage, every process
    // in its PID namespace, and any probe that escaped them all.
    kill_everything(&spawned, spec, Some(sandbox));
    if let Some(watch) = spawned.watch.take() {
        watch.stop();
    }
    let oom_killed = spawned.cage.as_ref().is_some_and(Cage::oom_killed);
    let hit_pids_cap = spawned.cage.as_ref().is_some_and(Cage::hit_pids_cap);
    // The readers end when every writer has closed the pipes; don't wait forever for one that a
    // runaway process outside the group still holds.
    let until = Instant::now() + Duration::from_secs(2);
    for reader in spawned.readers.drain(..) {
        while !reader.is_finished() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        if reader.is_finished() {
            let _ = reader.join();
        }
    }
    drop(after);
    if let Some(cage) = spawned.cage.take() {
        park(cage);
    }
    let stdout = spawned.stdout.text();
    let reply = spawned
        .stdout
        .probe_report(&spec.nonce)
        .map_err(|e| e.to_string())
        .and_then(probe::parse_reply);
    let status = match status {
        Status::Signaled(9) if oom_killed => Status::OutOfMemory,
        other => other,
    };
    Run {
        command_line: spec.command_line(),
        nonce: spec.nonce.clone(),
        cgroup_parent: spec.cgroup_parent.clone(),
        status,
        stderr: spawned.stderr.text(),
        dropped: spawned.stdout.dropped() + spawned.stderr.dropped(),
        stdout,
        reply,
        runtime_pid: spawned.child.id(),
        stragglers,
        oom_killed,
        hit_pids_cap,
        filling_at_kill,
        at_timeout,
        left_groups,
        left_busy_groups,
        parent_limits,
        escaped,
        cage_limits,
        at_exec: spawned.at_exec,
    }
}

/// How often, at most, the cage is read while the runtime runs.
const GROWTH_SAMPLE: Duration = Duration::from_millis(250);

/// How much CPU time the cage's processes must use between two readings that compare their
/// usage. Counted in their CPU time, not the clock's: a runtime starved of CPU (a loaded host,
/// an emulated guest whose virtual CPU waits) is not taken for one that stopped growing.
const GROWTH_WINDOW: Duration = Duration::from_millis(100);

/// How long past the timeout a runtime may go on while it races toward a cap of its cage. At
/// the timeout, a runtime that is still allocating memory or starting processes is not hanging:
/// the cap, not the clock, must end it, or the machine's speed would choose between "OOM
/// killer" and "still running" (under software emulation a memory hog needs seconds to touch
/// the 512 MiB cap, on a laptop a fraction of one). Each cap is finite, so the race ends by
/// itself; this bound is a safety net for a runtime that keeps the kernel reclaiming page cache
/// at the memory cap for ever, or spins while holding more than RACE_FLOOR. Under emulation on
/// a loaded host, the hog met the cap at most 27 s past a 2 s timeout.
pub const GRACE: Duration = Duration::from_secs(120);

/// Memory that, with a process of the cage at work, marks a race toward the memory cap however
/// little the cage grew lately: in an emulated guest on a loaded host, a starved hog shows no
/// growth over any window of the guest's own clocks (its CPU time runs on while the host keeps
/// the virtual CPU waiting). A runtime that holds this much and spins without end waits out
/// GRACE; one that sleeps, as a hanging runtime does, does not.
const RACE_FLOOR: u64 = crate::cgroups::MEMORY_LIMIT / 16;

/// The cage's usage over the CPU time of its processes: whether it is filling up.
struct Growth {
    /// The cage's usage, and its processes' CPU time, when the current window began.
    start: Usage,
    start_cpu: Duration,
    sampled: Instant,
    /// Whether the cage grew during its last whole window.
    grew_last_window: bool,
    /// Whether it grew during its last whole window or since, or holds more than RACE_FLOOR.
    filling: bool,
    /// Whether one of its processes was at work at the last reading.
    working: bool,
}

impl Growth {
    fn start(cage: &Cage) -> Growth {
        Growth {
            start: cage.usage(),
            start_cpu: cage
                .cpu_time()
                .unwrap_or_else(|| proc::cpu_time(&cage.members())),
            sampled: Instant::now(),
            grew_last_window: false,
            filling: false,
            working: false,
        }
    }

    /// Reads the cage when a reading is due; true when it grew during its last whole window (or
    /// since) and one of its processes is at work.
    fn racing(&mut self, cage: &Cage) -> bool {
        if self.sampled.elapsed() >= GROWTH_SAMPLE {
            self.read(cage);
        }
        self.filling && self.working
    }

    fn read(&mut self, cage: &Cage) {
        self.sampled = Instant::now();
        let usage = cage.usage();
        if usage.pids_cap_hits > 0 {
            // Forks are refused: the pids cap has stopped the race (kernel memory still creeps
            // up a little with every refused fork). Nothing more to read, which matters: a
            // fork bomb's 512 processes leave the checker little CPU for /proc.
            self.filling = false;
            return;
        }
        let members = cage.members();
        let cpu = cage.cpu_time().unwrap_or_else(|| proc::cpu_time(&members));
        self.working = members
            .iter()
            .filter_map(|&pid| proc::stat(pid))
            .any(|s| s.is_at_work());
        let grew = usage.filled_up_since(&self.start);
        // A process that ended took its CPU time with it: the window starts again from here.
        self.start_cpu = self.start_cpu.min(cpu);
        if cpu >= self.start_cpu + GROWTH_WINDOW {
            self.grew_last_window = grew;
            self.start = usage;
            self.start_cpu = cpu;
        }
        // A window not yet whole (a process starved of CPU) that already grew counts too, and
        // so does a cage past RACE_FLOOR.
        self.filling = self.grew_last_window || grew || usage.memory >= RACE_FLOOR;
    }
}

/// Kills the runtime's process group, every process in its cage and in the sandbox's PID
/// namespace (when given), and any probe of this run.
fn kill_everything(spawned: &Spawned, spec: &Spec, sandbox: Option<&Sandbox>) {
    let _ = kill(Pid::from_raw(-(spawned.child.id() as i32)), Signal::SIGKILL);
    if let Some(cage) = &spawned.cage {
        cage.kill_all();
    }
    // The rest of the sandbox's PID namespace: the processes that left every cage (those of a
    // run sharing the sandbox stay in its cage), or all of them where there is no cage.
    if let Some(sandbox) = sandbox {
        match &spawned.cage {
            Some(cage) => sandbox.kill_run_processes_where(|pid| cage.outside(pid).is_some()),
            None => sandbox.kill_run_processes_where(|_| true),
        }
    }
    // Where the sandbox has a PID namespace, a probe of this run was one of those (in the cage
    // or out of it); elsewhere it is looked for on the whole host.
    if !sandbox.is_some_and(Sandbox::has_pid_namespace) {
        kill_probes(spec, None);
    }
}

/// SIGKILLs the processes running this run's probe (see [`probes_of`]).
fn kill_probes(spec: &Spec, sandbox: Option<&Sandbox>) {
    for pid in probes_of(spec, sandbox) {
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
    }
}

/// The processes running this run's probe (its program, with its nonce among the arguments):
/// among the run's processes where the sandbox has a PID namespace (see
/// [`Sandbox::run_processes`]), or anywhere on the host.
fn probes_of(spec: &Spec, sandbox: Option<&Sandbox>) -> Vec<u32> {
    let (program, nonce) = (&spec.command[0], &spec.nonce);
    match sandbox.filter(|s| s.has_pid_namespace()) {
        Some(sandbox) => sandbox
            .run_processes()
            .into_iter()
            .filter(|&pid| {
                let argv = proc::argv(pid);
                argv.first() == Some(program) && argv[1..].contains(nonce)
            })
            .collect(),
        None => proc::running_with(program, nonce),
    }
}

/// The cages of the check's runs that have ended, emptied (every process killed), removed by
/// [`remove_parked_cages`] once the check's dir is gone. The files a runtime extracted there
/// are charged to its cage's memory group: deleted first, their pages are simply freed; a group
/// removed first had to reclaim them (`give_back_memory`), writing dirty ones back to disk
/// first, only for them to be deleted a moment later (20-180 ms per run on a busy disk).
static PARKED: std::sync::Mutex<Vec<Cage>> = std::sync::Mutex::new(Vec::new());

fn park(cage: Cage) {
    match PARKED.lock() {
        Ok(mut parked) => parked.push(cage),
        Err(_) => drop(cage),
    }
}

/// The cages of the runs that have ended (see [`PARKED`]), to remove at the end of their check,
/// after its dir (dropping a cage removes it).
pub fn take_parked_cages() -> Vec<Cage> {
    PARKED
        .lock()
        .map(|mut parked| std::mem::take(&mut *parked))
        .unwrap_or_default()
}

/// Why runs have no cage on this host, the first time it was found out (for the report).
static NO_CAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// A cage for one run, named after the checker and the run's nonce; none (and the reason noted
/// once) where the host has no usable memory or pids controller.
fn cage_for(nonce: &str) -> Option<Cage> {
    if !nix::unistd::geteuid().is_root() {
        let _ = NO_CAGE.set("not root: the host's cgroups are root's to change".into());
        return None;
    }
    match Cage::create(crate::cgroups::host_layout(), &cage_name(nonce)) {
        Ok(cage) => Some(cage),
        Err(e) => {
            let _ = NO_CAGE.set(format!("{e:#}"));
            None
        }
    }
}

/// Why runs were not caged, if they were not.
pub fn no_cage_reason() -> Option<&'static str> {
    NO_CAGE.get().map(String::as_str)
}

/// A pidfd for `pid` (pidfd_open(2)), None where the kernel has none.
fn pidfd_of(pid: u32) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd (or -1), which we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    let fd = i32::try_from(fd).ok().filter(|&fd| fd >= 0)?;
    // SAFETY: fd is a valid, open file descriptor no one else owns.
    Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

fn status_of(status: std::process::ExitStatus) -> Status {
    match (status.code(), status.signal()) {
        (Some(code), _) => Status::Exited(code),
        (None, Some(sig)) => Status::Signaled(sig),
        (None, None) => Status::Exited(-1),
    }
}

/// A random hex nonce, remembered: a mount or link named after it is this run's (see guard.rs).
pub fn nonce() -> String {
    let nonce = kit::container::new_id().unwrap_or_else(|_| format!("{:x}", std::process::id()));
    if let Ok(mut made) = NONCES.lock() {
        made.push(nonce.clone());
    }
    nonce
}

static NONCES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Every nonce this checker has made.
pub fn nonces_made() -> Vec<String> {
    NONCES.lock().map(|made| made.clone()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reproduce_line_leaves_out_the_cages_cgroup_parent() {
        let parent = cgroup_parent_for("0badc0ffee42");
        assert!(parent.ends_with("-0badc0ffee42/containers"), "{parent}");
        let spec = Spec {
            runtime: Path::new("/bin/rt"),
            runtime_args: ["run", "--cgroup-parent", &parent, "--memory", "64m"]
                .map(String::from)
                .to_vec(),
            command: vec!["/probe".into()],
            nonce: "0badc0ffee42".into(),
            timeout: Duration::from_secs(1),
            output_cap: 1,
            cgroup_parent: parent.clone(),
            watch_exec: false,
        };
        assert_eq!(spec.command_line(), "/bin/rt run --memory 64m -- /probe");
        let own = Spec {
            runtime_args: ["run", "--cgroup-parent", "mine"]
                .map(String::from)
                .to_vec(),
            ..spec
        };
        assert_eq!(
            own.command_line(),
            "/bin/rt run --cgroup-parent mine -- /probe",
            "a parent a check chose stays"
        );
    }
}
