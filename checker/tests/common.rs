//! Shared helpers for the checker's end-to-end tests: run the real checker as root against real
//! runtimes, and make sure the host is the same afterwards.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

/// The end-to-end tests create namespaces and mounts: they need root. CI runs as root and skips
/// nothing; elsewhere each test says it was skipped.
pub fn root_or_skip(test: &str) -> bool {
    let root = nix::unistd::geteuid().is_root();
    if !root {
        eprintln!("skipped {test}: needs root (run `sudo -E cargo test` or use CI)");
    }
    root
}

/// What the checker must never change on the host.
#[derive(Debug, PartialEq, Eq)]
pub struct Host {
    mounts: Vec<String>,
    hostname: String,
    links: Vec<String>,
    /// The groups under (and the parent) `rubber-crab/` in every hierarchy.
    cgroups: Vec<String>,
}

pub fn host() -> Host {
    let mut links: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    links.sort();
    // Groups that runtimes create; the checker's own cages are checked per run (see `checker`).
    let mut cgroups: Vec<String> =
        checker::cgroups::runtime_groups(&checker::cgroups::Layout::of_host())
            .into_iter()
            .map(|g| g.dir.display().to_string())
            .chain(runtime_parents())
            .collect();
    cgroups.sort();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(probe::parse_mountinfo_line)
        .map(|m| format!("{} {} {}", m.mount_point, m.fstype, m.source))
        .collect();
    let hostname = nix::unistd::gethostname()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    Host {
        mounts,
        hostname,
        links,
        cgroups,
    }
}

/// `rubber-crab/` itself, in the hierarchies that have it.
fn runtime_parents() -> Vec<String> {
    checker::cgroups::Layout::of_host()
        .hierarchies
        .iter()
        .map(|h| h.mount_point.join(checker::cgroups::RUNTIME_PARENT))
        .filter(|p| p.is_dir())
        .map(|p| p.display().to_string())
        .collect()
}

/// The checker's cages (`rubber-crab-checker/<pid>-<nonce>`) of the checker with `pid`.
fn cages_of(pid: u32) -> Vec<std::path::PathBuf> {
    checker::cgroups::Layout::of_host()
        .hierarchies
        .iter()
        .flat_map(|h| {
            std::fs::read_dir(h.mount_point.join("rubber-crab-checker"))
                .into_iter()
                .flatten()
        })
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{pid}-"))
        })
        .collect()
}

/// Runs the checker with `args`, asserting the host's mount table, hostname, links and
/// `rubber-crab/` cgroups are unchanged, and that it removed every cage it made.
pub fn checker(args: &[&str]) -> Output {
    let before = host();
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("checker"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        host(),
        before,
        "`checker {}` changed the host",
        args.join(" ")
    );
    assert_eq!(
        cages_of(pid),
        Vec::<std::path::PathBuf>::new(),
        "`checker {}` left cages",
        args.join(" ")
    );
    output
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The broken runtime started as `fault` (a symlink named after it, in a temp dir).
pub fn broken(fault: &str, dir: &Path) -> PathBuf {
    let exe = checker::prepare::build_runtime("broken").expect("building the broken runtimes");
    let link = dir.join(fault);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(exe, &link).unwrap();
    link
}

/// The statuses of each check in a JSON report, as (id, status).
pub fn statuses(json: &str) -> Vec<(String, String)> {
    let doc: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("not JSON ({e}): {json}"));
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}
