// Generated from solutions/runtime.rs by `cargo xtask generate`; this is your file: edit it.
//! Level 12 — capabilities: root inside, but only Docker's short list of root's powers.
//!
//! Root's privileges are some forty capabilities (capabilities(7)). Before exec the child drops
//! all but Docker's default fourteen from its bounding set and its permitted, effective and
//! inheritable sets, clears the ambient set, and sets no_new_privs: no later exec (a setuid
//! binary, a file with capabilities) can give any back.
//!
//! Try: `cargo run -p solution12 -- run -- /bin/grep Cap /proc/self/status`

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
    // TODO(level 12) step 1: root's powers, cut down to Docker's list, in a `drop_capabilities()`
    //     you write (steps 2 to 5), after every mount, pivot_root and sethostname above, and BEFORE
    //     level 11's become_user: dropping the bounding set needs CAP_SETPCAP, which setuid to a
    //     non-root user takes away.
    if let Some(wanted) = args.user {
        become_user(wanted)?;
    }
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

// TODO(level 12) step 2: write `drop_capabilities()`: drop_bounding_set (step 3), set_capabilities
//     (step 4), a `clear_ambient_set()` (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)),
//     then nix's set_no_new_privs (step 5).
// TODO(level 12) step 3: write `drop_bounding_set()`: prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) for
//     every cap from 0 up that is not Docker's (a const DOCKER_CAPABILITIES you write: CHOWN 0,
//     DAC_OVERRIDE 1, FOWNER 3, FSETID 4, KILL 5, SETGID 6, SETUID 7, SETPCAP 8, NET_BIND_SERVICE
//     10, NET_RAW 13, SYS_CHROOT 18, MKNOD 27, AUDIT_WRITE 29, SETFCAP 31; as a mask 0xa80425fb);
//     EINVAL means you are past the kernel's last capability: stop.
// TODO(level 12) step 4: write `set_capabilities()`: capset(2) with version 3 (two 32-bit halves of
//     each set): effective = permitted = Docker's set, inheritable = none. libc has the syscall
//     number (libc::SYS_capset) but not the two structs: declare them #[repr(C)].
// TODO(level 12) step 5: no_new_privs: no exec from now on can gain a privilege (a setuid-root
//     binary stays the caller's user), and the capability sets can only shrink.
