// Generated from solutions/runtime.rs by `cargo xtask generate`; this is your file: edit it.
//! Level 5 — a PID namespace: the command is PID 1.
//!
//! `unshare(CLONE_NEWPID)` does not move the caller: its next child is the first process, PID 1,
//! of a new PID namespace (pid_namespaces(7)). A procfs mounted inside then lists only the
//! container's processes.
//!
//! Try: `cargo run -p solution5 -- run -- /bin/ps`

mod earlier;

use earlier::*;
use kit::prelude::*;
use nix::unistd::{fork, getpid, ForkResult};
use std::convert::Infallible;

fn main() -> std::process::ExitCode {
    kit::main!(run)
}

/// Runs the command in a new container and returns the exit code to leave with.
fn run(args: RunArgs) -> Result<i32> {
    let container = Container::create(&args)?;
    // A missing or refused image is bad input: leave no container directory behind.
    extract_image(&args, &container.rootfs()).inspect_err(|_| remove_container(&container))?;
    // TODO(level 5) step 1: unshare(CLONE_NEWPID) here, in the parent, before fork: the runtime
    //     stays where it is, and the child it forks next becomes PID 1 of the new namespace.
    let parent = getpid();
    explain!("fork()  # copy this process: the copy will become the command");
    // SAFETY: the runtime is single-threaded, so the child may run any code before it execs.
    match unsafe { fork() }.syscall("fork")? {
        ForkResult::Child => {
            let Err(err) = die_with_parent(parent).and_then(|()| child(&args, &container));
            kit::exit_child(err)
        }
        ForkResult::Parent { child } => {
            let code = wait_for(child)?;
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
    unshare_mount_namespace()?;
    make_mounts_private()?;
    mount_proc(rootfs)?;
    mount_dev(rootfs)?;
    pivot_into(rootfs)?;
    exec_command(&args.command)
}
