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
    probe::proc::stat(pid).expect("the watcher is alive").state
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

/// `checker watch level0` on a terminal of its own (with a home of its own, so hints count from
/// 1), once its first run is over and it waits for changes.
struct Watching {
    _home: tempfile::TempDir,
    terminal: Terminal,
    watch: std::process::Child,
}

impl Watching {
    fn start() -> Self {
        let home = tempfile::tempdir().unwrap();
        let mut terminal = Terminal::open();
        assert!(terminal.reads_lines(), "a shell's terminal to begin with");
        let watch = terminal
            .checker(&["watch", "level0"])
            .env("RUBBER_CRAB_HOME", home.path())
            .spawn()
            .unwrap();
        terminal.expect("\x1b[2J", 60);
        terminal.expect("waiting for changes to levels/00-fork-exec/", 120);
        assert!(
            !terminal.reads_lines(),
            "single keys, no echo, while watching"
        );
        Self {
            _home: home,
            terminal,
            watch,
        }
    }

    fn send(&self, signal: Signal) {
        let pid = nix::unistd::Pid::from_raw(self.watch.id() as i32);
        nix::sys::signal::kill(pid, signal).unwrap();
    }

    /// The exit code, once watch mode has ended.
    fn code(&mut self) -> Option<i32> {
        self.watch.wait().unwrap().code()
    }
}

#[test]
fn watch_on_a_terminal_takes_keys_stops_on_ctrl_z_and_gives_the_terminal_back() {
    if !root_or_skip("watch_on_a_terminal_takes_keys_stops_on_ctrl_z_and_gives_the_terminal_back") {
        return;
    }
    let mut watching = Watching::start();
    let terminal = &mut watching.terminal;
    terminal.press(b"h");
    terminal.expect("Hint 1 of 3, level 0", 10);
    terminal.press(b"r");
    terminal.expect("rubber-crab checker: level0", 10);
    terminal.expect("waiting for changes", 60);

    // Ctrl-Z: stopped, with the terminal as the shell wants it; `fg` (SIGCONT): keys again.
    terminal.press(b"\x1a");
    wait_for_state(watching.watch.id(), 'T');
    assert!(
        watching.terminal.reads_lines(),
        "the shell gets a normal terminal on Ctrl-Z"
    );
    watching.send(Signal::SIGCONT);
    wait_for_state(watching.watch.id(), 'S');
    std::thread::sleep(std::time::Duration::from_millis(200));
    let terminal = &mut watching.terminal;
    assert!(!terminal.reads_lines(), "single keys again after fg");
    terminal.press(b"h");
    terminal.expect("Hint 2 of 3, level 0", 10);

    terminal.press(b"q");
    assert_eq!(
        watching.code(),
        Some(1),
        "the last run's code: the skeleton fails"
    );
    assert!(
        watching.terminal.reads_lines(),
        "q gives the terminal back as it was"
    );
}

#[test]
fn watch_gives_the_terminal_back_on_ctrl_c_and_on_sigterm() {
    if !root_or_skip("watch_gives_the_terminal_back_on_ctrl_c_and_on_sigterm") {
        return;
    }
    let mut interrupted = Watching::start();
    interrupted.terminal.press(b"\x03");
    assert_eq!(interrupted.code(), Some(130), "128 + SIGINT");
    assert!(
        interrupted.terminal.reads_lines(),
        "Ctrl-C gives the terminal back"
    );

    let mut terminated = Watching::start();
    terminated.send(Signal::SIGTERM);
    assert_eq!(terminated.code(), Some(143), "128 + SIGTERM");
    assert!(
        terminated.terminal.reads_lines(),
        "SIGTERM gives the terminal back"
    );
}
