//! The reference ladder passes; every pristine skeleton fails at its own level, on the checks
//! its missing mechanism is about, and the report it gets is snapshotted.

mod common;
use common::*;

/// The top of the ladder.
const LAST: u32 = 13;

/// The one check that may skip on a busy machine, when it says so: a spinning probe that never
/// got a quarter of a CPU cannot show a quota of a quarter (see `throttled_verdict`).
const BUSY_SKIP: (&str, &str) = ("L8.cpu-cgroup.throttled", "the machine is too busy to tell");

/// Every check passed, or skipped as [`BUSY_SKIP`] allows; else what did not.
fn not_passed(json: &str) -> Vec<String> {
    let doc: serde_json::Value = serde_json::from_str(json).unwrap();
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "pass")
        .filter(|c| {
            !(c["id"] == BUSY_SKIP.0
                && c["status"] == "skip"
                && c.to_string().contains(BUSY_SKIP.1))
        })
        .map(|c| c.to_string())
        .collect()
}

/// The levels to run: all, or those in `RUBBER_CRAB_LADDER` (`RUBBER_CRAB_LADDER=13`, while
/// you work on one level: the whole ladder takes a quarter of an hour here).
fn levels() -> Vec<u32> {
    let only = std::env::var("RUBBER_CRAB_LADDER").unwrap_or_default();
    (0..=LAST)
        .filter(|n| only.is_empty() || only.split(',').any(|o| o.trim() == n.to_string()))
        .collect()
}

#[test]
fn every_solution_passes_its_level() {
    if !root_or_skip("every_solution_passes_its_level") {
        return;
    }
    for level in levels() {
        let out = checker(&[&format!("level{level}"), "--solution", "--format", "json"]);
        let failed = not_passed(&stdout(&out));
        assert!(failed.is_empty(), "solution{level}: {failed:#?}");
        assert!(
            matches!(out.status.code(), Some(0)),
            "solution{level} failed:\n{}",
            stdout(&out)
        );
    }
    if levels().len() != LAST as usize + 1 {
        return;
    }
    // `all --solution`: each solution on its own level's checks.
    let out = checker(&["all", "--solution", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let ran = statuses(&stdout(&out));
    assert_eq!(
        ran.len(),
        (0..=LAST)
            .map(|n| checker::levels::checks(n).len())
            .sum::<usize>()
    );
    let failed = not_passed(&stdout(&out));
    assert!(failed.is_empty(), "{failed:#?}");
}

/// Masks what varies between runs: paths, ids and nonces, pids, namespace inodes, random codes.
fn normalised(text: &str) -> String {
    let root = workspace_root().display().to_string();
    let filters: &[(&str, &str)] = &[
        (r"run-\d+", "run-[PID]"),
        (r"\b[0-9a-f]{12}\b", "[ID]"),
        (r"pid \d+", "pid [PID]"),
        (r":\[\d+\]", ":[INODE]"),
        (r"(exit --nonce \[ID\]) \d+", "$1 [N]"),
        (r"--exit \d+", "--exit [N]"),
        // The exit codes the checker asks for are random.
        (
            r"exit status \d+ \(the command",
            "exit status [N] (the command",
        ),
        (r"exit status \d+, after", "exit status [N], after"),
        (
            r"the runtime exits \d+ \(the command",
            "the runtime exits [N] (the command",
        ),
        // Pids, hostnames, links and filesystems are the machine's.
        (r"getpid\(\) is \d+", "getpid() is [PID]"),
        (r"kill\(\d+, 0\)", "kill([PID], 0)"),
        (r"(kill-check --nonce \[ID\]) \d+", "$1 [PID]"),
        (r"/proc lists \d[^\n]*", "/proc lists [PIDS]"),
        (r"box-[0-9a-f]{6}", "box-[RANDOM]"),
        (
            r#"observed  hostname "[^"]*""#,
            r#"observed  hostname "[HOST]""#,
        ),
        (r#"observed  \["lo"[^\n]*"#, "observed  [HOST LINKS]"),
        (r"observed  / is \w+", "observed  / is [FS]"),
        (
            r"has on this host: \[[^\]]*\]",
            "has on this host: [FRESH LINKS]",
        ),
        // The cgroups of levels 8-10: the cage is named after the checker's pid, a process's
        // host pid and a CPU measure vary.
        (r"rubber-crab-checker/\d+-", "rubber-crab-checker/[PID]-"),
        (r"host pid \d+", "host pid [PID]"),
        (r"processes \[[\d, ]*\]", "processes [PIDS]"),
        (r"lists \[[\d, ]*\]", "lists [PIDS]"),
        (r"process \d+ \(", "process [PID] ("),
        (r"/proc/\d+/cgroup", "/proc/[PID]/cgroup"),
        // v1 and v2 name the limit files, and an unlimited value, differently.
        (
            r"/(cpu|memory|pids)\.[a-z_.]+ holds [^;\n]+",
            "/[LIMIT FILE] holds [VALUE]",
        ),
        (
            r"CPU time / wall time [\d.]+ over \d+ ms; cpu.stat: nr_periods \d+, nr_throttled \d+",
            "CPU time / wall time [RATIO]",
        ),
        // Root's full capability set is as long as the kernel's list (cap_last_cap), and the
        // image's files take the umask of the machine that built it.
        (
            r"(Cap\w{3}) [0-9a-f]{16}: with CAP_SYS_ADMIN[^;\n]*",
            "$1 [ROOT'S FULL SET]",
        ),
        (r"\(uid 0 gid 0 mode \d+\)", "(uid 0 gid 0 mode [MODE])"),
        // Sizes depend on the image's flavour (busybox or the host's tools).
        (r"\d+ KiB", "[N] KiB"),
        // What others did to the host meanwhile (the last field of a check, maybe several lines).
        (r"\n      note      [^\n]*(\n {16}[^\n]*)*", ""),
        (r"\nOther software changed[^\n]*", ""),
    ];
    let mut text = busy_skip_as_pass(&text.replace(&root, "[ROOT]"));
    for (pattern, replacement) in filters {
        text = regex::Regex::new(pattern)
            .unwrap()
            .replace_all(&text, *replacement)
            .into_owned();
    }
    text
}

/// The throttled check's skip on a busy machine, shown as the pass it is on a quieter one (the
/// check and the summary's counts), so that a snapshot does not depend on the machine's load.
fn busy_skip_as_pass(text: &str) -> String {
    let skip = regex::Regex::new(&format!(
        r"  · ({}  [^\n]*)\n      skipped   [^\n]*{}[^\n]*\n",
        regex::escape(BUSY_SKIP.0),
        regex::escape(BUSY_SKIP.1)
    ))
    .unwrap();
    if !skip.is_match(text) {
        return text.to_string();
    }
    let text = skip.replace(text, "  ✓ $1\n");
    let summary = regex::Regex::new(r"(\d+) passed, (\d+) failed, (\d+) skipped").unwrap();
    summary
        .replace(&text, |c: &regex::Captures| {
            let n = |i: usize| c[i].parse::<u32>().unwrap();
            format!("{} passed, {} failed, {} skipped", n(1) + 1, n(2), n(3) - 1)
        })
        .into_owned()
}

#[test]
fn a_busy_skip_reads_as_a_pass() {
    let busy = format!(
        "  · {}  title\n      skipped   the quota was never reached (...): {}; run it again\n\n40 passed, 2 failed, 1 skipped\n",
        BUSY_SKIP.0, BUSY_SKIP.1
    );
    assert_eq!(
        busy_skip_as_pass(&busy),
        format!(
            "  ✓ {}  title\n\n41 passed, 2 failed, 0 skipped\n",
            BUSY_SKIP.0
        )
    );
    let other = "  · L0.x  title\n      skipped   not run\n\n1 passed, 0 failed, 1 skipped\n";
    assert_eq!(busy_skip_as_pass(other), other);
}

#[test]
fn every_skeleton_fails_at_its_level_and_only_there() {
    if !root_or_skip("every_skeleton_fails_at_its_level_and_only_there") {
        return;
    }
    for level in levels() {
        let out = checker(&[&format!("level{level}"), "--format", "json"]);
        assert_eq!(out.status.code(), Some(1), "level{level} should fail");
        let earlier_not_passed: Vec<String> = not_passed(&stdout(&out))
            .into_iter()
            .filter(|check| {
                let doc: serde_json::Value = serde_json::from_str(check).unwrap();
                doc["level"].as_u64().unwrap() < u64::from(level)
            })
            .collect();
        assert!(
            earlier_not_passed.is_empty(),
            "skeleton level{level} must pass the earlier levels' checks: {earlier_not_passed:#?}"
        );
        let human = checker(&[&format!("level{level}")]);
        insta::assert_snapshot!(
            format!("skeleton_level{level}"),
            normalised(&stdout(&human))
        );
    }
}
