//! `checker doctor` on this machine, as root: it tries every mechanism, says every level can run
//! here, prints the documented JSON, and leaves nothing behind.

mod common;
use common::*;

/// Scratch groups named `doctor-*` in any hierarchy.
fn doctor_groups() -> Vec<String> {
    checker::cgroups::Layout::of_host()
        .hierarchies
        .iter()
        .filter_map(|h| std::fs::read_dir(h.mount_point.join("rubber-crab-checker")).ok())
        .flat_map(|entries| entries.flatten())
        .map(|e| e.path().display().to_string())
        .filter(|path| path.contains("/doctor-"))
        .collect()
}

#[test]
fn doctor_finds_every_level_runnable_here_and_says_so() {
    if !root_or_skip("doctor_finds_every_level_runnable_here_and_says_so") {
        return;
    }
    let out = checker(&["doctor"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for level in kit::ladder::LADDER {
        assert!(
            text.contains(&format!("✓ level{:<3} {}", level.number, level.title)),
            "{text}"
        );
    }
    assert!(text.contains("Every level can run here."), "{text}");
    assert!(!text.contains('\u{1b}'), "no colour without a terminal");
    assert_eq!(doctor_groups(), Vec::<String>::new());
}

#[test]
fn doctor_json_has_the_documented_fields() {
    if !root_or_skip("doctor_json_has_the_documented_fields") {
        return;
    }
    let out = checker(&["doctor", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema"], 1);
    assert_eq!(doc["result"], "ready");
    assert_eq!(doc["exit_code"], 0);
    let kernel = nix::sys::utsname::uname().unwrap();
    assert_eq!(doc["host"]["kernel"], kernel.release().to_str().unwrap());
    let layout = checker::cgroups::Layout::of_host().kind();
    assert_eq!(doc["host"]["cgroups"], layout);
    assert_eq!(doc["cgroups"]["layout"], layout);
    assert!(doc["host"]["cage"].is_string());
    let controllers = doc["cgroups"]["controllers"].as_array().unwrap();
    let names: Vec<&str> = controllers
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cpu", "memory", "pids"]);
    for c in controllers {
        for field in ["version", "hierarchy", "delegated", "ok", "detail"] {
            assert!(c.get(field).is_some(), "{field} missing: {c}");
        }
    }
    assert!(doc["cgroups"]["swap_accounting"]["ok"].is_boolean());
    assert!(doc["cgroups"].get("v2_root").is_some());
    let namespaces: Vec<&str> = doc["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        namespaces,
        [
            "mount namespace",
            "uts namespace",
            "ipc namespace",
            "pid namespace",
            "net namespace"
        ]
    );
    for probe in [
        "user_namespaces",
        "overlayfs",
        "user",
        "capabilities",
        "veth",
    ] {
        assert!(doc[probe]["ok"].is_boolean(), "{probe}: {doc}");
        assert!(doc[probe]["detail"].is_string(), "{probe}: {doc}");
    }
    let levels = doc["levels"].as_array().unwrap();
    assert_eq!(levels.len(), kit::ladder::LADDER.len());
    for (level, row) in kit::ladder::LADDER.iter().zip(levels) {
        assert_eq!(row["level"], level.number);
        assert_eq!(row["dir"], level.dir);
        assert_eq!(row["runs"], true, "{row}");
        assert!(
            row["rootless"].is_boolean() && row["why"].is_null(),
            "{row}"
        );
    }
    assert_eq!(doctor_groups(), Vec::<String>::new());
}

#[test]
fn doctor_needs_root_and_says_how() {
    if !root_or_skip("doctor_needs_root_and_says_how") {
        return;
    }
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(assert_cmd::cargo::cargo_bin("checker"))
        .arg("doctor")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("needs root") && err.contains("sudo") && err.contains(" doctor"),
        "{err}"
    );
}
