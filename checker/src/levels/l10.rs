//! Level 10 — a process limit that stops a fork bomb.

use super::cgroup::{child_of, cleanup_verdict, held_group, CGROUP_V2, PIDS_V1};
use crate::check::{fail, fail_hinting, report_or_fail, Check, Ctx, Verdict};
use crate::hold::AtExec;
use crate::run::Status;
use anyhow::Result;
use probe::{FORK_UNTIL_REFUSED, REPORT};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

const PIDS_FLAGS: [&str; 2] = ["--pids-limit", "20"];
const PIDS_LIMIT: u32 = 20;

pub const CHECKS: &[Check] = &[
    Check {
        id: "L10.pids-cgroup.limit",
        level: 10,
        title: "--pids-limit 20 sets pids.max to 20",
        hint: "Write the limit to pids.max in the container's group (v1: in the pids hierarchy, /sys/fs/cgroup/pids/<parent>/<id>; v2: in the unified tree, with +pids in the parent's cgroup.subtree_control).",
        doc: PIDS_V1,
        run: pids_max_is_the_limit,
    },
    Check {
        id: "L10.pids-cgroup.fork-bomb",
        level: 10,
        title: "a fork bomb stops at 20 processes (EAGAIN), and the runtime exits with the command's status",
        hint: "With pids.max set on the container's own group, fork fails with EAGAIN once 20 processes are in it. The runtime waits for its child only: it must not wait for, or count, the children of the command.",
        doc: PIDS_V1,
        run: fork_bomb_stops_at_the_limit,
    },
    Check {
        id: "L10.pids-cgroup.cleanup",
        level: 10,
        title: "when the command exits, what is left in its group is killed and the group removed",
        hint: "A group with a process in it cannot be removed (rmdir: EBUSY). After waitpid, kill what is left (v2: write 1 to cgroup.kill; v1: SIGKILL each pid in cgroup.procs until it is empty), then rmdir, retrying a few times while the kernel lets the dead go.",
        doc: CGROUP_V2,
        run: leftovers_killed_and_group_removed,
    },
    super::input_more::BAD_PIDS_LIMIT,
];

fn pids_max_is_the_limit(ctx: &mut Ctx) -> Result<Verdict> {
    // The hold: the runtime's parent is held still while its child runs, and pids.max is read
    // at the command's exec (checker/src/hold.rs).
    ctx.watch_exec = true;
    let seen = held_group(ctx, &PIDS_FLAGS, (REPORT, &[]), "pids", |g, _| {
        (g.file("pids.max"), g.read("pids.max"))
    })?;
    ctx.watch_exec = false;
    let at_exec = ctx.at_exec.take().and_then(|seen| seen.ok());
    Ok(match seen {
        Err(verdict) => verdict,
        Ok((_, (file, Some(max)))) if max == PIDS_LIMIT.to_string() => match at_exec {
            Some(at_exec) => limit_at_exec(&at_exec, &file),
            None => Verdict::Pass,
        },
        Ok((_, (file, max))) => fail(
            format!("{file} holds {PIDS_LIMIT}"),
            format!(
                "{file} holds {}",
                max.unwrap_or_else(|| "nothing readable".into())
            ),
        ),
    })
}

/// The hint of a limit written after the child was released.
const LIMIT_AFTER_RELEASE: &str = "Write pids.max, like every limit, in the parent before it releases the child: create the group, write the limits, write the child's pid to cgroup.procs, and only then write the byte to the pipe. The checker holds your parent still while the child runs, so a limit written after the release is always seen missing when the command starts. Try: your runtime run --explain --pids-limit 20 -- /bin/true, and check that pids.max is written before write(pipe).";

/// The verdict on pids.max as the command's exec found it, once the held probe saw `file`
/// hold the limit.
fn limit_at_exec(at_exec: &AtExec, file: &str) -> Verdict {
    let expected = format!("{file} holds {PIDS_LIMIT} when the command starts");
    let limit = PIDS_LIMIT.to_string();
    match at_exec.limit("pids.max") {
        Some(max) if max.path() == file && max.value.as_deref() == Some(&limit) => Verdict::Pass,
        Some(max) if max.path() == file => {
            let value = max.value.clone().unwrap_or_default();
            fail_hinting(
                expected,
                format!("pids.max was {value} when the command started: write the limits before you release the child ({file} holds {PIDS_LIMIT} only later)"),
                LIMIT_AFTER_RELEASE,
            )
        }
        // In another group at its exec: moved in after it started (level 8's `inside` says
        // so), with no limit of this group over it then.
        _ => fail_hinting(
            expected,
            format!(
                "the command started in the pids group {}, not under that limit: write the limits and attach the child before you release it",
                at_exec.group("pids").unwrap_or_else(|| "(none)".into())
            ),
            LIMIT_AFTER_RELEASE,
        ),
    }
}

/// How many children the probe tries to fork: far above the limit, far below the cage's cap.
const FORKS: &str = "200";

fn fork_bomb_stops_at_the_limit(ctx: &mut Ctx) -> Result<Verdict> {
    ctx.flags = PIDS_FLAGS.iter().map(|f| f.to_string()).collect();
    let code = super::l0::random_code();
    let run = ctx.probe(FORK_UNTIL_REFUSED, &[FORKS, "--exit", &code.to_string()])?;
    let forks = report_or_fail!(run);
    let expected = format!(
        "fork fails with EAGAIN once {PIDS_LIMIT} processes are in the container, and the runtime exits {code} (the command's status)"
    );
    let processes = forks.forked + 1;
    Ok(if run.hit_pids_cap {
        fail(
            expected,
            format!(
                "the forks reached the checker's own cap of {} processes",
                crate::cgroups::PIDS_LIMIT
            ),
        )
    } else if forks.errno.is_none() {
        fail(
            expected,
            format!(
                "the command forked {} children: nothing refused them",
                forks.forked
            ),
        )
    } else if forks.errno.as_deref() != Some("EAGAIN") || processes > PIDS_LIMIT {
        fail(
            expected,
            format!(
                "fork failed with {} after {processes} processes",
                forks.errno.as_deref().unwrap_or_default()
            ),
        )
    } else if run.status != Status::Exited(code) {
        fail(
            expected,
            format!(
                "fork was refused after {processes} processes; the runtime ended with {}",
                run.status
            ),
        )
    } else {
        Verdict::Pass
    })
}

/// A `sleep` of the checker's, moved into the container's groups while the probe held.
struct Sleeper {
    child: Child,
    /// The groups it was moved into, or why it could not be.
    moved: std::result::Result<Vec<PathBuf>, String>,
}

fn leftovers_killed_and_group_removed(ctx: &mut Ctx) -> Result<Verdict> {
    ctx.flags = PIDS_FLAGS.iter().map(|f| f.to_string()).collect();
    let (run, sleeper) = ctx.hold(REPORT, &[], |held| {
        let pid = held.probe_pid?;
        Some(move_a_sleep_into(pid, held.cgroup_parent, held.sandbox))
    })?;
    let mut sleeper = match sleeper.flatten() {
        Some(Ok(sleeper)) => sleeper,
        Some(Err(e)) => anyhow::bail!("starting sleep: {e}"),
        None => {
            report_or_fail!(run);
            return Ok(fail(
                "the probe's process can be found on the host",
                "it could not",
            ));
        }
    };
    let sleep_pid = sleeper.child.id();
    // Whatever happened, the sleep is the checker's: it goes now.
    let alive_after = sleeper.child.try_wait().ok().flatten().is_none();
    let _ = sleeper.child.kill();
    let _ = sleeper.child.wait();
    let expected = "the checker's process in the container's group is killed and the group removed when the command exits";
    match sleeper.moved {
        Ok(groups) if groups.is_empty() => {
            report_or_fail!(run);
            return Ok(fail(
                expected,
                "the command is in no group below the --cgroup-parent",
            ));
        }
        Ok(_) => {}
        Err(why) => return Ok(fail(expected, why)),
    }
    Ok(if run.stragglers.contains(&sleep_pid) {
        fail(
            expected,
            format!(
                "when the runtime exited, the checker's sleep (host pid {sleep_pid}) was still running in the container's group{}",
                match run.left_groups.as_slice() {
                    [] => String::new(),
                    left => format!("; {}", left.join("; ")),
                }
            ),
        )
    } else if !run.left_groups.is_empty() {
        cleanup_verdict(&run)
            .map_observed(|seen| format!("{seen} (host pid {sleep_pid} is the checker's sleep)"))
    } else if alive_after {
        fail(
            expected,
            format!("the checker's sleep (host pid {sleep_pid}) was still running after the run"),
        )
    } else {
        report_or_fail!(run);
        Verdict::Pass
    })
}

/// Starts a `sleep` and moves it into every group of `pid` that is below `parent` (one per
/// hierarchy the runtime made it in). In the sandbox's PID namespace, where the runtime's own
/// processes are: a v1 `cgroup.procs` lists only the reader's namespace's processes.
fn move_a_sleep_into(
    pid: u32,
    parent: &str,
    sandbox: &crate::sandbox::Sandbox,
) -> std::io::Result<Sleeper> {
    let child = sandbox.spawn_own(
        Command::new("sleep")
            .arg("30")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )?;
    let lines = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let mut moved = Vec::new();
    let mut error = None;
    for line in lines.lines() {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next(), fields.next(), fields.next());
        let (Some(controllers), Some(path)) = (controllers, path) else {
            continue;
        };
        if child_of(path, parent).is_none() {
            continue;
        }
        let Some(dir) = hierarchy_dir(controllers, path) else {
            continue;
        };
        match std::fs::write(dir.join("cgroup.procs"), child.id().to_string()) {
            Ok(()) => moved.push(dir),
            Err(e) => {
                error = Some(format!(
                    "the checker could not move its sleep into {}: {e}",
                    dir.display()
                ))
            }
        }
    }
    Ok(Sleeper {
        child,
        moved: error.map_or(Ok(moved), Err),
    })
}

/// The directory of `path` in the hierarchy a `/proc/<pid>/cgroup` line names by its
/// controllers (`pids`, `cpu,cpuacct`, `name=systemd`, or empty for the v2 tree).
fn hierarchy_dir(controllers: &str, path: &str) -> Option<PathBuf> {
    let layout = crate::cgroups::host_layout();
    let hierarchy = layout.hierarchies.iter().find(|h| {
        if controllers.is_empty() {
            h.name == "unified"
        } else {
            controllers
                .split(',')
                .any(|c| h.name.split(',').any(|n| n == c))
        }
    })?;
    Some(hierarchy.mount_point.join(path.trim_start_matches('/')))
}
