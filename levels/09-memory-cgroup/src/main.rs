// Generated from solutions/runtime.rs by `cargo xtask generate`; this is your file: edit it.
//! Level 9 — a memory limit, and saying why the OOM killer struck.
//!
//! The memory controller charges every page the container's processes use to its group; past the
//! limit the kernel reclaims, then kills one of them with SIGKILL (the OOM killer) and counts the
//! kill in the group's `memory.events` (v2) or `memory.oom_control` (v1).
//!
//! Try: `cargo run -p solution9 -- run --memory 16m -- /bin/sh -c 'x=$(yes | head -c 64m)'`

mod earlier;

use earlier::*;
use kit::cgroup::{read_file, write_file, Cgroup};
use kit::prelude::*;
use nix::unistd::{fork, getpid, ForkResult, Pid};
use std::convert::Infallible;

/// The controllers this level's containers use: each is a hierarchy of its own on v1, and a
/// `+cpu +memory` in `cgroup.subtree_control` on v2.
const CONTROLLERS: &[&str] = &["cpu", "memory"];

fn main() -> std::process::ExitCode {
    kit::main!(run)
}

/// Runs the command in a new container and returns the exit code to leave with.
fn run(args: RunArgs) -> Result<i32> {
    // TODO(level 9) step 3: first thing in run, a `memory_limits(&args)?` you write (limit_memory
    //     uses it too): --memory-swap below --memory, or without it, is a kit::BadInput error,
    //     refused before the container, its group or the child exist (exit 2, one line).
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
            // TODO(level 9) step 2: after wait_for, before the group is removed: a
            //     `say_if_out_of_memory(&cgroup, &args, code)` you write. When the command died of
            //     SIGKILL (code 137) and the group's OOM kill counter (v2 `memory.events`, v1
            //     `memory.oom_control`, line `oom_kill N`) is above 0, print `<program>: killed:
            //     out of memory (limit 64 MiB)` on stderr.
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
    // TODO(level 9) step 1: write `limit_memory(cgroup, args)` and call it here: --memory to v1
    //     `memory.limit_in_bytes` / v2 `memory.max`; --memory-swap as Docker reads it (equal to
    //     --memory: no swap; -1: unlimited; unset: twice --memory) to v1
    //     `memory.memsw.limit_in_bytes` (memory + swap) / v2 `memory.swap.max` (swap alone), each
    //     only where the file exists (the kernel accounts swap).
    attach(cgroup, child)
}

/// Gives back the memory still charged to the container's group, just before it is removed.
/// The kernel keeps a removed memory cgroup ("dying") for as long as a page is charged to it:
/// the page cache of every file the container read or wrote. Each later reclaim walks the dying
/// ones, so a runtime that leaves one per container slows the machine down as the day goes on.
/// Kubernetes empties a pod's group before removing it for this reason.
fn give_back_memory(cgroup: &Cgroup) {
    let Ok(dir) = cgroup.dir("memory") else {
        return;
    };
    let why = "give back what the container's files still hold";
    if dir.join("memory.force_empty").exists() {
        // v1: reclaims everything the group holds, once no process is left in it.
        let _ = write_file(&dir, "memory.force_empty", "0", why);
    } else if let Ok(held) = read_file(&dir, "memory.current") {
        // v2 (Linux 5.19+): reclaims the amount written, here all of it. Best effort: what is
        // not reclaimed now (EAGAIN) the kernel reclaims under pressure later.
        if held.trim() != "0" && dir.join("memory.reclaim").exists() {
            let _ = write_file(&dir, "memory.reclaim", held.trim(), why);
        }
    }
}
