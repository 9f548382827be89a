//! The room's logic on hand-written reports: no root, no runs.

use super::*;

/// A report of `target` whose checks are the real ones of each level listed, all with
/// `status`, then the exceptions in `except` (id, status, reason).
fn report(target: &str, levels: &[(u32, Outcome)], except: &[(&str, Outcome, &str)]) -> Report {
    let mut checks: Vec<Checked> = levels
        .iter()
        .flat_map(|&(level, status)| {
            crate::levels::checks(level).iter().map(move |c| Checked {
                id: c.id.to_string(),
                level,
                title: c.title.to_string(),
                status,
                reason: None,
                cause: None,
                hint: None,
            })
        })
        .collect();
    for (id, status, reason) in except {
        let check = checks
            .iter_mut()
            .find(|c| c.id == *id)
            .unwrap_or_else(|| panic!("no check {id}"));
        check.status = *status;
        check.reason = (!reason.is_empty()).then(|| reason.to_string());
    }
    Report {
        schema: 1,
        target: target.into(),
        rootless: false,
        host: Machine {
            kernel: "6.1.0-18-amd64".into(),
            arch: "x86_64".into(),
            cgroups: "v2".into(),
            cage: "memory 512 MiB, 512 processes, per run".into(),
        },
        checks,
        made_at: Some(clock::utc(NOW - 5 * 60)),
        checked: Some("own".into()),
    }
}

/// The time the rooms of these tests are read at: 2026-12-05T13:26:16Z.
const NOW: u64 = 1_796_477_176;

use Outcome::{Error, Fail, Pass, Skip};

/// Levels 0..=top, every check with `status`.
fn up_to(top: u32, status: Outcome) -> Vec<(u32, Outcome)> {
    (0..=top).map(|n| (n, status)).collect()
}

fn levels_of(r: &Report) -> (Option<u32>, Option<u32>) {
    let passed = passed_level(&r.checks);
    (passed, working_on(&r.target, passed))
}

#[test]
fn the_level_passed_is_the_top_of_an_unbroken_climb_and_the_level_worked_on_is_the_one_checked() {
    // All passed: on to the next level.
    assert_eq!(
        levels_of(&report("level3", &up_to(3, Pass), &[])),
        (Some(3), Some(4))
    );
    // The level checked failed: still on it.
    let l3 = report(
        "level3",
        &up_to(3, Pass),
        &[("L3.pivot-root.no-escape", Fail, "")],
    );
    assert_eq!(levels_of(&l3), (Some(2), Some(3)));
    // Level-5 code that breaks level 2 (with --keep-going, 3 to 5 passed): passed 1, on 5.
    let l5 = report("level5", &up_to(5, Pass), &[("L2.mount-ns.proc", Fail, "")]);
    assert_eq!(levels_of(&l5), (Some(1), Some(5)));
    // `checker all` that fails at once; `3` is `level3`.
    let all = report("all", &up_to(1, Fail), &[]);
    assert_eq!(levels_of(&all), (None, Some(0)));
    assert_eq!(
        levels_of(&report("3", &up_to(3, Pass), &[])),
        (Some(3), Some(4))
    );
    // A level left undecided is not passed: a skip is no pass.
    let skipped = report("level1", &up_to(1, Pass), &[("L1.chroot.cwd", Skip, "x")]);
    assert_eq!(levels_of(&skipped), (Some(0), Some(1)));
    // The top of the ladder passed: nothing left to work on.
    let top = kit::ladder::LADDER.last().unwrap().number;
    let done = report(&format!("level{top}"), &up_to(top, Pass), &[]);
    assert_eq!(levels_of(&done), (Some(top), None));
}

#[test]
fn the_checks_most_attendees_fail_come_first_ties_in_ladder_order() {
    let reports = vec![
        (
            "ann".to_string(),
            report(
                "level3",
                &up_to(3, Pass),
                &[
                    ("L3.pivot-root.no-escape", Fail, ""),
                    ("L3.pivot-root.root-mount", Fail, ""),
                ],
            ),
        ),
        (
            "bo".to_string(),
            report(
                "level3",
                &up_to(3, Pass),
                &[("L3.pivot-root.no-escape", Fail, "")],
            ),
        ),
        (
            "cy".to_string(),
            report("level1", &up_to(1, Pass), &[("L1.chroot.cwd", Fail, "")]),
        ),
        // An error is the machine's, not a failure of the check.
        (
            "di".to_string(),
            report("level1", &up_to(1, Pass), &[("L1.chroot.cwd", Error, "no")]),
        ),
    ];
    let failing = failing(&reports);
    let ranked: Vec<(&str, usize, usize)> = failing
        .iter()
        .map(|f| (f.id.as_str(), f.failed, f.decided))
        .collect();
    assert_eq!(
        ranked,
        [
            ("L3.pivot-root.no-escape", 2, 2),
            ("L1.chroot.cwd", 1, 3),
            ("L3.pivot-root.root-mount", 1, 2),
        ]
    );
    assert_eq!(failing[0].attendees, ["ann", "bo"]);
}

#[test]
fn a_machine_blocks_a_level_when_its_checks_are_left_undecided_for_the_hosts_reasons() {
    let overlay = "overlayfs cannot be mounted in a user namespace before Linux 5.11 (this is \
                   5.10.0-28-amd64); check level7 as root";
    let hung = crate::suite::not_run_after_hang("L2.mount-ns.proc");
    let r = report(
        "level3",
        &[(0, Pass), (1, Error), (2, Fail), (3, Skip)],
        &[("L2.mount-ns.devices", Skip, &hung)],
    );
    let mut r = r;
    for check in r.checks.iter_mut() {
        match check.level {
            1 => check.reason = Some("the checker could not run this check: EPERM".into()),
            3 => check.reason = Some(crate::suite::EARLIER_LEVEL_FAILED.into()),
            _ => {}
        }
    }
    // Level 1 could not run (the checker's error); level 2's hang and level 3's stop are the
    // runtime's doing.
    let found = blocked("eve", &r);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].level, 1);
    assert_eq!(found[0].checks.len(), crate::levels::checks(1).len());
    // Rootless on an old kernel: level 7's checks skipped, one line for the level.
    let old = report(
        "level7",
        &[(6, Pass), (7, Pass)],
        &crate::levels::checks(7)
            .iter()
            .map(|c| (c.id, Skip, overlay))
            .collect::<Vec<_>>(),
    );
    let found = blocked("fay", &old);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].level, found[0].reason.as_str()), (7, overlay));
}

#[test]
fn the_room_reads_what_the_checker_writes() {
    let mut results: Vec<crate::suite::CheckResult> = crate::levels::checks(0)
        .iter()
        .map(|c| crate::suite::skipped(c, "why"))
        .collect();
    results[0].status = crate::suite::Status::Pass;
    results[1].status = crate::suite::Status::Fail;
    let written = crate::report::JsonReport {
        schema: 1,
        target: "level0",
        runtime: "/bin/true".into(),
        result: "fail",
        exit_code: 1,
        guide: String::new(),
        duration_ms: 1,
        rootless: true,
        host: crate::report::HostFacts::read(),
        summary: crate::report::summarize(&results),
        checks: &results,
        made_at: clock::utc(NOW),
        checked: "solution",
    };
    let read: Report = serde_json::from_str(&serde_json::to_string(&written).unwrap()).unwrap();
    assert_eq!((read.target.as_str(), read.rootless), ("level0", true));
    assert_eq!(read.checks.len(), results.len());
    assert_eq!(read.checks[1].id, results[1].id);
    assert_eq!(
        [
            read.checks[0].status,
            read.checks[1].status,
            read.checks[2].status
        ],
        [Pass, Fail, Skip]
    );
    assert_eq!(read.checks[2].reason.as_deref(), Some("why"));
    assert_eq!(read.host.kernel, written.host.kernel);
    assert_eq!(read.made_at.as_deref(), Some("2026-12-05T13:26:16Z"));
    assert_eq!(read.checked.as_deref(), Some("solution"));
}

#[test]
fn a_file_that_is_not_a_report_is_listed_as_unreadable() {
    crate::report::set_colour(false);
    let dir = tempfile::tempdir().unwrap();
    let good = report("level0", &up_to(0, Pass), &[]);
    let as_json = |r: &Report| {
        serde_json::json!({
            "schema": r.schema, "target": r.target, "host": r.host,
            "checks": r.checks.iter().map(|c| serde_json::json!({
                "id": c.id, "level": c.level, "title": c.title, "status": "pass",
            })).collect::<Vec<_>>(),
        })
    };
    let mut later = as_json(&good);
    later["schema"] = 2.into();
    for (file, text) in [
        ("ann.json", as_json(&good).to_string()),
        ("broken.json", "{\"schema\": 1, \"tar".to_string()),
        ("empty.json", String::new()),
        ("other.json", "{\"name\": \"not a report\"}".to_string()),
        ("future.json", later.to_string()),
        ("notes.txt", "not a .json: ignored".to_string()),
    ] {
        std::fs::write(dir.path().join(file), text).unwrap();
    }
    std::fs::create_dir(dir.path().join("dir.json")).unwrap();
    let room = Room::read(dir.path(), NOW).unwrap();
    let names: Vec<&str> = room.attendees.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["ann"]);
    let unreadable: Vec<&str> = room.unreadable.iter().map(|u| u.file.as_str()).collect();
    assert_eq!(
        unreadable,
        [
            "broken.json",
            "dir.json",
            "empty.json",
            "future.json",
            "other.json"
        ]
    );
    assert!(
        room.unreadable[4].reason.contains("missing field `schema`"),
        "{:?}",
        room.unreadable[4]
    );
    assert!(room.unreadable[3].reason.contains("schema 2"));
    let table = table::render(&room);
    assert!(
        table.contains("  other.json: not a report of `checker --format json`"),
        "{table}"
    );
    // No such directory: bad input, exit 2.
    let err = Room::read(&dir.path().join("nowhere"), NOW).unwrap_err();
    assert_eq!(crate::exit::of_error(&err), crate::exit::USAGE);
}

#[test]
fn every_line_of_the_table_fits_100_columns() {
    crate::report::set_colour(false);
    let long = "an-attendee-with-a-very-long-name-indeed";
    let mut r = report("level1", &up_to(1, Pass), &[("L1.chroot.cwd", Fail, "")]);
    r.host.kernel = "6.18.44-a-kernel-with-a-release-string-longer-than-anyone-would-guess".into();
    r.rootless = true;
    for check in r.checks.iter_mut().filter(|c| c.level == 0).take(1) {
        check.status = Error;
        check.reason = Some(format!(
            "the checker could not run this check: {}",
            "why ".repeat(60)
        ));
    }
    let room = Room::of(&[(long.to_string(), r)], NOW);
    let table = table::render(&room);
    for line in table.lines() {
        assert!(
            line.chars().count() <= 100,
            "{} columns: {line}",
            line.chars().count()
        );
    }
    assert!(table.contains("an-attendee-wit…"), "{table}");
}

#[test]
fn an_empty_room_says_how_attendees_make_their_report() {
    crate::report::set_colour(false);
    let dir = tempfile::tempdir().unwrap();
    let room = Room::read(dir.path(), NOW).unwrap();
    let table = table::render(&room);
    assert!(table.starts_with("The room: 0 reports from "), "{table}");
    assert!(
        table.contains(
            "no reports yet: each attendee runs `checker levelN --format json > $(hostname).json`"
        ),
        "{table}"
    );
}

/// `r`'s checks of `level`, failed as a runtime that gave up before running the command fails
/// them: every one with the same cause.
fn gave_up_at(r: &mut Report, level: u32, cause: &str) {
    for check in r.checks.iter_mut().filter(|c| c.level == level) {
        check.status = Fail;
        check.cause = Some(cause.into());
        check.hint = Some(crate::suite::SETUP_FAILED_HINT.into());
    }
}

const SKELETON: &str =
    "your runtime gave up before running the command (exit status 125), saying: \
     \"level0: no command runs yet: write the TODOs in levels/00-fork-exec/src/main.rs\"";

#[test]
fn untouched_skeletons_are_one_line_and_a_cause_that_fails_a_level_is_one_row() {
    crate::report::set_colour(false);
    let mut reports = Vec::new();
    for name in ["ann", "bo", "cy"] {
        let mut r = report("level0", &up_to(0, Pass), &[]);
        gave_up_at(&mut r, 0, SKELETON);
        // The input checks pass even on the skeleton.
        for c in r.checks.iter_mut().filter(|c| c.id.starts_with("L0.input")) {
            c.status = Pass;
        }
        reports.push((name.to_string(), r));
    }
    // The real bug of the room, at level 8, in two reports.
    for name in ["dan", "eli"] {
        let r = report(
            "level8",
            &up_to(8, Pass),
            &[("L8.cpu-cgroup.quota", Fail, "")],
        );
        reports.push((name.to_string(), r));
    }
    // One runtime that gave up at level 8 for one reason: every check of the level fails.
    let mut fay = report("level8", &up_to(8, Pass), &[]);
    gave_up_at(
        &mut fay,
        8,
        "your runtime gave up before running the command (exit status \
        125), saying: \"level8: mkdir /sys/fs/cgroup/cpu/rubber-crab: EACCES\"",
    );
    reports.push(("fay".to_string(), fay));

    let room = Room::of(&reports, NOW);
    let rows: Vec<(&str, usize, usize, usize)> = room
        .failing
        .iter()
        .map(|f| (f.id.as_str(), f.checks.len(), f.failed, f.decided))
        .collect();
    let level8 = crate::levels::checks(8);
    assert_eq!(
        rows,
        [
            ("L8.cpu-cgroup.quota", 1, 2, 2),
            (level8[0].id, level8.len(), 1, 3),
        ]
    );
    assert_eq!(room.not_started.len(), 1);
    assert_eq!(
        (
            room.not_started[0].level,
            &room.not_started[0].attendees[..]
        ),
        (0, &["ann".to_string(), "bo".into(), "cy".into()][..])
    );
    let table = table::render(&room);
    assert!(
        table.contains("Not started level 0 (its skeleton runs no command yet): ann, bo, cy"),
        "{table}"
    );
    assert!(
        table.contains(&format!("{} +{}", level8[0].id, level8.len() - 1)),
        "{table}"
    );
    assert!(table.contains("gave up: \"level8: mkdir"), "{table}");
}

#[test]
fn a_report_shows_its_age_and_an_old_one_is_marked_stale() {
    crate::report::set_colour(false);
    let mut fresh = report("level1", &up_to(1, Pass), &[]);
    fresh.made_at = Some(clock::utc(NOW - 12 * 60 - 30));
    let mut old = report("level2", &up_to(2, Pass), &[]);
    old.made_at = Some(clock::utc(NOW - 2 * 3600 - 5 * 60));
    let mut unknown = report("level0", &up_to(0, Pass), &[]);
    unknown.made_at = None;
    let room = Room::of(
        &[
            ("ann".into(), fresh),
            ("bo".into(), old),
            ("cy".into(), unknown),
        ],
        NOW,
    );
    let ages: Vec<(Option<&str>, bool)> = room
        .attendees
        .iter()
        .map(|a| (a.age.as_deref(), a.stale))
        .collect();
    assert_eq!(
        ages,
        [
            (Some("12 min ago"), false),
            (Some("2 h ago"), true),
            (None, false)
        ]
    );
    let table = table::render(&room);
    assert!(table.contains("12 min ago  "), "{table}");
    assert!(table.contains("2 h ago (stale)"), "{table}");
    assert!(
        table.contains("(stale: no report for over 30 min)"),
        "{table}"
    );
}

#[test]
fn a_solution_run_is_a_check_of_the_machine_not_an_attendee() {
    crate::report::set_colour(false);
    let mut host = report("level10", &up_to(10, Pass), &[]);
    host.checked = Some("solution".into());
    let mut runtime = report(
        "level3",
        &up_to(3, Pass),
        &[("L3.pivot-root.no-escape", Fail, "")],
    );
    runtime.checked = Some("runtime".into());
    let room = Room::of(&[("teacher".into(), host), ("gil".into(), runtime)], NOW);
    let names: Vec<&str> = room.attendees.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["gil"]);
    assert_eq!(room.host_checks.len(), 1);
    assert_eq!(room.host_checks[0].name, "teacher");
    let table = table::render(&room);
    assert!(
        table.contains("teacher  solution to level 10: every check passed (5 min ago)"),
        "{table}"
    );
    assert!(!table.contains("every level passed"), "{table}");
}

#[test]
fn level_10_keeps_the_columns_aligned() {
    crate::report::set_colour(false);
    let room = Room::of(
        &[
            (
                "ann".into(),
                report(
                    "level10",
                    &up_to(10, Pass),
                    &[("L10.pids-cgroup.fork-bomb", Fail, "")],
                ),
            ),
            ("bo".into(), report("level2", &up_to(2, Pass), &[])),
        ],
        NOW,
    );
    let table = table::render(&room);
    let column =
        |text: &str| -> Vec<usize> { table.lines().filter_map(|line| line.find(text)).collect() };
    // "working on" starts where every row's level worked on starts.
    let header = column("working on")[0];
    let rows: Vec<usize> = table
        .lines()
        .filter(|l| l.starts_with("  ann ") || l.starts_with("  bo "))
        .map(|l| l.find("10-pids").or(l.find("03-pivot")).unwrap_or(0))
        .collect();
    // ann passed level 9, works on level 10; bo works on level 3.
    assert_eq!(rows, [header, header], "{table}");
}

#[test]
fn a_doctors_report_says_whether_the_machine_is_ready() {
    crate::report::set_colour(false);
    let dir = tempfile::tempdir().unwrap();
    let host = serde_json::json!({"kernel": "6.1.0-18-amd64", "arch": "x86_64", "cgroups": "v2",
        "cage": "memory 512 MiB, 512 processes, per run"});
    let doctor = |ready: bool| {
        serde_json::json!({
            "schema": 1, "result": if ready { "ready" } else { "not ready" },
            "exit_code": if ready { 0 } else { 3 }, "host": host,
            "levels": [
                {"level": 8, "dir": "08-cpu-cgroup", "title": "t", "runs": true, "rootless": false, "why": null},
                {"level": 9, "dir": "09-memory-cgroup", "title": "t", "runs": ready, "rootless": false,
                 "why": if ready { serde_json::Value::Null } else { "the memory controller: boot with cgroup_enable=memory".into() }},
            ],
        })
        .to_string()
    };
    std::fs::write(dir.path().join("ann.doctor.json"), doctor(true)).unwrap();
    std::fs::write(dir.path().join("bo.doctor.json"), doctor(false)).unwrap();
    std::fs::write(dir.path().join("cy.doctor.json"), "").unwrap();
    let room = Room::read(dir.path(), NOW).unwrap();
    assert!(room.attendees.is_empty());
    let ready: Vec<(&str, bool)> = room
        .machines
        .iter()
        .map(|m| (m.name.as_str(), m.ready))
        .collect();
    assert_eq!(ready, [("ann", true), ("bo", false)]);
    let table = table::render(&room);
    assert!(
        table.contains("ann  doctor: ready, every level can run here"),
        "{table}"
    );
    assert!(
        table.contains("bo   doctor: not ready: level 9: the memory controller: boot with"),
        "{table}"
    );
    assert_eq!(room.unreadable[0].file, "cy.doctor.json");
    assert!(room.unreadable[0]
        .reason
        .contains("checker doctor --format json"));
}

#[test]
fn the_server_stores_a_report_sent_to_it_and_refuses_what_is_not_one() {
    let dir = tempfile::tempdir().unwrap();
    let post = |path: &str, body: &str| {
        serve::answer(
            &serve::Request {
                method: "POST".into(),
                path: path.into(),
                body: body.as_bytes().to_vec(),
            },
            dir.path(),
            NOW,
        )
    };
    let r = report("level0", &up_to(0, Pass), &[]);
    let json = serde_json::json!({
        "schema": 1, "target": "level0", "host": r.host, "made_at": clock::utc(NOW - 60),
        "checked": "own",
        "checks": r.checks.iter().map(|c| serde_json::json!({
            "id": c.id, "level": c.level, "title": c.title, "status": "pass",
        })).collect::<Vec<_>>(),
    })
    .to_string();
    assert_eq!(post("/ann.json", &json).0, 200);
    assert!(dir.path().join("ann.json").exists());
    // An empty report (a run that printed nothing): nothing stored.
    let (status, _, body) = post("/bo.json", "");
    assert_eq!(status, 400, "{body}");
    assert!(!dir.path().join("bo.json").exists());
    for bad in [
        "/../etc.json",
        "/a/b.json",
        "/.hidden.json",
        "/ann.txt",
        "/.json",
    ] {
        assert_eq!(post(bad, &json).0, 400, "{bad}");
    }
    let (status, kind, page) = serve::answer(
        &serve::Request {
            method: "GET".into(),
            path: "/".into(),
            body: Vec::new(),
        },
        dir.path(),
        NOW,
    );
    assert_eq!((status, kind), (200, "text/html; charset=utf-8"));
    assert!(
        page.contains("<meta http-equiv=\"refresh\" content=\"10\">"),
        "{page}"
    );
    assert!(page.contains("  ann "), "{page}");
    assert!(page.contains("1 min ago"), "{page}");
}
