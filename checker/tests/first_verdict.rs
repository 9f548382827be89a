//! The first thing shown points at the real cause: for each mistake of a later level that
//! breaks runs (issue 9, part 2), the first failed check a human sees, its cause and its hint fit
//! what the runtime did, and the checks of the level being checked are shown without
//! --keep-going. Each case is a fault of checker/broken.

mod common;
use common::*;
use serde_json::Value;

/// One mistake, checked as `checker levelN --runtime <fault>` (no --keep-going).
struct Case {
    fault: &'static str,
    level: u32,
    /// The first check that fails.
    first: &'static str,
    /// Words its hint (and, when given, its cause) must contain.
    hint: &'static str,
    cause: Option<&'static str>,
    /// A check of the level itself that must have been run and failed, with words its hint
    /// must contain.
    also: Option<(&'static str, &'static str)>,
}

const CASES: &[Case] = &[
    // pivot_root onto a directory that is not a mount point: every run fails before the
    // command; the runtime's own error leads, not seven hints about level 0.
    Case {
        fault: "pivot-no-bind",
        level: 3,
        first: "L0.fork-exec.output",
        hint: "stopped before it ran the command",
        cause: Some("pivot_root failed: EBUSY"),
        also: Some((
            "L3.pivot-root.root-mount",
            "stopped before it ran the command",
        )),
    },
    // No workdir: the overlay mount fails with EINVAL, and that is what is shown first.
    Case {
        fault: "no-workdir",
        level: 7,
        first: "L0.fork-exec.output",
        hint: "stopped before it ran the command",
        cause: Some("mount overlay failed: EINVAL"),
        also: Some((
            "L7.overlay.root-is-overlay",
            "stopped before it ran the command",
        )),
    },
    Case {
        fault: "not-private",
        level: 2,
        first: "L2.mount-ns.no-propagation",
        hint: "MS_PRIVATE",
        cause: None,
        also: None,
    },
    // The command is not PID 1: the hint is about where unshare(CLONE_NEWPID) goes, not about
    // a /proc that disagrees with getpid().
    Case {
        fault: "unshare-pid-in-child",
        level: 5,
        first: "L5.pid-ns.namespace",
        hint: "in the parent, before fork",
        cause: None,
        also: Some(("L5.pid-ns.pid-one", "does not move the caller")),
    },
    // The old root still mounted at /old: its directory is not "removed".
    Case {
        fault: "keep-old-root",
        level: 3,
        first: "L3.pivot-root.no-host-mounts",
        hint: "umount2",
        cause: None,
        also: Some(("L3.pivot-root.old-root-removed", "umount2")),
    },
    // One upper dir for every container: the level-1 verdict names the overlay's fix, and the
    // level-7 check that is about it is shown too.
    Case {
        fault: "shared-upper",
        level: 7,
        first: "L1.chroot.fresh-copy",
        hint: "its own upperdir",
        cause: None,
        also: Some(("L7.overlay.isolated", "upperdir")),
    },
    // The ioctl socket opened before unshare(CLONE_NEWNET): the lesson is the order.
    Case {
        fault: "socket-before-unshare",
        level: 6,
        first: "L6.net-ns.loopback",
        hint: "opened before unshare(CLONE_NEWNET)",
        cause: None,
        also: None,
    },
];

/// Every fault of checker/broken that breaks every run has a case here, and every case is a fault.
#[test]
fn every_fault_that_breaks_every_run_has_a_case() {
    for fault in faults::FAULTS {
        if matches!(fault.proof, faults::Proof::FirstVerdict) {
            assert!(
                CASES.iter().any(|c| c.fault == fault.name),
                "no case for {}",
                fault.name
            );
        }
    }
    for case in CASES {
        assert!(
            faults::find(case.fault).is_some(),
            "{} is not a fault of checker/broken",
            case.fault
        );
    }
}

fn find<'a>(checks: &'a [Value], id: &str) -> Option<&'a Value> {
    checks.iter().find(|c| c["id"] == id)
}

#[test]
fn the_first_verdict_points_at_the_real_cause() {
    if !root_or_skip("the_first_verdict_points_at_the_real_cause") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut problems = Vec::new();
    for case in CASES {
        let runtime = broken(case.fault, dir.path());
        let out = checker(&[
            &format!("level{}", case.level),
            "--runtime",
            runtime.to_str().unwrap(),
            "--format",
            "json",
        ]);
        let doc: Value = serde_json::from_str(&stdout(&out))
            .unwrap_or_else(|e| panic!("{}: not JSON ({e})", case.fault));
        let checks = doc["checks"].as_array().unwrap();
        let text = |c: &Value, field: &str| c[field].as_str().unwrap_or("").to_string();
        let Some(first) = checks.iter().find(|c| c["status"] == "fail") else {
            problems.push(format!("{}: nothing failed", case.fault));
            continue;
        };
        if first["id"] != case.first {
            problems.push(format!(
                "{}: the first failure is {}, expected {} (observed: {})",
                case.fault,
                first["id"],
                case.first,
                text(first, "observed")
            ));
            continue;
        }
        if !text(first, "hint").contains(case.hint) {
            problems.push(format!(
                "{}: {}'s hint lacks {:?}: {}",
                case.fault,
                case.first,
                case.hint,
                text(first, "hint")
            ));
        }
        if let Some(cause) = case.cause {
            if !text(first, "cause").contains(cause) {
                problems.push(format!(
                    "{}: {}'s cause lacks {cause:?}: {:?}",
                    case.fault,
                    case.first,
                    text(first, "cause")
                ));
            }
        }
        if let Some((id, hint)) = case.also {
            match find(checks, id) {
                Some(c) if c["status"] == "fail" && text(c, "hint").contains(hint) => {}
                other => problems.push(format!(
                    "{}: {id} must be run and fail with a hint about {hint:?}, got {other:?}",
                    case.fault
                )),
            }
        }
    }
    // Never bringing lo up is another lesson, with another hint.
    let runtime = broken("lo-down", dir.path());
    let out = checker(&[
        "level6",
        "--runtime",
        runtime.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let loopback = find(doc["checks"].as_array().unwrap(), "L6.net-ns.loopback").unwrap();
    let hint = loopback["hint"].as_str().unwrap_or("");
    if hint.contains("opened before") || !hint.contains("IFF_UP") {
        problems.push(format!("lo-down: the loopback hint is {hint:?}"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
