// Generated from solutions/runtime.rs by `cargo xtask generate`; this is your file: edit it.
//! Level 11 — a user: the command runs as `--user UID[:GID]`, not as root.
//!
//! Everything that needs root happens first; then the child gives up its supplementary groups
//! (setgroups), its group (setgid) and its user (setuid), in that order: each of the first two
//! needs a privilege the last one takes away (credentials(7)).
//!
//! Try: `cargo run -p solution11 -- run --user 1000:1000 -- /bin/id`

mod earlier;

use earlier::*;
use kit::cgroup::Cgroup;
use kit::prelude::*;
use nix::unistd::{fork, getpid, ForkResult, Pid};
use std::convert::Infallible;

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
            kill_remaining(&cgroup);
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
    // TODO(level 11) step 1: when --user is given (args.user), a `become_user(user)` you write
    //     (step 2), the last thing before exec: everything above needs root.
    exec_command(&args.command)
}

/// In the parent, while the child waits on the pipe: the container's group, its limits, and the
/// child in it. Limits first: the command never runs a moment without them.
fn place_in_cgroup(cgroup: &Cgroup, args: &RunArgs, child: Pid) -> Result<()> {
    create_cgroup(cgroup)?;
    limit_cpu(cgroup, args)?;
    limit_memory(cgroup, args)?;
    limit_pids(cgroup, args)?;
    attach(cgroup, child)
}

// TODO(level 11) step 2: write `fn become_user(user: kit::cli::User) -> Result<()>`: setgroups(&[])
//     (the runtime's supplementary groups must not follow the command), then setgid(user.gid()),
//     then setuid(user.uid), in this order: setgroups and setgid need CAP_SETGID, and setuid from
//     root to another user drops every capability. Then set PR_SET_PDEATHSIG again (nix's
//     set_pdeathsig): the kernel clears it when the process's user or group changes.
