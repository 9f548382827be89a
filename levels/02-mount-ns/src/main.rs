// Generated from solutions/runtime.rs by `cargo xtask generate`; this is your file: edit it.
//! Level 2 — a mount namespace with its own /proc and /dev.
//!
//! `unshare(CLONE_NEWNS)` gives the child its own copy of the mount table. Once every mount in it
//! is private, what the container mounts (a procfs, a tmpfs /dev) never reaches the host.
//!
//! Try: `cargo run -p solution2 -- run -- /bin/mount`, then `mount` on the host: compare.

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
    // TODO(level 2) step 1: unshare(CLONE_NEWNS): from here on this process has its own copy of the
    //     mount table.
    // TODO(level 2) step 2: make every mount in the copy private (MS_REC | MS_PRIVATE), so that the
    //     mounts made below are not propagated back to the host.
    // TODO(level 2) step 3: mount a fresh procfs on <rootfs>/proc; where that fails with EPERM in a
    //     user namespace (rootless), bind the host's /proc there instead (MS_REC).
    // TODO(level 2) step 4: mount a tmpfs on <rootfs>/dev and create the device nodes in it (null,
    //     zero, full, random, urandom, tty) with mknod, then chmod each to 0666; where mknod fails
    //     with EPERM (in a user namespace), bind-mount the host's node onto an empty file instead.
    //     Then mount a devpts on <rootfs>/dev/pts and make `ptmx` a symlink to `pts/ptmx`.
    chroot_into(rootfs)?;
    exec_command(&args.command)
}
