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

use kit::prelude::*;
//@ level 2
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
//@ end
//@ level 3
use nix::mount::{umount2, MntFlags};
//@ end
//@ level 0
use nix::sys::wait::{waitpid, WaitStatus};
//@ end
//@ level 1
use nix::unistd::chdir;
//@ end
//@ level 3
//@ else
//@ level 1
use nix::unistd::chroot;
//@ end
//@ end
//@ level 3
use nix::unistd::pivot_root;
//@ end
//@ level 0
use nix::unistd::{execvp, fork, ForkResult, Pid};
use std::convert::Infallible;
use std::ffi::CString;
//@ end
//@ from 1
use std::path::Path;
//@ end

fn main() -> std::process::ExitCode {
    kit::main(run)
}

/// Runs the command in a new container and returns the exit code to leave with.
fn run(args: RunArgs) -> Result<i32> {
    //@ from 1
    let container = Container::create(&args.container_dir())?;
    let rootfs = container.rootfs();
    extract_image(&args, &rootfs)?;
    //@ end
    //@ level 0
    //@ todo 1: fork() a child. fork returns twice: in the child (ForkResult::Child)
    //@ todo    and in the parent (ForkResult::Parent { child }). The child calls `child(&args)`
    //@ todo    and hands its error to kit::exit_child; the parent returns `wait_for(child)`.
    //@ todo    nix's fork is `unsafe`: write a // SAFETY: comment saying why it is sound here.
    explain!("copy this process: the copy will become the command", "fork()");
    // SAFETY: the runtime is single-threaded, so the child may run any code before it execs.
    match unsafe { fork() }.syscall("fork")? {
        ForkResult::Child => {
            //@ from 1
            let Err(err) = child(&args, &rootfs);
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
//@ from 1

/// Unpacks a fresh copy of the image: each container starts from the image as it was built.
fn extract_image(args: &RunArgs, rootfs: &Path) -> Result<()> {
    explain!(
        "a fresh copy of the image is this container's root filesystem",
        "extract {}.tar into {}",
        args.image,
        rootfs.display()
    );
    kit::image::extract(&args.image_dir(), &args.image, rootfs)
}

/// Deletes the container's directory once the command has ended. A failure here must not hide
/// the command's exit code, so it is only reported.
fn remove_container(container: &Container) {
    explain!("the container is gone: delete its files", "rm -r {}", container.dir.display());
    if let Err(err) = container.remove() {
        eprintln!("{}: warning: {err:#}", kit::program_name());
    }
}
//@ end
//@ level 0
//@ todo 2: write `fn child(args: &RunArgs) -> Result<Infallible>`: in the child process,
//@ todo    become the command by calling `exec_command` (step 3). It returns only on failure.

/// In the child: set up the container, then become the command. Returns only on failure.
//@ from 1
fn child(args: &RunArgs, rootfs: &Path) -> Result<Infallible> {
    //@ else
fn child(args: &RunArgs) -> Result<Infallible> {
    //@ end
    //@ level 2
    //@ todo 1: unshare(CLONE_NEWNS): from here on this process has its own copy of
    //@ todo    the mount table.
    unshare_mount_namespace()?;
    //@ todo 2: make every mount in the copy private (MS_REC | MS_PRIVATE), so that
    //@ todo    the mounts made below are not propagated back to the host.
    make_mounts_private()?;
    //@ todo 3: mount a fresh procfs on <rootfs>/proc.
    mount_proc(rootfs)?;
    //@ todo 4: mount a tmpfs on <rootfs>/dev, create the device nodes in it (null,
    //@ todo    zero, random, urandom, tty), then mount a devpts on <rootfs>/dev/pts.
    mount_dev(rootfs)?;
    //@ end
    //@ level 3
    //@ todo 1: replace chroot_into with a `pivot_into(rootfs)` you write: bind-mount
    //@ todo    the rootfs onto itself, chdir into it, pivot_root(".", ".old_root"),
    //@ todo    chdir("/"), then unmount the old root (MNT_DETACH) and remove its directory.
    pivot_into(rootfs)?;
    //@ else
    //@ level 1
    //@ todo 1: chroot into the rootfs, then chdir("/") so that the working directory
    //@ todo    is inside the new root too.
    chroot_into(rootfs)?;
    //@ else
    //@ only 1
    let _ = rootfs; // unused until you chroot into it
    //@ end
    //@ end
    //@ end
    exec_command(&args.command)
}
//@ end
//@ level 3
//@ else
//@ level 1

/// Makes `rootfs` this process's `/`. chroot(2) does not change the working directory, which
/// would stay outside the new root: chdir("/") moves it in.
fn chroot_into(rootfs: &Path) -> Result<()> {
    explain!("path lookups now start in the rootfs", "chroot({:?})", rootfs);
    chroot(rootfs).syscall(format!("chroot({rootfs:?})"))?;
    explain!("move the working directory inside the new root", "chdir(\"/\")");
    chdir("/").syscall("chdir(\"/\")")?;
    Ok(())
}
//@ end
//@ end
//@ level 2

/// Gives this process its own copy of the mount table (mount_namespaces(7)).
fn unshare_mount_namespace() -> Result<()> {
    explain!("a private copy of the mount table for this process", "unshare(CLONE_NEWNS)");
    unshare(CloneFlags::CLONE_NEWNS).syscall("unshare(CLONE_NEWNS)")?;
    Ok(())
}

/// The copy keeps each mount's propagation: on a systemd host `/` is shared, so our mounts would
/// appear on the host too. MS_PRIVATE on every mount stops that (mount_namespaces(7), "Shared
/// subtrees").
fn make_mounts_private() -> Result<()> {
    explain!("stop mount events from propagating to or from the host", "mount(NULL, \"/\", NULL, MS_REC | MS_PRIVATE, NULL)");
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .syscall("mount(\"/\", MS_REC | MS_PRIVATE)")?;
    Ok(())
}

/// A fresh procfs, so `ps` and /proc/self work inside the container (proc(5)).
fn mount_proc(rootfs: &Path) -> Result<()> {
    let target = rootfs.join("proc");
    std::fs::create_dir_all(&target)?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    explain!("process information for the container", "mount(\"proc\", {:?}, \"proc\", MS_NOSUID | MS_NODEV | MS_NOEXEC)", target);
    mount(Some("proc"), &target, Some("proc"), flags, None::<&str>).syscall(format!("mount proc on {target:?}"))?;
    Ok(())
}

/// The character devices a program expects, as (name, major, minor): devices(7) lists them.
const DEVICES: &[(&str, u64, u64)] =
    &[("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)];

/// A tmpfs `/dev` with only the harmless devices, not the host's whole /dev (no disks!), plus a
/// private devpts for terminals.
fn mount_dev(rootfs: &Path) -> Result<()> {
    let dev = rootfs.join("dev");
    std::fs::create_dir_all(&dev)?;
    // Device nodes take no space: 64k is plenty, and caps what the container can write there.
    let options = "mode=755,size=64k";
    explain!("an empty /dev, in memory", "mount(\"tmpfs\", {:?}, \"tmpfs\", MS_NOSUID, {options:?})", dev);
    mount(Some("tmpfs"), &dev, Some("tmpfs"), MsFlags::MS_NOSUID, Some(options))
        .syscall(format!("mount tmpfs on {dev:?}"))?;
    for &(name, major, minor) in DEVICES {
        let path = dev.join(name);
        explain!("", "mknod({:?}, S_IFCHR | 0666, makedev({major}, {minor}))", path);
        mknod(&path, SFlag::S_IFCHR, Mode::from_bits_truncate(0o666), makedev(major, minor))
            .syscall(format!("mknod {path:?}"))?;
    }
    // mknod applies the umask: set the mode explicitly so everyone can use the devices.
    for &(name, _, _) in DEVICES {
        std::fs::set_permissions(dev.join(name), std::os::unix::fs::PermissionsExt::from_mode(0o666))?;
    }
    let pts = dev.join("pts");
    std::fs::create_dir_all(&pts)?;
    // newinstance: the container's terminals are its own, not the host's (devpts(4)).
    let options = "newinstance,ptmxmode=0666,mode=620";
    explain!("a private set of pseudo-terminals", "mount(\"devpts\", {:?}, \"devpts\", MS_NOSUID | MS_NOEXEC, {options:?})", pts);
    mount(Some("devpts"), &pts, Some("devpts"), MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC, Some(options))
        .syscall(format!("mount devpts on {pts:?}"))?;
    for (link, target) in [("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")] {
        std::os::unix::fs::symlink(target, dev.join(link))?;
    }
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
    explain!("make the rootfs a mount point", "mount({:?}, {:?}, NULL, MS_BIND | MS_REC, NULL)", rootfs, rootfs);
    mount(Some(rootfs), rootfs, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
        .syscall(format!("bind-mount {rootfs:?} onto itself"))?;
    chdir(rootfs).syscall(format!("chdir({rootfs:?})"))?;
    std::fs::create_dir_all(OLD_ROOT)?;
    explain!("the rootfs becomes /, the host's root moves to /.old_root", "pivot_root(\".\", \"{OLD_ROOT}\")");
    pivot_root(".", OLD_ROOT).syscall(format!("pivot_root(\".\", \"{OLD_ROOT}\")"))?;
    chdir("/").syscall("chdir(\"/\")")?;
    // MNT_DETACH: the old root is busy (our own binary was loaded from it); detach it now and
    // let the kernel finish when the last user is gone.
    let old_root = format!("/{OLD_ROOT}");
    explain!("the host's filesystem leaves this namespace", "umount2({old_root:?}, MNT_DETACH)");
    umount2(old_root.as_str(), MntFlags::MNT_DETACH).syscall(format!("umount2({old_root:?}, MNT_DETACH)"))?;
    std::fs::remove_dir(&old_root).with_context(|| format!("removing {old_root}"))?;
    Ok(())
}
//@ end
//@ level 0
//@ todo 3: write `fn exec_command(command: &[OsString]) -> Result<Infallible>`
//@ todo    (kit::c_strings, then nix's execvp, which searches PATH) and
//@ todo    `fn wait_for(child: Pid) -> Result<i32>`: waitpid for the child, then return
//@ todo    its exit code, or 128 + N if signal N killed it.

/// Replaces this process's program with the command, searching PATH like a shell. On success
/// execvp never returns: the only possible result is an error.
fn exec_command(command: &[std::ffi::OsString]) -> Result<Infallible> {
    let argv: Vec<CString> = kit::c_strings(command);
    explain!("become the command; on success this never returns", "execvp({:?}, {:?})", argv[0], argv);
    Ok(execvp(&argv[0], &argv).syscall(format!("execvp({:?})", argv[0]))?)
}

/// Waits for the command and turns how it ended into our exit code, as a shell does: its own
/// exit code, or 128 + N when signal N killed it (waitpid(2), "WIFSIGNALED").
fn wait_for(child: Pid) -> Result<i32> {
    explain!("block until the command ends", "waitpid({child})");
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
