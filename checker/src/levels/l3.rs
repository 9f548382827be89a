//! Level 3 — pivot_root.

use crate::check::{fail, report_or_fail, Check, Ctx, Verdict};
use crate::enter::{Inside, Outcome};
use crate::mounts;
use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use probe::{ESCAPE, REPORT};
use std::ffi::CString;

const PIVOT_ROOT: &str = "https://man7.org/linux/man-pages/man2/pivot_root.2.html";

/// Pseudo filesystems that share one superblock with the host's when mounted again in the same
/// namespaces (a new procfs is the host's procfs): seeing them inside is not seeing the host's files.
const SHARED_PSEUDO_FS: &[&str] = &[
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "mqueue",
    "securityfs",
    "debugfs",
    "tracefs",
    "bpf",
];

pub const CHECKS: &[Check] = &[
    Check {
        id: "L3.pivot-root.root-mount",
        level: 3,
        title: "the container's root is a mount of its own (mountinfo has a / entry)",
        hint: "pivot_root needs new_root to be a mount point: bind-mount the rootfs onto itself (MS_BIND | MS_REC), chdir into it, then pivot_root(\".\", \".old_root\").",
        doc: PIVOT_ROOT,
        run: root_is_a_mount,
    },
    Check {
        id: "L3.pivot-root.no-host-mounts",
        level: 3,
        title: "no host mount is visible inside",
        hint: "After pivot_root the host's root is still mounted at /.old_root: umount2(\"/.old_root\", MNT_DETACH).",
        doc: PIVOT_ROOT,
        run: no_host_mounts,
    },
    Check {
        id: "L3.pivot-root.no-escape",
        level: 3,
        title: "the classic chroot escape does not reach the host",
        hint: "A root process escapes a chroot with mkdir + chroot + chdir(\"..\") repeated: only pivot_root (and unmounting the old root) takes the host's / out of the mount namespace.",
        doc: PIVOT_ROOT,
        run: chroot_escape_fails,
    },
    Check {
        id: "L3.pivot-root.old-root-removed",
        level: 3,
        title: "the old root's mount point is removed",
        hint: "The old root must go entirely: umount2(\"/.old_root\", MNT_DETACH), then remove its now-empty directory with std::fs::remove_dir(\"/.old_root\").",
        doc: PIVOT_ROOT,
        run: old_root_removed,
    },
];

fn root_is_a_mount(ctx: &mut Ctx) -> Result<Verdict> {
    let run = ctx.probe(REPORT, &[])?;
    let report = report_or_fail!(run);
    let table = report.mounts();
    Ok(if table.iter().any(|m| m.mount_point == "/") {
        Verdict::Pass
    } else {
        let points: Vec<&str> = table.iter().map(|m| m.mount_point.as_str()).collect();
        fail(
            "a mount on / in /proc/self/mountinfo (the rootfs, after pivot_root)",
            format!("no / entry, only {points:?}: the root is a plain directory, as after chroot"),
        )
    })
}

fn no_host_mounts(ctx: &mut Ctx) -> Result<Verdict> {
    let run = ctx.probe(REPORT, &[])?;
    let report = report_or_fail!(run);
    let host = mounts::read("/proc/self/mountinfo")?;
    // A mount of the host's is recognised by its device and the directory of it that is mounted.
    let leaked: Vec<String> = report
        .mounts()
        .iter()
        .filter(|m| is_the_hosts(m, &host))
        .map(|m| format!("{} ({})", m.mount_point, m.fstype))
        .collect();
    Ok(if leaked.is_empty() {
        Verdict::Pass
    } else {
        fail(
            "only the container's own mounts inside",
            format!("host mounts visible at {}", leaked.join(", ")),
        )
    })
}

fn chroot_escape_fails(ctx: &mut Ctx) -> Result<Verdict> {
    let host = ctx.env.host_marker.display().to_string();
    let run = ctx.probe(ESCAPE, &["--target", &host])?;
    let escape = report_or_fail!(run);
    let expected =
        format!("mkdir x; chroot x; chdir(\"..\") ×64; chroot(\".\") cannot reach {host}");
    if escape.reached {
        return Ok(fail(expected, "it did: the escape read the host's file"));
    }
    if !escape.chroot_refused {
        return Ok(Verdict::Pass);
    }
    // The container may not chroot (no CAP_SYS_CHROOT, as with runc's and Docker's defaults): the
    // probe's attempt tested nothing. Whether the host's root is still in the container's mount
    // namespace is a property of the namespace: the checker tries with its own capabilities.
    let (run, outcome) = ctx.hold(REPORT, &[], |held| -> Result<Outcome> {
        let pid = held.probe_pid.context("the probe's host pid")?;
        escape_inside(pid, &CString::new(host.as_str())?)
    })?;
    report_or_fail!(run);
    Ok(match outcome.transpose()? {
        None => fail("the probe reports and waits", "it did not"),
        Some(Ok(0)) => Verdict::Pass,
        Some(Ok(_)) => fail(
            expected,
            "it did: the container's own chroot was refused (EPERM), so the checker made the same \
             escape in the container's mount namespace and root with its own capabilities, and \
             read the host's file",
        ),
        Some(Err((step, errno))) => Verdict::Skip(format!(
            "not tested: the container may not chroot (EPERM), and the checker's own attempt in \
             its mount namespace failed {step}: {}",
            errno.desc()
        )),
    })
}

/// The classic chroot escape, made by the checker inside the mount namespace and root of host
/// process `pid`: `Ok(1)` when it opened `target`, `Ok(0)` when not.
fn escape_inside(pid: u32, target: &CString) -> Result<Outcome> {
    let name = format!(".rc-escape-{}", crate::run::nonce());
    let dir = CString::new(name.as_str())?;
    let outcome = Inside::of(pid)?.run(|| {
        match nix::unistd::mkdir(dir.as_c_str(), Mode::from_bits_truncate(0o700)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e),
        }
        nix::unistd::chroot(dir.as_c_str())?;
        for _ in 0..64 {
            nix::unistd::chdir(c"..")?;
        }
        nix::unistd::chroot(c".")?;
        Ok(u8::from(
            nix::fcntl::open(target.as_c_str(), OFlag::O_RDONLY, Mode::empty()).is_ok(),
        ))
    });
    // The directory is in the container's root, which the host reaches through /proc.
    let _ = std::fs::remove_dir(format!("/proc/{pid}/root/{name}"));
    outcome
}

fn old_root_removed(ctx: &mut Ctx) -> Result<Verdict> {
    let run = ctx.probe(REPORT, &[])?;
    let report = report_or_fail!(run);
    let host = mounts::read("/proc/self/mountinfo")?;
    // A mount point of the container's own (/proc, /dev) may be an extra name in /; one that
    // shows a filesystem of the host's is the old root, still mounted.
    let (hosts, own): (Vec<_>, Vec<_>) = report
        .mounts()
        .into_iter()
        .partition(|m| is_the_hosts(m, &host));
    let own_points: Vec<String> = own.into_iter().map(|m| m.mount_point).collect();
    let extra: Vec<String> = report
        .root_entries
        .iter()
        .filter(|name| !ctx.env.image_entries.contains(name))
        .filter(|name| !own_points.contains(&format!("/{name}")))
        .map(|name| {
            let point = format!("/{name}");
            match hosts.iter().any(|m| m.mount_point == point) {
                true => format!("{point} (the host's root is still mounted on it)"),
                false => point,
            }
        })
        .collect();
    Ok(if extra.is_empty() {
        Verdict::Pass
    } else {
        fail(
            "/ holds only the image's files and the container's mount points",
            format!("extra entries in /: {}", extra.join(", ")),
        )
    })
}

/// Whether a mount seen inside is one of the host's: the same device and directory of it (a
/// new procfs or sysfs shares the host's superblock, and is not the host's files).
fn is_the_hosts(mount: &mounts::Mount, host: &[mounts::Mount]) -> bool {
    !SHARED_PSEUDO_FS.contains(&mount.fstype.as_str())
        && host
            .iter()
            .any(|h| h.major_minor == mount.major_minor && h.root == mount.root)
}
