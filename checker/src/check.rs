//! What a check is, what it can conclude, and the context it runs in.

use crate::run::{self, Held, Run, Spec};
use crate::sandbox::Sandbox;
use crate::text;
use anyhow::Result;
use probe::Subcommand;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One check: a stable id, what it proves, and how.
pub struct Check {
    /// Stable id, `L<level>.<level-name>.<what>`: never renamed, tools depend on it.
    pub id: &'static str,
    pub level: u32,
    pub title: &'static str,
    /// What to look at when it fails.
    pub hint: &'static str,
    /// The man page that explains the mechanism.
    pub doc: &'static str,
    pub run: fn(&mut Ctx) -> Result<Verdict>,
}

/// The conclusion of a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail {
        expected: String,
        observed: String,
        /// A hint for this observation, in place of the check's own.
        hint: Option<&'static str>,
    },
    Skip(String),
}

impl Verdict {
    /// The same verdict, with `f` applied to what a failure observed.
    pub fn map_observed(self, f: impl FnOnce(String) -> String) -> Verdict {
        match self {
            Verdict::Fail {
                expected,
                observed,
                hint,
            } => Verdict::Fail {
                expected,
                observed: f(observed),
                hint,
            },
            other => other,
        }
    }
}

/// `Fail` with what was expected and what was seen.
pub fn fail(expected: impl Into<String>, observed: impl Into<String>) -> Verdict {
    Verdict::Fail {
        expected: expected.into(),
        observed: observed.into(),
        hint: None,
    }
}

/// `Fail` with a hint that fits what was seen better than the check's own.
pub fn fail_hinting(
    expected: impl Into<String>,
    observed: impl Into<String>,
    hint: &'static str,
) -> Verdict {
    Verdict::Fail {
        expected: expected.into(),
        observed: observed.into(),
        hint: Some(hint),
    }
}

/// Everything about this checker run that checks share.
pub struct Env {
    pub runtime: PathBuf,
    /// The probe's path: the same on the host and inside the test image, so a level-0 runtime
    /// (which runs commands on the host) and a chrooted one both find it.
    pub probe: PathBuf,
    pub image_dir: PathBuf,
    pub image: String,
    /// Content of the image's marker file.
    pub image_marker: String,
    /// Top-level names in the image's root directory.
    pub image_entries: Vec<String>,
    /// A file that exists on the host only, and its content.
    pub host_marker: PathBuf,
    pub host_marker_content: String,
    /// Scratch space for this checker run.
    pub work: PathBuf,
    pub timeout: Duration,
    pub output_cap: usize,
    /// Runs the runtime as root in a user namespace of the checker's (`--rootless`).
    pub rootless: bool,
    /// The level of the runtime checked: the run's target level (`checker level3 --runtime X`
    /// checks a level-3 runtime, on the checks of levels 0 to 3). An option is passed to it only
    /// from the level that introduces it on (see [`option_level`]): a level-0 runtime written
    /// elsewhere may refuse `--cgroup-parent` as an unknown option.
    pub runtime_level: u32,
}

/// The level that introduces a runtime option (the runtime contract in README.md): before it,
/// the checker does not pass it. The options every level has (`--image`, `--image-dir`,
/// `--container-dir`) are level 0's.
pub fn option_level(option: &str) -> u32 {
    match option {
        "--hostname" => 4,
        "--cpus" | "--cpu-shares" | "--cgroup-parent" => 8,
        "--memory" | "--memory-swap" => 9,
        "--pids-limit" => 10,
        "--user" => 11,
        "--ip" => 13,
        _ => 0,
    }
}

/// A fresh sandbox for the runtime checked. From the level that plugs a network cable in (13),
/// a runtime creates links on its host at every run: the sandbox then always has a network
/// namespace of its own, so that nothing is ever created in the machine's.
pub fn sandbox_for(env: &Env) -> Result<Sandbox> {
    match env.runtime_level >= option_level("--ip") {
        true => Sandbox::start_with_network(env.rootless),
        false => Sandbox::start(env.rootless),
    }
}

/// One check's world: a fresh sandbox and container dir, and the runs made so far.
pub struct Ctx<'a> {
    pub env: &'a Env,
    pub sandbox: Sandbox,
    pub container_dir: PathBuf,
    /// This check's image dir (see [`Ctx::new`]).
    pub image_dir: PathBuf,
    /// Extra runtime flags for the runs that follow, e.g. `--hostname box`.
    pub flags: Vec<String>,
    /// Hold the runtime's parent and record the command's groups at its exec, for the runs
    /// that follow (see [`Spec::watch_exec`]).
    pub watch_exec: bool,
    /// What the last run saw at the command's exec, when `watch_exec` asked for it.
    pub at_exec: Option<Result<crate::hold::AtExec, String>>,
    pub runs: Vec<RunSummary>,
    /// The container ids the runtime creates in `container_dir` (see guard.rs).
    pub ids: crate::container_ids::IdRecorder,
    /// The kernel's log since the last run ended, when it can be read: why a mount was refused.
    kernel_log: Option<crate::levels::cgroup::KernelLog>,
}

/// What the report shows of a run: how to reproduce it and what the runtime printed.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub command_line: String,
    pub stdout: String,
    pub stderr: String,
    pub dropped: usize,
    /// The runtime's own error (its last stderr line) when it gave up before running the
    /// command: exit status 125 and no report.
    pub setup_error: Option<String>,
    /// What the kernel logged during the run about the step that failed (`overlayfs: missing
    /// 'workdir'`), when the runtime gave up before running the command.
    pub kernel_said: Vec<String>,
    /// The probe could not be executed (exit status 127, no report, its path on stderr): the
    /// container's / may not be the image.
    pub probe_not_found: bool,
    /// What the runtime's processes were doing when the timeout killed them.
    pub at_timeout: Option<String>,
    /// What it did to its `--cgroup-parent`: groups left below it with a process still in them
    /// (see [`Run::left_busy_groups`]) and limits written to the parent itself (see
    /// [`Run::parent_limits`]). The host guard blames them.
    pub cgroup_damage: Vec<String>,
}

impl<'a> Ctx<'a> {
    /// A fresh sandbox, and scratch space under `dir`: the containers' dir, and an image dir of
    /// its own holding (a hard link to) the test image, so that a runtime that damages its
    /// extracted image (level 7) damages only this check's copy.
    pub fn new(env: &'a Env, dir: PathBuf) -> Result<Ctx<'a>> {
        let container_dir = dir.join("containers");
        let image_dir = dir.join("images");
        std::fs::create_dir_all(&container_dir)?;
        std::fs::create_dir_all(&image_dir)?;
        let tar = kit::image::tar_path(&env.image_dir, &env.image);
        let link = kit::image::tar_path(&image_dir, &env.image);
        if std::fs::hard_link(&tar, &link).is_err() {
            std::fs::copy(&tar, &link)?;
        }
        let sandbox = {
            let _t = crate::trace::span("sandbox.start");
            sandbox_for(env)?
        };
        let ids = {
            let _t = crate::trace::span("ids.watch");
            crate::container_ids::IdRecorder::watch(&container_dir)
        };
        let kernel_log = {
            let _t = crate::trace::span("kernel-log");
            crate::levels::cgroup::KernelLog::from_now().ok()
        };
        Ok(Ctx {
            env,
            sandbox,
            image_dir,
            flags: Vec::new(),
            watch_exec: false,
            at_exec: None,
            runs: Vec::new(),
            ids,
            container_dir,
            kernel_log,
        })
    }

    /// The runtime's arguments before `--`: the image, the dirs, and [`Ctx::flags`].
    pub fn spec(&self, command: Vec<String>, nonce: String) -> Spec<'a> {
        let mut runtime_args = vec![
            "run".to_string(),
            "--image".into(),
            self.env.image.clone(),
            "--image-dir".into(),
            text::path_str(&self.image_dir),
            "--container-dir".into(),
            text::path_str(&self.container_dir),
        ];
        // A runtime that makes groups gets a parent inside the run's cage; one of a level below
        // the cgroup levels does not know the option (and makes no groups).
        let cgroup_parent = run::cgroup_parent_for(&nonce);
        if option_level("--cgroup-parent") <= self.env.runtime_level {
            runtime_args.extend(["--cgroup-parent".into(), cgroup_parent.clone()]);
        }
        runtime_args.extend(self.flags.iter().cloned());
        Spec {
            cgroup_parent,
            runtime: &self.env.runtime,
            runtime_args,
            command,
            nonce,
            timeout: self.env.timeout,
            output_cap: self.env.output_cap,
            watch_exec: self.watch_exec,
        }
    }

    /// The probe's argv for `subcommand` with `args`, and its nonce.
    pub fn probe_command<R>(
        &self,
        subcommand: Subcommand<R>,
        args: &[&str],
    ) -> (Vec<String>, String) {
        let nonce = run::nonce();
        let mut argv = vec![
            text::path_str(&self.env.probe),
            subcommand.name.to_string(),
            "--nonce".into(),
            nonce.clone(),
        ];
        argv.extend(args.iter().map(|a| a.to_string()));
        (argv, nonce)
    }

    /// Runs the probe in a container to completion.
    pub fn probe<R: DeserializeOwned>(
        &mut self,
        subcommand: Subcommand<R>,
        args: &[&str],
    ) -> Result<Run<R>> {
        let (argv, nonce) = self.probe_command(subcommand, args);
        self.command(argv, nonce)
    }

    /// Runs any command in a container to completion; a probe's reply is parsed as an `R`.
    pub fn command<R: DeserializeOwned>(
        &mut self,
        argv: Vec<String>,
        nonce: String,
    ) -> Result<Run<R>> {
        let spec = self.spec(argv, nonce);
        let run = run::run(&spec, &self.sandbox)?;
        self.record(&run, &spec.command[0]);
        Ok(run)
    }

    /// Runs the probe with `--hold` and observes the live container.
    pub fn hold<R: DeserializeOwned, T>(
        &mut self,
        subcommand: Subcommand<R>,
        args: &[&str],
        observe: impl FnOnce(&Held) -> T,
    ) -> Result<(Run<R>, Option<T>)> {
        let mut with_hold: Vec<&str> = args.to_vec();
        with_hold.push("--hold");
        let (argv, nonce) = self.probe_command(subcommand, &with_hold);
        let spec = self.spec(argv, nonce);
        let (run, observed) = run::run_holding(&spec, &self.sandbox, observe)?;
        self.record(&run, &spec.command[0]);
        Ok((run, observed))
    }

    /// Makes sure the check's sandbox has a network namespace of its own, whose `lo` starts down:
    /// the runtime's "host" network, where the checker sees what it does there (level 6's `lo`,
    /// level 13's end of the cable). [`sandbox_for`] gives one to every runtime of level 13 and
    /// above; below, it is made here, never the machine's.
    pub fn with_network(&mut self) -> Result<()> {
        if !self.sandbox.has_network() {
            self.sandbox = Sandbox::start_with_network(self.env.rootless)?;
        }
        Ok(())
    }

    /// Runs the probe's report with `--hold` and SIGKILLs it from the host while it holds (from
    /// level 5 on the command is PID 1 of its namespace: it ignores every signal it has no
    /// handler for, except SIGKILL sent from outside). The run, or the verdict when the probe
    /// could not be found and killed (its report's failure first, if it has one).
    pub fn kill_held_probe(&mut self) -> Result<std::result::Result<Run<probe::Report>, Verdict>> {
        use nix::sys::signal::{kill, Signal};
        use nix::unistd::Pid;
        let (run, killed) = self.hold(probe::REPORT, &[], |held| {
            held.probe_pid
                .is_some_and(|pid| kill(Pid::from_raw(pid as i32), Signal::SIGKILL).is_ok())
        })?;
        if killed != Some(true) {
            return Ok(Err(report(&run).err().unwrap_or_else(|| {
                fail("the command can be found and killed", "it could not")
            })));
        }
        Ok(Ok(run))
    }

    /// Keeps what the report shows of a run. Its "reproduce" line is the command that ran,
    /// paths and all (a verdict may name this check's image dir), preceded by what makes that
    /// image dir again: it goes with the check, so the line still works after the checker is done.
    pub(crate) fn record<R>(&mut self, run: &Run<R>, program: &str) {
        self.at_exec = run.at_exec.clone();
        let _t = crate::trace::span("record");
        let logged = self
            .kernel_log
            .as_mut()
            .map(|log| log.messages())
            .unwrap_or_default();
        let setup_error = setup_error(run, program);
        let kernel_said = setup_error
            .as_deref()
            .map(|error| about(&logged, error))
            .unwrap_or_default();
        self.runs.push(RunSummary {
            command_line: format!(
                "{}{}",
                remake_image_dir(&self.image_dir, &self.env.image_dir, &run.command_line),
                run.command_line
            ),
            stdout: run.stdout.clone(),
            stderr: run.stderr.clone(),
            dropped: run.dropped,
            setup_error,
            kernel_said,
            probe_not_found: run.status == run::Status::Exited(127)
                && run.reply.is_err()
                && run.stderr.contains(program),
            at_timeout: run.at_timeout.clone(),
            cgroup_damage: run
                .left_busy_groups
                .iter()
                .map(|group| format!("{group} (the checker removed it)"))
                .chain(run.parent_limits.iter().cloned())
                .chain(run.escaped.iter().cloned())
                .chain(run.cage_limits.iter().cloned())
                .collect(),
        });
    }
}

/// `mkdir -p DIR && cp SHARED/NAME.tar DIR/ && ` for a check's image dir `DIR`, when
/// `command_line` uses it: its images are (links to) those of the shared image dir.
fn remake_image_dir(image_dir: &Path, shared: &Path, command_line: &str) -> String {
    let dir = text::path_str(image_dir);
    if !command_line.contains(&dir) {
        return String::new();
    }
    let mut tars: Vec<String> = std::fs::read_dir(image_dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| shared.join(entry.file_name()))
        .filter(|tar| tar.extension().is_some_and(|e| e == "tar") && tar.is_file())
        .map(|tar| text::shell_quote(&text::path_str(&tar)))
        .collect();
    tars.sort();
    let dir = text::shell_quote(&dir);
    if tars.is_empty() {
        return format!("mkdir -p {dir} && ");
    }
    format!("mkdir -p {dir} && cp {} {dir}/ && ", tars.join(" "))
}

/// The runtime's last stderr line when it gave up before running the command: it exited 125
/// (the contract's "the setup failed") without a report from the probe, and its error is not
/// about executing the command (that is exit 127's business, whatever status it chose).
fn setup_error<R>(run: &Run<R>, program: &str) -> Option<String> {
    if run.status != run::Status::Exited(i32::from(kit::EXIT_RUNTIME_FAILED)) || run.reply.is_ok() {
        return None;
    }
    let line = run.stderr.lines().rev().find(|l| !l.trim().is_empty())?;
    (!line.contains(program)).then(|| line.trim().to_string())
}

/// The kernel's messages about what `error` names: those of a subsystem the error mentions
/// (`overlayfs: missing 'workdir'` for `mount overlay … failed: EINVAL`), at most three.
fn about(logged: &[String], error: &str) -> Vec<String> {
    let error = error.to_lowercase();
    let mut said: Vec<String> = Vec::new();
    for line in logged {
        let Some((subsystem, _)) = line.split_once(':') else {
            continue;
        };
        let subsystem = subsystem.trim().to_lowercase();
        let name = subsystem.strip_suffix("fs").unwrap_or(&subsystem);
        let named = name.len() >= 3
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            && error.contains(name);
        if named && !said.contains(line) && said.len() < 3 {
            said.push(line.clone());
        }
    }
    said
}

/// The probe's reply from a run; when there is none, returns the failure that explains why from
/// the calling check.
macro_rules! report_or_fail {
    ($run:expr) => {
        match $crate::check::report(&$run) {
            Ok(report) => report,
            Err(verdict) => return Ok(verdict),
        }
    };
}
pub(crate) use report_or_fail;

/// A run that had to be killed at the timeout fails whatever its report says: a runtime must
/// end when its command does.
pub fn report<R>(run: &Run<R>) -> std::result::Result<&R, Verdict> {
    // Before the timeout: a process killed at the cap explains whatever the clock says.
    if run.oom_killed {
        let observed = match run.status {
            crate::run::Status::OutOfMemory => run.status.to_string(),
            other => format!(
                "the kernel's OOM killer killed one of their processes; the runtime ended with {other}"
            ),
        };
        return Err(fail(
            format!(
                "the runtime and its command use less than the checker's memory cap ({} MiB)",
                crate::cgroups::MEMORY_LIMIT >> 20
            ),
            observed,
        ));
    }
    if run.status == crate::run::Status::TimedOut {
        return Err(fail(
            "the runtime exits once the command has ended",
            format!(
                "{}{}{}{}",
                run.status,
                stderr_tail(run),
                pids_cap_note(run),
                filling_note(run)
            ),
        ));
    }
    if !run.stragglers.is_empty() {
        return Err(exited_early(run));
    }
    match &run.reply {
        Ok(value) => Ok(value),
        Err(why) => Err(fail(
            "the probe runs inside the container and prints its report",
            format!(
                "no report from the probe ({why}); the runtime ended with {}{}{}",
                run.status,
                stderr_tail(run),
                flood_note(run)
            ),
        )),
    }
}

/// The failure of a runtime that ended while what it started was still running.
pub fn exited_early<R>(run: &Run<R>) -> Verdict {
    fail(
        "the runtime exits only after the command has ended",
        format!(
            "the runtime ended ({}) while the command (host pids {:?}) was still running",
            run.status, run.stragglers
        ),
    )
}

/// A runaway fork loop is stopped by the cage, then by the timeout: say so.
fn pids_cap_note<R>(run: &Run<R>) -> String {
    if !run.hit_pids_cap {
        return String::new();
    }
    format!(
        "; its processes reached the checker's cap of {} and forks were refused (does it fork in a loop?)",
        crate::cgroups::PIDS_LIMIT
    )
}

/// A runtime killed while its cage was still filling up was racing toward a cap: say how far
/// it got, so that a slow machine's verdict still points at the memory or the forks.
fn filling_note<R>(run: &Run<R>) -> String {
    let Some(usage) = run.filling_at_kill else {
        return String::new();
    };
    format!(
        "; it was still growing when it was killed: {} MiB of the checker's {} MiB memory cap, {} processes (does it allocate or fork in a loop?)",
        usage.memory >> 20,
        crate::cgroups::MEMORY_LIMIT >> 20,
        usage.pids
    )
}

/// Past the capture cap, output is read and thrown away (all but the probe's lines): say so when
/// the report is missing.
fn flood_note<R>(run: &Run<R>) -> String {
    if run.dropped == 0 {
        return String::new();
    }
    format!(
        "; the output passed the checker's capture cap and {} bytes were dropped (does the runtime print in a loop?)",
        run.dropped
    )
}

/// The last line of the runtime's stderr, for observations.
pub fn stderr_tail<R>(run: &Run<R>) -> String {
    match run.stderr.lines().rev().find(|l| !l.trim().is_empty()) {
        Some(line) => format!(", last stderr line: {:?}", line.trim()),
        None => String::new(),
    }
}

/// Whether `found` holds for `dir` or a directory within `depth` levels under it (symlinks
/// are not followed).
pub fn somewhere_under(dir: &Path, depth: u32, found: &dyn Fn(&Path) -> bool) -> bool {
    found(dir)
        || depth > 0
            && std::fs::read_dir(dir).is_ok_and(|entries| {
                entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .any(|e| somewhere_under(&e.path(), depth - 1, found))
            })
}

/// The check that the container has namespaces of its own, of each of `kinds` (`mnt`, `uts`,
/// `pid`...): read from the host (`/proc/<probe>/ns/<kind>`), so the answer does not depend on
/// the container's own /proc, and compared with the runtime's (the sandbox's) and the checker's.
pub fn own_namespaces(ctx: &mut Ctx, kinds: &[&str]) -> Result<Verdict> {
    let outside: Vec<String> = kinds.iter().map(|kind| ctx.sandbox.ns(kind)).collect();
    let (run, inside) = ctx.hold(probe::REPORT, &[], |held| {
        let read = |pid: u32, kind: &str| {
            std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
                .ok()
                .map(|p| p.display().to_string())
        };
        held.probe_pid
            .map(|pid| kinds.iter().map(|kind| read(pid, kind)).collect::<Vec<_>>())
    })?;
    let Some(Some(inside)) = inside else {
        return Ok(report(&run).err().unwrap_or_else(|| {
            fail(
                "the probe's process can be found on the host",
                "it could not",
            )
        }));
    };
    for ((kind, outside), inside) in kinds.iter().zip(&outside).zip(&inside) {
        let checker_own = std::fs::read_link(format!("/proc/self/ns/{kind}"))
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        match inside {
            Some(inside) if inside != outside && *inside != checker_own => {}
            Some(inside) => {
                return Ok(fail(
                    format!(
                        "a {} namespace other than the runtime's ({outside})",
                        ns_name(kind)
                    ),
                    format!("the same one: {inside}"),
                ))
            }
            None => {
                return Ok(fail(
                    format!(
                        "the probe's {} namespace can be read from the host",
                        ns_name(kind)
                    ),
                    "it could not",
                ))
            }
        }
    }
    Ok(Verdict::Pass)
}

/// How namespaces are called in prose (namespaces(7)).
fn ns_name(kind: &str) -> &str {
    match kind {
        "mnt" => "mount",
        "uts" => "UTS",
        "ipc" => "IPC",
        "pid" => "PID",
        "net" => "network",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_lines_shown_are_about_the_step_that_failed() {
        let logged = [
            "overlayfs: missing 'workdir'".to_string(),
            "eth0: link up".to_string(),
            "overlayfs: missing 'workdir'".to_string(),
            "audit: type=1400".to_string(),
        ];
        let error = "mount overlay on \"/c/1/rootfs\" failed: EINVAL (Invalid argument)";
        assert_eq!(about(&logged, error), ["overlayfs: missing 'workdir'"]);
        assert!(about(&logged, "pivot_root failed: EBUSY").is_empty());
    }

    #[test]
    fn a_reproduce_line_names_the_image_dir_that_ran_and_makes_it_again() {
        let tmp = tempfile::tempdir().unwrap();
        let (shared, check) = (
            tmp.path().join("images"),
            tmp.path().join("run-1/L7/images"),
        );
        std::fs::create_dir_all(&shared).unwrap();
        std::fs::create_dir_all(check.join("busybox")).unwrap();
        std::fs::write(shared.join("busybox.tar"), "tar").unwrap();
        std::fs::hard_link(shared.join("busybox.tar"), check.join("busybox.tar")).unwrap();
        let ran = format!("ls {}/busybox.tar", check.display());
        let line = format!("{}{ran}", remake_image_dir(&check, &shared, &ran));
        assert!(
            line.ends_with(&ran),
            "the command that ran, unchanged: {line}"
        );
        // After the checker is done, the line still works.
        std::fs::remove_dir_all(tmp.path().join("run-1")).unwrap();
        let status = std::process::Command::new("sh")
            .args(["-c", &line])
            .status()
            .unwrap();
        assert!(status.success(), "{line}");
        assert_eq!(remake_image_dir(&check, &shared, "ls /elsewhere"), "");
    }
}
