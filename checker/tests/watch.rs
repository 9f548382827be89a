//! `checker watch`: without a terminal there is nothing to watch for, so it runs the checks once,
//! exits with their code and says why on stderr. (The interactive loop needs a terminal; its
//! parts are unit-tested in `checker::watch`.)

mod common;
use common::*;

#[test]
fn watch_without_a_terminal_runs_the_checks_once_and_says_why() {
    if !root_or_skip("watch_without_a_terminal_runs_the_checks_once_and_says_why") {
        return;
    }
    // `checker()` pipes stdout: not a terminal.
    let watched = checker(&["watch", "level0"]);
    let err = String::from_utf8_lossy(&watched.stderr);
    assert!(
        err.contains("stdout is not a terminal, so this ran the checks once instead of watching"),
        "{err}"
    );
    assert!(
        stdout(&watched).contains("rubber-crab checker: level0"),
        "the checks of level 0 ran:\n{}",
        stdout(&watched)
    );
    assert!(
        !stdout(&watched).contains("\x1b[2J"),
        "no screen clearing without a terminal"
    );
    let checked = checker(&["level0"]);
    assert_eq!(
        watched.status.code(),
        checked.status.code(),
        "watch exits with the checker's own code\n{err}"
    );
}

#[test]
fn watch_passes_rootless_on_to_the_checks() {
    if !root_or_skip("watch_passes_rootless_on_to_the_checks") {
        return;
    }
    if let Err(why) = checker::sandbox::user_namespaces_allowed() {
        eprintln!("skipped: no user namespaces here ({why})");
        return;
    }
    let watched = checker(&["watch", "level0", "--rootless"]);
    assert!(
        stdout(&watched).contains("rubber-crab checker: level0 (rootless:"),
        "the checks ran with --rootless:\n{}",
        stdout(&watched)
    );
}
