//! Hostile runtimes: whatever the learner's runtime does, the checker gives a clear verdict within
//! the timeout, and the host is exactly as before (no mount, cgroup, link, hostname or process
//! left). See the hostile faults in checker/broken/src/hostile.rs.

mod common;
use common::*;
use probe::proc;
use serde_json::Value;
use std::time::{Duration, Instant};

/// One hostile runtime, checked at level 0, and the verdict it must get.
struct Case {
    fault: &'static str,
    /// Exactly the checks that must fail.
    failing: &'static [&'static str],
    /// Words that one of the failed checks' `observed` (or its output) must contain.
    says: &'static str,
    /// What the host must have for the case to run (it is skipped otherwise).
    needs: Needs,
    /// Seconds each run may take (`--timeout`).
    timeout: u64,
}

/// Whether this host can make tun devices (what `leak-link` leaks).
fn can_open_tun() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .is_ok()
}

fn cgroup_root_is_tmpfs() -> bool {
    nix::sys::statfs::statfs("/sys/fs/cgroup")
        .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC)
}

enum Needs {
    Nothing,
    /// The checker's cage (memory and pids cgroups), to be safe or to be caught.
    Cage,
    /// Tun devices (`/dev/net/tun`).
    Tun,
    /// A tmpfs at `/sys/fs/cgroup` (a v1 or hybrid host), where v2 paths are plain files.
    CgroupTmpfs,
}

/// Every check of level 0: after a run that the timeout ended, the level's other checks are not
/// run, bad input's among them (a skipped check is not a passed one).
const ALL_AFTER_A_TIMEOUT: &[&str] = &[
    "L0.fork-exec.output",
    "L0.fork-exec.exit-code",
    "L0.fork-exec.signal",
    "L0.fork-exec.argv",
    "L0.fork-exec.waits",
    "L0.fork-exec.child",
    "L0.fork-exec.missing-command",
    "L0.input.bad-size",
];

/// The checks that run the command (a hostile runtime refuses bad input before its attack).
const ALL: &[&str] = ALL_AFTER_A_TIMEOUT.split_at(7).0;

const CASES: &[Case] = &[
    Case {
        // 50 MB of logging: only the check that compares the output fails; the probe's line is
        // still found past the capture cap.
        fault: "flood",
        failing: &["L0.fork-exec.output"],
        says: "stdout lacks it",
        needs: Needs::Nothing,
        timeout: FLOOD_TIMEOUT,
    },
    Case {
        fault: "panic",
        failing: ALL,
        says: "panics on purpose",
        needs: Needs::Nothing,
        timeout: TIMEOUT,
    },
    Case {
        fault: "orphan",
        failing: ALL,
        says: "was still running",
        needs: Needs::Cage,
        timeout: TIMEOUT,
    },
    Case {
        fault: "mount-over-work",
        failing: ALL,
        says: "appeared on the host (the checker undid it)",
        needs: Needs::Nothing,
        timeout: TIMEOUT,
    },
    Case {
        fault: "leave-behind",
        failing: ALL,
        says: "the container's group was created at /rubber-crab/",
        needs: Needs::Nothing,
        timeout: TIMEOUT,
    },
    Case {
        // Every run leaks a link; the checker deletes each (the host is compared below).
        fault: "leak-link",
        failing: ALL,
        says: "network link rcleak",
        needs: Needs::Tun,
        timeout: TIMEOUT,
    },
    Case {
        // The group is found by the container's id at the default parent, its processes
        // killed, and it is removed in every hierarchy.
        fault: "ignores-cgroup-parent",
        failing: ALL,
        says: "not under the --cgroup-parent the checker passed (a container's group is <cgroup-parent>/<id>), and left on the host (the checker undid it)",
        needs: Needs::Cage,
        timeout: TIMEOUT,
    },
    Case {
        fault: "leaves-group-with-process",
        failing: ALL,
        says: "was left behind after the container exited, with process",
        needs: Needs::Cage,
        timeout: TIMEOUT,
    },
    Case {
        fault: "limit-on-parent",
        failing: ALL,
        says: "to pids.max of the --cgroup-parent rubber-crab-checker/",
        needs: Needs::Cage,
        timeout: TIMEOUT,
    },
    Case {
        // Plain directories and files on the tmpfs, removed; the verdict says where the
        // limit files are on this host.
        fault: "v2-paths-on-v1",
        failing: ALL,
        says: "so the runtime made plain directories and files there, not groups",
        needs: Needs::CgroupTmpfs,
        timeout: TIMEOUT,
    },
    Case {
        // Every process of the run is in the sandbox's PID namespace: the sleeps are found
        // wherever they went, named, and killed.
        fault: "escape-cage",
        failing: ALL,
        says: "left the checker's cage rubber-crab-checker/",
        needs: Needs::Cage,
        timeout: TIMEOUT,
    },
    Case {
        fault: "raise-cage-limits",
        failing: ALL,
        says: "of the checker's cage rubber-crab-checker/",
        needs: Needs::Cage,
        timeout: TIMEOUT,
    },
    Case {
        fault: "memory-hog",
        failing: ALL,
        says: "OOM killer",
        needs: Needs::Cage,
        timeout: TIMEOUT,
    },
    Case {
        // Runs the command, then sleeps forever: the first check waits out the timeout, the
        // level's other checks are not run (and not passed).
        fault: "hang",
        failing: ALL_AFTER_A_TIMEOUT,
        says: "was still running at the timeout",
        needs: Needs::Nothing,
        timeout: TIMEOUT,
    },
    Case {
        fault: "fork-bomb",
        failing: ALL_AFTER_A_TIMEOUT,
        says: "forks were refused",
        needs: Needs::Cage,
        timeout: TIMEOUT,
    },
];

/// Seconds each run may take: the fork bomb and the orphan are stopped by it.
const TIMEOUT: u64 = 2;
/// The flood must not be stopped by the clock: only the output check may fail. Printing 50 MB
/// took more than 2 s on a loaded host, and then most checks failed by the timeout.
const FLOOD_TIMEOUT: u64 = 30;

/// Every hostile fault of checker/broken is judged here, and only those.
#[test]
fn every_hostile_fault_is_judged() {
    let judged: Vec<&str> = CASES
        .iter()
        .map(|c| c.fault)
        .chain(["slow-memory-hog"])
        .chain(NSENTER.iter().map(|(fault, _)| *fault))
        .collect();
    for fault in faults::FAULTS {
        if matches!(fault.proof, faults::Proof::Hostile) {
            assert!(judged.contains(&fault.name), "no case for {}", fault.name);
        }
    }
    for name in judged {
        assert!(
            faults::find(name).is_some_and(|f| matches!(f.proof, faults::Proof::Hostile)),
            "{name} is not a hostile fault of checker/broken"
        );
    }
}

#[test]
fn hostile_runtimes_get_a_clear_verdict_and_leave_the_host_unchanged() {
    if !root_or_skip("hostile_runtimes_get_a_clear_verdict_and_leave_the_host_unchanged") {
        return;
    }
    let _turn = one_at_a_time();
    let problems = judge_hostile_runtimes();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The same verdicts while someone else changes the host (see common::Noise), and nothing of
/// theirs is touched.
#[test]
fn hostile_runtimes_get_the_same_verdicts_on_a_busy_host() {
    let test = "hostile_runtimes_get_the_same_verdicts_on_a_busy_host";
    if !root_or_skip(test) {
        return;
    }
    let _turn = one_at_a_time();
    if !in_a_namespace_of_its_own(test) {
        return;
    }
    let noise = Noise::start();
    let mut problems = judge_hostile_runtimes();
    problems.extend(noise.stop().problems);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Checks each hostile runtime at level 0; what went wrong.
fn judge_hostile_runtimes() -> Vec<String> {
    let caged = has_cage_controllers();
    let dir = tempfile::tempdir().unwrap();
    let mut problems = Vec::new();
    for case in CASES {
        let missing = match case.needs {
            Needs::Cage if !caged => Some("this host has no memory and pids cgroup controllers"),
            Needs::Tun if !can_open_tun() => Some("/dev/net/tun cannot be opened here"),
            Needs::CgroupTmpfs if !cgroup_root_is_tmpfs() => {
                Some("/sys/fs/cgroup is not a tmpfs here (a v2 host)")
            }
            _ => None,
        };
        if let Some(why) = missing {
            eprintln!("skipped {}: {why}", case.fault);
            continue;
        }
        let runtime = broken(case.fault, dir.path());
        let started = Instant::now();
        // A runtime of the cgroup levels on level 0's checks: it gets --cgroup-parent (a
        // level-0 runtime would not, and would make its groups at the default parent).
        let out = checker(&[
            "level0",
            "--runtime-level",
            "10",
            "--keep-going",
            "--timeout",
            &case.timeout.to_string(),
            "--format",
            "json",
            "--runtime",
            runtime.to_str().unwrap(),
        ]);
        let took = started.elapsed();
        // Seven checks, at most two runs each, each bounded by the timeout (and cleanup), and
        // by the grace after it while the cage still fills up (on a slow machine, a memory hog
        // or fork bomb still on its way to the cap); in fact one timeout per level (asserted
        // below), but a bound must not depend on speed.
        let grace = match case.needs {
            Needs::Cage => checker::run::GRACE,
            _ => Duration::ZERO,
        };
        let per_check = 2 * (Duration::from_secs(case.timeout) + grace) + Duration::from_secs(3);
        let bound = per_check * ALL.len() as u32;
        if took > bound {
            problems.push(format!(
                "{}: took {took:?}, more than {bound:?}",
                case.fault
            ));
        }
        if out.status.code() != Some(1) {
            problems.push(format!(
                "{}: exit code {:?}, expected 1",
                case.fault,
                out.status.code()
            ));
        }
        let doc: Value = serde_json::from_str(&stdout(&out))
            .unwrap_or_else(|e| panic!("{}: not JSON ({e})", case.fault));
        let checks = doc["checks"].as_array().unwrap();
        let failed: Vec<&str> = checks
            .iter()
            .filter(|c| c["status"] != "pass")
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        if failed != case.failing {
            problems.push(format!(
                "{}: expected {:?} to fail, got {failed:?}: {}",
                case.fault,
                case.failing,
                stdout(&out)
            ));
        }
        // One timeout per level: after it, the level's checks are not run, and say so.
        let timed_out: Vec<usize> = (0..checks.len())
            .filter(|&i| {
                checks[i]["observed"]
                    .as_str()
                    .is_some_and(|o| o.contains("was still running at the timeout"))
            })
            .collect();
        if let Some(&first) = timed_out.first() {
            let rest_skipped = checks[first + 1..].iter().all(|c| {
                c["status"] == "skip"
                    && c["reason"]
                        .as_str()
                        .is_some_and(|r| r.contains("did not exit in"))
            });
            let described = checks[first]["at_timeout"]
                .as_str()
                .is_some_and(|t| t.contains("pid "));
            if timed_out.len() > 1 || !rest_skipped || !described {
                problems.push(format!(
                    "{}: after the first timeout the level's other checks must be skipped, not run, and the timed-out one must list the runtime's processes: {}",
                    case.fault,
                    stdout(&out)
                ));
            }
        }
        let said = checks.iter().any(|c| {
            c["observed"].as_str().unwrap_or("").contains(case.says)
                || c["output"].to_string().contains(case.says)
        });
        if !said {
            problems.push(format!(
                "{}: no verdict says {:?}: {}",
                case.fault,
                case.says,
                stdout(&out)
            ));
        }
        let mut left = processes_of(&[runtime.as_path(), &probe_path()]);
        left.extend(sleeps_left_in_groups());
        if !left.is_empty() {
            problems.push(format!("{}: processes left running: {left:?}", case.fault));
        }
    }
    problems
}

/// A memory hog on a slow machine (software emulation, a loaded laptop) is still allocating when
/// the timeout comes: the checker waits on while the cage fills, and the verdict is the OOM
/// killer's, not a hang. `slow-memory-hog` meets the cap after 2 s, twice this test's timeout.
/// (The one hostile fault of checker/broken judged outside [`CASES`].)
#[test]
fn a_memory_hog_slower_than_the_timeout_still_meets_the_oom_killer() {
    let test = "a_memory_hog_slower_than_the_timeout_still_meets_the_oom_killer";
    if !root_or_skip(test) {
        return;
    }
    if !has_cage_controllers() {
        eprintln!("skipped {test}: this host has no memory and pids cgroup controllers");
        return;
    }
    let _turn = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let runtime = broken("slow-memory-hog", dir.path());
    let out = checker(&[
        "level0",
        "--runtime-level",
        "10",
        "--keep-going",
        "--timeout",
        "1",
        "--format",
        "json",
        "--runtime",
        runtime.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    // Every check that runs the hog (bad input is refused before it allocates).
    let hogged = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"].as_str().unwrap().starts_with("L0.fork-exec."));
    for check in hogged {
        let observed = check["observed"].as_str().unwrap_or("");
        assert!(
            observed.contains("OOM killer") && !observed.contains("still running"),
            "{}: {observed}",
            check["id"]
        );
    }
    let left = processes_of(&[runtime.as_path(), &probe_path()]);
    assert!(left.is_empty(), "processes left running: {left:?}");
}

fn probe_path() -> std::path::PathBuf {
    workspace_root().join("target/rubber-crab/checker/bin/probe")
}

/// Pids of live processes running one of `programs` (by /proc/<pid>/exe, or by argv[0] for a
/// symlinked multi-call binary).
fn processes_of(programs: &[&std::path::Path]) -> Vec<u32> {
    let broken_exe = checker::prepare::build_runtime("broken").unwrap();
    proc::pids()
        .into_iter()
        .filter(|&pid| proc::stat(pid).is_some_and(|s| !s.is_zombie()))
        .filter(|&pid| {
            let exe = proc::exe(pid).unwrap_or_default();
            let argv0 = proc::argv(pid).into_iter().next().unwrap_or_default();
            exe == broken_exe
                || programs
                    .iter()
                    .any(|p| exe == *p || argv0 == p.to_string_lossy())
        })
        .collect()
}

/// The `sleep`s that `leaves-group-with-process` left in its groups (found by their argument).
fn sleeps_left_in_groups() -> Vec<u32> {
    proc::pids()
        .into_iter()
        .filter(|&pid| proc::stat(pid).is_some_and(|s| !s.is_zombie()))
        .filter(|&pid| {
            let argv = proc::argv(pid);
            argv == ["sleep", LEFT_SLEEP] || argv == ["sleep", ESCAPED_SLEEP]
        })
        .collect()
}

/// What `leaves-group-with-process` sleeps for (checker/broken/src/hostile.rs).
const LEFT_SLEEP: &str = "86399";
/// What `escape-cage` sleeps for (checker/broken/src/hostile.rs).
const ESCAPED_SLEEP: &str = "86398";

/// The faults that join the checker's own namespaces from a child of the runtime (as
/// `nsenter -t <the checker's pid> -u hostname pwned` and `-m mount -t tmpfs pwned /mnt` do), and
/// what the verdict says.
const NSENTER: &[(&str, &str)] = &[
    ("nsenter-uts", "the host's hostname changed from"),
    ("nsenter-mount", "tmpfs on /mnt appeared on the host"),
];

/// A process of the run that changes the checker's own UTS or mount namespace: the change is
/// undone after each check and blamed on the run, naming the process and the call; the host is
/// as before when the checker exits. The test runs in a UTS and mount namespace of its own (the
/// checker's "host"), so that even a checker that failed to undo the change never changed this
/// machine's hostname or mount table.
#[test]
fn nsenter_into_the_checkers_namespaces_is_undone_and_blamed() {
    let test = "nsenter_into_the_checkers_namespaces_is_undone_and_blamed";
    if !root_or_skip(test) {
        return;
    }
    let _turn = one_at_a_time();
    if !in_uts_and_mount_namespaces_of_its_own(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut problems = Vec::new();
    for (fault, says) in NSENTER {
        let runtime = broken(fault, dir.path());
        let hostname = nix::unistd::gethostname().unwrap();
        // common::checker asserts the mount table, hostname, links and groups are as before.
        let out = checker(&[
            "level0",
            "--runtime-level",
            "10",
            "--keep-going",
            "--timeout",
            "10",
            "--format",
            "json",
            "--runtime",
            runtime.to_str().unwrap(),
        ]);
        assert_eq!(nix::unistd::gethostname().unwrap(), hostname);
        let json = stdout(&out);
        if out.status.code() != Some(1) {
            problems.push(format!("{fault}: exit {:?}: {json}", out.status.code()));
        }
        let doc: Value = serde_json::from_str(&json).unwrap();
        let checks = doc["checks"].as_array().unwrap();
        let failed: Vec<&str> = checks
            .iter()
            .filter(|c| c["status"] != "pass")
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        if failed != ALL {
            problems.push(format!(
                "{fault}: expected {ALL:?} to fail, got {failed:?}: {json}"
            ));
        }
        // Every failed check says what changed, that it was undone, and who did it.
        for check in checks.iter().filter(|c| c["status"] != "pass") {
            let observed = check["observed"].as_str().unwrap_or("");
            let whole = [
                *says,
                "(the checker undid it)",
                "a process of this run, joined the checker's own",
            ];
            if let Some(missing) = whole.iter().find(|w| !observed.contains(**w)) {
                problems.push(format!(
                    "{fault}: {} does not say {missing:?}: {observed}",
                    check["id"]
                ));
            }
        }
        let left = processes_of(&[runtime.as_path(), &probe_path()]);
        if !left.is_empty() {
            problems.push(format!("{fault}: processes left running: {left:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// What someone outside the run does to the checker's UTS namespace meanwhile is never the
/// run's: a correct runtime passes, the reports note the change, and the checker undoes nothing.
#[test]
fn a_hostname_changed_outside_the_run_is_noted_never_undone() {
    let test = "a_hostname_changed_outside_the_run_is_noted_never_undone";
    if !root_or_skip(test) {
        return;
    }
    let _turn = one_at_a_time();
    if !in_uts_and_mount_namespaces_of_its_own(test) {
        return;
    }
    let warm = checker(&["level0", "--solution", "--format", "json"]);
    assert_eq!(warm.status.code(), Some(0), "{}", stdout(&warm));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopping = stop.clone();
    // A new hostname all along the run: every check that lasts longer than one step sees one.
    let noise = std::thread::spawn(move || {
        let mut n = 0u64;
        while !stopping.load(std::sync::atomic::Ordering::SeqCst) {
            n += 1;
            nix::unistd::sethostname(format!("outside-{n}")).unwrap();
            std::thread::sleep(Duration::from_millis(1));
        }
        format!("outside-{n}")
    });
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("checker"))
        .args(["level0", "--solution", "--format", "json"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let last = noise.join().unwrap();
    let json = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{json}");
    assert!(
        json.contains("the host's hostname changed during this check")
            && json.contains("not counted against your runtime"),
        "no report noted the hostname: {json}"
    );
    assert_eq!(
        nix::unistd::gethostname().unwrap().to_string_lossy(),
        last,
        "the checker undid someone else's hostname"
    );
}

/// Runs `test` (the caller) again, alone, in a child process with a UTS and a mount namespace
/// of its own (its mounts private): what it and its checkers do to "the host's" hostname and
/// mount table stays there. True in the child: go on with the test. False in the parent, once
/// the child has passed.
fn in_uts_and_mount_namespaces_of_its_own(test: &str) -> bool {
    use nix::sched::CloneFlags;
    rerun_alone_in(
        test,
        "RUBBER_CRAB_TEST_OWN_UTS",
        CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS,
    )
}
