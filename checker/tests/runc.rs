//! A production runtime is part of the proof: runc (Debian's package) behind a small contract
//! wrapper (`checker/tests/runc-wrapper`), with its image extracted where the wrapper likes and
//! runc's default capabilities (no CAP_SYS_ADMIN, no CAP_SYS_CHROOT), its cgroups at
//! `/<cgroup-parent>/<id>` with the limits as `linux.resources`, passes every check of levels 0
//! to 10. A check that fails it has to show that runc is wrong.

mod common;
use common::*;

/// What the wrapper needs besides bash and coreutils; `.ci/run` installs the packages.
const TOOLS: &[&str] = &["runc", "jq", "unshare", "flock", "tar"];

#[test]
fn runc_behind_the_contract_passes_levels_0_to_10() {
    if !root_or_skip("runc_behind_the_contract_passes_levels_0_to_10") {
        return;
    }
    let missing: Vec<&str> = TOOLS
        .iter()
        .copied()
        .filter(|tool| {
            !std::process::Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "skipped runc_behind_the_contract_passes_levels_0_to_10: {} not installed (apt-get install runc jq)",
            missing.join(", ")
        );
        return;
    }
    let wrapper = workspace_root().join("checker/tests/runc-wrapper");
    let out = checker(&[
        "level10",
        "--keep-going",
        "--runtime",
        wrapper.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let report = stdout(&out);
    let all = statuses(&report);
    let not_passed: Vec<String> = all
        .iter()
        .filter(|(_, status)| status != "pass")
        .map(|(id, status)| format!("{id}: {status}"))
        .collect();
    assert!(
        not_passed.is_empty(),
        "runc did not pass: {not_passed:?}\n{report}"
    );
    let every_check: usize = (0..=10).map(|l| checker::levels::checks(l).len()).sum();
    assert_eq!(all.len(), every_check, "every check of levels 0-10 ran");
    assert_eq!(out.status.code(), Some(0));
}
