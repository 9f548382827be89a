//! `checker room DIR` on a room of real reports: each attendee's is a `--format json` run of the
//! checker made here (the reference solutions, and broken runtimes that fail some checks); the
//! machine that cannot run a level is a real rootless run, edited into what the same run on
//! Linux 5.10 reports (there, overlayfs cannot be mounted in a user namespace).

mod common;
use common::*;
use std::path::Path;

/// What the room's attendees ran: (name, level, runtime: None for the solution, or a broken
/// runtime's fault).
const ATTENDEES: &[(&str, u32, Option<&str>)] = &[
    ("alice", 3, None),
    // A level-2 runtime at level 3: chroot, not pivot_root.
    ("bob", 3, Some("chroot-not-pivot")),
    ("carol", 3, Some("keep-old-root")),
    ("erin", 3, Some("keep-old-dir")),
    ("finn", 1, Some("no-chdir")),
];

/// The kernel the edited report says it ran on.
const OLD_KERNEL: &str = "5.10.0-28-amd64";

/// The time the room is read at (`--now`): every report was made 3 minutes before it, except
/// the stale one's, two hours before.
const NOW: &str = "2026-12-05T13:26:16Z";
const MADE: &str = "2026-12-05T13:23:16Z";
const STALE: &str = "2026-12-05T11:20:00Z";

/// Runs the checker as `args` and keeps its JSON report as `dir/name.json`, made at [`MADE`].
fn report(dir: &Path, name: &str, args: &[&str]) -> serde_json::Value {
    let mut args = args.to_vec();
    args.extend(["--format", "json"]);
    let out = checker(&args);
    let mut report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {}", stdout(&out)));
    assert!(
        checker::room::clock::parse_utc(report["made_at"].as_str().unwrap()).is_some(),
        "{}",
        report["made_at"]
    );
    report["made_at"] = MADE.into();
    if args.contains(&"--solution") && name != "teacher" {
        // The reference stands in for an attendee's own finished crate.
        assert_eq!(report["checked"], "solution");
        report["checked"] = "own".into();
    }
    std::fs::write(dir.join(format!("{name}.json")), report.to_string()).unwrap();
    report
}

/// Dave checked level 7 rootless; on Linux 5.10 its checks are skipped, as `rootless.rs` says.
fn on_linux_5_10(mut report: serde_json::Value) -> serde_json::Value {
    report["host"]["kernel"] = OLD_KERNEL.into();
    for check in report["checks"].as_array_mut().unwrap() {
        if check["level"] == 7 {
            check["status"] = "skip".into();
            check["reason"] = format!(
                "overlayfs cannot be mounted in a user namespace before Linux 5.11 (this is \
                 {OLD_KERNEL}); check level7 as root"
            )
            .into();
        }
    }
    report
}

/// The room's dir and what is the machine's: its kernel and cgroup layout.
fn normalised(text: &str, room: &Path) -> String {
    let kernel = nix::sys::utsname::uname()
        .unwrap()
        .release()
        .to_string_lossy()
        .into_owned();
    let cgroups = checker::cgroups::host_layout().kind();
    text.replace(&room.display().to_string(), "[ROOM]")
        .replace(&kernel, "[KERNEL]")
        .replace(&format!("cgroups {cgroups}"), "cgroups [LAYOUT]")
}

#[test]
fn the_room_shows_who_is_where_what_most_fail_and_which_machine_cannot_run_a_level() {
    if !root_or_skip("the_room_shows_who_is_where")
        || !user_namespaces_or_skip("the_room_shows_who_is_where")
    {
        return;
    }
    let room = tempfile::tempdir().unwrap();
    let runtimes = tempfile::tempdir().unwrap();
    for &(name, level, fault) in ATTENDEES {
        let level = format!("level{level}");
        match fault {
            None => report(room.path(), name, &[&level, "--solution"]),
            Some(fault) => {
                let runtime = broken(fault, runtimes.path());
                report(
                    room.path(),
                    name,
                    &[&level, "--runtime", runtime.to_str().unwrap()],
                )
            }
        };
    }
    let dave = report(room.path(), "dave", &["level7", "--solution", "--rootless"]);
    std::fs::write(
        room.path().join("dave.json"),
        on_linux_5_10(dave).to_string(),
    )
    .unwrap();
    // Finn has not checked again for two hours.
    let finn = room.path().join("finn.json");
    let mut stale: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&finn).unwrap()).unwrap();
    stale["made_at"] = STALE.into();
    std::fs::write(&finn, stale.to_string()).unwrap();
    // The instructor's own check of the machine (the checklist's host report), and an untouched
    // level-0 skeleton.
    let host = report(room.path(), "teacher", &["level1", "--solution"]);
    assert_eq!(host["checked"], "solution");
    let skeleton = report(room.path(), "hana", &["level0"]);
    assert_eq!(skeleton["checked"], "own");
    // The teacher's machine, as `checker doctor` sees it: ready or not depends on the machine.
    let doctor = checker(&["doctor", "--format", "json"]);
    let diagnosis: serde_json::Value = serde_json::from_slice(&doctor.stdout).unwrap();
    std::fs::write(room.path().join("teacher.doctor.json"), stdout(&doctor)).unwrap();
    // An attendee who forgot `--format json`.
    std::fs::write(
        room.path().join("gus.json"),
        "rubber-crab checker: level2\n\nLevel 0 — fork, exec and wait\n",
    )
    .unwrap();

    let out = checker(&["room", room.path().to_str().unwrap(), "--now", NOW]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    for line in stdout(&out).lines() {
        assert!(
            line.chars().count() <= 100,
            "wider than 100 columns: {line}"
        );
    }
    // The doctor's line, and its wrapped rest (indented deeper), as one placeholder.
    let mut text: Vec<String> = Vec::new();
    let mut in_doctor = false;
    for line in stdout(&out).lines() {
        if in_doctor && line.starts_with("     ") {
            continue;
        }
        in_doctor = line.contains("  doctor: ");
        text.push(match line.split_once("  doctor: ") {
            Some((name, _)) => format!("{name}  doctor: [READINESS]"),
            None => line.to_string(),
        });
    }
    insta::assert_snapshot!("room", normalised(&text.join("\n"), room.path()));

    let out = checker(&[
        "room",
        room.path().to_str().unwrap(),
        "--format",
        "json",
        "--now",
        NOW,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let where_: Vec<String> = doc["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| format!("{} {} {}", a["name"], a["passed"], a["working_on"]))
        .collect();
    assert_eq!(
        where_,
        [
            "\"alice\" 3 4",
            "\"bob\" 2 3",
            "\"carol\" 2 3",
            "\"dave\" 6 7",
            "\"erin\" 2 3",
            "\"finn\" 0 1",
            "\"hana\" null 0",
        ]
    );
    let ages: Vec<String> = doc["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| format!("{} {}", a["age"], a["stale"]))
        .collect();
    assert_eq!(ages[5], "\"2 h ago\" true");
    assert_eq!(ages[0], "\"3 min ago\" false");
    assert_eq!(doc["host_checks"][0]["name"], "teacher");
    assert_eq!(doc["machines"][0]["name"], "teacher");
    assert_eq!(
        doc["machines"][0]["ready"],
        diagnosis["result"] == "ready",
        "{diagnosis}"
    );
    assert_eq!(
        doc["not_started"][0]["attendees"],
        serde_json::json!(["hana"])
    );
    let top = &doc["failing"][0];
    assert_eq!(top["id"], "L3.pivot-root.old-root-removed");
    assert_eq!(
        (top["failed"].as_u64(), top["decided"].as_u64()),
        (Some(2), Some(5))
    );
    assert_eq!(top["attendees"], serde_json::json!(["carol", "erin"]));
    let blocked = doc["blocked"].as_array().unwrap();
    assert_eq!(blocked.len(), 1, "{blocked:?}");
    assert_eq!(
        (&blocked[0]["attendee"], &blocked[0]["level"]),
        (&"dave".into(), &7.into())
    );
    assert!(
        blocked[0]["reason"].as_str().unwrap().contains(OLD_KERNEL),
        "{blocked:?}"
    );
    assert_eq!(
        blocked[0]["checks"].as_array().unwrap().len(),
        checker::levels::checks(7).len()
    );
    assert_eq!(doc["unreadable"][0]["file"], "gus.json");
}

/// `checker room DIR --serve`'s server, over loopback: a report POSTed is stored, and the page
/// for the projector shows it and reloads itself. The server answers four requests and stops.
#[test]
fn the_room_served_over_loopback_stores_reports_and_shows_the_page() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let served = dir.path().to_path_buf();
    let now = checker::room::clock::parse_utc(NOW);
    let server =
        std::thread::spawn(move || checker::room::serve::serve(&listener, &served, now, Some(4)));
    let request = |text: String| {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream.write_all(text.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    };
    let report = serde_json::json!({
        "schema": 1, "target": "level0", "made_at": MADE, "checked": "own",
        "host": {"kernel": "6.1.0-18-amd64", "arch": "x86_64", "cgroups": "v2", "cage": "none"},
        "checks": [{"id": "L0.fork-exec.output", "level": 0, "title": "t", "status": "fail"}],
    })
    .to_string();
    let post = |name: &str, body: &str| {
        request(format!(
            "POST /{name} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        ))
    };
    let stored = post("ivy.json", &report);
    assert!(stored.starts_with("HTTP/1.1 200 OK\r\n"), "{stored}");
    // curl asks first before sending a large body: told to go on at once.
    let asked = request(format!(
        "PUT /kim.json HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n{report}",
        report.len()
    ));
    assert!(
        asked.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"),
        "{asked}"
    );
    // What `checker … | curl` sends when the checker printed nothing: refused, not stored.
    let empty = post("jo.json", "");
    assert!(empty.starts_with("HTTP/1.1 400 "), "{empty}");
    assert!(!dir.path().join("jo.json").exists());
    let page = request(format!("GET / HTTP/1.1\r\nHost: {address}\r\n\r\n"));
    server.join().unwrap().unwrap();
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("Content-Type: text/html"), "{page}");
    assert!(
        page.contains("<meta http-equiv=\"refresh\" content=\"10\">"),
        "{page}"
    );
    assert!(page.contains("The room: 2 reports from "), "{page}");
    assert!(page.contains("  ivy "), "{page}");
    assert!(page.contains("3 min ago"), "{page}");
    assert!(page.contains("L0.fork-exec.output"), "{page}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ivy.json")).unwrap(),
        report
    );
}
