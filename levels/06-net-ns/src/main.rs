// Generated from solutions/runtime.rs by `cargo xtask generate`; this is your file: edit it.
//! Level 6 — a network namespace: only a loopback device, brought up.
//!
//! `unshare(CLONE_NEWNET)` gives the container a network stack of its own (network_namespaces(7)):
//! none of the host's interfaces, a `lo` that is down until the runtime brings it up (and, where
//! the sit, ipip or ip_gre modules are loaded, their fallback tunnels such as `sit0`).
//!
//! Try: `cargo run -p solution6 -- run -- /bin/cat /proc/net/dev`

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
    // TODO(level 6) step 1: unshare(CLONE_NEWNET): a network stack of its own, with `lo` down and
    //     none of the host's interfaces.
    // TODO(level 6) step 2: bring `lo` up, with the SIOCGIFFLAGS and SIOCSIFFLAGS ioctls
    //     (netdevice(7)), in a `bring_up_loopback()` you write.
    unshare_mount_namespace()?;
    make_mounts_private()?;
    mount_proc(rootfs)?;
    mount_dev(rootfs)?;
    pivot_into(rootfs)?;
    exec_command(&args.command)
}
