// Generated from solutions/runtime.rs by `cargo xtask generate`; this is your file: edit it.
//! What levels 0 to 12 wrote; yours to read and edit.
//!
//! `main.rs` tells this level's story (`run`, `child`) and holds this level's code;
//! the functions it calls from here are those of earlier levels.

use kit::cgroup::{keyed, read_file, write_file, Cgroup};
use kit::cli::MemorySwap;
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
    chdir, execvp, getppid, pipe2, pivot_root, read, setgid, setgroups, sethostname, setuid, write,
    Gid, Pid, Uid,
};
use std::convert::Infallible;
use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

/// The controllers this level's containers use: each is a hierarchy of its own on v1, and a
/// `+cpu +memory +pids` in `cgroup.subtree_control` on v2.
pub const CONTROLLERS: &[&str] = &["cpu", "memory", "pids"];

/// Deletes the container's directory once the command has ended. A failure here must not hide
/// the command's exit code, so it is only reported.
pub fn remove_container(container: &Container) {
    let dir = container.dir.display();
    explain!("rm -r {dir}  # the container is gone: delete its files");
    if let Err(err) = container.remove() {
        eprintln!("{}: warning: {err:#}", kit::program_name());
    }
}

/// First thing in the child: die with the runtime. A runtime killed with SIGKILL cannot stop its
/// command, and nothing else owns it (Docker's containers outlive `docker run` because a daemon
/// and a shim own them; ours has neither): PR_SET_PDEATHSIG asks the kernel to send SIGKILL when
/// the parent dies (prctl(2); the parent *thread*, and this runtime has one). It only covers
/// deaths after the call: if getppid() is no longer the runtime, it died in between, and we stop.
/// In a PID namespace of its own (level 5 on) getppid() is 0, the parent being outside it: there
/// only the later deaths are covered (level 8's pipe sees an earlier one as end of file).
pub fn die_with_parent(parent: Pid) -> Result<()> {
    set_pdeathsig(nix::sys::signal::SIGKILL).syscall("prctl(PR_SET_PDEATHSIG, SIGKILL)")?;
    let now = getppid();
    if now != parent && now.as_raw() != 0 {
        anyhow::bail!("the runtime (pid {parent}) died before the command started: not running it");
    }
    Ok(())
}

/// Replaces this process's program with the command, searching PATH like a shell. On success
/// execvp never returns: the only possible result is an error, marked as "could not execute".
pub fn exec_command(command: &[OsString]) -> Result<Infallible> {
    let argv = kit::c_strings(command);
    let name = &argv[0];
    explain!("execvp({name:?}, {argv:?})  # become the command; on success this never returns");
    execvp(name, &argv)
        .syscall(format!("execvp({name:?})"))
        .map_err(kit::cannot_exec)
}

/// Waits for the command and turns how it ended into our exit code, as a shell does: its own
/// exit code, or 128 + N when signal N killed it (waitpid(2), "WIFSIGNALED").
pub fn wait_for(child: Pid) -> Result<i32> {
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

/// Gives this process its own copy of the mount table (mount_namespaces(7)).
pub fn unshare_mount_namespace() -> Result<()> {
    explain!("unshare(CLONE_NEWNS)  # a private copy of the mount table for this process");
    unshare(CloneFlags::CLONE_NEWNS).syscall("unshare(CLONE_NEWNS)")?;
    Ok(())
}

/// The copy keeps each mount's propagation: on a systemd host `/` is shared, so our mounts would
/// appear on the host too. MS_PRIVATE on every mount stops that (mount_namespaces(7), "Shared
/// subtrees").
pub fn make_mounts_private() -> Result<()> {
    explain!("mount(NULL, \"/\", NULL, MS_REC | MS_PRIVATE, NULL)  # no more mount propagation");
    let flags = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
    mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
        .syscall("mount(\"/\", MS_REC | MS_PRIVATE)")?;
    Ok(())
}

/// A fresh procfs, so `ps` and /proc/self work inside the container (proc(5)).
pub fn mount_proc(rootfs: &Path) -> Result<()> {
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
pub fn bind_host_proc(target: &Path) -> Result<()> {
    explain!("mount(\"/proc\", {target:?}, NULL, MS_BIND | MS_REC, NULL)  # the host's /proc");
    let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
    mount(Some("/proc"), target, None::<&str>, flags, None::<&str>)
        .syscall(format!("bind-mount /proc onto {target:?}"))?;
    Ok(())
}

/// The character devices a program expects, as (name, major, minor), from the kernel's list of
/// device numbers (docs.kernel.org/admin-guide/devices.html).
pub const DEVICES: &[(&str, u64, u64)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// The links a program expects in /dev, as (link, target).
pub const DEV_LINKS: &[(&str, &str)] = &[
    ("ptmx", "pts/ptmx"),
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];

/// A tmpfs `/dev` with only the harmless devices, not the host's whole /dev (no disks!), plus a
/// private devpts for terminals.
pub fn mount_dev(rootfs: &Path) -> Result<()> {
    let dev = rootfs.join("dev");
    std::fs::create_dir_all(&dev)?;
    // Device nodes take no space: 64k is plenty, and caps what the container can write there.
    let options = "mode=755,size=64k";
    explain!("mount(\"tmpfs\", {dev:?}, \"tmpfs\", MS_NOSUID, {options:?})  # an empty /dev");
    mount(
        Some("tmpfs"),
        &dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID,
        Some(options),
    )
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
pub fn make_device(dev: &Path, name: &str, major: u64, minor: u64) -> Result<()> {
    let path = dev.join(name);
    let made = mknod(
        &path,
        SFlag::S_IFCHR,
        Mode::from_bits_truncate(0o666),
        makedev(major, minor),
    );
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
pub fn bind_host_device(path: &Path, name: &str) -> Result<()> {
    explain!("open({path:?}, O_WRONLY | O_CREAT | O_TRUNC, 0666)  # rootless: bind, not mknod");
    std::fs::File::create(path).with_context(|| format!("creating {path:?}"))?;
    let host = format!("/dev/{name}");
    explain!("mount({host:?}, {path:?}, NULL, MS_BIND, NULL)  # the host's node, seen here");
    mount(
        Some(host.as_str()),
        path,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .syscall(format!("bind-mount {host} onto {path:?}"))?;
    Ok(())
}

/// A devpts of its own. newinstance: the container's terminals are its own, not the host's
/// (pts(4), docs.kernel.org/filesystems/devpts.html).
pub fn mount_devpts(dev: &Path) -> Result<()> {
    let pts = dev.join("pts");
    std::fs::create_dir_all(&pts)?;
    let options = "newinstance,ptmxmode=0666,mode=620";
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    explain!(r#"mount("devpts", {pts:?}, "devpts", MS_NOSUID | MS_NOEXEC, {options:?})  # ptys"#);
    mount(Some("devpts"), &pts, Some("devpts"), flags, Some(options))
        .syscall(format!("mount devpts on {pts:?}"))?;
    Ok(())
}

/// A UTS namespace of its own: the hostname (and NIS domain name) set inside stay inside.
/// IPC too: System V semaphores, shared memory and message queues (ipc_namespaces(7)).
pub fn unshare_uts_and_ipc() -> Result<()> {
    explain!("unshare(CLONE_NEWUTS | CLONE_NEWIPC)  # a hostname and IPC objects of its own");
    unshare(CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWIPC)
        .syscall("unshare(CLONE_NEWUTS | CLONE_NEWIPC)")?;
    Ok(())
}

pub fn set_hostname(name: &str) -> Result<()> {
    explain!("sethostname({name:?})  # only this UTS namespace sees it");
    sethostname(name).syscall(format!("sethostname({name:?})"))?;
    Ok(())
}

/// The caller stays in its PID namespace; only the children it creates from now on are in the
/// new one, the first of them as PID 1 (pid_namespaces(7)).
pub fn unshare_pid_namespace() -> Result<()> {
    explain!("unshare(CLONE_NEWPID)  # the next child will be PID 1 of a new PID namespace");
    unshare(CloneFlags::CLONE_NEWPID).syscall("unshare(CLONE_NEWPID)")?;
    Ok(())
}

/// A network stack of its own: interfaces, routes, firewall, ports (network_namespaces(7)).
pub fn unshare_network() -> Result<()> {
    explain!("unshare(CLONE_NEWNET)  # a network stack of its own: only a loopback device");
    unshare(CloneFlags::CLONE_NEWNET).syscall("unshare(CLONE_NEWNET)")?;
    Ok(())
}

/// A new network namespace's `lo` is down: nothing, not even 127.0.0.1, works until it is up.
/// This is `ip link set lo up` with the ioctl interface of netdevice(7): read the flags, add
/// IFF_UP, write them back. The ioctls need a socket, any socket.
pub fn bring_up_loopback() -> Result<()> {
    let socket =
        std::net::UdpSocket::bind("0.0.0.0:0").context("opening a socket for the ioctls")?;
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

/// Mounts the container's root as an overlay: the image, extracted once, is the read-only lower
/// layer; the container's writes go to its own upper layer, and deletes become whiteouts there.
/// workdir is overlayfs's scratch space and must be on the same filesystem as upperdir.
pub fn mount_overlay(args: &RunArgs, container: &Container) -> Result<()> {
    let lower = kit::image::extract_once(&args.image_dir(), &args.image)?;
    let (upper, work) = (container.dir.join("upper"), container.dir.join("work"));
    let merged = container.rootfs();
    for dir in [&upper, &work, &merged] {
        std::fs::create_dir_all(dir)?;
    }
    let (lower, upper, work) = (lower.display(), upper.display(), work.display());
    let options = format!("lowerdir={lower},upperdir={upper},workdir={work}");
    explain!("mount(\"overlay\", {merged:?}, \"overlay\", 0, {options:?})  # image + its changes");
    mount(
        Some("overlay"),
        &merged,
        Some("overlay"),
        MsFlags::empty(),
        Some(options.as_str()),
    )
    .syscall(format!("mount overlay on {merged:?}"))?;
    Ok(())
}

/// The name of the directory the old root is moved to, inside the new root.
pub const OLD_ROOT: &str = ".old_root";

/// Makes `rootfs` the root of this mount namespace and drops the host's filesystem from view.
pub fn pivot_into(rootfs: &Path) -> Result<()> {
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

/// A pipe the child reads until the parent has put it in its cgroup. O_CLOEXEC: neither end
/// leaks into the command.
pub fn sync_pipe() -> Result<(OwnedFd, OwnedFd)> {
    explain!("pipe2(O_CLOEXEC)  # the child will wait on it until it is in its cgroup");
    Ok(pipe2(OFlag::O_CLOEXEC).syscall("pipe2(O_CLOEXEC)")?)
}

/// In the child: blocks until the parent says it is in its cgroup. Attaching it from the
/// outside after it had exec'd would be a race: the command could fork or allocate first, and
/// its children would escape the limits.
pub fn wait_until_attached(ready: OwnedFd) -> Result<()> {
    explain!("read(pipe)  # wait until the parent has put this process in its cgroup");
    let mut byte = [0u8; 1];
    // One byte means "attached"; end of file means the parent closed the pipe without writing.
    match read(ready.as_raw_fd(), &mut byte).syscall("read(sync pipe)")? {
        1 => Ok(()),
        _ => anyhow::bail!("the parent could not put this container in its cgroup: not running it"),
    }
}

/// In the parent: the child is in its group with its limits; let it go on to exec.
pub fn release(ready: OwnedFd) -> Result<()> {
    explain!("write(pipe, \"1\")  # the child is in its cgroup: let it run the command");
    write(&ready, b"1").syscall("write(sync pipe)")?;
    Ok(())
}

/// Creates the container's group in each hierarchy it uses, parents first (`mkdir -p`).
pub fn create_cgroup(cgroup: &Cgroup) -> Result<()> {
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
pub fn enable_controllers(cgroup: &Cgroup) -> Result<()> {
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
pub const CPU_PERIOD_US: u64 = 100_000;

/// `--cpus` as a CFS quota and `--cpu-shares` as a weight (the kernel's sched-bwc.rst).
pub fn limit_cpu(cgroup: &Cgroup, args: &RunArgs) -> Result<()> {
    let dir = cgroup.dir("cpu")?;
    let v2 = cgroup.layout.is_v2();
    if let Some(cpus) = args.cpus {
        let quota = (cpus * CPU_PERIOD_US as f64).round() as u64;
        let why = format!("at most {cpus} CPU: {quota} µs in every {CPU_PERIOD_US} µs");
        if v2 {
            write_file(&dir, "cpu.max", &format!("{quota} {CPU_PERIOD_US}"), &why)?;
        } else {
            let period = CPU_PERIOD_US.to_string();
            write_file(
                &dir,
                "cpu.cfs_period_us",
                &period,
                "the period of the quota, in µs",
            )?;
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
pub fn cpu_weight(shares: u64) -> u64 {
    1 + (shares.saturating_sub(2) * 9999) / 262142
}

/// Moves the child into its group: writing a pid to `cgroup.procs` moves that process
/// (cgroups(7)). Its children will be born there too.
pub fn attach(cgroup: &Cgroup, child: Pid) -> Result<()> {
    for dir in cgroup.dirs()? {
        let why = "move the child into its group, before it execs";
        write_file(&dir, "cgroup.procs", &child.to_string(), why)?;
    }
    Ok(())
}

/// Removes the container's group, only `<parent>/<id>`: the parent belongs to whoever gave it.
/// A failure is only reported: it must not hide the command's exit code.
pub fn remove_cgroup(cgroup: &Cgroup) {
    for dir in cgroup.dirs().unwrap_or_default() {
        explain!(
            "rmdir {}  # the container is gone: so is its group",
            dir.display()
        );
        if let Err(err) = remove_group_dir(&dir) {
            eprintln!("{}: warning: {err:#}", kit::program_name());
        }
    }
}

/// rmdir fails with EBUSY while the group still holds a process: the command's last processes
/// may still be exiting (the kernel kills a PID namespace's processes when its PID 1 ends, but
/// does not wait for them). Retry for half a second.
pub fn remove_group_dir(dir: &Path) -> Result<()> {
    for _ in 0..50 {
        let removed =
            std::fs::remove_dir(dir).map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)));
        match removed {
            Ok(()) | Err(Errno::ENOENT) => return Ok(()),
            Err(Errno::EBUSY) => std::thread::sleep(Duration::from_millis(10)),
            Err(errno) => return Ok(Err(errno).syscall(format!("rmdir {}", dir.display()))?),
        }
    }
    let dir = dir.display();
    anyhow::bail!(
        "rmdir {dir}: still busy after 0.5 s: processes are left in it (see its cgroup.procs)"
    )
}

/// Gives back the memory still charged to the container's group, just before it is removed.
/// The kernel keeps a removed memory cgroup ("dying") for as long as a page is charged to it:
/// the page cache of every file the container read or wrote. Each later reclaim walks the dying
/// ones, so a runtime that leaves one per container slows the machine down as the day goes on.
/// Kubernetes empties a pod's group before removing it for this reason.
pub fn give_back_memory(cgroup: &Cgroup) {
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

/// `--memory` and `--memory-swap`, read as Docker does.
pub fn limit_memory(cgroup: &Cgroup, args: &RunArgs) -> Result<()> {
    let Some((memory, total)) = memory_limits(args)? else {
        return Ok(());
    };
    let dir = cgroup.dir("memory")?;
    let why = format!("at most {} of memory", mib(memory));
    if cgroup.layout.is_v2() {
        write_file(&dir, "memory.max", &memory.to_string(), &why)?;
        // v2 limits swap on its own, not memory plus swap.
        let swap = total.map_or("max".to_string(), |t| (t - memory).to_string());
        write_if_exists(
            &dir,
            "memory.swap.max",
            &swap,
            "swap allowed on top of memory.max",
        )
    } else {
        // memsw may never be below limit_in_bytes: the memory limit first.
        write_file(&dir, "memory.limit_in_bytes", &memory.to_string(), &why)?;
        let total = total.map_or("-1".to_string(), |t| t.to_string());
        write_if_exists(
            &dir,
            "memory.memsw.limit_in_bytes",
            &total,
            "memory plus swap",
        )
    }
}

/// Docker's `--memory` and `--memory-swap`: the memory limit, and memory plus swap in bytes
/// (`None`: unlimited swap). Unset, memory plus swap is twice `--memory`; equal to it, no swap at
/// all. `None` without `--memory`.
pub fn memory_limits(args: &RunArgs) -> Result<Option<(u64, Option<u64>)>> {
    let Some(memory) = args.memory else {
        if args.memory_swap.is_some() {
            anyhow::bail!(kit::BadInput(
                "--memory-swap needs --memory (try --memory 64m)".into()
            ));
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
pub fn write_if_exists(dir: &Path, file: &str, value: &str, why: &str) -> Result<()> {
    if !dir.join(file).exists() {
        explain!("# no {file} here: this kernel does not account swap, nothing to limit");
        return Ok(());
    }
    write_file(dir, file, value, why)
}

/// `64 MiB`: the way the limit was most likely given.
pub fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes as f64 / (1u64 << 20) as f64)
}

/// A command killed by SIGKILL (exit 137) could have been killed by anyone; the group's OOM kill
/// counter says whether it was the OOM killer. Read it before the group is removed.
pub fn say_if_out_of_memory(cgroup: &Cgroup, args: &RunArgs, code: i32) {
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
    explain!(
        "cat {}  # was it the OOM killer? see oom_kill",
        dir.join(file).display()
    );
    let kills = read_file(&dir, file)
        .ok()
        .and_then(|text| keyed(&text, "oom_kill"));
    if kills.unwrap_or(0) == 0 {
        return;
    }
    let limit = args.memory.map(|m| format!(" (limit {})", mib(m)));
    let program = kit::program_name();
    eprintln!(
        "{program}: killed: out of memory{}",
        limit.unwrap_or_default()
    );
}

/// `--pids-limit`: fork and clone fail with EAGAIN once the group holds that many tasks.
pub fn limit_pids(cgroup: &Cgroup, args: &RunArgs) -> Result<()> {
    let Some(max) = args.pids_limit else {
        return Ok(());
    };
    let why = format!("at most {max} processes and threads");
    write_file(&cgroup.dir("pids")?, "pids.max", &max.to_string(), &why)
}

/// Kills what is left in the group: the PID namespace's processes died with its PID 1, but a
/// process that joined the group from outside the namespace did not. v2 has `cgroup.kill`
/// (Linux 5.14); elsewhere, SIGKILL each pid in `cgroup.procs` until none is left.
pub fn kill_remaining(cgroup: &Cgroup) {
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
pub fn kill_each_left(dir: &Path) {
    for _ in 0..50 {
        let procs = read_file(dir, "cgroup.procs").unwrap_or_default();
        let pids: Vec<i32> = procs
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
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

/// Gives up root for `--user`: the groups first, the user last. setgroups and setgid need
/// CAP_SETGID; setuid from root to another user empties the permitted and effective capability
/// sets (capabilities(7), "Effect of user ID changes on capabilities"), so after it neither could
/// work. Groups default to 0 when `--user` names none, as Docker does for a user the image's
/// /etc/passwd does not know.
pub fn become_user(user: kit::cli::User) -> Result<()> {
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

/// Docker's default capabilities, by number (moby's oci/caps/defaults.go; capabilities(7)). As a
/// mask they are 0x00000000a80425fb, the `CapBnd` of `grep Cap /proc/self/status` in a container.
/// Everything else, CAP_SYS_ADMIN (mount, sethostname, ...) first, is gone.
pub const DOCKER_CAPABILITIES: &[(u32, &str)] = &[
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
pub fn docker_mask() -> u64 {
    DOCKER_CAPABILITIES
        .iter()
        .map(|&(cap, _)| 1u64 << cap)
        .sum()
}

/// Keeps only Docker's capabilities, in every set, for good. The bounding set first: it needs
/// CAP_SETPCAP, which the next step keeps. All of it before level 11's setuid, which needs
/// CAP_SETUID and then takes what is left from a non-root user.
pub fn drop_capabilities() -> Result<()> {
    drop_bounding_set()?;
    set_capabilities()?;
    explain!("prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)  # no ambient capability either");
    // SAFETY: prctl with integer arguments only.
    Errno::result(unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    })
    .syscall("prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)")?;
    explain!("prctl(PR_SET_NO_NEW_PRIVS, 1)  # no exec can give a privilege back");
    set_no_new_privs().syscall("prctl(PR_SET_NO_NEW_PRIVS, 1)")?;
    Ok(())
}

/// The bounding set limits what any later exec can grant, root's included: an exec by root gets
/// the whole bounding set as its permitted set. Dropping from it cannot be undone.
pub fn drop_bounding_set() -> Result<()> {
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
pub const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Effective and permitted: Docker's set. Inheritable: none, as in Docker since 20.10.14
/// (CVE-2022-24769): an inheritable capability could come back through a file's capabilities.
pub fn set_capabilities() -> Result<()> {
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
