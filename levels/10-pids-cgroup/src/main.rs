// Generated from solutions/runtime.rs by `cargo xtask generate`; this is your file: edit it.
//! Level 10 — a process limit that stops a fork bomb.
//!
//! The pids controller refuses `fork` and `clone` with EAGAIN once a group holds `pids.max`
//! processes and threads. And a group can hold processes the container's PID namespace does not
//! know: the runtime kills whatever is left in it before removing it.
//!
//! Try: `cargo run -p solution10 -- run --pids-limit 2 -- /bin/sh -c 'sleep 1 & sleep 1 & sleep 1'`

mod earlier;

use earlier::*;
use kit::cgroup::Cgroup;
use kit::prelude::*;
use nix::unistd::{fork, getpid, ForkResult, Pid};
use std::convert::Infallible;

/// The controllers this level's containers use: each is a hierarchy of its own on v1, and a
/// `+cpu +memory +pids` in `cgroup.subtree_control` on v2.
const CONTROLLERS: &[&str] = &["cpu", "memory", "pids"];

fn main() -> std::process::ExitCode {
    kit::main!(run)
}

/// Runs the command in a new container and returns the exit code to leave with.
fn run(args: RunArgs) -> Result<i32> {
    // Bad --memory-swap is refused before anything exists: nothing to undo, one line, exit 2.
    memory_limits(&args)?;
    let container = Container::create(&args)?;
    unshare_pid_namespace()?;
    let cgroup = Cgroup::new(&args.cgroup_parent, &container.id, CONTROLLERS)
        .inspect_err(|_| remove_container(&container))?;
    let (ready_read, ready_write) = sync_pipe()?;
    let parent = getpid();
    explain!("fork()  # copy this process: the copy will become the command");
    // SAFETY: the runtime is single-threaded, so the child may run any code before it execs.
    match unsafe { fork() }.syscall("fork")? {
        ForkResult::Child => {
            drop(ready_write);
            let Err(err) = die_with_parent(parent)
                .and_then(|()| wait_until_attached(ready_read))
                .and_then(|()| child(&args, &container));
            kit::exit_child(err)
        }
        ForkResult::Parent { child } => {
            drop(ready_read);
            let placed = place_in_cgroup(&cgroup, &args, child).and_then(|()| release(ready_write));
            let code = wait_for(child)?;
            say_if_out_of_memory(&cgroup, &args, code);
            // TODO(level 10) step 2: before removing the group: a `kill_remaining(&cgroup)` you
            //     write. A process outside the PID namespace may still be in the group: on v2 write
            //     1 to `cgroup.kill` where it exists, else SIGKILL each pid in `cgroup.procs`,
            //     again until it is empty (bounded: 50 rounds, 10 ms apart).
            give_back_memory(&cgroup);
            remove_cgroup(&cgroup);
            remove_container(&container);
            placed?;
            Ok(code)
        }
    }
}

/// In the child: set up the container, then become the command. Returns only on failure.
fn child(args: &RunArgs, container: &Container) -> Result<Infallible> {
    let rootfs = &container.rootfs();
    unshare_uts_and_ipc()?;
    set_hostname(args.hostname.as_deref().unwrap_or(&container.id))?;
    unshare_network()?;
    bring_up_loopback()?;
    unshare_mount_namespace()?;
    make_mounts_private()?;
    mount_overlay(args, container)?;
    mount_proc(rootfs)?;
    mount_dev(rootfs)?;
    pivot_into(rootfs)?;
    exec_command(&args.command)
}

/// In the parent, while the child waits on the pipe: the container's group, its limits, and the
/// child in it. Limits first: the command never runs a moment without them.
fn place_in_cgroup(cgroup: &Cgroup, args: &RunArgs, child: Pid) -> Result<()> {
    create_cgroup(cgroup)?;
    limit_cpu(cgroup, args)?;
    limit_memory(cgroup, args)?;
    // TODO(level 10) step 1: write `limit_pids(cgroup, args)` and call it here: --pids-limit to
    //     `pids.max`.
    attach(cgroup, child)
}
