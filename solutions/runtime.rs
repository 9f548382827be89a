//@ only 0
//! Level 0 — fork, exec, wait: run a command the way a shell does.
//!
//! The kernel makes a new process by copying one (`fork`) and runs a program by replacing the
//! calling process's image with it (`execve`). A runtime is a parent that forks, lets the child
//! become the command, and waits to learn how it ended.
//!
//! Try: `cargo run -p solution0 -- run --explain -- /bin/sh -c 'exit 3'; echo $?`
//@ end
//@ only 1
//! Level 1 — chroot: give the command its own root filesystem.
//!
//! `chroot(2)` changes what `/` means for the calling process and its children: every path lookup
//! now starts in the container's rootfs, a fresh copy of the image. Nothing else is isolated yet.
//!
//! Try: `cargo run -p solution1 -- run --explain -- /bin/ls /`
//@ end
//@ only 2
//! Level 2 — a mount namespace with its own /proc and /dev.
//!
//! `unshare(CLONE_NEWNS)` gives the child its own copy of the mount table. Once every mount in it
//! is private, what the container mounts (a procfs, a tmpfs /dev) never reaches the host.
//!
//! Try: `cargo run -p solution2 -- run -- /bin/mount`, then `mount` on the host: compare.
//@ end
//@ only 3
//! Level 3 — pivot_root: leave the host's filesystem behind.
//!
//! chroot only changes where path lookups start: the host's root stays mounted, and a root process
//! can climb back out. `pivot_root(2)` swaps the whole mount namespace's root for the container's
//! rootfs; unmounting the old root then removes the host's filesystem from view.
//!
//! Try: `cargo run -p solution3 -- run -- /bin/cat /proc/self/mountinfo`
//@ end
//@ only 4
//! Level 4 — UTS and IPC namespaces: a hostname of its own.
//!
//! `unshare(CLONE_NEWUTS)` gives the container its own hostname (uts_namespaces(7));
//! `CLONE_NEWIPC` its own System V IPC objects and POSIX message queues. Setting the hostname
//! inside changes nothing on the host.
//!
//! Try: `cargo run -p solution4 -- run --hostname box -- /bin/hostname`, then `hostname` on the
//! host.
//@ end
//@ only 5
//! Level 5 — a PID namespace: the command is PID 1.
//!
//! `unshare(CLONE_NEWPID)` does not move the caller: its next child is the first process, PID 1,
//! of a new PID namespace (pid_namespaces(7)). A procfs mounted inside then lists only the
//! container's processes.
//!
//! Try: `cargo run -p solution5 -- run -- /bin/ps`
//@ end
//@ only 6
//! Level 6 — a network namespace: only a loopback device, brought up.
//!
//! `unshare(CLONE_NEWNET)` gives the container a network stack of its own (network_namespaces(7)):
//! none of the host's interfaces, a `lo` that is down until the runtime brings it up (and, where
//! the sit, ipip or ip_gre modules are loaded, their fallback tunnels such as `sit0`).
//!
//! Try: `cargo run -p solution6 -- run -- /bin/cat /proc/net/dev`
//@ end
//@ only 7
//! Level 7 — overlayfs: one extracted image, a thin writable layer per container.
//!
//! The image is extracted once and shared read-only by every container; each container gets an
//! overlay mount whose upper layer takes its writes (overlayfs(5), filesystems/overlayfs in the
//! kernel docs). Starting a container no longer copies the image.
//!
//! Try: `cargo run -p solution7 -- run -- /bin/sh -c 'rm /bin/ls; echo gone'`, then again: ls is
//! back.
//@ end
//@ only 8
//! Level 8 — a cgroup of its own: a CPU quota and a CPU weight.
//!
//! A control group is a directory in a cgroup filesystem; the processes listed in its
//! `cgroup.procs` share the limits written to its other files (cgroups(7)). The runtime makes one
//! per container, puts the child in it before the command runs, and removes it afterwards.
//!
//! Try: `cargo run -p solution8 -- run --cpus 0.5 -- /bin/cat /proc/self/cgroup`
//@ end
//@ only 9
//! Level 9 — a memory limit, and saying why the OOM killer struck.
//!
//! The memory controller charges every page the container's processes use to its group; past the
//! limit the kernel reclaims, then kills one of them with SIGKILL (the OOM killer) and counts the
//! kill in the group's `memory.events` (v2) or `memory.oom_control` (v1).
//!
//! Try: `cargo run -p solution9 -- run --memory 16m -- /bin/sh -c 'x=$(yes | head -c 64m)'`
//@ end
//@ only 10
//! Level 10 — a process limit that stops a fork bomb.
//!
//! The pids controller refuses `fork` and `clone` with EAGAIN once a group holds `pids.max`
//! processes and threads. And a group can hold processes the container's PID namespace does not
//! know: the runtime kills whatever is left in it before removing it.
//!
//! Try: `cargo run -p solution10 -- run --pids-limit 2 -- /bin/sh -c 'sleep 1 & sleep 1 & sleep 1'`
//@ end
//@ only 11
//! Level 11 — a user: the command runs as `--user UID[:GID]`, not as root.
//!
//! Everything that needs root happens first; then the child gives up its supplementary groups
//! (setgroups), its group (setgid) and its user (setuid), in that order: each of the first two
//! needs a privilege the last one takes away (credentials(7)).
//!
//! Try: `cargo run -p solution11 -- run --user 1000:1000 -- /bin/id`
//@ end
//@ only 12
//! Level 12 — capabilities: root inside, but only Docker's short list of root's powers.
//!
//! Root's privileges are some forty capabilities (capabilities(7)). Before exec the child drops
//! all but Docker's default fourteen from its bounding set and its permitted, effective and
//! inheritable sets, clears the ambient set, and sets no_new_privs: no later exec (a setuid
//! binary, a file with capabilities) can give any back.
//!
//! Try: `cargo run -p solution12 -- run -- /bin/grep Cap /proc/self/status`
//@ end
//@ only 13
//! Level 13 — a network cable: a veth pair from the host into the container.
//!
//! A veth pair is two network interfaces joined like the ends of a cable: what one sends, the
//! other receives (veth(4)). The runtime creates one, moves one end into the container's network
//! namespace as `eth0`, and gives both ends an address; a default route inside sends everything
//! else to the host's end. The kernel is asked through netlink (rtnetlink(7)), as `ip` does.
//!
//! Try (in a network namespace of its own, as the checker runs it):
//! `unshare --net cargo run -p solution13 -- run --ip 10.13.0.7 -- /bin/ip addr`
//@ end

use kit::cgroup::{keyed, read_file, write_file, Cgroup};
use kit::cli::{MemorySwap, IP_GATEWAY, IP_NETWORK, IP_PREFIX_LEN};
use kit::netlink::{
    Message, Netlink, IFA_ADDRESS, IFA_LOCAL, IFLA_IFNAME, IFLA_INFO_DATA, IFLA_INFO_KIND,
    IFLA_LINKINFO, IFLA_NET_NS_FD, NLM_F_CREATE, NLM_F_EXCL, RTA_GATEWAY, RTA_OIF, RTM_DELLINK,
    RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE, VETH_INFO_PEER,
};
use kit::prelude::*;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::prctl::{set_no_new_privs, set_pdeathsig};
use nix::sys::signal::kill;
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{
    chdir, chroot, execvp, fork, getpid, getppid, pipe2, pivot_root, read, setgid, setgroups,
    sethostname, setuid, write, ForkResult, Gid, Pid, Uid,
};
use std::convert::Infallible;
use std::ffi::OsString;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::time::Duration;
//@ only 8

/// The controllers this level's containers use: each is a hierarchy of its own on v1, and a
/// `+cpu` in `cgroup.subtree_control` on v2.
const CONTROLLERS: &[&str] = &["cpu"];
//@ end
//@ only 9

/// The controllers this level's containers use: each is a hierarchy of its own on v1, and a
/// `+cpu +memory` in `cgroup.subtree_control` on v2.
const CONTROLLERS: &[&str] = &["cpu", "memory"];
//@ end
//@ from 10

/// The controllers this level's containers use: each is a hierarchy of its own on v1, and a
/// `+cpu +memory +pids` in `cgroup.subtree_control` on v2.
const CONTROLLERS: &[&str] = &["cpu", "memory", "pids"];
//@ end

fn main() -> std::process::ExitCode {
    kit::main!(run)
}

/// Runs the command in a new container and returns the exit code to leave with.
fn run(args: RunArgs) -> Result<i32> {
    //@ level 9
    //@ todo 3: first thing in run, a `memory_limits(&args)?` you write (limit_memory uses it too):
    //@ todo    --memory-swap below --memory, or without it, is a kit::BadInput error, refused
    //@ todo    before the container, its group or the child exist (exit 2, one line).
    // Bad --memory-swap is refused before anything exists: nothing to undo, one line, exit 2.
    memory_limits(&args)?;
    //@ end
    //@ from 1
    let container = Container::create(&args)?;
    //@ end
    //@ level 7
    //@ todo 1: stop extracting a whole copy of the image for every container: delete the
    //@ todo    extract_image call here (and extract_image in earlier.rs); the child mounts an
    //@ todo    overlay instead (step 2).
    //@ end
    //@ from 1..=6
    // A missing or refused image is bad input: leave no container directory behind.
    extract_image(&args, &container.rootfs()).inspect_err(|_| remove_container(&container))?;
    //@ end
    //@ level 5
    //@ todo 1: unshare(CLONE_NEWPID) here, in the parent, before fork: the runtime stays where it
    //@ todo    is, and the child it forks next becomes PID 1 of the new namespace.
    unshare_pid_namespace()?;
    //@ end
    //@ from 8
    let cgroup = Cgroup::new(&args.cgroup_parent, &container.id, CONTROLLERS)
        .inspect_err(|_| remove_container(&container))?;
    //@ end
    //@ level 8
    //@ todo 1: make the pipe the child waits on until it is in its cgroup, in a `sync_pipe()` you
    //@ todo    write: nix's pipe2 with O_CLOEXEC (the command must not inherit it), returning
    //@ todo    (read end, write end).
    let (ready_read, ready_write) = sync_pipe()?;
    //@ end
    //@ level 0
    //@ todo 1: fork() a child. fork returns twice: in the child (ForkResult::Child)
    //@ todo    and in the parent (ForkResult::Parent { child }). The child calls
    //@ todo    `die_with_parent(parent)` (step 5; `parent` is getpid(), taken before fork), then
    //@ todo    `child(&args)`, and hands the error to kit::exit_child; the parent returns
    //@ todo    `wait_for(child)`. nix's fork is `unsafe`: write a // SAFETY: comment saying why it
    //@ todo    is sound here.
    //@ level 13
    //@ todo 1: before fork, a `plug_in_cable(&args)` you write (step 6): a veth pair whose host
    //@ todo    end is addressed and up. On error, remove the container (as below) and return it.
    let cable = plug_in_cable(&args).inspect_err(|_| remove_container(&container))?;
    //@ end
    let parent = getpid();
    explain!("fork()  # copy this process: the copy will become the command");
    // SAFETY: the runtime is single-threaded, so the child may run any code before it execs.
    match unsafe { fork() }.syscall("fork")? {
        ForkResult::Child => {
            //@ level 8
            //@ todo 2: first thing in the child: drop(ready_write), then, after
            //@ todo    die_with_parent, block in a `wait_until_attached(ready_read)` you write,
            //@ todo    before `child(..)`: read one byte; end of file means the parent gave up (or
            //@ todo    died), so return an error: never exec.
            drop(ready_write);
            let Err(err) = die_with_parent(parent)
                .and_then(|()| wait_until_attached(ready_read))
                //@ level 13
                //@ todo 2: give the child the cable: `child(&args, &container, &cable)`, and
                //@ todo    `cable: &Cable` to child's parameters.
                .and_then(|()| child(&args, &container, &cable));
                //@ else
                .and_then(|()| child(&args, &container));
                //@ end
            //@ else
            //@ from 1
            let Err(err) = die_with_parent(parent).and_then(|()| child(&args, &container));
            //@ else
            let Err(err) = die_with_parent(parent).and_then(|()| child(&args));
            //@ end
            //@ end
            kit::exit_child(err)
        }
        ForkResult::Parent { child } => {
            //@ level 8
            //@ todo 3: in the parent, while the child waits: drop(ready_read), then
            //@ todo    `place_in_cgroup(&cgroup, &args, child)` (steps 5 to 8) and, if it worked,
            //@ todo    `release(ready_write)`, a function you write that writes one byte to the
            //@ todo    pipe. If placing fails, ready_write is closed unwritten: the child sees end
            //@ todo    of file and exits. Keep the result, and return it after cleaning up (step 4).
            drop(ready_read);
            let placed = place_in_cgroup(&cgroup, &args, child).and_then(|()| release(ready_write));
            //@ else
            //@ only 8
            let _ = &cgroup; // unused until you put the child in it (step 3)
            //@ end
            //@ end
            let code = wait_for(child)?;
            //@ level 13
            //@ todo 3: after wait_for, an `unplug_cable(&cable)` you write (step 9).
            unplug_cable(&cable);
            //@ end
            //@ level 9
            //@ todo 2: after wait_for, before the group is removed: a
            //@ todo    `say_if_out_of_memory(&cgroup, &args, code)` you write. When the command died
            //@ todo    of SIGKILL (code 137) and the group's OOM kill counter (v2 `memory.events`,
            //@ todo    v1 `memory.oom_control`, line `oom_kill N`) is above 0, print
            //@ todo    `<program>: killed: out of memory (limit 64 MiB)` on stderr.
            say_if_out_of_memory(&cgroup, &args, code);
            //@ end
            //@ level 10
            //@ todo 2: before removing the group: a `kill_remaining(&cgroup)` you write. A process
            //@ todo    outside the PID namespace may still be in the group: on v2 write 1 to
            //@ todo    `cgroup.kill` where it exists, else SIGKILL each pid in `cgroup.procs`, again
            //@ todo    until it is empty (bounded: 50 rounds, 10 ms apart).
            kill_remaining(&cgroup);
            //@ end
            //@ from 9
            give_back_memory(&cgroup);
            //@ end
            //@ level 8
            //@ todo 4: once the command has ended: a `remove_cgroup(&cgroup)` you write. rmdir the
            //@ todo    group's directory in each hierarchy (`cgroup.dirs()`), never the parent;
            //@ todo    retry on EBUSY (processes still leaving: 50 times, 10 ms apart); a failure is
            //@ todo    a warning on stderr, not an error that would hide the exit code.
            remove_cgroup(&cgroup);
            //@ end
            //@ from 1
            remove_container(&container);
            //@ end
            //@ level 8
            placed?;
            //@ end
            Ok(code)
        }
    }
    //@ else
    let _ = args;
    anyhow::bail!("no command runs yet: write the TODOs in levels/00-fork-exec/src/main.rs")
    //@ end
}
//@ main
//@ level 0
//@ todo 2: write `fn child(args: &RunArgs) -> Result<Infallible>`: in the child process,
//@ todo    become the command by calling `exec_command` (step 3). It returns only on failure.

/// In the child: set up the container, then become the command. Returns only on failure.
//@ level 13
fn child(args: &RunArgs, container: &Container, cable: &Cable) -> Result<Infallible> {
    let rootfs = &container.rootfs();
    //@ else
//@ from 1
fn child(args: &RunArgs, container: &Container) -> Result<Infallible> {
    let rootfs = &container.rootfs();
    //@ else
fn child(args: &RunArgs) -> Result<Infallible> {
    //@ end
    //@ end
    //@ level 4
    //@ todo 1: unshare(CLONE_NEWUTS | CLONE_NEWIPC): a hostname and IPC objects of its own.
    unshare_uts_and_ipc()?;
    //@ todo 2: sethostname to --hostname (args.hostname), or to the container id (container.id)
    //@ todo    when no hostname was given.
    set_hostname(args.hostname.as_deref().unwrap_or(&container.id))?;
    //@ end
    //@ level 13
    //@ todo 4: before unshare(CLONE_NEWNET): `let mut host = Netlink::open()?;`. A netlink
    //@ todo    socket speaks to the namespace it was opened in, even after the unshare.
    let mut host = Netlink::open()?;
    //@ end
    //@ level 6
    //@ todo 1: unshare(CLONE_NEWNET): a network stack of its own, with `lo` down and none of
    //@ todo    the host's interfaces.
    unshare_network()?;
    //@ todo 2: bring `lo` up, with the SIOCGIFFLAGS and SIOCSIFFLAGS ioctls (netdevice(7)),
    //@ todo    in a `bring_up_loopback()` you write.
    bring_up_loopback()?;
    //@ end
    //@ level 13
    //@ todo 5: then `take_cable_end(&mut host, cable)?` (step 7) and `configure_eth0(cable)?`
    //@ todo    (step 8).
    take_cable_end(&mut host, cable)?;
    configure_eth0(cable)?;
    //@ end
    //@ level 2
    //@ todo 1: unshare(CLONE_NEWNS): from here on this process has its own copy of
    //@ todo    the mount table.
    unshare_mount_namespace()?;
    //@ todo 2: make every mount in the copy private (MS_REC | MS_PRIVATE), so that
    //@ todo    the mounts made below are not propagated back to the host.
    make_mounts_private()?;
    //@ level 7
    //@ todo 2: mount an overlay on the rootfs in a `mount_overlay(args, container)` you write:
    //@ todo    lowerdir = the image extracted once (kit::image::extract_once); create the
    //@ todo    container's `upper/` and `work/` dirs and its `rootfs/` (no extraction makes it
    //@ todo    any more) before mounting; upperdir and workdir are those two.
    mount_overlay(args, container)?;
    //@ end
    //@ todo 3: mount a fresh procfs on <rootfs>/proc; where that fails with EPERM in a
    //@ todo    user namespace (rootless), bind the host's /proc there instead (MS_REC).
    mount_proc(rootfs)?;
    //@ todo 4: mount a tmpfs on <rootfs>/dev and create the device nodes in it (null,
    //@ todo    zero, full, random, urandom, tty) with mknod, then chmod each to 0666; where
    //@ todo    mknod fails with EPERM (in a user namespace), bind-mount the host's node onto
    //@ todo    an empty file instead. Then mount a devpts on <rootfs>/dev/pts and make
    //@ todo    `ptmx` a symlink to `pts/ptmx`.
    mount_dev(rootfs)?;
    //@ end
    //@ level 3
    //@ todo 1: replace chroot_into with a `pivot_into(rootfs)` you write: bind-mount the rootfs
    //@ todo    onto itself, chdir into it, create the `.old_root` directory there,
    //@ todo    pivot_root(".", ".old_root"), chdir("/"), then unmount the old root (MNT_DETACH)
    //@ todo    and remove its directory. Then delete chroot_into from earlier.rs.
    pivot_into(rootfs)?;
    //@ end
    //@ levels 1..=2
    //@ todo 1: chroot into the rootfs, then chdir("/") so that the working directory
    //@ todo    is inside the new root too.
    chroot_into(rootfs)?;
    //@ end
    //@ level 12
    //@ todo 1: root's powers, cut down to Docker's list, in a `drop_capabilities()` you write
    //@ todo    (steps 2 to 5), after every mount, pivot_root and sethostname above, and BEFORE
    //@ todo    level 11's become_user: dropping the bounding set needs CAP_SETPCAP, which setuid
    //@ todo    to a non-root user takes away.
    drop_capabilities()?;
    //@ end
    //@ level 11
    //@ todo 1: when --user is given (args.user), a `become_user(user)` you write (step 2), the
    //@ todo    last thing before exec: everything above needs root.
    if let Some(wanted) = args.user {
        become_user(wanted)?;
    }
    //@ end
    //@ level 1
    //@ else
    //@ only 1
    let _ = rootfs; // unused until you chroot into it
    //@ end
    //@ end
    exec_command(&args.command)
}
//@ end
//@ end
//@ main
//@ level 8
//@ todo 5: write `fn place_in_cgroup(cgroup: &Cgroup, args: &RunArgs, child: Pid) -> Result<()>`:
//@ todo    create the group (step 6), write its limits (step 7), then move the child into it
//@ todo    (step 8). Limits first: the command never runs a moment without them.
//@ todo 6: write `create_cgroup(cgroup)`: on v2 first enable the controllers (`+cpu`) in
//@ todo    `cgroup.subtree_control` of every group from the root down to the parent (creating
//@ todo    them), never in the container's group itself; then `mkdir -p` each of `cgroup.dirs()`.
//@ todo 7: write `limit_cpu(cgroup, args)`: --cpus as a quota per 100000 µs period (v1
//@ todo    `cpu.cfs_period_us` then `cpu.cfs_quota_us`; v2 `cpu.max` "QUOTA 100000"), and
//@ todo    --cpu-shares (v1 `cpu.shares`; v2 `cpu.weight` = 1 + ((shares - 2) * 9999) / 262142).
//@ todo    kit::cgroup::write_file writes a file, narrated.
//@ todo 8: write `attach(cgroup, child)`: write the child's pid to `cgroup.procs` in each of
//@ todo    `cgroup.dirs()`.

/// In the parent, while the child waits on the pipe: the container's group, its limits, and the
/// child in it. Limits first: the command never runs a moment without them.
fn place_in_cgroup(cgroup: &Cgroup, args: &RunArgs, child: Pid) -> Result<()> {
    create_cgroup(cgroup)?;
    limit_cpu(cgroup, args)?;
    //@ level 9
    //@ todo 1: write `limit_memory(cgroup, args)` and call it here: --memory to v1
    //@ todo    `memory.limit_in_bytes` / v2 `memory.max`; --memory-swap as Docker reads it (equal
    //@ todo    to --memory: no swap; -1: unlimited; unset: twice --memory) to v1
    //@ todo    `memory.memsw.limit_in_bytes` (memory + swap) / v2 `memory.swap.max` (swap
    //@ todo    alone), each only where the file exists (the kernel accounts swap).
    limit_memory(cgroup, args)?;
    //@ end
    //@ level 10
    //@ todo 1: write `limit_pids(cgroup, args)` and call it here: --pids-limit to `pids.max`.
    limit_pids(cgroup, args)?;
    //@ end
    attach(cgroup, child)
}
//@ end
//@ end
//@ from 1..=6

/// Unpacks a fresh copy of the image: each container starts from the image as it was built.
fn extract_image(args: &RunArgs, rootfs: &Path) -> Result<()> {
    let (image, dir) = (&args.image, rootfs.display());
    explain!("extract {image}.tar into {dir}  # this container's own copy of the image");
    kit::image::extract(&args.image_dir(), &args.image, rootfs)
}
//@ end
//@ from 1

/// Deletes the container's directory once the command has ended. A failure here must not hide
/// the command's exit code, so it is only reported.
fn remove_container(container: &Container) {
    let dir = container.dir.display();
    explain!("rm -r {dir}  # the container is gone: delete its files");
    if let Err(err) = container.remove() {
        eprintln!("{}: warning: {err:#}", kit::program_name());
    }
}
//@ end
//@ level 0
//@ todo 3: write `fn exec_command(command: &[OsString]) -> Result<Infallible>`: kit::c_strings,
//@ todo    then nix's execvp, which searches PATH; name its error with
//@ todo    `.syscall(format!("execvp({:?})", argv[0]))` and mark it with
//@ todo    `.map_err(kit::cannot_exec)`, so that kit::exit_child exits 127.

//@ todo 4: write `fn wait_for(child: Pid) -> Result<i32>`: waitpid for the child, then return
//@ todo    its exit code, or 128 + N if signal N killed it.

//@ todo 5: write `fn die_with_parent(parent: Pid) -> Result<()>`: prctl(PR_SET_PDEATHSIG,
//@ todo    SIGKILL) (nix::sys::prctl::set_pdeathsig), so that the kernel kills the child when the
//@ todo    runtime dies; then, if getppid() is neither `parent` nor 0, the runtime died before
//@ todo    that: return an error.

/// First thing in the child: die with the runtime. A runtime killed with SIGKILL cannot stop its
/// command, and nothing else owns it (Docker's containers outlive `docker run` because a daemon
/// and a shim own them; ours has neither): PR_SET_PDEATHSIG asks the kernel to send SIGKILL when
/// the parent dies (prctl(2); the parent *thread*, and this runtime has one). It only covers
/// deaths after the call: if getppid() is no longer the runtime, it died in between, and we stop.
/// In a PID namespace of its own (level 5 on) getppid() is 0, the parent being outside it: there
/// only the later deaths are covered (level 8's pipe sees an earlier one as end of file).
fn die_with_parent(parent: Pid) -> Result<()> {
    set_pdeathsig(nix::sys::signal::SIGKILL).syscall("prctl(PR_SET_PDEATHSIG, SIGKILL)")?;
    let now = getppid();
    if now != parent && now.as_raw() != 0 {
        anyhow::bail!("the runtime (pid {parent}) died before the command started: not running it");
    }
    Ok(())
}

/// Replaces this process's program with the command, searching PATH like a shell. On success
/// execvp never returns: the only possible result is an error, marked as "could not execute".
fn exec_command(command: &[OsString]) -> Result<Infallible> {
    let argv = kit::c_strings(command);
    let name = &argv[0];
    explain!("execvp({name:?}, {argv:?})  # become the command; on success this never returns");
    execvp(name, &argv).syscall(format!("execvp({name:?})")).map_err(kit::cannot_exec)
}

/// Waits for the command and turns how it ended into our exit code, as a shell does: its own
/// exit code, or 128 + N when signal N killed it (waitpid(2), "WIFSIGNALED").
fn wait_for(child: Pid) -> Result<i32> {
    explain!("waitpid({child})  # block until the command ends");
    loop {
        match waitpid(child, None).syscall(format!("waitpid({child})"))? {
            WaitStatus::Exited(_, code) => return Ok(code),
            WaitStatus::Signaled(_, signal, _core_dumped) => return Ok(128 + signal as i32),
            // Stopped and continued children are only reported when asked for: keep waiting.
            _ => continue,
        }
    }
}
//@ end
//@ levels 1..=2

/// Makes `rootfs` this process's `/`. chroot(2) does not change the working directory, which
/// would stay outside the new root: chdir("/") moves it in.
fn chroot_into(rootfs: &Path) -> Result<()> {
    explain!("chroot({rootfs:?})  # path lookups now start in the rootfs");
    chroot(rootfs).syscall(format!("chroot({rootfs:?})"))?;
    explain!("chdir(\"/\")  # move the working directory inside the new root");
    chdir("/").syscall("chdir(\"/\")")?;
    Ok(())
}
//@ end
//@ level 2

/// Gives this process its own copy of the mount table (mount_namespaces(7)).
fn unshare_mount_namespace() -> Result<()> {
    explain!("unshare(CLONE_NEWNS)  # a private copy of the mount table for this process");
    unshare(CloneFlags::CLONE_NEWNS).syscall("unshare(CLONE_NEWNS)")?;
    Ok(())
}

/// The copy keeps each mount's propagation: on a systemd host `/` is shared, so our mounts would
/// appear on the host too. MS_PRIVATE on every mount stops that (mount_namespaces(7), "Shared
/// subtrees").
fn make_mounts_private() -> Result<()> {
    explain!("mount(NULL, \"/\", NULL, MS_REC | MS_PRIVATE, NULL)  # no more mount propagation");
    let flags = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
    mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
        .syscall("mount(\"/\", MS_REC | MS_PRIVATE)")?;
    Ok(())
}

/// A fresh procfs, so `ps` and /proc/self work inside the container (proc(5)).
fn mount_proc(rootfs: &Path) -> Result<()> {
    let target = rootfs.join("proc");
    std::fs::create_dir_all(&target)?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    explain!(r#"mount("proc", {target:?}, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)  # for ps"#);
    let mounted = mount(Some("proc"), &target, Some("proc"), flags, None::<&str>);
    // A procfs shows a PID namespace, and only a user namespace that owns that PID namespace
    // may mount one: rootless, until the container has a PID namespace of its own (level 5),
    // the host's /proc is all it can have.
    if mounted == Err(Errno::EPERM) && !kit::userns::maps_every_id() {
        return bind_host_proc(&target);
    }
    mounted.syscall(format!("mount proc on {target:?}"))?;
    Ok(())
}

/// What runc does for a rootless container that shares the host's PID namespace: bind the host's
/// /proc. Recursively: in a user namespace the mounts below /proc are locked to it.
fn bind_host_proc(target: &Path) -> Result<()> {
    explain!("mount(\"/proc\", {target:?}, NULL, MS_BIND | MS_REC, NULL)  # the host's /proc");
    let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
    mount(Some("/proc"), target, None::<&str>, flags, None::<&str>)
        .syscall(format!("bind-mount /proc onto {target:?}"))?;
    Ok(())
}

/// The character devices a program expects, as (name, major, minor), from the kernel's list of
/// device numbers (docs.kernel.org/admin-guide/devices.html).
const DEVICES: &[(&str, u64, u64)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// The links a program expects in /dev, as (link, target).
const DEV_LINKS: &[(&str, &str)] = &[
    ("ptmx", "pts/ptmx"),
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];

/// A tmpfs `/dev` with only the harmless devices, not the host's whole /dev (no disks!), plus a
/// private devpts for terminals.
fn mount_dev(rootfs: &Path) -> Result<()> {
    let dev = rootfs.join("dev");
    std::fs::create_dir_all(&dev)?;
    // Device nodes take no space: 64k is plenty, and caps what the container can write there.
    let options = "mode=755,size=64k";
    explain!("mount(\"tmpfs\", {dev:?}, \"tmpfs\", MS_NOSUID, {options:?})  # an empty /dev");
    mount(Some("tmpfs"), &dev, Some("tmpfs"), MsFlags::MS_NOSUID, Some(options))
        .syscall(format!("mount tmpfs on {dev:?}"))?;
    let names: Vec<&str> = DEVICES.iter().map(|&(name, _, _)| name).collect();
    let (names, shown) = (names.join(","), dev.display());
    explain!("mknod(\"{shown}/{{{names}}}\", S_IFCHR | 0666, ..)  # the device nodes");
    for &(name, major, minor) in DEVICES {
        make_device(&dev, name, major, minor)?;
    }
    mount_devpts(&dev)?;
    for (link, target) in DEV_LINKS {
        std::os::unix::fs::symlink(target, dev.join(link))?;
    }
    Ok(())
}

/// Creates the character device `major:minor` as `dev/<name>`: a new node where this process may
/// make one, else the host's own node, bind-mounted.
fn make_device(dev: &Path, name: &str, major: u64, minor: u64) -> Result<()> {
    let path = dev.join(name);
    let made = mknod(&path, SFlag::S_IFCHR, Mode::from_bits_truncate(0o666), makedev(major, minor));
    // In a user namespace (a rootless container) mknod of a device is always refused: otherwise
    // any user could make a node for any device, the host's disks included, and open it.
    if made == Err(Errno::EPERM) {
        return bind_host_device(&path, name);
    }
    made.syscall(format!("mknod {path:?}"))?;
    // mknod applies the umask: set the mode explicitly so everyone can use the device. Only on
    // a node made here: on a bind-mounted one, chmod would change the host's node.
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o666))?;
    Ok(())
}

/// What runc does in a user namespace: bind-mount the host's `/dev/<name>` onto an empty file at
/// `path`. No new device is created: the container reaches only a node the user could already
/// open on the host.
fn bind_host_device(path: &Path, name: &str) -> Result<()> {
    explain!("open({path:?}, O_WRONLY | O_CREAT | O_TRUNC, 0666)  # rootless: bind, not mknod");
    std::fs::File::create(path).with_context(|| format!("creating {path:?}"))?;
    let host = format!("/dev/{name}");
    explain!("mount({host:?}, {path:?}, NULL, MS_BIND, NULL)  # the host's node, seen here");
    mount(Some(host.as_str()), path, None::<&str>, MsFlags::MS_BIND, None::<&str>)
        .syscall(format!("bind-mount {host} onto {path:?}"))?;
    Ok(())
}

/// A devpts of its own. newinstance: the container's terminals are its own, not the host's
/// (pts(4), docs.kernel.org/filesystems/devpts.html).
fn mount_devpts(dev: &Path) -> Result<()> {
    let pts = dev.join("pts");
    std::fs::create_dir_all(&pts)?;
    let options = "newinstance,ptmxmode=0666,mode=620";
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    explain!(r#"mount("devpts", {pts:?}, "devpts", MS_NOSUID | MS_NOEXEC, {options:?})  # ptys"#);
    mount(Some("devpts"), &pts, Some("devpts"), flags, Some(options))
        .syscall(format!("mount devpts on {pts:?}"))?;
    Ok(())
}
//@ end
//@ level 4

/// A UTS namespace of its own: the hostname (and NIS domain name) set inside stay inside.
/// IPC too: System V semaphores, shared memory and message queues (ipc_namespaces(7)).
fn unshare_uts_and_ipc() -> Result<()> {
    explain!("unshare(CLONE_NEWUTS | CLONE_NEWIPC)  # a hostname and IPC objects of its own");
    unshare(CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWIPC)
        .syscall("unshare(CLONE_NEWUTS | CLONE_NEWIPC)")?;
    Ok(())
}

fn set_hostname(name: &str) -> Result<()> {
    explain!("sethostname({name:?})  # only this UTS namespace sees it");
    sethostname(name).syscall(format!("sethostname({name:?})"))?;
    Ok(())
}
//@ end
//@ level 5

/// The caller stays in its PID namespace; only the children it creates from now on are in the
/// new one, the first of them as PID 1 (pid_namespaces(7)).
fn unshare_pid_namespace() -> Result<()> {
    explain!("unshare(CLONE_NEWPID)  # the next child will be PID 1 of a new PID namespace");
    unshare(CloneFlags::CLONE_NEWPID).syscall("unshare(CLONE_NEWPID)")?;
    Ok(())
}
//@ end
//@ level 6

/// A network stack of its own: interfaces, routes, firewall, ports (network_namespaces(7)).
fn unshare_network() -> Result<()> {
    explain!("unshare(CLONE_NEWNET)  # a network stack of its own: only a loopback device");
    unshare(CloneFlags::CLONE_NEWNET).syscall("unshare(CLONE_NEWNET)")?;
    Ok(())
}

/// A new network namespace's `lo` is down: nothing, not even 127.0.0.1, works until it is up.
/// This is `ip link set lo up` with the ioctl interface of netdevice(7): read the flags, add
/// IFF_UP, write them back. The ioctls need a socket, any socket.
fn bring_up_loopback() -> Result<()> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").context("opening a socket for the ioctls")?;
    // SAFETY: ifreq is plain old data; all zeroes is a valid (empty) request.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    explain!("ioctl(sock, SIOCGIFFLAGS, {{ ifr_name: \"lo\" }})  # read lo's flags");
    // SAFETY: SIOCGIFFLAGS reads ifr_name and writes ifr_flags of the ifreq we own.
    Errno::result(unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) })
        .syscall("ioctl(SIOCGIFFLAGS, \"lo\")")?;
    // SAFETY: SIOCGIFFLAGS filled in the flags member of the union.
    unsafe { request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    explain!("ioctl(sock, SIOCSIFFLAGS, {{ ifr_name: \"lo\", ifr_flags: IFF_UP | ... }})  # lo up");
    // SAFETY: SIOCSIFFLAGS only reads the ifreq we own.
    Errno::result(unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) })
        .syscall("ioctl(SIOCSIFFLAGS, \"lo\")")?;
    Ok(())
}
//@ end
//@ level 7

/// Mounts the container's root as an overlay: the image, extracted once, is the read-only lower
/// layer; the container's writes go to its own upper layer, and deletes become whiteouts there.
/// workdir is overlayfs's scratch space and must be on the same filesystem as upperdir.
fn mount_overlay(args: &RunArgs, container: &Container) -> Result<()> {
    let lower = kit::image::extract_once(&args.image_dir(), &args.image)?;
    let (upper, work) = (container.dir.join("upper"), container.dir.join("work"));
    let merged = container.rootfs();
    for dir in [&upper, &work, &merged] {
        std::fs::create_dir_all(dir)?;
    }
    let (lower, upper, work) = (lower.display(), upper.display(), work.display());
    let options = format!("lowerdir={lower},upperdir={upper},workdir={work}");
    explain!("mount(\"overlay\", {merged:?}, \"overlay\", 0, {options:?})  # image + its changes");
    mount(Some("overlay"), &merged, Some("overlay"), MsFlags::empty(), Some(options.as_str()))
        .syscall(format!("mount overlay on {merged:?}"))?;
    Ok(())
}
//@ end
//@ level 3

/// The name of the directory the old root is moved to, inside the new root.
const OLD_ROOT: &str = ".old_root";

/// Makes `rootfs` the root of this mount namespace and drops the host's filesystem from view.
fn pivot_into(rootfs: &Path) -> Result<()> {
    // pivot_root(2): "new_root must be a mount point". Binding the directory onto itself makes it
    // one; MS_REC brings along the /proc and /dev mounted under it.
    explain!("mount({rootfs:?}, {rootfs:?}, NULL, MS_BIND | MS_REC, NULL)  # a mount point");
    let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
    mount(Some(rootfs), rootfs, None::<&str>, flags, None::<&str>)
        .syscall(format!("bind-mount {rootfs:?} onto itself"))?;
    chdir(rootfs).syscall(format!("chdir({rootfs:?})"))?;
    std::fs::create_dir_all(OLD_ROOT)?;
    explain!("pivot_root(\".\", \"{OLD_ROOT}\")  # the rootfs becomes /, the host's / moves below");
    pivot_root(".", OLD_ROOT).syscall(format!("pivot_root(\".\", \"{OLD_ROOT}\")"))?;
    chdir("/").syscall("chdir(\"/\")")?;
    // MNT_DETACH: the old root is busy (our own binary was loaded from it); detach it now and
    // let the kernel finish when the last user is gone.
    let old_root = format!("/{OLD_ROOT}");
    explain!("umount2({old_root:?}, MNT_DETACH)  # the host's filesystem leaves this namespace");
    umount2(old_root.as_str(), MntFlags::MNT_DETACH)
        .syscall(format!("umount2({old_root:?}, MNT_DETACH)"))?;
    std::fs::remove_dir(&old_root).with_context(|| format!("removing {old_root}"))?;
    Ok(())
}
//@ end
//@ level 8

/// A pipe the child reads until the parent has put it in its cgroup. O_CLOEXEC: neither end
/// leaks into the command.
fn sync_pipe() -> Result<(OwnedFd, OwnedFd)> {
    explain!("pipe2(O_CLOEXEC)  # the child will wait on it until it is in its cgroup");
    Ok(pipe2(OFlag::O_CLOEXEC).syscall("pipe2(O_CLOEXEC)")?)
}

/// In the child: blocks until the parent says it is in its cgroup. Attaching it from the
/// outside after it had exec'd would be a race: the command could fork or allocate first, and
/// its children would escape the limits.
fn wait_until_attached(ready: OwnedFd) -> Result<()> {
    explain!("read(pipe)  # wait until the parent has put this process in its cgroup");
    let mut byte = [0u8; 1];
    // One byte means "attached"; end of file means the parent closed the pipe without writing.
    match read(ready.as_raw_fd(), &mut byte).syscall("read(sync pipe)")? {
        1 => Ok(()),
        _ => anyhow::bail!("the parent could not put this container in its cgroup: not running it"),
    }
}

/// In the parent: the child is in its group with its limits; let it go on to exec.
fn release(ready: OwnedFd) -> Result<()> {
    explain!("write(pipe, \"1\")  # the child is in its cgroup: let it run the command");
    write(&ready, b"1").syscall("write(sync pipe)")?;
    Ok(())
}

/// Creates the container's group in each hierarchy it uses, parents first (`mkdir -p`).
fn create_cgroup(cgroup: &Cgroup) -> Result<()> {
    enable_controllers(cgroup)?;
    for dir in cgroup.dirs()? {
        explain!("mkdir -p {}  # the container's group", dir.display());
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(())
}

/// On v2 a group can use a controller only when its parent enables it for its children, and so
/// on up to the root: write `+cpu` to `cgroup.subtree_control` from the root down to the parent.
/// Never in the container's own group: a group with processes cannot enable controllers for
/// children ("no internal processes", the kernel's cgroup-v2.rst). v1 needs none of this.
fn enable_controllers(cgroup: &Cgroup) -> Result<()> {
    let kit::cgroup::Layout::V2 { root } = &cgroup.layout else {
        return Ok(());
    };
    let plus: Vec<String> = cgroup.controllers.iter().map(|c| format!("+{c}")).collect();
    let plus = plus.join(" ");
    let why = "let the groups below use these controllers";
    let mut dir = root.clone();
    write_file(&dir, "cgroup.subtree_control", &plus, why)?;
    for part in cgroup.parent().components() {
        dir.push(part);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        write_file(&dir, "cgroup.subtree_control", &plus, why)?;
    }
    Ok(())
}

/// The CFS period Docker and runc use: 100 ms. `--cpus 0.5` is 50 ms of CPU in every period.
const CPU_PERIOD_US: u64 = 100_000;

/// `--cpus` as a CFS quota and `--cpu-shares` as a weight (the kernel's sched-bwc.rst).
fn limit_cpu(cgroup: &Cgroup, args: &RunArgs) -> Result<()> {
    let dir = cgroup.dir("cpu")?;
    let v2 = cgroup.layout.is_v2();
    if let Some(cpus) = args.cpus {
        let quota = (cpus * CPU_PERIOD_US as f64).round() as u64;
        let why = format!("at most {cpus} CPU: {quota} µs in every {CPU_PERIOD_US} µs");
        if v2 {
            write_file(&dir, "cpu.max", &format!("{quota} {CPU_PERIOD_US}"), &why)?;
        } else {
            let period = CPU_PERIOD_US.to_string();
            write_file(&dir, "cpu.cfs_period_us", &period, "the period of the quota, in µs")?;
            write_file(&dir, "cpu.cfs_quota_us", &quota.to_string(), &why)?;
        }
    }
    if let Some(shares) = args.cpu_shares {
        let why = "a CPU weight relative to other groups";
        if v2 {
            write_file(&dir, "cpu.weight", &cpu_weight(shares).to_string(), why)?;
        } else {
            write_file(&dir, "cpu.shares", &shares.to_string(), why)?;
        }
    }
    Ok(())
}

/// v2's `cpu.weight` (1..=10000, default 100) for Docker's `--cpu-shares` (2..=262144, default
/// 1024), as runc converts it: `ConvertCPUSharesToCgroupV2Value` in libcontainer/cgroups/utils.go.
fn cpu_weight(shares: u64) -> u64 {
    1 + (shares.saturating_sub(2) * 9999) / 262142
}

/// Moves the child into its group: writing a pid to `cgroup.procs` moves that process
/// (cgroups(7)). Its children will be born there too.
fn attach(cgroup: &Cgroup, child: Pid) -> Result<()> {
    for dir in cgroup.dirs()? {
        let why = "move the child into its group, before it execs";
        write_file(&dir, "cgroup.procs", &child.to_string(), why)?;
    }
    Ok(())
}

/// Removes the container's group, only `<parent>/<id>`: the parent belongs to whoever gave it.
/// A failure is only reported: it must not hide the command's exit code.
fn remove_cgroup(cgroup: &Cgroup) {
    for dir in cgroup.dirs().unwrap_or_default() {
        explain!("rmdir {}  # the container is gone: so is its group", dir.display());
        if let Err(err) = remove_group_dir(&dir) {
            eprintln!("{}: warning: {err:#}", kit::program_name());
        }
    }
}

/// rmdir fails with EBUSY while the group still holds a process: the command's last processes
/// may still be exiting (the kernel kills a PID namespace's processes when its PID 1 ends, but
/// does not wait for them). Retry for half a second.
fn remove_group_dir(dir: &Path) -> Result<()> {
    for _ in 0..50 {
        let removed = std::fs::remove_dir(dir).map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)));
        match removed {
            Ok(()) | Err(Errno::ENOENT) => return Ok(()),
            Err(Errno::EBUSY) => std::thread::sleep(Duration::from_millis(10)),
            Err(errno) => return Ok(Err(errno).syscall(format!("rmdir {}", dir.display()))?),
        }
    }
    let dir = dir.display();
    anyhow::bail!("rmdir {dir}: still busy after 0.5 s: processes are left in it (see its cgroup.procs)")
}
//@ end
//@ from 9

/// Gives back the memory still charged to the container's group, just before it is removed.
/// The kernel keeps a removed memory cgroup ("dying") for as long as a page is charged to it:
/// the page cache of every file the container read or wrote. Each later reclaim walks the dying
/// ones, so a runtime that leaves one per container slows the machine down as the day goes on.
/// Kubernetes empties a pod's group before removing it for this reason.
fn give_back_memory(cgroup: &Cgroup) {
    let Ok(dir) = cgroup.dir("memory") else {
        return;
    };
    let why = "give back what the container's files still hold";
    if dir.join("memory.force_empty").exists() {
        // v1: reclaims everything the group holds, once no process is left in it.
        let _ = write_file(&dir, "memory.force_empty", "0", why);
    } else if let Ok(held) = read_file(&dir, "memory.current") {
        // v2 (Linux 5.19+): reclaims the amount written, here all of it. Best effort: what is
        // not reclaimed now (EAGAIN) the kernel reclaims under pressure later.
        if held.trim() != "0" && dir.join("memory.reclaim").exists() {
            let _ = write_file(&dir, "memory.reclaim", held.trim(), why);
        }
    }
}
//@ end
//@ level 9

/// `--memory` and `--memory-swap`, read as Docker does.
fn limit_memory(cgroup: &Cgroup, args: &RunArgs) -> Result<()> {
    let Some((memory, total)) = memory_limits(args)? else {
        return Ok(());
    };
    let dir = cgroup.dir("memory")?;
    let why = format!("at most {} of memory", mib(memory));
    if cgroup.layout.is_v2() {
        write_file(&dir, "memory.max", &memory.to_string(), &why)?;
        // v2 limits swap on its own, not memory plus swap.
        let swap = total.map_or("max".to_string(), |t| (t - memory).to_string());
        write_if_exists(&dir, "memory.swap.max", &swap, "swap allowed on top of memory.max")
    } else {
        // memsw may never be below limit_in_bytes: the memory limit first.
        write_file(&dir, "memory.limit_in_bytes", &memory.to_string(), &why)?;
        let total = total.map_or("-1".to_string(), |t| t.to_string());
        write_if_exists(&dir, "memory.memsw.limit_in_bytes", &total, "memory plus swap")
    }
}

/// Docker's `--memory` and `--memory-swap`: the memory limit, and memory plus swap in bytes
/// (`None`: unlimited swap). Unset, memory plus swap is twice `--memory`; equal to it, no swap at
/// all. `None` without `--memory`.
fn memory_limits(args: &RunArgs) -> Result<Option<(u64, Option<u64>)>> {
    let Some(memory) = args.memory else {
        if args.memory_swap.is_some() {
            anyhow::bail!(kit::BadInput("--memory-swap needs --memory (try --memory 64m)".into()));
        }
        return Ok(None);
    };
    let total = match args.memory_swap {
        None => Some(memory.saturating_mul(2)),
        Some(MemorySwap::Unlimited) => None,
        Some(MemorySwap::Bytes(total)) if total >= memory => Some(total),
        Some(MemorySwap::Bytes(_)) => anyhow::bail!(kit::BadInput(
            "--memory-swap is memory plus swap: it cannot be below --memory (try equal: no swap)"
                .into()
        )),
    };
    Ok(Some((memory, total)))
}

/// Writes a swap limit only where the file exists: without swap accounting (a kernel built
/// without it, or booted with swapaccount=0) there is no swap to limit.
fn write_if_exists(dir: &Path, file: &str, value: &str, why: &str) -> Result<()> {
    if !dir.join(file).exists() {
        explain!("# no {file} here: this kernel does not account swap, nothing to limit");
        return Ok(());
    }
    write_file(dir, file, value, why)
}

/// `64 MiB`: the way the limit was most likely given.
fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes as f64 / (1u64 << 20) as f64)
}

/// A command killed by SIGKILL (exit 137) could have been killed by anyone; the group's OOM kill
/// counter says whether it was the OOM killer. Read it before the group is removed.
fn say_if_out_of_memory(cgroup: &Cgroup, args: &RunArgs, code: i32) {
    const KILLED: i32 = 128 + libc::SIGKILL;
    let Ok(dir) = cgroup.dir("memory") else {
        return;
    };
    if code != KILLED {
        return;
    }
    let file = if cgroup.layout.is_v2() {
        "memory.events"
    } else {
        "memory.oom_control"
    };
    explain!("cat {}  # was it the OOM killer? see oom_kill", dir.join(file).display());
    let kills = read_file(&dir, file).ok().and_then(|text| keyed(&text, "oom_kill"));
    if kills.unwrap_or(0) == 0 {
        return;
    }
    let limit = args.memory.map(|m| format!(" (limit {})", mib(m)));
    let program = kit::program_name();
    eprintln!("{program}: killed: out of memory{}", limit.unwrap_or_default());
}
//@ end
//@ level 10

/// `--pids-limit`: fork and clone fail with EAGAIN once the group holds that many tasks.
fn limit_pids(cgroup: &Cgroup, args: &RunArgs) -> Result<()> {
    let Some(max) = args.pids_limit else {
        return Ok(());
    };
    let why = format!("at most {max} processes and threads");
    write_file(&cgroup.dir("pids")?, "pids.max", &max.to_string(), &why)
}

/// Kills what is left in the group: the PID namespace's processes died with its PID 1, but a
/// process that joined the group from outside the namespace did not. v2 has `cgroup.kill`
/// (Linux 5.14); elsewhere, SIGKILL each pid in `cgroup.procs` until none is left.
fn kill_remaining(cgroup: &Cgroup) {
    for dir in cgroup.dirs().unwrap_or_default() {
        if cgroup.layout.is_v2() && dir.join("cgroup.kill").exists() {
            let why = "kill every process left in the group";
            if let Err(err) = write_file(&dir, "cgroup.kill", "1", why) {
                eprintln!("{}: warning: {err:#}", kit::program_name());
            }
            continue;
        }
        kill_each_left(&dir);
    }
}

/// SIGKILL each process in `dir/cgroup.procs`, again until it is empty: a process may fork while
/// we read. Bounded: 50 rounds, 10 ms apart.
fn kill_each_left(dir: &Path) {
    for _ in 0..50 {
        let procs = read_file(dir, "cgroup.procs").unwrap_or_default();
        let pids: Vec<i32> = procs.lines().filter_map(|l| l.trim().parse().ok()).collect();
        if pids.is_empty() {
            return;
        }
        explain!("kill({pids:?}, SIGKILL)  # still in the container's group: end them");
        for pid in pids {
            // ESRCH: it died meanwhile, which is what we want.
            let _ = kill(Pid::from_raw(pid), nix::sys::signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
//@ end
//@ level 11
//@ todo 2: write `fn become_user(user: kit::cli::User) -> Result<()>`: setgroups(&[]) (the runtime's
//@ todo    supplementary groups must not follow the command), then setgid(user.gid()), then
//@ todo    setuid(user.uid), in this order: setgroups and setgid need CAP_SETGID, and setuid
//@ todo    from root to another user drops every capability. Then set PR_SET_PDEATHSIG again
//@ todo    (nix's set_pdeathsig): the kernel clears it when the process's user or group changes.

/// Gives up root for `--user`: the groups first, the user last. setgroups and setgid need
/// CAP_SETGID; setuid from root to another user empties the permitted and effective capability
/// sets (capabilities(7), "Effect of user ID changes on capabilities"), so after it neither could
/// work. Groups default to 0 when `--user` names none, as Docker does for a user the image's
/// /etc/passwd does not know.
fn become_user(user: kit::cli::User) -> Result<()> {
    let (uid, gid) = (Uid::from_raw(user.uid), Gid::from_raw(user.gid()));
    explain!("setgroups([])  # no supplementary groups: the runtime's must not follow the command");
    setgroups(&[]).syscall("setgroups([])")?;
    explain!("setgid({gid})  # the group, while this process may still change it");
    setgid(gid).syscall(format!("setgid({gid})"))?;
    explain!("setuid({uid})  # the user, last: from here on this process is no longer root");
    setuid(uid).syscall(format!("setuid({uid})"))?;
    // A change of user or group clears the parent-death signal (credentials(7)): set it again, or
    // a runtime killed from now on would leave its command running.
    explain!("prctl(PR_SET_PDEATHSIG, SIGKILL)  # again: changing users cleared it");
    set_pdeathsig(nix::sys::signal::SIGKILL).syscall("prctl(PR_SET_PDEATHSIG, SIGKILL)")?;
    Ok(())
}
//@ end
//@ level 12
//@ todo 2: write `drop_capabilities()`: drop_bounding_set (step 3), set_capabilities (step 4),
//@ todo    a `clear_ambient_set()` (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)),
//@ todo    then nix's set_no_new_privs (step 5).
//@ todo 3: write `drop_bounding_set()`: prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) for every cap from
//@ todo    0 up that is not Docker's (a const DOCKER_CAPABILITIES you write: CHOWN 0,
//@ todo    DAC_OVERRIDE 1, FOWNER 3, FSETID 4, KILL 5, SETGID 6, SETUID 7, SETPCAP 8,
//@ todo    NET_BIND_SERVICE 10, NET_RAW 13, SYS_CHROOT 18, MKNOD 27, AUDIT_WRITE 29, SETFCAP 31;
//@ todo    as a mask 0xa80425fb); EINVAL means you are past the kernel's last capability: stop.
//@ todo 4: write `set_capabilities()`: capset(2) with version 3 (two 32-bit halves of each
//@ todo    set): effective = permitted = Docker's set, inheritable = none. libc has the syscall
//@ todo    number (libc::SYS_capset) but not the two structs: declare them #[repr(C)].
//@ todo 5: no_new_privs: no exec from now on can gain a privilege (a setuid-root binary stays
//@ todo    the caller's user), and the capability sets can only shrink.

/// Docker's default capabilities, by number (moby's oci/caps/defaults.go; capabilities(7)). As a
/// mask they are 0x00000000a80425fb, the `CapBnd` of `grep Cap /proc/self/status` in a container.
/// Everything else, CAP_SYS_ADMIN (mount, sethostname, ...) first, is gone.
const DOCKER_CAPABILITIES: &[(u32, &str)] = &[
    (0, "CAP_CHOWN"),
    (1, "CAP_DAC_OVERRIDE"),
    (3, "CAP_FOWNER"),
    (4, "CAP_FSETID"),
    (5, "CAP_KILL"),
    (6, "CAP_SETGID"),
    (7, "CAP_SETUID"),
    (8, "CAP_SETPCAP"),
    (10, "CAP_NET_BIND_SERVICE"),
    (13, "CAP_NET_RAW"),
    (18, "CAP_SYS_CHROOT"),
    (27, "CAP_MKNOD"),
    (29, "CAP_AUDIT_WRITE"),
    (31, "CAP_SETFCAP"),
];

/// Docker's set as the kernel's bit mask: bit N for capability N.
fn docker_mask() -> u64 {
    DOCKER_CAPABILITIES.iter().map(|&(cap, _)| 1u64 << cap).sum()
}

/// Keeps only Docker's capabilities, in every set, for good. The bounding set first: it needs
/// CAP_SETPCAP, which the next step keeps. All of it before level 11's setuid, which needs
/// CAP_SETUID and then takes what is left from a non-root user.
fn drop_capabilities() -> Result<()> {
    drop_bounding_set()?;
    set_capabilities()?;
    clear_ambient_set()?;
    explain!("prctl(PR_SET_NO_NEW_PRIVS, 1)  # no exec can give a privilege back");
    set_no_new_privs().syscall("prctl(PR_SET_NO_NEW_PRIVS, 1)")?;
    Ok(())
}

/// Ambient capabilities are kept across an exec, even by a non-root user: a runtime started with
/// some (a service manager can do that) would pass them on.
fn clear_ambient_set() -> Result<()> {
    explain!("prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)  # no ambient capability either");
    let (option, clear_all) = (libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL);
    // SAFETY: prctl with integer arguments only.
    Errno::result(unsafe { libc::prctl(option, clear_all, 0, 0, 0) })
        .syscall("prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)")?;
    Ok(())
}

/// The bounding set limits what any later exec can grant, root's included: an exec by root gets
/// the whole bounding set as its permitted set. Dropping from it cannot be undone.
fn drop_bounding_set() -> Result<()> {
    let keep = docker_mask();
    explain!("prctl(PR_CAPBSET_DROP, cap)  # for every cap not in {keep:#010x}: gone for good");
    for cap in 0..64 {
        if keep & (1 << cap) != 0 {
            continue;
        }
        // SAFETY: prctl with integer arguments only.
        match Errno::result(unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) }) {
            Ok(_) => {}
            // Past the kernel's last capability (/proc/sys/kernel/cap_last_cap).
            Err(Errno::EINVAL) => break,
            Err(errno) => return Ok(Err(errno).syscall(format!("prctl(PR_CAPBSET_DROP, {cap})"))?),
        }
    }
    Ok(())
}

/// capset(2)'s header: `_LINUX_CAPABILITY_VERSION_3` and a pid (0: this thread).
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

/// capset(2)'s data: one 32-bit half of each set. Version 3 takes two of these, low bits first.
#[repr(C)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The version of capset's layout with 64-bit sets, from linux/capability.h.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Effective and permitted: Docker's set. Inheritable: none, as in Docker since 20.10.14
/// (CVE-2022-24769): an inheritable capability could come back through a file's capabilities.
fn set_capabilities() -> Result<()> {
    let keep = docker_mask();
    let (low, high) = (keep as u32, (keep >> 32) as u32);
    let header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [
        CapData {
            effective: low,
            permitted: low,
            inheritable: 0,
        },
        CapData {
            effective: high,
            permitted: high,
            inheritable: 0,
        },
    ];
    explain!("capset(effective = permitted = {keep:#010x}, inheritable = 0)");
    // SAFETY: capset reads one header and two data structs, laid out as linux/capability.h says.
    Errno::result(unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) })
        .syscall("capset(v3)")?;
    Ok(())
}
//@ end
//@ level 13
//@ todo 6: write `fn plug_in_cable(args: &RunArgs) -> Result<Cable>`: with a Netlink socket
//@ todo    (kit::netlink), for --ip or else each free address from 10.13.0.2 on, create the pair
//@ todo    (RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, kind "veth", the peer in IFLA_INFO_DATA /
//@ todo    VETH_INFO_PEER); EEXIST means that address is taken: try the next. Then give the
//@ todo    host end 10.13.0.1 with the container's address as its peer (RTM_NEWADDR, prefix 32,
//@ todo    IFA_LOCAL and IFA_ADDRESS) and bring it up (RTM_NEWLINK with IFF_UP).
//@ todo 7: write `take_cable_end(host, cable)`: move the container's end into this process's
//@ todo    network namespace and rename it eth0, in one RTM_NEWLINK on `host` (IFLA_NET_NS_FD, a
//@ todo    file open on /proc/self/ns/net, and IFLA_IFNAME "eth0").
//@ todo 8: write `configure_eth0(cable)`: with a socket opened now (inside), give eth0 the
//@ todo    container's address /24, bring it up, and add a default route via 10.13.0.1
//@ todo    (RTM_NEWROUTE, destination length 0, RTA_GATEWAY, RTA_OIF).
//@ todo 9: write `unplug_cable(cable)`: delete the host end (RTM_DELLINK by its index); the
//@ todo    kernel deletes its peer with it. A failure is a warning, not an error.

/// A veth pair: the host's end, and the container's end until it is moved in and named eth0.
/// Its name says the address it carries: creating a link whose name exists fails (EEXIST), so
/// the name reserves the address, even against another runtime choosing at the same moment.
struct Cable {
    address: Ipv4Addr,
    host: String,
    /// The host end's index: deleting by index never deletes another container's link that
    /// took the name after ours was gone.
    host_index: u32,
    inside: String,
    inside_index: u32,
}

/// The container's name for its end of the cable.
const ETH0: &str = "eth0";

/// Creates the container's cable before fork: --ip, or the first free address of 10.13.0.0/24.
fn plug_in_cable(args: &RunArgs) -> Result<Cable> {
    let mut netlink = Netlink::open()?;
    let [a, b, c, _] = IP_NETWORK.octets();
    let wanted: Vec<Ipv4Addr> = match args.ip {
        Some(ip) => vec![ip],
        None => (2..=254).map(|host| Ipv4Addr::new(a, b, c, host)).collect(),
    };
    for address in wanted {
        let host = format!("rc-{}", address.octets()[3]);
        let inside = format!("{host}-c");
        match create_veth_pair(&mut netlink, &host, &inside) {
            // The name is taken: so is the address. Without --ip, try the next one.
            Err(Errno::EEXIST) if args.ip.is_none() => continue,
            Err(Errno::EEXIST) => anyhow::bail!(
                "--ip {address}: another container has it (its cable {host} exists): choose another"
            ),
            created => created.syscall(format!("RTM_NEWLINK {host} type veth"))?,
        }
        let cable = Cable {
            address,
            host_index: index_of(&host)?,
            inside_index: index_of(&inside)?,
            host,
            inside,
        };
        return match connect_host_end(&mut netlink, &cable) {
            Ok(()) => Ok(cable),
            Err(err) => {
                unplug_cable(&cable);
                Err(err)
            }
        };
    }
    anyhow::bail!("no free address in {IP_NETWORK}/{IP_PREFIX_LEN}: 253 containers are running")
}

/// `ip link add HOST type veth peer name INSIDE`: both ends, for now in the host's namespace.
fn create_veth_pair(netlink: &mut Netlink, host: &str, inside: &str) -> nix::Result<()> {
    explain!("RTM_NEWLINK {{ name: {host:?}, kind: veth, peer: {inside:?} }}  # a cable, two ends");
    netlink.ask(
        Message::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL)
            .link(0, 0)
            .string(IFLA_IFNAME, host)
            .nested(IFLA_LINKINFO, |info| {
                info.string(IFLA_INFO_KIND, "veth").nested(IFLA_INFO_DATA, |data| {
                    data.nested(VETH_INFO_PEER, |peer| peer.link(0, 0).string(IFLA_IFNAME, inside))
                })
            }),
    )
}

/// A link's index, which the netlink requests name it by (if_nametoindex(3)).
fn index_of(name: &str) -> Result<u32> {
    Ok(nix::net::if_::if_nametoindex(name).syscall(format!("if_nametoindex({name:?})"))?)
}

/// `ip addr add 10.13.0.1 peer ADDRESS dev HOST; ip link set HOST up`. A point-to-point
/// address: every container's cable has the same host address, and a route to its own container.
fn connect_host_end(netlink: &mut Netlink, cable: &Cable) -> Result<()> {
    let (host, address) = (&cable.host, cable.address);
    explain!(
        "RTM_NEWADDR {{ dev: {:?}, local: {}, peer: {}/32 }}  # the host's end",
        host, IP_GATEWAY, address
    );
    netlink
        .ask(
            Message::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL)
                .address(32, cable.host_index)
                .ipv4(IFA_LOCAL, IP_GATEWAY)
                .ipv4(IFA_ADDRESS, address),
        )
        .syscall(format!("RTM_NEWADDR {IP_GATEWAY} peer {address} on {host}"))?;
    set_up(netlink, host, cable.host_index)
}

/// `ip link set NAME up`: IFF_UP in the link's flags.
fn set_up(netlink: &mut Netlink, name: &str, index: u32) -> Result<()> {
    explain!("RTM_NEWLINK {{ dev: {name:?}, flags: IFF_UP }}  # up");
    netlink
        .ask(Message::new(RTM_NEWLINK, 0).link(index, kit::netlink::IFF_UP))
        .syscall(format!("RTM_NEWLINK {name} up"))?;
    Ok(())
}

/// In the child, in its new network namespace: `ip link set INSIDE netns /proc/self/ns/net name
/// eth0`, asked through `host`, the socket opened before the unshare: in the container's own
/// namespace the link cannot be seen yet.
fn take_cable_end(host: &mut Netlink, cable: &Cable) -> Result<()> {
    let here = std::fs::File::open("/proc/self/ns/net").context("opening /proc/self/ns/net")?;
    let inside = &cable.inside;
    explain!(
        "RTM_NEWLINK {{ dev: {:?}, netns: /proc/self/ns/net, name: {:?} }}  # move the end in",
        inside, ETH0
    );
    host.ask(
        Message::new(RTM_NEWLINK, 0)
            .link(cable.inside_index, 0)
            .u32(IFLA_NET_NS_FD, here.as_raw_fd() as u32)
            .string(IFLA_IFNAME, ETH0),
    )
    .syscall(format!("RTM_NEWLINK {inside} netns (the container's) name {ETH0}"))?;
    Ok(())
}

/// `ip addr add ADDRESS/24 dev eth0; ip link set eth0 up; ip route add default via 10.13.0.1`,
/// with a socket of the container's namespace.
fn configure_eth0(cable: &Cable) -> Result<()> {
    let mut netlink = Netlink::open()?;
    let eth0 = index_of(ETH0)?;
    let address = cable.address;
    explain!(
        "RTM_NEWADDR {{ dev: {:?}, address: {}/{} }}  # the container's address",
        ETH0, address, IP_PREFIX_LEN
    );
    netlink
        .ask(
            Message::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL)
                .address(IP_PREFIX_LEN, eth0)
                .ipv4(IFA_LOCAL, address)
                .ipv4(IFA_ADDRESS, address),
        )
        .syscall(format!("RTM_NEWADDR {address}/{IP_PREFIX_LEN} on {ETH0}"))?;
    set_up(&mut netlink, ETH0, eth0)?;
    explain!("RTM_NEWROUTE {{ default via {IP_GATEWAY} dev {ETH0:?} }}  # everything else: to the host");
    netlink
        .ask(
            Message::new(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL)
                .route(0)
                .ipv4(RTA_GATEWAY, IP_GATEWAY)
                .u32(RTA_OIF, eth0),
        )
        .syscall(format!("RTM_NEWROUTE default via {IP_GATEWAY}"))?;
    Ok(())
}

/// `ip link del HOST`: deleting one end of a veth pair deletes both. The kernel would delete the
/// pair too once the container's namespace is gone, but later, and not while anything still
/// holds the namespace open: the runtime cleans up after itself now.
fn unplug_cable(cable: &Cable) {
    let host = &cable.host;
    explain!("RTM_DELLINK {{ dev: {host:?} }}  # unplug: the container's end goes with it");
    let deleted = Netlink::open().and_then(|mut netlink| {
        match netlink.ask(Message::new(RTM_DELLINK, 0).link(cable.host_index, 0)) {
            // ENODEV: already gone with the container's namespace.
            Ok(()) | Err(Errno::ENODEV) => Ok(()),
            Err(errno) => Ok(Err(errno).syscall(format!("RTM_DELLINK {host}"))?),
        }
    });
    if let Err(err) = deleted {
        eprintln!("{}: warning: {err:#}", kit::program_name());
    }
}
//@ end
