// Generated from solutions/runtime.rs by `cargo xtask generate`; this is your file: edit it.
//! What levels 0 to 1 wrote; yours to read and edit.
//!
//! `main.rs` tells this level's story (`run`, `child`) and holds this level's code;
//! the functions it calls from here are those of earlier levels.

use kit::prelude::*;
use nix::sys::prctl::set_pdeathsig;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{chdir, chroot, execvp, getppid, Pid};
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

/// Makes `rootfs` this process's `/`. chroot(2) does not change the working directory, which
/// would stay outside the new root: chdir("/") moves it in.
pub fn chroot_into(rootfs: &Path) -> Result<()> {
    explain!("chroot({rootfs:?})  # path lookups now start in the rootfs");
    chroot(rootfs).syscall(format!("chroot({rootfs:?})"))?;
    explain!("chdir(\"/\")  # move the working directory inside the new root");
    chdir("/").syscall("chdir(\"/\")")?;
    Ok(())
}
