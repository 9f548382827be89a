// Generated from solutions/runtime.rs by `cargo xtask generate`; this is your file: edit it.
//! What levels 0 to 5 wrote; yours to read and edit.
//!
//! `main.rs` tells this level's story (`run`, `child`) and holds this level's code;
//! the functions it calls from here are those of earlier levels.

use kit::prelude::*;
use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::prctl::set_pdeathsig;
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{chdir, execvp, getppid, pivot_root, sethostname, Pid};
use std::convert::Infallible;
use std::ffi::OsString;
use std::path::Path;

/// Unpacks a fresh copy of the image: each container starts from the image as it was built.
pub fn extract_image(args: &RunArgs, rootfs: &Path) -> Result<()> {
    let (image, dir) = (&args.image, rootfs.display());
    explain!("extract {image}.tar into {dir}  # this container's own copy of the image");
    kit::image::extract(&args.image_dir(), &args.image, rootfs)
}

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
