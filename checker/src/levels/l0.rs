//! Level 0 — fork, exec, wait.

use crate::check::{
    exited_early, fail, fail_hinting, report, report_or_fail, stderr_tail, Check, Ctx, Verdict,
};
use crate::run::{Run, Status};
use anyhow::Result;
use probe::{Outcome, Report, ECHO, EXIT, REPORT, SLEEP};

const FORK: &str = "https://man7.org/linux/man-pages/man2/fork.2.html";
const EXEC: &str = "https://man7.org/linux/man-pages/man3/exec.3.html";
const WAIT: &str = "https://man7.org/linux/man-pages/man2/waitpid.2.html";

pub const CHECKS: &[Check] = &[
    Check {
        id: "L0.fork-exec.output",
        level: 0,
        title: "stdout and stderr pass through, each to its own stream",
        hint: "The child inherits the runtime's file descriptors 0, 1 and 2: don't close or redirect them before execvp.",
        doc: EXEC,
        run: output_passes_through,
    },
    Check {
        id: "L0.fork-exec.exit-code",
        level: 0,
        title: "the command's exit code becomes the runtime's",
        hint: "waitpid gives a WaitStatus: for WaitStatus::Exited(_, code), return code from run().",
        doc: WAIT,
        run: exit_code_propagates,
    },
    Check {
        id: "L0.fork-exec.signal",
        level: 0,
        title: "death by signal N gives exit code 128+N",
        hint: "A command killed by a signal has no exit code: waitpid says WaitStatus::Signaled(_, signal, _). Shells report 128 + the signal number.",
        doc: WAIT,
        run: signal_gives_128_plus_n,
    },
    Check {
        id: "L0.fork-exec.argv",
        level: 0,
        title: "the command's arguments arrive unchanged (spaces, empty strings, unicode)",
        hint: "Pass every argument to execvp as its own CString, in order; don't join them into one string or split them on spaces.",
        doc: EXEC,
        run: argv_preserved,
    },
    Check {
        id: "L0.fork-exec.waits",
        level: 0,
        title: "the runtime waits for the command to end",
        hint: "The parent must call waitpid(child) and only return once it reports that the child ended.",
        doc: WAIT,
        run: runtime_waits,
    },
    Check {
        id: "L0.fork-exec.child",
        level: 0,
        title: "the command runs in a child of the runtime",
        hint: "Call fork() first and execvp only in the child (ForkResult::Child): exec in the parent replaces the runtime itself, so nothing is left to wait or clean up.",
        doc: FORK,
        run: command_is_a_child,
    },
    Check {
        id: "L0.fork-exec.missing-command",
        level: 0,
        title: "a missing command gives exit code 127 and a one-line error",
        hint: "When execvp fails, print one line to stderr and leave the child with status 127: mark the exec error with .map_err(kit::cannot_exec) and kit::exit_child does both; never unwrap() or panic.",
        doc: EXEC,
        run: missing_command_is_127,
    },
    super::input::BAD_SIZE,
];

fn output_passes_through(ctx: &mut Ctx) -> Result<Verdict> {
    let (out, err) = (
        format!("to-stdout-{}", crate::run::nonce()),
        format!("to-stderr-{}", crate::run::nonce()),
    );
    let run = ctx.probe(ECHO, &["--stdout", &out, "--stderr", &err])?;
    report_or_fail!(run);
    let (in_out, in_err) = (run.stdout.contains(&out), run.stderr.contains(&err));
    let mixed = run.stdout.contains(&err) || run.stderr.contains(&out);
    Ok(match (in_out && in_err, mixed) {
        (true, false) => Verdict::Pass,
        _ => fail(
            format!("{out:?} on stdout and {err:?} on stderr"),
            format!(
                "stdout {} it, stderr {} it{}",
                if in_out { "has" } else { "lacks" },
                if in_err { "has" } else { "lacks" },
                if mixed {
                    "; the streams are mixed up"
                } else {
                    ""
                }
            ),
        ),
    })
}

/// A different exit code every run, so a hard-coded one cannot pass.
pub(crate) fn random_code() -> i32 {
    let n = u32::from_str_radix(&crate::run::nonce()[..4], 16).unwrap_or(42);
    3 + (n % 100) as i32
}

fn exit_code_propagates(ctx: &mut Ctx) -> Result<Verdict> {
    let code = random_code();
    let run = ctx.probe(EXIT, &[&code.to_string()])?;
    report_or_fail!(run);
    Ok(match run.status {
        Status::Exited(c) if c == code => Verdict::Pass,
        other => fail(
            format!("exit status {code} (the command's own)"),
            other.to_string(),
        ),
    })
}

fn signal_gives_128_plus_n(ctx: &mut Ctx) -> Result<Verdict> {
    let run = match ctx.kill_held_probe()? {
        Ok(run) => run,
        Err(verdict) => return Ok(verdict),
    };
    Ok(match run.status {
        Status::Exited(137) => Verdict::Pass,
        other => fail(
            "exit status 137 (128 + 9: the command was killed by SIGKILL)",
            other.to_string(),
        ),
    })
}

fn argv_preserved(ctx: &mut Ctx) -> Result<Verdict> {
    let args = [
        "two words",
        "",
        "ünïcødé ✓",
        "--image",
        "-x",
        "'quotes\"",
        "*",
    ];
    // After `--` the probe takes any words; the runtime must pass them on untouched.
    let (mut argv, nonce) = ctx.probe_command(REPORT, &["--"]);
    argv.extend(args.iter().map(|s| s.to_string()));
    let run: Run<Report> = ctx.command(argv.clone(), nonce)?;
    let seen = &report_or_fail!(run).argv;
    // argv[0] is the probe's path as the runtime passed it; compare the words after it.
    Ok(if seen.len() == argv.len() && seen[1..] == argv[1..] {
        Verdict::Pass
    } else {
        fail(
            format!("argv {:?}", &argv[1..]),
            format!("argv {:?}", seen.get(1..).unwrap_or(&[])),
        )
    })
}

fn runtime_waits(ctx: &mut Ctx) -> Result<Verdict> {
    let code = random_code();
    let run = ctx.probe(SLEEP, &["400", "--exit", &code.to_string()])?;
    if !run.stragglers.is_empty() {
        return Ok(exited_early(&run));
    }
    Ok(match run.status {
        Status::Exited(c) if c == code => Verdict::Pass,
        other => fail(
            format!("exit status {code}, after the command's 400 ms sleep"),
            other.to_string(),
        ),
    })
}

fn command_is_a_child(ctx: &mut Ctx) -> Result<Verdict> {
    // Ancestry is read while both processes are alive.
    let (run, seen) = ctx.hold(REPORT, &[], |held| {
        (
            held.runtime_pid,
            held.probe_pid,
            held.probe_pid
                .is_some_and(|pid| probe::proc::descends_from(pid, held.runtime_pid)),
        )
    })?;
    let Some((runtime_pid, probe_pid, descends)) = seen else {
        return Ok(report(&run)
            .err()
            .unwrap_or_else(|| fail("the probe reports", "nothing")));
    };
    Ok(match probe_pid {
        None => fail("the command is a process of its own", format!("could not find the probe's process{}", stderr_tail(&run))),
        Some(pid) if pid == runtime_pid => fail(
            "the command runs in a child process; the runtime stays alive to wait for it",
            format!("the command replaced the runtime itself (both are host pid {pid}): exec happened without fork"),
        ),
        Some(pid) if !descends => fail(
            format!("the command (host pid {pid}) descends from the runtime (host pid {runtime_pid})"),
            "it is not a descendant of the runtime",
        ),
        Some(_) => Verdict::Pass,
    })
}

fn missing_command_is_127(ctx: &mut Ctx) -> Result<Verdict> {
    let nonce = crate::run::nonce();
    let missing = format!("/no-such-command-{nonce}");
    // No probe runs, so no reply comes: its type is the simplest.
    let run: Run<Outcome> = ctx.command(vec![missing.clone()], nonce)?;
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    let panicked = run.stderr.contains("panicked") || run.stderr.contains("RUST_BACKTRACE");
    // A panic first: it explains the exit status too (101, Rust's for a panic).
    Ok(if panicked {
        fail(
            "exit status 127 and a one-line error on stderr",
            format!(
                "a panic ({}): handle the execvp error instead of unwrapping it",
                run.status
            ),
        )
    } else if run.status != Status::Exited(127) {
        fail(
            "exit status 127 (command not found)",
            run.status.to_string(),
        )
    } else if lines.len() != 1 {
        let (about, others): (Vec<&str>, Vec<&str>) =
            lines.iter().partition(|l| l.contains(&missing));
        match (about.len(), warning_hint(&others)) {
            // The error is right: what else was printed is the runtime's own business, and it
            // says what went wrong (a cleanup after the command failed, as after any command).
            (1, Some(hint)) => fail_hinting(
                "exactly one line on stderr: the error about the command",
                format!(
                    "the error {:?}, then your runtime's own {}: {}",
                    about[0],
                    if others.len() == 1 {
                        "warning"
                    } else {
                        "warnings"
                    },
                    others
                        .iter()
                        .map(|l| format!("{:?}", l.trim()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                hint,
            ),
            _ => fail(
                "exactly one line on stderr explaining the failure",
                format!("{} lines on stderr: {:?}", lines.len(), lines),
            ),
        }
    } else if !lines[0].contains(&missing) {
        fail(
            format!("the error names the command {missing:?}"),
            format!("stderr: {:?}", lines[0]),
        )
    } else {
        Verdict::Pass
    })
}

/// A mount the runtime made for the container was still mounted when it deleted the container's
/// directory (kit's "left … in place: still mounted").
pub const MOUNT_LEFT_HINT: &str = "That warning says a mount made for the container (its /proc, /dev or root) was still mounted in the runtime's own namespace when the container's directory was deleted: it was made there, or it propagated there. In the child, unshare(CLONE_NEWNS), then make every mount private before any mount: mount(NULL, \"/\", NULL, MS_REC | MS_PRIVATE, NULL). `findmnt -o TARGET,PROPAGATION /` shows \"shared\" on a systemd host.";

/// The container's cgroup could not be removed: a process was still in it.
pub const CGROUP_BUSY_HINT: &str = "That warning says the container's cgroup could not be removed once the command had ended: a process was still in it (rmdir fails with EBUSY). Is it the runtime itself? Write the child's pid, the one fork returned in the parent, to cgroup.procs, never getpid(): the runtime must stay outside the group it removes. `cat <group>/cgroup.procs` lists who is in it.";

/// Any other line besides the error.
pub const OTHER_WARNING_HINT: &str = "Your runtime's error about the command is right; the other lines came from your runtime too, after the command failed. Each names a step that went wrong (or is debug output: print that only with --explain): fix what they say, and the error stays the only line.";

/// The hint for lines a runtime printed besides the error a check expected, by what they say;
/// None when there are none.
pub(crate) fn warning_hint(others: &[&str]) -> Option<&'static str> {
    let says = |words: &[&str]| {
        others
            .iter()
            .any(|l| words.iter().all(|w| l.to_lowercase().contains(w)))
    };
    if others.is_empty() {
        None
    } else if says(&["still mounted"]) {
        Some(MOUNT_LEFT_HINT)
    } else if says(&["cgroup", "busy"]) || says(&["rmdir", "busy"]) {
        Some(CGROUP_BUSY_HINT)
    } else {
        Some(OTHER_WARNING_HINT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warning_beside_the_error_gets_the_hint_about_what_it_says() {
        assert_eq!(warning_hint(&[]), None);
        let left = "solution2: warning: left /c/1/rootfs/proc in place: still mounted (unmount it, then delete it)";
        assert_eq!(warning_hint(&[left]), Some(MOUNT_LEFT_HINT));
        let busy = "solution8: warning: rmdir /sys/fs/cgroup/x/1: still busy after 0.5 s: processes are left in it (see its cgroup.procs)";
        assert_eq!(warning_hint(&[busy]), Some(CGROUP_BUSY_HINT));
        assert_eq!(warning_hint(&["debug: forked"]), Some(OTHER_WARNING_HINT));
    }
}
