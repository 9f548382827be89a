//! Each check catches the mistake it exists for: a runtime broken in exactly one way fails
//! exactly the checks listed here and passes every other one.

mod common;
use common::*;

/// (fault, level checked, the checks that must fail): the faults of checker/broken proved by
/// a checker run (see checker/broken/src/faults.rs). `BROKEN_FAULTS=a,b` runs only those (for
/// a quick look at a level's faults: `BROKEN_FAULTS=eth0-down,veth-correct cargo test -p
/// checker --test broken`).
fn cases() -> impl Iterator<Item = (&'static str, u32, &'static [&'static str])> {
    let only: Option<Vec<String>> = std::env::var("BROKEN_FAULTS")
        .ok()
        .map(|list| list.split(',').map(|f| f.trim().to_string()).collect());
    faults::FAULTS
        .iter()
        .filter(move |f| {
            only.as_ref()
                .is_none_or(|only| only.iter().any(|o| o == f.name))
        })
        .filter_map(|f| match f.proof {
            faults::Proof::Fails(at, checks) => Some((f.name, at, checks)),
            _ => None,
        })
}

/// Checks whose verdict on a fault depends on timing, left out of the comparison for that fault:
/// a runtime that does not wait still passes them when the command happens to finish before the
/// runtime exits. (`L0.fork-exec.waits` gives the command 400 ms, so it always catches it.)
const TIMING_DEPENDENT: &[(&str, &[&str])] =
    &[("no-wait", &["L0.fork-exec.output", "L0.fork-exec.argv"])];

/// Checks that skip, rather than judge, when the machine is too busy to tell: a probe that
/// spins under `--cpus 0.25` and never reaches its quota (on this shared 2-core machine it got
/// 0.15 of a CPU, under a correct quota). Such a skip stands for either verdict, for any fault;
/// a pass where a fail is expected, or a fail where a pass is, still counts as a mismatch.
const SKIP_WHEN_BUSY: &[&str] = &["L8.cpu-cgroup.throttled"];

/// The lowest level whose checks a fault's proof runs: that of the first check it must fail (a
/// fault of level 12 that also fails `L1.input.bad-tar` runs levels 1 to 12), or every level
/// for a fault that must pass them all (`correct`, `strict-cli`). The checks below it are those
/// of earlier levels, proved on their own faults; running them again for each of 85 faults
/// doubled this test's time.
fn first_level_judged(level: u32, expected: &[&str]) -> u32 {
    let level_of = |id: &str| -> u32 {
        let digits = id.trim_start_matches('L').split('.').next().unwrap_or("");
        digits.parse().unwrap_or(0)
    };
    match expected.iter().map(|id| level_of(id)).min() {
        Some(first) => first.min(level),
        None => 0,
    }
}

#[test]
fn each_broken_runtime_fails_exactly_its_checks() {
    if !root_or_skip("each_broken_runtime_fails_exactly_its_checks") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut mismatches = Vec::new();
    for (fault, level, expected) in cases() {
        let runtime = broken(fault, dir.path());
        let runtime = runtime.to_str().unwrap();
        let out = checker(&[
            &format!("level{level}"),
            "--from-level",
            &first_level_judged(level, expected).to_string(),
            "--keep-going",
            "--runtime",
            runtime,
            "--format",
            "json",
        ]);
        let racy: &[&str] = TIMING_DEPENDENT
            .iter()
            .find(|(f, _)| *f == fault)
            .map_or(&[], |(_, ids)| ids);
        let statuses = statuses(&stdout(&out));
        let busy: Vec<&str> = statuses
            .iter()
            .filter(|(id, s)| s == "skip" && SKIP_WHEN_BUSY.contains(&id.as_str()))
            .map(|(id, _)| id.as_str())
            .collect();
        let failed: Vec<String> = statuses
            .iter()
            .filter(|(id, s)| s != "pass" && !racy.contains(&id.as_str()))
            .filter(|(id, _)| !busy.contains(&id.as_str()))
            .map(|(id, s)| format!("{id}:{s}"))
            .collect();
        let wanted: Vec<String> = expected
            .iter()
            .filter(|id| !busy.contains(id))
            .map(|id| format!("{id}:fail"))
            .collect();
        if failed != wanted {
            mismatches.push(format!("{fault}: expected {wanted:?}, got {failed:?}"));
        }
        let code = out.status.code();
        assert_eq!(
            code,
            Some(if wanted.is_empty() { 0 } else { 1 }),
            "{fault}: exit code"
        );
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn every_check_has_a_broken_runtime_that_fails_it() {
    let caught: Vec<&str> = cases()
        .flat_map(|(_, _, ids)| ids.iter().copied())
        .collect();
    let ids = kit::ladder::LADDER
        .iter()
        .map(|level| level.number)
        .flat_map(|level| checker::levels::checks(level).iter().map(|c| c.id));
    for id in ids.chain(CGROUP_CHECKS.iter().copied()) {
        assert!(
            caught.contains(&id),
            "no broken runtime proves {id} can fail"
        );
    }
}

/// The checks of the cgroup levels as the contract of issue 11 names them: each must be failed
/// by some fault even before (or should) `checker::levels::checks` list them.
const CGROUP_CHECKS: &[&str] = &[
    "L8.cpu-cgroup.inside",
    "L8.cpu-cgroup.outside",
    "L8.cpu-cgroup.quota",
    "L8.cpu-cgroup.weight",
    "L8.cpu-cgroup.throttled",
    "L8.cpu-cgroup.cleanup",
    "L9.memory-cgroup.limit",
    "L9.memory-cgroup.under-limit",
    "L9.memory-cgroup.oom-kill",
    "L9.memory-cgroup.oom-message",
    "L9.memory-cgroup.cleanup",
    "L10.pids-cgroup.limit",
    "L10.pids-cgroup.fork-bomb",
    "L10.pids-cgroup.cleanup",
];
