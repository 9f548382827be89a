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
