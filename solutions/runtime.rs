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

use kit::prelude::*;
use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{chdir, chroot, execvp, fork, pivot_root, sethostname, ForkResult, Pid};
use std::convert::Infallible;
use std::ffi::OsString;
use std::os::fd::AsRawFd;
use std::path::Path;

fn main() -> std::process::ExitCode {
    kit::main(run)
}

/// Runs the command in a new container and returns the exit code to leave with.
fn run(args: RunArgs) -> Result<i32> {
    //@ from 1
    let container = Container::create(&args.container_dir())?;
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
    //@ level 0
    //@ todo 1: fork() a child. fork returns twice: in the child (ForkResult::Child)
    //@ todo    and in the parent (ForkResult::Parent { child }). The child calls `child(&args)`
    //@ todo    and hands its error to kit::exit_child; the parent returns `wait_for(child)`.
    //@ todo    nix's fork is `unsafe`: write a // SAFETY: comment saying why it is sound here.
    explain!("fork()  # copy this process: the copy will become the command");
    // SAFETY: the runtime is single-threaded, so the child may run any code before it execs.
    match unsafe { fork() }.syscall("fork")? {
        ForkResult::Child => {
            //@ from 1
            let Err(err) = child(&args, &container);
            //@ else
            let Err(err) = child(&args);
            //@ end
            kit::exit_child(err)
        }
        ForkResult::Parent { child } => {
            let code = wait_for(child)?;
            //@ from 1
            remove_container(&container);
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
//@ from 1
fn child(args: &RunArgs, container: &Container) -> Result<Infallible> {
    let rootfs = &container.rootfs();
    //@ else
fn child(args: &RunArgs) -> Result<Infallible> {
    //@ end
    //@ level 4
    //@ todo 1: unshare(CLONE_NEWUTS | CLONE_NEWIPC): a hostname and IPC objects of its own.
    unshare_uts_and_ipc()?;
    //@ todo 2: sethostname to --hostname (args.hostname), or to the container id (container.id)
    //@ todo    when no hostname was given.
    set_hostname(args.hostname.as_deref().unwrap_or(&container.id))?;
    //@ end
    //@ level 6
    //@ todo 1: unshare(CLONE_NEWNET): a network stack of its own, with `lo` down and none of
    //@ todo    the host's interfaces.
    unshare_network()?;
    //@ todo 2: bring `lo` up, with the SIOCGIFFLAGS and SIOCSIFFLAGS ioctls (netdevice(7)),
    //@ todo    in a `bring_up_loopback()` you write.
    bring_up_loopback()?;
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
