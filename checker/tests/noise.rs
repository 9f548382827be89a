//! A fair checker on a busy host: while someone else mounts, adds links and runs containers of
//! its own in `rubber-crab/<its id>` groups, and in the cage of another live checker
//! (`rubber-crab-checker/<its pid>-<nonce>/containers/<id>`; see common::Noise), correct runtimes
//! still pass, and the checker never touches what is not its run's: a foreign group is neither
//! blamed nor removed, its process never killed.

mod common;
use common::*;

/// `checker all --solution` runs, two at a time: a second checker beside the first is part of
/// the noise.
const RUNS: usize = 10;

/// This test is about who changed the host, not about speed: with the noise, two checkers and
/// the other tests, the default 10 s per run was seen to run out for correct runtimes when the
/// load average passed 100 (every failure of such a run was that timeout).
const TIMEOUT: &str = "30";

#[test]
fn correct_runtimes_pass_while_others_change_the_host() {
    let test = "correct_runtimes_pass_while_others_change_the_host";
    if !root_or_skip(test) || !in_a_namespace_of_its_own(test) {
        return;
    }
    // Build once, before the noise: the runs below share the builds.
    let warm = checker(&["level0", "--solution", "--format", "json"]);
    assert_eq!(warm.status.code(), Some(0), "{}", stdout(&warm));
    let noise = Noise::start();
    let mut failures = Vec::new();
    let mut notes = 0;
    for pair in 0..RUNS / 2 {
        let runs: Vec<_> = (0..2)
            .map(|_| {
                std::thread::spawn(|| {
                    checker(&[
                        "all",
                        "--solution",
                        "--format",
                        "json",
                        "--timeout",
                        TIMEOUT,
                    ])
                })
            })
            .collect();
        for (n, run) in runs.into_iter().enumerate() {
            let out = run.join().unwrap();
            let json = stdout(&out);
            notes += json.matches("\"note\"").count();
            let failed: Vec<(String, String)> = statuses(&json)
                .into_iter()
                .filter(|(_, status)| status != "pass")
                .collect();
            if out.status.code() != Some(0) || !failed.is_empty() {
                failures.push(format!("run {}: {failed:?}\n{json}", 2 * pair + n));
            }
        }
    }
    let log = noise.stop();
    eprintln!(
        "noise: {} rounds, {} foreign processes, {} links deleted by someone else; {notes} notes in the reports",
        log.rounds, log.processes, log.links_gone
    );
    assert!(log.rounds > RUNS, "the noise maker hardly ran: {log:?}");
    assert!(
        notes > 0,
        "no report noted the noise: it never overlapped a check"
    );
    assert!(log.problems.is_empty(), "{}", log.problems.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Two checkers of the same checkout at once, one in a PID namespace of its own (as a checker in
/// a container would be): neither takes the other's run dir or cage for a dead checker's, and
/// both pass. Before run dirs and cages were owned by a lock, the one outside swept the other's
/// `run-1` (no pid 1 of its own was that checker), and the other's level-4 run lost its image.
#[test]
fn two_checkers_in_different_pid_namespaces_both_pass() {
    let test = "two_checkers_in_different_pid_namespaces_both_pass";
    if !root_or_skip(test) {
        return;
    }
    if std::process::Command::new("unshare")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped {test}: no unshare(1) here (util-linux)");
        return;
    }
    let checker_bin = assert_cmd::cargo::cargo_bin("checker");
    // Build once first: two cargo builds of the same solution would wait on each other anyway.
    let warm = checker(&["level4", "--solution", "--format", "json"]);
    assert_eq!(warm.status.code(), Some(0), "{}", stdout(&warm));
    let before = host();
    let args = [
        "level4",
        "--solution",
        "--format",
        "json",
        "--timeout",
        TIMEOUT,
    ];
    let start = |unshared: bool| {
        let mut command = match unshared {
            true => {
                let mut c = std::process::Command::new("unshare");
                c.args(["--pid", "--fork", "--mount-proc"])
                    .arg(&checker_bin);
                c
            }
            false => std::process::Command::new(&checker_bin),
        };
        command
            .args(args)
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Both started before either is waited for.
    let (inside, outside) = (start(true), start(false));
    for (name, child) in [
        ("in a PID namespace of its own", inside),
        ("on the host", outside),
    ] {
        let out = child.wait_with_output().unwrap();
        let failed: Vec<(String, String)> = statuses(&stdout(&out))
            .into_iter()
            .filter(|(_, status)| status != "pass")
            .collect();
        assert!(
            out.status.code() == Some(0) && failed.is_empty(),
            "the checker {name} exited {:?}, failed {failed:?}\n{}\n{}",
            out.status.code(),
            stdout(&out),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(host(), before, "the two checkers changed the host");
}
