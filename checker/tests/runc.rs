//! A production runtime is part of the proof: runc (Debian's package) behind a small contract
//! wrapper (`checker/tests/runc-wrapper`), with its image extracted where the wrapper likes and
//! Docker's default capabilities and no_new_privs, `--user` as `process.user`, its cgroups at
//! `/<cgroup-parent>/<id>` with the limits as `linux.resources`, passes every check of levels 0
//! to 13 (the veth pair its wrapper's, through ip(8) and a createRuntime hook: runc does no
//! networking). A check that fails it has to show that runc is wrong.

mod common;
use common::*;

/// What the wrapper needs besides bash and coreutils; `.ci/run` installs the packages.
const TOOLS: &[&str] = &["runc", "jq", "unshare", "flock", "tar", "ip", "nsenter"];

#[test]
fn runc_behind_the_contract_passes_levels_0_to_13() {
    if !root_or_skip("runc_behind_the_contract_passes_levels_0_to_13") {
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
            "skipped runc_behind_the_contract_passes_levels_0_to_13: {} not installed (apt-get install runc jq iproute2 util-linux)",
            missing.join(", ")
        );
        return;
    }
    let wrapper = workspace_root().join("checker/tests/runc-wrapper");
    let out = checker(&[
        "level13",
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
    let every_check: usize = kit::ladder::LADDER
        .iter()
        .map(|l| l.number)
        .map(|l| checker::levels::checks(l).len())
        .sum();
    assert_eq!(all.len(), every_check, "every check of levels 0-13 ran");
    assert_eq!(out.status.code(), Some(0));
}
