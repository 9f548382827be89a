//! The checker interrupted in the middle of a run. On SIGINT (Ctrl-C) or SIGTERM it removes what
//! its run made, says what it removed, and exits 128 + the signal's number; nothing of the run is
//! left (its run dir, its cage in any hierarchy, its processes, its mounts). SIGKILL cannot be
//! caught: then nothing of the run keeps running (the sandbox's PID namespace dies with the
//! checker), and the next checker removes what is left and says so in one line.
//!
//! The moment to interrupt is found, not timed: when a process of the run is in the checker's
//! cage. Every wait polls against a generous deadline (a loaded 2-core machine, a first build);
//! nothing here asserts how long anything took.

mod common;
use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long anything may take here before the test gives up: the first run builds the solution
/// and the test image.
const DEADLINE: Duration = Duration::from_secs(900);

/// The checker started on `level9 --solution` with its own home (so that what is left, and what
/// the next checker sweeps, is this test's alone), in a process group of its own, as a shell
/// starts a command in the foreground.
fn start_checker(home: &Path) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("checker"))
        .args(["level9", "--solution", "--keep-going", "--timeout", "60"])
        .env("RUBBER_CRAB_HOME", home)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap()
}

/// The processes in the groups at and below `dir`.
fn processes_below(dir: &Path) -> Vec<u32> {
    let mut found: Vec<u32> = std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(processes_below(&entry.path()));
        }
    }
    found
}

/// The live (not zombie) processes of the checker `pid`'s cages, in every hierarchy.
fn caged_processes(pid: u32) -> Vec<u32> {
    let mut found: Vec<u32> = cages_of(pid)
        .iter()
        .flat_map(|cage| processes_below(cage))
        .filter(|&p| alive(p))
        .collect();
    found.sort_unstable();
    found.dedup();
    found
}

fn alive(pid: u32) -> bool {
    probe::proc::stat(pid).is_some_and(|s| !s.is_zombie())
}

/// Polls `done` until it is true, or panics with `what` at the deadline.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < DEADLINE, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts the checker and waits until a process of its run is in its cage: the run is in the
/// middle of a check. The checker, and the processes of its run seen then.
fn checker_mid_run(home: &Path) -> (Child, Vec<u32>) {
    let mut child = start_checker(home);
    let pid = child.id();
    let mut seen = Vec::new();
    wait_until("a process of the checker's run in its cage", || {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the checker ended before its first run: {status}");
        }
        seen = caged_processes(pid);
        !seen.is_empty()
    });
    (child, seen)
}

/// The checker's run dirs (`<home>/checker/run-<pid>[-<nonce>]`).
fn run_dirs(home: &Path, pid: u32) -> Vec<PathBuf> {
    std::fs::read_dir(home.join("checker"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name == format!("run-{pid}") || name.starts_with(&format!("run-{pid}-"))
        })
        .collect()
}

/// Mounts on the host under `home`.
fn mounts_under(home: &Path) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(probe::parse_mountinfo_line)
        .map(|m| m.mount_point)
        .filter(|point| Path::new(point).starts_with(home))
        .collect()
}

/// Whether runs are caged here (root, memory and pids controllers): the moment to interrupt is
/// found through the cage.
fn cage_or_skip(test: &str) -> bool {
    if !root_or_skip(test) {
        return false;
    }
    let caged = has_cage_controllers();
    if !caged {
        eprintln!("skipped {test}: this host has no memory and pids cgroup controllers");
    }
    caged
}

/// SIGINT or SIGTERM mid-run: exit 128 + n, the removal said, nothing of the run left. `to` is
/// who gets the signal: the checker, or its whole process group (what Ctrl-C does).
fn interrupted_cleanly(signal: Signal, code: i32, name: &str, to: To) {
    let _turn = one_at_a_time();
    let home = tempfile::tempdir().unwrap();
    let before = host();
    let (child, seen) = checker_mid_run(home.path());
    let pid = child.id();
    let target = match to {
        To::Checker => pid as i32,
        To::ProcessGroup => -(pid as i32),
    };
    kill(Pid::from_raw(target), signal).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    let said = stderr
        .lines()
        .find(|l| l.contains(&format!("stopped by {name}")))
        .unwrap_or_else(|| panic!("no line says the checker was stopped by {name}: {stderr}"));
    for what in [
        "removed what the run made",
        "the runtime and every process it started",
        "cgroup rubber-crab-checker/",
        "run dir ",
    ] {
        assert!(said.contains(what), "{what:?} not in {said:?}");
    }
    eprintln!("{name} after {} caged processes: {said}", seen.len());
    assert_eq!(run_dirs(home.path(), pid), Vec::<PathBuf>::new(), "{said}");
    assert_eq!(cages_of(pid), Vec::<PathBuf>::new(), "{said}");
    assert_eq!(mounts_under(home.path()), Vec::<String>::new());
    // The processes of the run die with the sandbox's PID 1; the kernel may take a moment.
    wait_until("the run's processes to die", || {
        !seen.iter().any(|&p| alive(p))
    });
    assert_eq!(host(), before, "the interrupted checker changed the host");
}

enum To {
    Checker,
    ProcessGroup,
}

/// Ctrl-C: SIGINT to the foreground process group. The checks' thread goes on meanwhile (the
/// runtime is in a group of its own); what it makes then is removed too.
#[test]
fn ctrl_c_mid_run_cleans_up_says_what_and_exits_130() {
    if cage_or_skip("ctrl_c_mid_run_cleans_up_says_what_and_exits_130") {
        interrupted_cleanly(Signal::SIGINT, 130, "SIGINT", To::ProcessGroup);
    }
}

#[test]
fn sigterm_mid_run_cleans_up_says_what_and_exits_143() {
    if cage_or_skip("sigterm_mid_run_cleans_up_says_what_and_exits_143") {
        interrupted_cleanly(Signal::SIGTERM, 143, "SIGTERM", To::Checker);
    }
}

/// SIGKILL mid-run: nothing of the run keeps running; the next checker removes the run dir and
/// the cage left behind, in one line.
#[test]
fn after_sigkill_nothing_runs_and_the_next_checker_sweeps_in_one_line() {
    let test = "after_sigkill_nothing_runs_and_the_next_checker_sweeps_in_one_line";
    if !cage_or_skip(test) {
        return;
    }
    let _turn = one_at_a_time();
    let home = tempfile::tempdir().unwrap();
    let before = host();
    let (mut child, seen) = checker_mid_run(home.path());
    let pid = child.id();
    child.kill().unwrap();
    child.wait().unwrap();
    wait_until("the run's processes to die after SIGKILL", || {
        caged_processes(pid).is_empty() && !seen.iter().any(|&p| alive(p))
    });
    let left = run_dirs(home.path(), pid);
    assert!(
        !left.is_empty(),
        "a SIGKILLed checker cannot remove its run dir; none was found"
    );
    let cages = cages_of(pid);
    assert_eq!(mounts_under(home.path()), Vec::<String>::new());

    let next = Command::new(assert_cmd::cargo::cargo_bin("checker"))
        .args(["level0", "--solution", "--format", "json"])
        .env("RUBBER_CRAB_HOME", home.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&next.stderr).into_owned();
    assert_eq!(next.status.code(), Some(0), "{stderr}\n{}", stdout(&next));
    let swept: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("removed what a checker killed before it could clean up"))
        .collect();
    assert_eq!(swept.len(), 1, "one line says what was swept: {stderr}");
    eprintln!("the next checker: {}", swept[0]);
    for dir in &left {
        assert!(
            swept[0].contains(&dir.display().to_string()),
            "{} not in {}",
            dir.display(),
            swept[0]
        );
    }
    if !cages.is_empty() {
        assert!(
            swept[0].contains(&format!("rubber-crab-checker/{pid}-")),
            "the cage is not in {}",
            swept[0]
        );
    }
    assert_eq!(run_dirs(home.path(), pid), Vec::<PathBuf>::new());
    assert_eq!(cages_of(pid), Vec::<PathBuf>::new());
    assert_eq!(host(), before, "the killed checker changed the host");
}
