// Generated from solutions/runtime.rs by `cargo xtask generate`; this is your file: edit it.
//! Level 4 — UTS and IPC namespaces: a hostname of its own.
//!
//! `unshare(CLONE_NEWUTS)` gives the container its own hostname (uts_namespaces(7));
//! `CLONE_NEWIPC` its own System V IPC objects and POSIX message queues. Setting the hostname
//! inside changes nothing on the host.
//!
//! Try: `cargo run -p solution4 -- run --hostname box -- /bin/hostname`, then `hostname` on the
//! host.

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
    // TODO(level 4) step 1: unshare(CLONE_NEWUTS | CLONE_NEWIPC): a hostname and IPC objects of its
    //     own.
    // TODO(level 4) step 2: sethostname to --hostname (args.hostname), or to the container id
    //     (container.id) when no hostname was given.
    unshare_mount_namespace()?;
    make_mounts_private()?;
    mount_proc(rootfs)?;
    mount_dev(rootfs)?;
    pivot_into(rootfs)?;
    exec_command(&args.command)
}
