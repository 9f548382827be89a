//! Runs the checks of levels 0..=N in order, each in a fresh sandbox, guarding the host.

use crate::check::{Check, Ctx, Env, RunSummary, Verdict};
use crate::guard;
use serde::Serialize;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Skip,
    Error,
}

/// The result of one check, as reported (human and JSON).
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub id: &'static str,
    pub level: u32,
    pub title: &'static str,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
    /// Why a check was skipped or could not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<&'static str>,
    pub doc: &'static str,
    /// The command line of the run that decided it, to reproduce by hand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reproduce: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Output>,
    /// Host changes someone else made while the check ran: reported, not counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What really went wrong, shown first: the runtime's own error when it gave up before
    /// running the command, and where the mistake is when an attendee's level-N crate fails an
    /// earlier level's check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// What the runtime's processes were doing when the timeout killed them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_timeout: Option<String>,
    pub duration_ms: u64,
    /// The cause without what differs from run to run (the check's dir, container ids,
    /// nonces): two checks whose runtime gave up the same way have the same one.
    #[serde(skip)]
    pub same_cause: Option<String>,
}

/// What the learner's runtime printed in the run that decided a failure.
#[derive(Debug, Clone, Serialize)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    /// Bytes dropped past the capture cap.
    pub truncated_bytes: usize,
}

/// The reason given to checks not run because an earlier level failed.
pub const EARLIER_LEVEL_FAILED: &str =
    "an earlier level failed (use --keep-going to run it anyway)";

/// The level a runtime is checked as (`checker levelN`), and whether it is the attendee's own
/// crate of that level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkingOn {
    pub level: u32,
    /// Levels 0..N-1 of the crate came with its skeleton, which passes their checks: a failure
    /// of theirs comes from the level-N code.
    pub own_crate: bool,
}

/// The hint for a run in which the runtime gave up before running the command: the check's own
/// hint is about what the command does, and the command never ran.
pub const SETUP_FAILED_HINT: &str = "Your runtime stopped before it ran the command: its own error (the cause above) names the step that failed and why. Fix that step first; this check's own hint matters once the command runs.";

/// The hint for a run the timeout ended: whatever the check is about, the runtime did not end.
pub const HUNG_HINT: &str = "The runtime must end once its command has: in the parent, waitpid on the pid fork returned, then return the child's status. The processes listed were alive at the timeout: a zombie ended but was never waited for; a runtime sleeping in do_wait waits for a process that has not ended.";

/// Runs the checks of each level up to `target`; stops after the first level with a failure
/// unless `keep_going`, but always runs the checks of the level `working_on` names: that is the
/// level the attendee is at. After a check of a level times out, the level's other checks are
/// not run (they would wait out the same timeout). `on_result` sees each result as soon as it is
/// known.
pub fn run_levels(
    env: &Env,
    levels: &[u32],
    keep_going: bool,
    working_on: Option<WorkingOn>,
    mut on_result: impl FnMut(&CheckResult),
) -> Vec<CheckResult> {
    let mut results = Vec::new();
    let mut stopped = false;
    let cleaner = Cleaner::start();
    for &level in levels {
        let cannot_run = env
            .rootless
            .then(|| crate::rootless::blocker(level))
            .flatten();
        let runs_anyway = working_on.is_some_and(|w| w.level == level);
        let mut hung_in: Option<&'static str> = None;
        for (index, check) in crate::levels::checks(level).iter().enumerate() {
            let mut result = match (&cannot_run, stopped && !runs_anyway, hung_in) {
                (_, true, _) => skipped(check, EARLIER_LEVEL_FAILED),
                (Some(why), false, _) => skipped(check, why),
                (None, false, Some(first)) => skipped(check, &not_run_after_hang(first)),
                (None, false, None) => run_one(env, check, index, &cleaner),
            };
            if result.at_timeout.is_some() && result.status != Status::Pass {
                hung_in = hung_in.or(Some(check.id));
            }
            if let Some(working_on) = working_on {
                blame_the_level_worked_on(&mut result, working_on);
            }
            on_result(&result);
            results.push(result);
        }
        if !keep_going
            && results
                .iter()
                .any(|r| r.level == level && matches!(r.status, Status::Fail | Status::Error))
        {
            stopped = true;
        }
    }
    cleaner.finish();
    results
}

/// Why a check was not run after another check of its level timed out.
pub fn not_run_after_hang(first: &str) -> String {
    format!(
        "not run (each run would wait out the timeout again): the runtime did not exit in {first}"
    )
}

/// An attendee's level-N crate that fails a check of an earlier level: its skeleton passed that
/// check, so the cause is in the level-N code. Said first, before the check's own details.
fn blame_the_level_worked_on(result: &mut CheckResult, working_on: WorkingOn) {
    if !working_on.own_crate
        || result.level >= working_on.level
        || !matches!(result.status, Status::Fail | Status::Error)
    {
        return;
    }
    let level = working_on.level;
    let blame = format!(
        "the level-{level} skeleton passes this level-{} check: what breaks it is the code you wrote for level {level}",
        result.level
    );
    result.cause = Some(match result.cause.take() {
        Some(cause) => format!("{cause}\n{blame}"),
        None => blame,
    });
}

/// A check that was not run, and why.
pub fn skipped(check: &'static Check, reason: &str) -> CheckResult {
    CheckResult {
        id: check.id,
        level: check.level,
        title: check.title,
        status: Status::Skip,
        expected: None,
        observed: None,
        reason: Some(reason.into()),
        hint: None,
        doc: check.doc,
        reproduce: None,
        output: None,
        note: None,
        cause: None,
        at_timeout: None,
        duration_ms: 0,
        same_cause: None,
    }
}

/// Removes each check's dir, then the cages of its runs, on a thread of its own while the next
/// check runs: the removal (the image a runtime extracted, a memory group's pages given back)
/// took 5-30 ms of every check's wall time, during which the checker otherwise waits on the
/// runtime. Dir first: the files the runtime left there are then freed, not reclaimed (see
/// `run::PARKED`). Everything is removed before [`Cleaner::finish`] returns: `run_levels` calls
/// it before it returns.
struct Cleaner {
    sender: Option<std::sync::mpsc::Sender<(std::path::PathBuf, Vec<crate::cgroups::Cage>)>>,
    worker: Option<std::thread::JoinHandle<()>>,
}

impl Cleaner {
    fn start() -> Cleaner {
        let (sender, receiver) =
            std::sync::mpsc::channel::<(std::path::PathBuf, Vec<crate::cgroups::Cage>)>();
        let worker = std::thread::Builder::new()
            .name("cleaner".into())
            .spawn(move || {
                for (dir, cages) in receiver {
                    remove_check_dir(&dir);
                    drop(cages);
                }
            })
            .ok();
        Cleaner {
            sender: worker.as_ref().map(|_| sender),
            worker,
        }
    }

    /// Removes `dir`, then `cages`: on the cleaner's thread, or here where it could not start.
    fn clean(&self, dir: std::path::PathBuf, cages: Vec<crate::cgroups::Cage>) {
        let unsent = match &self.sender {
            Some(sender) => sender.send((dir, cages)).err().map(|e| e.0),
            None => Some((dir, cages)),
        };
        if let Some((dir, cages)) = unsent {
            remove_check_dir(&dir);
            drop(cages);
        }
    }

    /// Waits until everything sent is removed.
    fn finish(mut self) {
        drop(self.sender.take());
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// Removes a check's dir, warning where that fails.
fn remove_check_dir(dir: &std::path::Path) {
    if let Err(e) = kit::container::remove_dir_on_one_filesystem(dir) {
        // After Ctrl-C the signal's thread removes the run dir meanwhile: not worth a warning.
        if !crate::interrupt::stopping() {
            eprintln!("checker: warning: {e:#}");
        }
    }
}

fn run_one(env: &Env, check: &'static Check, index: usize, cleaner: &Cleaner) -> CheckResult {
    // After Ctrl-C no new check begins (see interrupt.rs).
    crate::interrupt::checkpoint();
    let started = Instant::now();
    crate::trace::begin_check();
    let guard = {
        let _t = crate::trace::span("guard.start");
        guard::Guard::start()
    };
    let check_dir = env.work.join(format!("{}-{index}", check.id));
    let mut root_is_image_dir = None;
    let ctx = {
        let _t = crate::trace::span("ctx.new");
        Ctx::new(env, check_dir.clone())
    };
    let (verdict, runs, ids) = match ctx {
        Ok(mut ctx) => {
            let verdict = {
                let _t = crate::trace::span("body");
                (check.run)(&mut ctx)
            };
            let not_found = ctx.runs.last().is_some_and(|r| r.probe_not_found);
            if not_found && matches!(verdict, Ok(Verdict::Fail { .. })) {
                root_is_image_dir = image_dir_as_root(&mut ctx);
            }
            let taken = (verdict, std::mem::take(&mut ctx.runs), ctx.ids.ids());
            let _t = crate::trace::span("ctx.drop");
            drop(ctx);
            taken
        }
        Err(e) => (Err(e), Vec::new(), Vec::new()),
    };
    // The sandbox is gone (Ctx dropped): anything the runtime left in it went with it. The host
    // must be as before, but for what others changed meanwhile.
    let cgroup_damage: Vec<String> = runs.iter().flat_map(|r| r.cgroup_damage.clone()).collect();
    let found = {
        let _t = crate::trace::span("guard.finish");
        guard.finish(env, &ids, &cgroup_damage)
    };
    let verdict = match (verdict, found.damage) {
        (_, Some(damage)) => Ok(crate::check::fail("the host is unchanged", damage)),
        (verdict, None) => verdict,
    };
    cleaner.clean(check_dir.clone(), crate::run::take_parked_cages());
    let last = runs.last();
    let mut result = skipped(check, "");
    result.reason = None;
    result.duration_ms = started.elapsed().as_millis() as u64;
    crate::trace::end_check(check.id, started.elapsed());
    result.note = found.note;
    result.at_timeout = runs.iter().find_map(|r| r.at_timeout.clone());
    let setup_error = last.and_then(|r| r.setup_error.as_deref());
    // The setup failure explains what was observed, unless that is something else (the host
    // changed): then the check's own hint still fits.
    let explained_by_setup = |observed: &str| {
        setup_error.is_some_and(|line| {
            observed.contains(&format!("{line:?}")) || observed.ends_with(" 125")
        })
    };
    match verdict {
        Ok(Verdict::Pass) => result.status = Status::Pass,
        Ok(Verdict::Skip(reason)) => result.reason = Some(reason),
        Ok(Verdict::Fail {
            expected,
            observed,
            hint,
        }) => {
            result.status = Status::Fail;
            result.hint = Some(match (explained_by_setup(&observed), &result.at_timeout) {
                (true, _) => SETUP_FAILED_HINT,
                (false, Some(_)) => HUNG_HINT,
                (false, None) => hint.unwrap_or(check.hint),
            });
            if root_is_image_dir.is_some() {
                result.hint = Some(ROOT_IS_IMAGE_DIR_HINT);
            }
            result.expected = Some(expected);
            result.observed = Some(observed);
            result.cause = setup_error.map(|line| {
                let said = last.map(|r| r.kernel_said.as_slice()).unwrap_or_default();
                let kernel = match said {
                    [] => String::new(),
                    said => format!("\nthe kernel logged why, during that run: {}", said.join("; ")),
                };
                format!("your runtime gave up before running the command (exit status 125), saying: {line:?}{kernel}")
            });
            if let Some(seen) = &root_is_image_dir {
                result.cause = Some(seen.clone());
            }
            result.same_cause = result
                .cause
                .as_deref()
                .map(|cause| run_independent(cause, &check_dir));
            result.reproduce = last.map(|r| r.command_line.clone());
            result.output = last.map(output_of);
        }
        Err(e) => {
            result.status = Status::Error;
            result.reason = Some(format!("the checker could not run this check: {e:#}"));
            result.reproduce = last.map(|r| r.command_line.clone());
            result.output = last.map(output_of);
        }
    }
    result
}

/// The hint for a container whose / is the image dir, not the image.
pub const ROOT_IS_IMAGE_DIR_HINT: &str = "The container's / is the directory that holds the image's tar (--image-dir), not the image's files: the command is not where the image has it. Mount or chroot the extracted image, the directory kit::image::extract_once returns (<image-dir>/<name>/); from level 7 that is the overlay's lowerdir, not args.image_dir().";

/// When the probe was not found in the container: whether it is found one level down, where the
/// image dir keeps the extracted image (`/<image>/<probe>`), which makes the container's / the
/// image dir. Says so, naming what that / holds. The run that found it is not the check's.
fn image_dir_as_root(ctx: &mut Ctx) -> Option<String> {
    let (mut argv, nonce) = ctx.probe_command(probe::REPORT, &[]);
    let probe = argv[0].clone();
    let image = ctx.env.image.clone();
    argv[0] = format!("/{image}{probe}");
    let run: crate::run::Run<probe::Report> = ctx.command(argv, nonce).ok()?;
    // The check's own run stays the last: the reproduce line and the output are its.
    if let Some(this) = ctx.runs.pop() {
        let at = ctx.runs.len().saturating_sub(1);
        ctx.runs.insert(at, this);
    }
    run.reply.ok()?;
    let mut held: Vec<String> = std::fs::read_dir(&ctx.image_dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    held.sort();
    Some(format!(
        "the command was not found in the container, whose / is the image dir, not the image: it holds {}, and the probe ran as /{image}{probe}",
        held.join(", ")
    ))
}

/// `text` with what differs between runs that failed the same way replaced: the check's own
/// dir, and runs of 8 or more hex digits (container ids, nonces).
pub fn run_independent(text: &str, check_dir: &std::path::Path) -> String {
    let text = text.replace(&check_dir.display().to_string(), "<check dir>");
    let mut out = String::new();
    let mut hex = String::new();
    for c in text.chars().chain(std::iter::once('\n')) {
        if c.is_ascii_hexdigit() {
            hex.push(c);
            continue;
        }
        if hex.len() >= 8 {
            out.push_str("<id>");
        } else {
            out.push_str(&hex);
        }
        hex.clear();
        out.push(c);
    }
    out.pop();
    out
}

fn output_of(run: &RunSummary) -> Output {
    Output {
        stdout: run.stdout.clone(),
        stderr: run.stderr.clone(),
        truncated_bytes: run.dropped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(level: u32) -> CheckResult {
        let check = &crate::levels::checks(level)[0];
        let mut result = skipped(check, "");
        result.status = Status::Fail;
        result.reason = None;
        result
    }

    #[test]
    fn causes_that_differ_only_by_run_are_the_same() {
        let dir = std::path::Path::new("/tmp/rc-1/L0.fork-exec.output-0");
        let other = std::path::Path::new("/tmp/rc-1/L0.fork-exec.argv-3");
        let cause = |dir: &std::path::Path, id: &str| {
            format!(
                "saying: \"mount overlay on {}/containers/{id}/rootfs failed: EINVAL\"",
                dir.display()
            )
        };
        assert_eq!(
            run_independent(&cause(dir, "0a1b2c3d4e5f"), dir),
            run_independent(&cause(other, "99aa88bb77cc"), other)
        );
        assert_eq!(
            run_independent("exit status 125 at 12 ms", dir),
            "exit status 125 at 12 ms"
        );
    }

    #[test]
    fn an_earlier_levels_failure_on_a_level_crate_blames_the_level_worked_on() {
        let crate_of = |level| WorkingOn {
            level,
            own_crate: true,
        };
        let mut result = failed(0);
        result.cause = Some("your runtime gave up".into());
        blame_the_level_worked_on(&mut result, crate_of(3));
        assert_eq!(
            result.cause.as_deref(),
            Some("your runtime gave up\nthe level-3 skeleton passes this level-0 check: what breaks it is the code you wrote for level 3")
        );
        // Not its own level's checks, not a passed check, not a runtime of someone else's.
        for (mut result, working_on) in [
            (failed(3), crate_of(3)),
            (skipped(&crate::levels::checks(0)[0], "x"), crate_of(3)),
            (
                failed(0),
                WorkingOn {
                    level: 3,
                    own_crate: false,
                },
            ),
        ] {
            blame_the_level_worked_on(&mut result, working_on);
            assert_eq!(result.cause, None, "{}", result.id);
        }
    }
}
