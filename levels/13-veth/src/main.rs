// Generated from solutions/runtime.rs by `cargo xtask generate`; this is your file: edit it.
//! Level 13 — a network cable: a veth pair from the host into the container.
//!
//! A veth pair is two network interfaces joined like the ends of a cable: what one sends, the
//! other receives (veth(4)). The runtime creates one, moves one end into the container's network
//! namespace as `eth0`, and gives both ends an address; a default route inside sends everything
//! else to the host's end. The kernel is asked through netlink (rtnetlink(7)), as `ip` does.
//!
//! Try: `cargo run -p solution13 -- run --ip 10.13.0.7 -- /bin/ip addr`

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
    // TODO(level 13) step 1: before fork, a `plug_in_cable(&args)` you write (step 6): a veth pair
    //     whose host end is addressed and up. On error, remove the container (as below) and return
    //     it.
    let parent = getpid();
    explain!("fork()  # copy this process: the copy will become the command");
    // SAFETY: the runtime is single-threaded, so the child may run any code before it execs.
    match unsafe { fork() }.syscall("fork")? {
        ForkResult::Child => {
            drop(ready_write);
            let Err(err) = die_with_parent(parent)
                .and_then(|()| wait_until_attached(ready_read))
                // TODO(level 13) step 2: give the child the cable: `child(&args, &container,
                //     &cable)`, and `cable: &Cable` to child's parameters.
                .and_then(|()| child(&args, &container));
            kit::exit_child(err)
        }
        ForkResult::Parent { child } => {
            drop(ready_read);
            let placed = place_in_cgroup(&cgroup, &args, child).and_then(|()| release(ready_write));
            let code = wait_for(child)?;
            // TODO(level 13) step 3: after wait_for, an `unplug_cable(&cable)` you write (step 9).
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
    // TODO(level 13) step 4: before unshare(CLONE_NEWNET): `let mut host = Netlink::open()?;`. A
    //     netlink socket speaks to the namespace it was opened in, even after the unshare.
    unshare_network()?;
    bring_up_loopback()?;
    // TODO(level 13) step 5: then `take_cable_end(&mut host, cable)?` (step 7) and
    //     `configure_eth0(cable)?` (step 8).
    unshare_mount_namespace()?;
    make_mounts_private()?;
    mount_overlay(args, container)?;
    mount_proc(rootfs)?;
    mount_dev(rootfs)?;
    pivot_into(rootfs)?;
    drop_capabilities()?;
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

// TODO(level 13) step 6: write `fn plug_in_cable(args: &RunArgs) -> Result<Cable>`: with a Netlink
//     socket (kit::netlink), for --ip or else each free address from 10.13.0.2 on, create the pair
//     (RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, kind "veth", the peer in IFLA_INFO_DATA /
//     VETH_INFO_PEER); EEXIST means that address is taken: try the next. Then give the host end
//     10.13.0.1 with the container's address as its peer (RTM_NEWADDR, prefix 32, IFA_LOCAL and
//     IFA_ADDRESS) and bring it up (RTM_NEWLINK with IFF_UP).
// TODO(level 13) step 7: write `take_cable_end(host, cable)`: move the container's end into this
//     process's network namespace and rename it eth0, in one RTM_NEWLINK on `host` (IFLA_NET_NS_FD,
//     a file open on /proc/self/ns/net, and IFLA_IFNAME "eth0").
// TODO(level 13) step 8: write `configure_eth0(cable)`: with a socket opened now (inside), give
//     eth0 the container's address /24, bring it up, and add a default route via 10.13.0.1
//     (RTM_NEWROUTE, destination length 0, RTA_GATEWAY, RTA_OIF).
// TODO(level 13) step 9: write `unplug_cable(cable)`: delete the host end (RTM_DELLINK by its
//     index); the kernel deletes its peer with it. A failure is a warning, not an error.
