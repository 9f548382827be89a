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
    pub duration_ms: u64,
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

/// Runs the checks of each level up to `target`; stops after the first level with a failure
/// unless `keep_going`. `on_result` sees each result as soon as it is known.
pub fn run_levels(
    env: &Env,
    levels: &[u32],
    keep_going: bool,
    mut on_result: impl FnMut(&CheckResult),
) -> Vec<CheckResult> {
    let mut results = Vec::new();
    let mut stopped = false;
    for &level in levels {
        let cannot_run = env
            .rootless
            .then(|| crate::rootless::blocker(level))
            .flatten();
        for (index, check) in crate::levels::checks(level).iter().enumerate() {
            let result = match (&cannot_run, stopped) {
                (_, true) => skipped(check, EARLIER_LEVEL_FAILED),
                (Some(why), false) => skipped(check, why),
                (None, false) => run_one(env, check, index),
            };
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
    results
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
        duration_ms: 0,
    }
}

fn run_one(env: &Env, check: &'static Check, index: usize) -> CheckResult {
    let started = Instant::now();
    let guard = guard::Guard::start();
    let check_dir = env.work.join(format!("{}-{index}", check.id));
    let (verdict, runs, ids) = match Ctx::new(env, check_dir.clone()) {
        Ok(mut ctx) => {
            let verdict = (check.run)(&mut ctx);
            (verdict, std::mem::take(&mut ctx.runs), ctx.ids.ids())
        }
        Err(e) => (Err(e), Vec::new(), Vec::new()),
    };
    // The sandbox is gone (Ctx dropped): anything the runtime left in it went with it. The host
    // must be as before, but for what others changed meanwhile.
    let found = guard.finish(env, &ids);
    let verdict = match (verdict, found.damage) {
        (_, Some(damage)) => Ok(crate::check::fail("the host is unchanged", damage)),
        (verdict, None) => verdict,
    };
    if let Err(e) = kit::container::remove_dir_on_one_filesystem(&check_dir) {
        eprintln!("checker: warning: {e:#}");
    }
    let last = runs.last();
    let mut result = skipped(check, "");
    result.reason = None;
    result.duration_ms = started.elapsed().as_millis() as u64;
    result.note = found.note;
    match verdict {
        Ok(Verdict::Pass) => result.status = Status::Pass,
        Ok(Verdict::Skip(reason)) => result.reason = Some(reason),
        Ok(Verdict::Fail { expected, observed }) => {
            result.status = Status::Fail;
            result.expected = Some(expected);
            result.observed = Some(observed);
            result.hint = Some(check.hint);
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

fn output_of(run: &RunSummary) -> Output {
    Output {
        stdout: run.stdout.clone(),
        stderr: run.stderr.clone(),
        truncated_bytes: run.dropped,
    }
}
