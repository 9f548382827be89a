// Generated from solutions/runtime.rs by `cargo xtask generate`; this is your file: edit it.
//! Level 3 — pivot_root: leave the host's filesystem behind.
//!
//! chroot only changes where path lookups start: the host's root stays mounted, and a root process
//! can climb back out. `pivot_root(2)` swaps the whole mount namespace's root for the container's
//! rootfs; unmounting the old root then removes the host's filesystem from view.
//!
//! Try: `cargo run -p solution3 -- run -- /bin/cat /proc/self/mountinfo`

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
    unshare_mount_namespace()?;
    make_mounts_private()?;
    mount_proc(rootfs)?;
    mount_dev(rootfs)?;
    // TODO(level 3) step 1: replace chroot_into with a `pivot_into(rootfs)` you write: bind-mount
    //     the rootfs onto itself, chdir into it, create the `.old_root` directory there,
    //     pivot_root(".", ".old_root"), chdir("/"), then unmount the old root (MNT_DETACH) and
    //     remove its directory. Then delete chroot_into from earlier.rs.
    chroot_into(rootfs)?;
    exec_command(&args.command)
}
