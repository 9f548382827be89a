//! Level 5 — a PID namespace.

use crate::check::{fail, fail_hinting, own_namespaces, report_or_fail, Check, Ctx, Verdict};
use anyhow::{Context, Result};
use probe::{KILL_CHECK, REPORT};

const PID_NS: &str = "https://man7.org/linux/man-pages/man7/pid_namespaces.7.html";

pub const CHECKS: &[Check] = &[
    Check {
        id: "L5.pid-ns.namespace",
        level: 5,
        title: "the container has a PID namespace of its own",
        hint: "unshare(CLONE_NEWPID) in the parent, before fork: the caller stays put, the next child is PID 1 of the new namespace.",
        doc: PID_NS,
        run: own_pid_namespace,
    },
    Check {
        id: "L5.pid-ns.pid-one",
        level: 5,
        title: "the command is PID 1, and /proc/self says so",
        hint: "The command must be the first process of a new PID namespace (unshare(CLONE_NEWPID) in the parent, then fork), and /proc a procfs mounted in the child, after the fork.",
        doc: PID_NS,
        run: command_is_pid_one,
    },
    Check {
        id: "L5.pid-ns.proc-lists-container",
        level: 5,
        title: "/proc lists only the container's processes",
        hint: "A procfs shows the PID namespace of whoever mounted it: mount a new one in the child (not a bind mount of the host's /proc).",
        doc: "https://man7.org/linux/man-pages/man5/proc.5.html",
        run: proc_lists_only_the_container,
    },
    Check {
        id: "L5.pid-ns.host-pid-unreachable",
        level: 5,
        title: "a host process is unreachable (kill(pid, 0) fails with ESRCH)",
        hint: "Processes outside the PID namespace have no pid inside it: if kill(host pid, 0) succeeds, the command is not in a new PID namespace.",
        doc: PID_NS,
        run: host_pid_unreachable,
    },
];

fn own_pid_namespace(ctx: &mut Ctx) -> Result<Verdict> {
    own_namespaces(ctx, &["pid"])
}

/// getpid() is not 1: the command is not where PID 1 of a new namespace would be.
const NOT_PID_ONE: &str = "unshare(CLONE_NEWPID) does not move the caller into the new namespace, only the children it forks afterwards: call it in the parent, before fork, so that the child that execs the command is PID 1. Called in the child, it leaves the command in the PID namespace it was in.";

/// getpid() is 1 but /proc is another namespace's.
const FOREIGN_PROC: &str = "getpid() is 1 but /proc/self is not: /proc must be a procfs mounted from inside the new PID namespace, i.e. in the child, after the fork.";

fn command_is_pid_one(ctx: &mut Ctx) -> Result<Verdict> {
    let run = ctx.probe(REPORT, &[])?;
    let report = report_or_fail!(run);
    let pid = report.pid;
    let proc_self = report.proc_self.as_deref().unwrap_or_default();
    Ok(if pid != 1 {
        fail_hinting("getpid() is 1", format!("getpid() is {pid}"), NOT_PID_ONE)
    } else if proc_self != "1" {
        fail_hinting(
            "/proc/self is 1, like getpid()",
            format!("/proc/self is {proc_self:?}: this /proc belongs to another PID namespace"),
            FOREIGN_PROC,
        )
    } else {
        Verdict::Pass
    })
}

fn proc_lists_only_the_container(ctx: &mut Ctx) -> Result<Verdict> {
    let run = ctx.probe(REPORT, &[])?;
    let pids = &report_or_fail!(run).proc_pids;
    Ok(if *pids == [1] {
        Verdict::Pass
    } else {
        let shown: Vec<String> = pids.iter().take(8).map(|p| p.to_string()).collect();
        let more = if pids.len() > 8 {
            format!(" and {} more", pids.len() - 8)
        } else {
            String::new()
        };
        fail(
            "/proc lists one process: the command, PID 1",
            format!("/proc lists {}{more}", shown.join(", ")),
        )
    })
}

fn host_pid_unreachable(ctx: &mut Ctx) -> Result<Verdict> {
    // A host process for sure, and never PID 1: a helper the checker starts for the check. (The
    // checker's own pid is 1 when it runs as PID 1 of a namespace, `unshare -pf` or a container,
    // and pid 1 exists in every container.)
    // Started where the runtime's processes are (the sandbox's PID namespace, see sandbox.rs),
    // and named by the pid it has there: what a command without a namespace of its own sees.
    let helper = Helper::start(&ctx.env.probe, &ctx.sandbox)?;
    let host_pid = ctx.sandbox.pid_inside(helper.pid()).to_string();
    let run = ctx.probe(KILL_CHECK, &[&host_pid])?;
    drop(helper);
    let report = report_or_fail!(run);
    Ok(match report.errno.as_deref() {
        Some("ESRCH") => Verdict::Pass,
        Some(other) => fail(
            format!("kill({host_pid}, 0) fails with ESRCH"),
            format!("it fails with {other}"),
        ),
        None => fail(
            format!("kill({host_pid}, 0) fails with ESRCH: no such process here (host pid {host_pid} is a process of the checker's)"),
            "it succeeded: the host's processes are visible",
        ),
    })
}

/// A process of the checker's (the probe, sleeping), killed and reaped when dropped.
struct Helper(std::process::Child);

impl Helper {
    fn start(probe: &std::path::Path, sandbox: &crate::sandbox::Sandbox) -> Result<Helper> {
        let child = sandbox
            .spawn_own(
                std::process::Command::new(probe)
                    .args([probe::SLEEP.name, "600000", "--nonce", "host-pid-helper"])
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null()),
            )
            .with_context(|| format!("starting {} as a host process", probe.display()))?;
        Ok(Helper(child))
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
