//! Acting inside a running container as the checker: a forked child joins the probe's user
//! namespace (when it is not ours), its mount namespace and its root, does one thing, and exits.
//!
//! What a mount namespace lets through (propagation) or keeps out (the host's root) is a property
//! of the namespace, not of the container's capabilities: a container started with Docker's or
//! runc's default capabilities cannot mount or chroot, yet its namespace can still be wrong. The
//! checker, root where the runtime is root, tests the namespace with its own capabilities.
//!
//! The checker has threads (output readers), so the child may only make async-signal-safe calls:
//! everything it needs (paths, buffers) is prepared before the fork, and the child's steps are
//! raw syscalls.

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::sched::{setns, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

/// The namespaces and root of a running process, opened from the host.
pub struct Inside {
    /// The process's user namespace, when it is not the checker's own (rootless runs): joined
    /// first, since it is what grants the right to join the mount namespace.
    user: Option<File>,
    mnt: File,
    root: File,
}

/// What a step inside reported: `Ok(code)` of the action, or the step that failed and its errno.
pub type Outcome = std::result::Result<u8, (Step, Errno)>;

/// The steps of the child, to say which one failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    JoinUser,
    JoinMount,
    EnterRoot,
    /// The action itself.
    Act,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(match self {
            Step::JoinUser => "joining its user namespace (setns)",
            Step::JoinMount => "joining its mount namespace (setns)",
            Step::EnterRoot => "entering its root (fchdir, chroot)",
            Step::Act => "acting there",
        })
    }
}

impl Inside {
    /// The namespaces of host process `pid`.
    pub fn of(pid: u32) -> Result<Inside> {
        let open = |what: &str| {
            let path = format!("/proc/{pid}/{what}");
            File::open(&path).with_context(|| format!("opening {path}"))
        };
        let same_as_ours = |what: &str| -> Result<bool> {
            let theirs = std::fs::metadata(format!("/proc/{pid}/{what}"))?;
            let ours = std::fs::metadata(format!("/proc/self/{what}"))?;
            Ok(theirs.ino() == ours.ino() && theirs.dev() == ours.dev())
        };
        Ok(Inside {
            user: match same_as_ours("ns/user")? {
                true => None,
                false => Some(open("ns/user")?),
            },
            mnt: open("ns/mnt")?,
            root: open("root")?,
        })
    }

    /// Runs `act` in a forked child inside the namespaces, at their root, and returns its
    /// outcome. `act` must only make async-signal-safe calls (no allocation, no locks).
    pub fn run(&self, act: impl FnOnce() -> std::result::Result<u8, Errno>) -> Result<Outcome> {
        let (read_end, write_end) = nix::unistd::pipe().context("pipe")?;
        // SAFETY: the child makes only async-signal-safe calls (setns, fchdir, chroot, what
        // `act` does, write, _exit) and never returns into the parent's code.
        match unsafe { fork() }.context("fork")? {
            ForkResult::Child => {
                drop(read_end);
                let outcome = self.join().and_then(|()| act().map_err(|e| (Step::Act, e)));
                report_and_exit(&write_end, outcome)
            }
            ForkResult::Parent { child } => {
                drop(write_end);
                let mut answer = Vec::new();
                File::from(read_end)
                    .read_to_end(&mut answer)
                    .context("reading the child's answer")?;
                let status = waitpid(child, None).context("waitpid")?;
                decode(&answer, status)
            }
        }
    }

    /// The child's part: join the user namespace, then the mount namespace, then the root.
    fn join(&self) -> std::result::Result<(), (Step, Errno)> {
        if let Some(user) = &self.user {
            setns(user.as_fd(), CloneFlags::CLONE_NEWUSER).map_err(|e| (Step::JoinUser, e))?;
        }
        setns(self.mnt.as_fd(), CloneFlags::CLONE_NEWNS).map_err(|e| (Step::JoinMount, e))?;
        nix::unistd::fchdir(self.root.as_raw_fd()).map_err(|e| (Step::EnterRoot, e))?;
        nix::unistd::chroot(c".").map_err(|e| (Step::EnterRoot, e))?;
        Ok(())
    }
}

/// Writes the outcome as 6 bytes (kind, step or code, errno) and ends the child.
fn report_and_exit(pipe: &OwnedFd, outcome: Outcome) -> ! {
    let mut answer = [0u8; 6];
    match outcome {
        Ok(code) => answer[1] = code,
        Err((step, errno)) => {
            answer[0] = 1;
            answer[1] = step as u8;
            answer[2..6].copy_from_slice(&(errno as i32).to_le_bytes());
        }
    }
    // SAFETY: write(2) and _exit(2) are async-signal-safe; the buffer is on the stack.
    unsafe {
        libc::write(pipe.as_raw_fd(), answer.as_ptr().cast(), answer.len());
        libc::_exit(0)
    }
}

/// The parent's side of [`report_and_exit`].
fn decode(answer: &[u8], status: WaitStatus) -> Result<Outcome> {
    let [kind, value, e0, e1, e2, e3] = answer else {
        bail!("the child acting inside the container ended without an answer ({status:?})");
    };
    if *kind == 0 {
        return Ok(Ok(*value));
    }
    let step = [Step::JoinUser, Step::JoinMount, Step::EnterRoot, Step::Act]
        .into_iter()
        .find(|s| *s as u8 == *value)
        .unwrap_or(Step::Act);
    let errno = Errno::from_raw(i32::from_le_bytes([*e0, *e1, *e2, *e3]));
    Ok(Err((step, errno)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_decode() {
        let exited = WaitStatus::Exited(nix::unistd::Pid::from_raw(1), 0);
        assert_eq!(decode(&[0, 1, 0, 0, 0, 0], exited).unwrap(), Ok(1));
        let eperm = (Errno::EPERM as i32).to_le_bytes();
        let answer = [
            1,
            Step::JoinMount as u8,
            eperm[0],
            eperm[1],
            eperm[2],
            eperm[3],
        ];
        assert_eq!(
            decode(&answer, exited).unwrap(),
            Err((Step::JoinMount, Errno::EPERM))
        );
        assert!(decode(&[], exited).is_err());
    }
}
