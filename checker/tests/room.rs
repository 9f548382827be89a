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

/// Runs the checker as `args` and keeps its JSON report as `dir/name.json`.
fn report(dir: &Path, name: &str, args: &[&str]) -> serde_json::Value {
    let mut args = args.to_vec();
    args.extend(["--format", "json"]);
    let out = checker(&args);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {}", stdout(&out)));
    std::fs::write(dir.join(format!("{name}.json")), stdout(&out)).unwrap();
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
    // An attendee who forgot `--format json`.
    std::fs::write(
        room.path().join("gus.json"),
        "rubber-crab checker: level2\n\nLevel 0 — fork, exec and wait\n",
    )
    .unwrap();

    let out = checker(&["room", room.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    for line in stdout(&out).lines() {
        assert!(
            line.chars().count() <= 100,
            "wider than 100 columns: {line}"
        );
    }
    insta::assert_snapshot!("room", normalised(&stdout(&out), room.path()));

    let out = checker(&["room", room.path().to_str().unwrap(), "--format", "json"]);
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
        ]
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
