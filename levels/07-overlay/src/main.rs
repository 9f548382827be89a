// Generated from solutions/runtime.rs by `cargo xtask generate`; this is your file: edit it.
//! Level 7 — overlayfs: one extracted image, a thin writable layer per container.
//!
//! The image is extracted once and shared read-only by every container; each container gets an
//! overlay mount whose upper layer takes its writes (overlayfs(5), filesystems/overlayfs in the
//! kernel docs). Starting a container no longer copies the image.
//!
//! Try: `cargo run -p solution7 -- run -- /bin/sh -c 'rm /bin/ls; echo gone'`, then again: ls is
//! back.

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
    // TODO(level 7) step 1: stop extracting a whole copy of the image for every container: delete
    //     the extract_image call here (and extract_image in earlier.rs); the child mounts an
    //     overlay instead (step 2).
    // A missing or refused image is bad input: leave no container directory behind.
    extract_image(&args, &container.rootfs()).inspect_err(|_| remove_container(&container))?;
    unshare_pid_namespace()?;
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
    unshare_network()?;
    bring_up_loopback()?;
    unshare_mount_namespace()?;
    make_mounts_private()?;
    // TODO(level 7) step 2: mount an overlay on the rootfs in a `mount_overlay(args, container)`
    //     you write: lowerdir = the image extracted once (kit::image::extract_once); create the
    //     container's `upper/` and `work/` dirs and its `rootfs/` (no extraction makes it any more)
    //     before mounting; upperdir and workdir are those two.
    mount_proc(rootfs)?;
    mount_dev(rootfs)?;
    pivot_into(rootfs)?;
    exec_command(&args.command)
}
