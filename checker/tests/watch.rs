//! `checker watch`: without a terminal there is nothing to watch for, so it runs the checks once,
//! exits with their code and says why on stderr. On a terminal (a pseudo-terminal the test
//! holds) it takes keys, stops on Ctrl-Z and gives the terminal back as it found it, on q, Ctrl-C
//! and SIGTERM alike. (Reacting to file changes is unit-tested in `checker::watch`: a test here
//! would have to edit a level.)

mod common;
use common::*;
use nix::sys::signal::Signal;

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
    if !user_namespaces_or_skip("watch_passes_rootless_on_to_the_checks") {
        return;
    }
    let watched = checker(&["watch", "level0", "--rootless"]);
    assert!(
        stdout(&watched).contains("rubber-crab checker: level0 (rootless:"),
        "the checks ran with --rootless:\n{}",
        stdout(&watched)
    );
}

fn process_state(pid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // `pid (comm) S ...`: the state follows the last parenthesis.
    stat[stat.rfind(')').unwrap() + 2..].chars().next().unwrap()
}

fn wait_for_state(pid: u32, state: char) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while process_state(pid) != state {
        assert!(
            std::time::Instant::now() < deadline,
            "{pid} never reached state {state}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn watch_on_a_terminal_takes_keys_stops_on_ctrl_z_and_gives_the_terminal_back() {
    if !root_or_skip("watch_on_a_terminal_takes_keys_stops_on_ctrl_z_and_gives_the_terminal_back") {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let mut terminal = Terminal::open();
    assert!(terminal.reads_lines());
    let mut watch = watching(&mut terminal, home.path());

    terminal.press(b"h");
    terminal.expect("Hint 1 of 3, level 0", 10);
    terminal.press(b"r");
    terminal.expect("rubber-crab checker: level0", 10);
    terminal.expect("waiting for changes", 60);

    // Ctrl-Z: stopped, with the terminal as the shell wants it; `fg` (SIGCONT): keys again.
    terminal.press(b"\x1a");
    wait_for_state(watch.id(), 'T');
    assert!(
        terminal.reads_lines(),
        "the shell gets a normal terminal on Ctrl-Z"
    );
    send(&watch, Signal::SIGCONT);
    wait_for_state(watch.id(), 'S');
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(!terminal.reads_lines(), "single keys again after fg");
    terminal.press(b"h");
    terminal.expect("Hint 2 of 3, level 0", 10);

    terminal.press(b"q");
    let status = watch.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(1),
        "the last run's code: the skeleton fails"
    );
    assert!(
        terminal.reads_lines(),
        "q gives the terminal back as it was"
    );
}

/// `checker watch level0` on `terminal`, once its first run is over and it waits for changes.
fn watching(terminal: &mut Terminal, home: &std::path::Path) -> std::process::Child {
    let watch = terminal
        .checker(&["watch", "level0"])
        .env("RUBBER_CRAB_HOME", home)
        .spawn()
        .unwrap();
    terminal.expect("\x1b[2J", 60);
    terminal.expect("waiting for changes to levels/00-fork-exec/", 120);
    assert!(
        !terminal.reads_lines(),
        "single keys, no echo, while watching"
    );
    watch
}

fn send(watch: &std::process::Child, signal: Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(watch.id() as i32), signal).unwrap();
}

#[test]
fn watch_gives_the_terminal_back_on_ctrl_c_and_on_sigterm() {
    if !root_or_skip("watch_gives_the_terminal_back_on_ctrl_c_and_on_sigterm") {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let mut terminal = Terminal::open();
    let mut watch = watching(&mut terminal, home.path());
    terminal.press(b"\x03");
    let status = watch.wait().unwrap();
    assert_eq!(status.code(), Some(130), "128 + SIGINT");
    assert!(terminal.reads_lines(), "Ctrl-C gives the terminal back");

    let mut watch = watching(&mut terminal, home.path());
    send(&watch, Signal::SIGTERM);
    let status = watch.wait().unwrap();
    assert_eq!(status.code(), Some(143), "128 + SIGTERM");
    assert!(terminal.reads_lines(), "SIGTERM gives the terminal back");
}
