// Generated from solutions/runtime.rs by `cargo xtask generate`; this is your file: edit it.
//! Level 1 — chroot: give the command its own root filesystem.
//!
//! `chroot(2)` changes what `/` means for the calling process and its children: every path lookup
//! now starts in the container's rootfs, a fresh copy of the image. Nothing else is isolated yet.
//!
//! Try: `cargo run -p solution1 -- run --explain -- /bin/ls /`

mod earlier;

use earlier::*;
use kit::prelude::*;
use nix::unistd::{fork, getpid, ForkResult};
use std::convert::Infallible;
use std::path::Path;

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
    // TODO(level 1) step 1: chroot into the rootfs, then chdir("/") so that the working directory
    //     is inside the new root too.
    let _ = rootfs; // unused until you chroot into it
    exec_command(&args.command)
}

/// Unpacks a fresh copy of the image: each container starts from the image as it was built.
fn extract_image(args: &RunArgs, rootfs: &Path) -> Result<()> {
    let (image, dir) = (&args.image, rootfs.display());
    explain!("extract {image}.tar into {dir}  # this container's own copy of the image");
    kit::image::extract(&args.image_dir(), &args.image, rootfs)
}

/// Deletes the container's directory once the command has ended. A failure here must not hide
/// the command's exit code, so it is only reported.
fn remove_container(container: &Container) {
    let dir = container.dir.display();
    explain!("rm -r {dir}  # the container is gone: delete its files");
    if let Err(err) = container.remove() {
        eprintln!("{}: warning: {err:#}", kit::program_name());
    }
}
