//! Runs the checks of levels 0..=N in order, each in a fresh sandbox, guarding the host.

use crate::check::{Check, Ctx, Env, RunSummary, Verdict};
use crate::mounts;
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
        for (index, check) in crate::levels::checks(level).iter().enumerate() {
            let result = if stopped {
                skipped(check, EARLIER_LEVEL_FAILED)
            } else {
                run_one(env, check, index)
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
        duration_ms: 0,
    }
}

/// What must not change on the host while a check runs.
#[derive(PartialEq, Eq)]
struct HostState {
    mounts: Vec<mounts::Mount>,
    hostname: String,
    /// Network links: name and flags.
    links: Vec<(String, String)>,
}

fn host_state() -> HostState {
    HostState {
        links: crate::links::host_links(),
        mounts: mounts::read("/proc/self/mountinfo").unwrap_or_default(),
        hostname: nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default(),
    }
}

fn run_one(env: &Env, check: &'static Check, index: usize) -> CheckResult {
    let started = Instant::now();
    let before = host_state();
    let check_dir = env.work.join(format!("{}-{index}", check.id));
    let (verdict, runs) = match Ctx::new(env, check_dir.clone()) {
        Ok(mut ctx) => {
            let verdict = (check.run)(&mut ctx);
            (verdict, std::mem::take(&mut ctx.runs))
        }
        Err(e) => (Err(e), Vec::new()),
    };
    // The sandbox is gone (Ctx dropped): anything the runtime left in it went with it. The host
    // must be exactly as before.
    let verdict = match (verdict, host_damage(&before, env)) {
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

/// What changed on the host, after undoing what can be undone: mounts that appeared under the
/// checker's own directories are unmounted, the hostname is restored.
fn host_damage(before: &HostState, env: &Env) -> Option<String> {
    let after = host_state();
    if &after == before {
        return None;
    }
    let mut damage = Vec::new();
    for m in mounts::added(&before.mounts, &after.mounts) {
        damage.push(format!("{} appeared on the host", mounts::describe(&m)));
        if std::path::Path::new(&m.mount_point).starts_with(env.work.parent().unwrap_or(&env.work))
        {
            let _ = nix::mount::umount2(m.mount_point.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
    for m in mounts::added(&after.mounts, &before.mounts) {
        damage.push(format!(
            "{} disappeared from the host",
            mounts::describe(&m)
        ));
    }
    for link in after
        .links
        .iter()
        .filter(|l| !before.links.iter().any(|b| b.0 == l.0))
    {
        damage.push(format!("network link {} appeared on the host", link.0));
        crate::links::remove_leaked(&link.0);
    }
    for link in before
        .links
        .iter()
        .filter(|l| !after.links.iter().any(|a| a.0 == l.0))
    {
        damage.push(format!("network link {} disappeared from the host", link.0));
    }
    for (name, flags) in &after.links {
        if let Some((_, old)) = before.links.iter().find(|(n, f)| n == name && f != flags) {
            damage.push(format!(
                "the flags of host link {name} changed from {old} to {flags}"
            ));
        }
    }
    if after.hostname != before.hostname {
        damage.push(format!(
            "the host's hostname changed from {:?} to {:?}",
            before.hostname, after.hostname
        ));
        let _ = nix::unistd::sethostname(&before.hostname);
    }
    Some(damage.join("; "))
}
