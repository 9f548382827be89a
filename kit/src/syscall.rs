//! Errno becomes a sentence a learner can act on.
//!
//! `mount(...).syscall("mount /proc")?` turns `EPERM` into
//! "mount /proc failed: EPERM (Operation not permitted) — mounting needs CAP_SYS_ADMIN: run as root (sudo)".

use nix::errno::Errno;
use thiserror::Error;

/// A failed system call, with what we were doing and, where we know one, what to do about it.
#[derive(Debug, Error)]
#[error("{what} failed: {errno:?} ({desc}){advice}", desc = errno.desc(), advice = advice_suffix(what, *errno))]
pub struct SyscallError {
    pub what: String,
    pub errno: Errno,
}

pub trait SyscallExt<T> {
    /// Names the call for the error message: `"pivot_root(\".\", \".old_root\")"` or just `"pivot_root"`.
    /// The first word (up to `(` or a space) picks the advice.
    fn syscall(self, what: impl Into<String>) -> Result<T, SyscallError>;
}

impl<T> SyscallExt<T> for nix::Result<T> {
    fn syscall(self, what: impl Into<String>) -> Result<T, SyscallError> {
        self.map_err(|errno| SyscallError {
            what: what.into(),
            errno,
        })
    }
}

fn advice_suffix(what: &str, errno: Errno) -> String {
    let mut call = what.split(['(', ' ']).next().unwrap_or(what);
    // prctl does many things: name the one that was refused.
    if what.starts_with("prctl(PR_CAPBSET_DROP") {
        call = "PR_CAPBSET_DROP";
    }
    match advice(call, errno) {
        Some(text) => format!(" — {text}"),
        None => String::new(),
    }
}

/// What to do about `errno` from `call`. Only advice we are sure of: a wrong hint is worse than none.
pub fn advice(call: &str, errno: Errno) -> Option<&'static str> {
    use Errno::*;
    Some(match (call, errno) {
        (_, EPERM) if call != "kill" => match call {
            "mknod" => "creating device nodes is refused here (inside a user namespace it always is): bind-mount the host's device node instead",
            "setgroups" | "setgid" => "this needs CAP_SETGID, which setuid to a non-root user takes away: call setgroups and setgid before setuid",
            "setuid" => "this needs CAP_SETUID: switch users before dropping it (Docker's capability set keeps it)",
            "PR_CAPBSET_DROP" => "dropping from the bounding set needs CAP_SETPCAP, which setuid to a non-root user takes away: drop capabilities before setuid",
            "capset" => "capset can only lower what is permitted, and setuid to a non-root user empties it: set the capabilities before setuid",
            "RTM_NEWLINK" | "RTM_NEWADDR" | "RTM_NEWROUTE" | "RTM_DELLINK" => "configuring the network needs CAP_NET_ADMIN: plug the cable in before the capabilities are dropped, as root",
            _ => "this needs root (CAP_SYS_ADMIN): run it with sudo",
        },
        ("fork" | "clone", EAGAIN) => "the process limit was reached (ulimit -u, or a pids cgroup)",
        ("execvp" | "execve" | "exec", ENOENT) => "no such file: is the command in the image and on PATH? try an absolute path such as /bin/sh",
        ("execvp" | "execve" | "exec", EACCES) => "the file is not executable (chmod +x), or its filesystem is mounted noexec",
        ("execvp" | "execve" | "exec", ENOEXEC) => "not a program this kernel can run: a script without #! or a binary for another architecture",
        ("chroot" | "chdir", ENOENT) => "the directory does not exist: did the image extract into it?",
        ("mount", ENOENT) => "the mount point does not exist (for an overlay: or its lowerdir, upperdir or workdir): create it first (mkdir)",
        ("mount", ENODEV) => "this kernel does not know that filesystem type (see /proc/filesystems)",
        ("mount", EBUSY) => "something is already mounted there, or the source is busy",
        ("umount" | "umount2", EINVAL) => "that path is not a mount point",
        ("umount" | "umount2", EBUSY) => "something still uses that mount: detach it lazily with MNT_DETACH",
        ("pivot_root", EINVAL) => "new_root must be a mount point (bind-mount it onto itself first), put_old must be under it, and neither / nor new_root may be a shared mount (make / private with MS_REC | MS_PRIVATE first)",
        ("pivot_root", EBUSY) => "new_root is not a mount point of its own (bind-mount it onto itself first), or it is already the root, or something is mounted on put_old",
        ("unshare" | "setns", EINVAL) => "the kernel refused this namespace flag: is that namespace type enabled in this kernel?",
        ("mknod", EEXIST) => "the node already exists: this /dev is not a fresh tmpfs",
        ("sethostname", EINVAL) => "the hostname is longer than 64 bytes",
        ("RTM_NEWROUTE", ENETUNREACH) => "the gateway is on no link that is up: give eth0 its address /24 and bring it up (IFF_UP) before adding the route",
        ("RTM_NEWLINK", EEXIST) => "a link of that name exists already: another container's, or one a killed runtime left (ip link del NAME)",
        ("RTM_NEWADDR", EEXIST) => "the link has that address already",
        ("if_nametoindex", ENODEV) => "no link of that name in this network namespace: was the container's end moved in and renamed eth0 (IFLA_NET_NS_FD, IFLA_IFNAME)?",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_errors_get_advice_in_one_line() {
        let e: Result<(), _> = Err(Errno::EINVAL).syscall("pivot_root(\"/c\", \"/c/.old_root\")");
        let msg = e.unwrap_err().to_string();
        assert!(msg.starts_with("pivot_root(\"/c\", \"/c/.old_root\") failed: EINVAL (Invalid argument) — new_root must be a mount point"), "{msg}");
        assert!(!msg.contains('\n'));
        let msg = Err::<(), _>(Errno::EPERM)
            .syscall("mount /proc")
            .unwrap_err()
            .to_string();
        assert!(msg.ends_with("run it with sudo"), "{msg}");
        // A missing lower, upper or work dir of an overlay is ENOENT, not EINVAL.
        let msg = Err::<(), _>(Errno::ENOENT)
            .syscall("mount overlay on \"/c/rootfs\"")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("lowerdir, upperdir or workdir"), "{msg}");
    }

    #[test]
    fn switching_users_in_the_wrong_order_says_the_right_order() {
        let msg = Err::<(), _>(Errno::EPERM)
            .syscall("setgid(2345)")
            .unwrap_err()
            .to_string();
        assert!(
            msg.ends_with("call setgroups and setgid before setuid"),
            "{msg}"
        );
        let msg = Err::<(), _>(Errno::EPERM)
            .syscall("prctl(PR_CAPBSET_DROP, 2)")
            .unwrap_err()
            .to_string();
        assert!(msg.ends_with("drop capabilities before setuid"), "{msg}");
        let msg = Err::<(), _>(Errno::EPERM)
            .syscall("prctl(PR_SET_PDEATHSIG, SIGKILL)")
            .unwrap_err()
            .to_string();
        assert!(!msg.contains("SETPCAP"), "{msg}");
    }

    #[test]
    fn a_route_over_a_link_that_is_down_says_bring_it_up() {
        let msg = Err::<(), _>(Errno::ENETUNREACH)
            .syscall("RTM_NEWROUTE default via 10.13.0.1")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("bring it up (IFF_UP)"), "{msg}");
    }

    #[test]
    fn unknown_errors_say_only_what_we_know() {
        let msg = Err::<(), _>(Errno::EXDEV)
            .syscall("pivot_root")
            .unwrap_err()
            .to_string();
        assert_eq!(msg, "pivot_root failed: EXDEV (Cross-device link)");
    }
}
