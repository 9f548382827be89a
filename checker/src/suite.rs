//! Runs the checks of levels 0..=N in order, each in a fresh sandbox, guarding the host.

use crate::check::{Check, Ctx, Env, RunSummary, Verdict};
use crate::{cgroups, mounts};
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
    /// Groups under `rubber-crab/` in every cgroup hierarchy.
    cgroups: Vec<cgroups::RuntimeGroup>,
    /// The hierarchies' `rubber-crab/` dirs that exist.
    cgroup_parents: Vec<std::path::PathBuf>,
}

fn host_state() -> HostState {
    HostState {
        links: crate::links::host_links(),
        mounts: mounts::read("/proc/self/mountinfo").unwrap_or_default(),
        hostname: nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default(),
        cgroups: cgroups::runtime_groups(cgroups::host_layout()),
        cgroup_parents: cgroups::runtime_parents(cgroups::host_layout()),
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
/// checker's own directories are unmounted, the hostname is restored, a leaked tun device is
/// deleted.
fn host_damage(before: &HostState, env: &Env) -> Option<String> {
    let after = host_state();
    let changes: Vec<Change> = changes(before, &after)
        .into_iter()
        .filter(|change| !another_checkers(change, env))
        .collect();
    let text: Vec<String> = changes
        .iter()
        .map(|change| match undo(change, env) {
            true => format!("{} (the checker undid it)", describe(change)),
            false => describe(change),
        })
        .collect();
    // A runtime may leave the (empty) `rubber-crab/` parent, as Docker leaves `docker/`: that is
    // no damage, but the checker takes away what the check brought.
    for parent in &after.cgroup_parents {
        if !before.cgroup_parents.contains(parent) {
            let _ = std::fs::remove_dir(parent);
        }
    }
    (!text.is_empty()).then(|| text.join("; "))
}

/// A mount change under another checker's scratch dir (`<its home>/checker/run-<its pid>`) is
/// that checker's to report: several checkers may run at once (the test suite runs them, some
/// with homes of their own).
fn another_checkers(change: &Change, env: &Env) -> bool {
    let (Change::MountAdded(m) | Change::MountRemoved(m)) = change else {
        return false;
    };
    in_another_checkers_run(std::path::Path::new(&m.mount_point), &env.work)
}

fn in_another_checkers_run(mount_point: &std::path::Path, work: &std::path::Path) -> bool {
    let is_run_dir = |dir: &std::path::Path| {
        dir.file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with("run-"))
            && dir
                .parent()
                .and_then(|parent| parent.file_name())
                .is_some_and(|parent| parent == "checker")
    };
    !mount_point.starts_with(work) && mount_point.ancestors().any(is_run_dir)
}

/// One difference between two snapshots of the host.
#[derive(Debug, PartialEq, Eq)]
enum Change {
    MountAdded(mounts::Mount),
    MountRemoved(mounts::Mount),
    LinkAdded(String),
    LinkRemoved(String),
    LinkFlags {
        name: String,
        before: String,
        after: String,
    },
    Hostname {
        before: String,
        after: String,
    },
    CgroupAdded(cgroups::RuntimeGroup),
    CgroupRemoved(cgroups::RuntimeGroup),
}

fn changes(before: &HostState, after: &HostState) -> Vec<Change> {
    let mut changes: Vec<Change> = mounts::added(&before.mounts, &after.mounts)
        .into_iter()
        .map(Change::MountAdded)
        .collect();
    changes.extend(
        mounts::added(&after.mounts, &before.mounts)
            .into_iter()
            .map(Change::MountRemoved),
    );
    let flags_of = |links: &[(String, String)], name: &str| {
        links
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, f)| f.clone())
    };
    for (name, flags) in &after.links {
        match flags_of(&before.links, name) {
            None => changes.push(Change::LinkAdded(name.clone())),
            Some(old) if &old != flags => changes.push(Change::LinkFlags {
                name: name.clone(),
                before: old,
                after: flags.clone(),
            }),
            Some(_) => {}
        }
    }
    for (name, _) in before
        .links
        .iter()
        .filter(|(name, _)| flags_of(&after.links, name).is_none())
    {
        changes.push(Change::LinkRemoved(name.clone()));
    }
    for group in &after.cgroups {
        if !before.cgroups.contains(group) {
            changes.push(Change::CgroupAdded(group.clone()));
        }
    }
    for group in &before.cgroups {
        if !after.cgroups.contains(group) {
            changes.push(Change::CgroupRemoved(group.clone()));
        }
    }
    if after.hostname != before.hostname {
        changes.push(Change::Hostname {
            before: before.hostname.clone(),
            after: after.hostname.clone(),
        });
    }
    changes
}

fn describe(change: &Change) -> String {
    match change {
        Change::MountAdded(m) => format!("{} appeared on the host", mounts::describe(m)),
        Change::MountRemoved(m) => format!("{} disappeared from the host", mounts::describe(m)),
        Change::LinkAdded(name) => format!("network link {name} appeared on the host"),
        Change::LinkRemoved(name) => format!("network link {name} disappeared from the host"),
        Change::LinkFlags {
            name,
            before,
            after,
        } => format!("the flags of host link {name} changed from {before} to {after}"),
        Change::Hostname { before, after } => {
            format!("the host's hostname changed from {before:?} to {after:?}")
        }
        Change::CgroupAdded(g) => format!(
            "cgroup {} ({}) was left on the host after the container exited",
            g.path, g.hierarchy
        ),
        Change::CgroupRemoved(g) => format!(
            "cgroup {} ({}) disappeared from the host",
            g.path, g.hierarchy
        ),
    }
}

/// Undoes a change when it is ours to undo: only mounts under the checker's own directory, only
/// the hostname we saw before, only tun devices (see links::remove_leaked), only groups under
/// `rubber-crab/` that appeared during the check (their processes are killed first).
fn undo(change: &Change, env: &Env) -> bool {
    match change {
        Change::MountAdded(m)
            if std::path::Path::new(&m.mount_point)
                .starts_with(env.work.parent().unwrap_or(&env.work)) =>
        {
            nix::mount::umount2(m.mount_point.as_str(), nix::mount::MntFlags::MNT_DETACH).is_ok()
        }
        Change::LinkAdded(name) => crate::links::remove_leaked(name),
        Change::Hostname { before, .. } => nix::unistd::sethostname(before).is_ok(),
        Change::CgroupAdded(group) => cgroups::remove_group(&group.dir).is_ok(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_in_another_checkers_run_dir_are_its_own_to_report() {
        let work = std::path::Path::new("/w/target/rubber-crab/checker/run-10");
        let theirs = |p: &str| in_another_checkers_run(std::path::Path::new(p), work);
        assert!(theirs("/w/target/rubber-crab/checker/run-11/L0.x/rootfs"));
        assert!(
            theirs("/tmp/.tmpAbc/checker/run-12/L3.y/rootfs/proc"),
            "another home"
        );
        assert!(
            !theirs("/w/target/rubber-crab/checker/run-10/L0.x/rootfs"),
            "ours"
        );
        assert!(
            !theirs("/w/target/rubber-crab/checker/run-10"),
            "over our work dir"
        );
        assert!(!theirs("/mnt/run-11"), "not a checker's");
        assert!(!theirs("/"));
    }

    fn state(mounts: &str, hostname: &str, links: &[(&str, &str)]) -> HostState {
        HostState {
            cgroups: Vec::new(),
            cgroup_parents: Vec::new(),
            mounts: mounts::parse(mounts),
            hostname: hostname.into(),
            links: links
                .iter()
                .map(|(n, f)| (n.to_string(), f.to_string()))
                .collect(),
        }
    }

    const ROOT: &str = "22 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n";
    const PROC: &str = "23 22 0:21 / /proc rw,relatime - proc proc rw\n";

    #[test]
    fn an_unchanged_host_has_no_changes() {
        let host = state(ROOT, "vm", &[("lo", "0x9")]);
        assert!(changes(&host, &state(ROOT, "vm", &[("lo", "0x9")])).is_empty());
    }

    #[test]
    fn every_kind_of_change_is_seen_and_named() {
        let before = state(
            &format!("{ROOT}{PROC}"),
            "vm",
            &[("lo", "0x9"), ("eth0", "0x1003")],
        );
        let leaked = "99 22 0:50 / /work/x rw - tmpfs tmpfs rw\n";
        let mut after = state(
            &format!("{ROOT}{leaked}"),
            "box",
            &[("lo", "0x8"), ("veth0", "0x1002")],
        );
        after.cgroups.push(cgroups::RuntimeGroup {
            hierarchy: "memory".into(),
            path: "rubber-crab/3f2a".into(),
            dir: "/sys/fs/cgroup/memory/rubber-crab/3f2a".into(),
        });
        let said: Vec<String> = changes(&before, &after).iter().map(describe).collect();
        assert_eq!(
            said,
            [
                "tmpfs on /work/x appeared on the host",
                "proc on /proc disappeared from the host",
                "the flags of host link lo changed from 0x9 to 0x8",
                "network link veth0 appeared on the host",
                "network link eth0 disappeared from the host",
                "cgroup rubber-crab/3f2a (memory) was left on the host after the container exited",
                "the host's hostname changed from \"vm\" to \"box\"",
            ]
        );
    }
}
