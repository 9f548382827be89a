// Generated from solutions/runtime.rs by `cargo xtask generate`; this is your file: edit it.
//! Level 8 — a cgroup of its own: a CPU quota and a CPU weight.
//!
//! A control group is a directory in a cgroup filesystem; the processes listed in its
//! `cgroup.procs` share the limits written to its other files (cgroups(7)). The runtime makes one
//! per container, puts the child in it before the command runs, and removes it afterwards.
//!
//! Try: `cargo run -p solution8 -- run --cpus 0.5 -- /bin/cat /proc/self/cgroup`

mod earlier;

use earlier::*;
use kit::cgroup::Cgroup;
use kit::prelude::*;
use nix::unistd::{fork, getpid, ForkResult};
use std::convert::Infallible;

/// The controllers this level's containers use: each is a hierarchy of its own on v1, and a
/// `+cpu` in `cgroup.subtree_control` on v2.
const CONTROLLERS: &[&str] = &["cpu"];

fn main() -> std::process::ExitCode {
    kit::main!(run)
}

/// Runs the command in a new container and returns the exit code to leave with.
fn run(args: RunArgs) -> Result<i32> {
    let container = Container::create(&args)?;
    unshare_pid_namespace()?;
    let cgroup = Cgroup::new(&args.cgroup_parent, &container.id, CONTROLLERS)
        .inspect_err(|_| remove_container(&container))?;
    // TODO(level 8) step 1: make the pipe the child waits on until it is in its cgroup, in a
    //     `sync_pipe()` you write: nix's pipe2 with O_CLOEXEC (the command must not inherit it),
    //     returning (read end, write end).
    let parent = getpid();
    explain!("fork()  # copy this process: the copy will become the command");
    // SAFETY: the runtime is single-threaded, so the child may run any code before it execs.
    match unsafe { fork() }.syscall("fork")? {
        ForkResult::Child => {
            // TODO(level 8) step 2: first thing in the child: drop(ready_write), then, after
            //     die_with_parent, block in a `wait_until_attached(ready_read)` you write, before
            //     `child(..)`: read one byte; end of file means the parent gave up (or died), so
            //     return an error: never exec.
            let Err(err) = die_with_parent(parent).and_then(|()| child(&args, &container));
            kit::exit_child(err)
        }
        ForkResult::Parent { child } => {
            // TODO(level 8) step 3: in the parent, while the child waits: drop(ready_read), then
            //     `place_in_cgroup(&cgroup, &args, child)` (steps 5 to 8) and, if it worked,
            //     `release(ready_write)`, a function you write that writes one byte to the pipe. If
            //     placing fails, ready_write is closed unwritten: the child sees end of file and
            //     exits. Keep the result, and return it after cleaning up (step 4).
            let _ = &cgroup; // unused until you put the child in it (step 3)
            let code = wait_for(child)?;
            // TODO(level 8) step 4: once the command has ended: a `remove_cgroup(&cgroup)` you
            //     write. rmdir the group's directory in each hierarchy (`cgroup.dirs()`), never the
            //     parent; retry on EBUSY (processes still leaving: 50 times, 10 ms apart); a
            //     failure is a warning on stderr, not an error that would hide the exit code.
            remove_container(&container);
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

// TODO(level 8) step 5: write `fn place_in_cgroup(cgroup: &Cgroup, args: &RunArgs, child: Pid) ->
//     Result<()>`: create the group (step 6), write its limits (step 7), then move the child into
//     it (step 8). Limits first: the command never runs a moment without them.
// TODO(level 8) step 6: write `create_cgroup(cgroup)`: on v2 first enable the controllers (`+cpu`)
//     in `cgroup.subtree_control` of every group from the root down to the parent (creating them),
//     never in the container's group itself; then `mkdir -p` each of `cgroup.dirs()`.
// TODO(level 8) step 7: write `limit_cpu(cgroup, args)`: --cpus as a quota per 100000 µs period (v1
//     `cpu.cfs_period_us` then `cpu.cfs_quota_us`; v2 `cpu.max` "QUOTA 100000"), and --cpu-shares
//     (v1 `cpu.shares`; v2 `cpu.weight` = 1 + ((shares - 2) * 9999) / 262142).
//     kit::cgroup::write_file writes a file, narrated.
// TODO(level 8) step 8: write `attach(cgroup, child)`: write the child's pid to `cgroup.procs` in
//     each of `cgroup.dirs()`.
