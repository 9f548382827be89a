//! Level 2 — a mount namespace with its own /proc and /dev.

use crate::check::{fail, own_namespaces, report_or_fail, Check, Ctx, Verdict};
use crate::enter::Inside;
use crate::mounts;
use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use probe::{Device, Pty, PTY, REPORT};

const MOUNT_NS: &str = "https://man7.org/linux/man-pages/man7/mount_namespaces.7.html";
const PROC: &str = "https://man7.org/linux/man-pages/man5/proc.5.html";
const MKNOD: &str = "https://man7.org/linux/man-pages/man2/mknod.2.html";

pub const CHECKS: &[Check] = &[
    Check {
        id: "L2.mount-ns.namespace",
        level: 2,
        title: "the container has its own mount namespace",
        hint: "Call unshare(CloneFlags::CLONE_NEWNS) in the child, before any mount.",
        doc: MOUNT_NS,
        run: own_mount_namespace,
    },
    Check {
        id: "L2.mount-ns.proc",
        level: 2,
        title: "/proc inside is a procfs that shows the container's processes",
        hint: "Mount a new proc filesystem on <rootfs>/proc before chroot: mount(Some(\"proc\"), &target, Some(\"proc\"), flags, None). Rootless, without a PID namespace of its own, that is EPERM: bind the host's /proc instead (MS_BIND | MS_REC).",
        doc: PROC,
        run: proc_is_mounted,
    },
    Check {
        id: "L2.mount-ns.no-propagation",
        level: 2,
        title: "a mount made inside never appears outside",
        hint: "The copied mount table keeps each mount's propagation; on systemd hosts `/` is shared. Make everything private first: mount(None, \"/\", None, MS_REC | MS_PRIVATE, None).",
        doc: MOUNT_NS,
        run: mounts_do_not_propagate,
    },
    Check {
        id: "L2.mount-ns.devices",
        level: 2,
        title: "/dev is a tmpfs with working null, zero, random, urandom and tty, and a devpts",
        hint: "Mount a tmpfs on <rootfs>/dev, mknod each device (S_IFCHR, makedev(major, minor): null 1,3; zero 1,5; random 1,8; urandom 1,9; tty 5,0), chmod them 0666, and mount devpts on /dev/pts. Rootless, mknod is EPERM: bind-mount the host's /dev/<name> onto an empty file instead (and never chmod it).",
        doc: MKNOD,
        run: devices_work,
    },
    Check {
        id: "L2.mount-ns.pty",
        level: 2,
        title: "a pseudo-terminal pair opens inside, as root and as a user without privileges (uid 1000)",
        hint: PTY_HINT,
        doc: "https://man7.org/linux/man-pages/man4/pts.4.html",
        run: pty_opens,
    },
    Check {
        id: "L2.mount-ns.no-leftovers",
        level: 2,
        title: "no mount is left behind after the container exits",
        hint: "Mounts made in a private mount namespace vanish with it. A mount that survives was made in (or propagated to) the runtime's own namespace: unshare and make / private before mounting.",
        doc: MOUNT_NS,
        run: nothing_left_mounted,
    },
];

fn own_mount_namespace(ctx: &mut Ctx) -> Result<Verdict> {
    own_namespaces(ctx, &["mnt"])
}

fn proc_is_mounted(ctx: &mut Ctx) -> Result<Verdict> {
    let run = ctx.probe(REPORT, &[])?;
    let report = report_or_fail!(run);
    let proc = report
        .mounts()
        .into_iter()
        .find(|m| m.mount_point == "/proc");
    Ok(match proc {
        None => fail(
            "a mount on /proc inside the container",
            "nothing is mounted on /proc",
        ),
        Some(m) if m.fstype != "proc" => fail(
            "/proc is a proc filesystem",
            format!("/proc is {}", m.fstype),
        ),
        Some(_) if !report.proc_shows_self => fail(
            "/proc/<the probe's pid>/cmdline shows the probe",
            format!(
                "it does not (the probe's pid is {}, /proc/self is {:?})",
                report.pid,
                report.proc_self.as_deref().unwrap_or_default()
            ),
        ),
        Some(_) => Verdict::Pass,
    })
}

fn mounts_do_not_propagate(ctx: &mut Ctx) -> Result<Verdict> {
    let name = format!("rc-tmpfs-{}", crate::run::nonce());
    let target = format!("/{name}");
    // While the probe holds, the checker mounts a tmpfs in the container's mount namespace
    // itself (the container may lack CAP_SYS_ADMIN, as with Docker's and runc's defaults), then
    // looks for it in the runtime's namespace and on the host.
    let (run, seen) = ctx.hold(REPORT, &[], |held| -> Result<Result<Vec<String>, String>> {
        let pid = held.probe_pid.context("the probe's host pid")?;
        if let Err(why) = mount_tmpfs_inside(pid, &target)? {
            return Ok(Err(why));
        }
        let tables = [
            ("the runtime's namespace", held.sandbox.mounts()?),
            ("the host", mounts::read("/proc/self/mountinfo")?),
        ];
        Ok(Ok(tables
            .iter()
            .flat_map(|(place, table)| {
                table
                    .iter()
                    .filter(|m| m.mount_point.ends_with(&name))
                    .map(move |m| format!("{} in {place}", mounts::describe(m)))
            })
            .collect()))
    })?;
    report_or_fail!(run);
    Ok(match seen.transpose()? {
        Some(Ok(seen)) if seen.is_empty() => Verdict::Pass,
        Some(Ok(seen)) => fail(
            format!("a tmpfs mounted on {target} in the container's mount namespace stays inside"),
            format!("it appeared outside: {}", seen.join("; ")),
        ),
        Some(Err(why)) => Verdict::Skip(format!(
            "not tested: the checker could not mount a tmpfs in the container's mount namespace ({why})"
        )),
        None => fail("the probe reports and waits", "it did not"),
    })
}

/// Mounts a tmpfs on `target` (made if missing) in the mount namespace and root of host process
/// `pid`, with the checker's capabilities. `Err` says why it could not.
fn mount_tmpfs_inside(pid: u32, target: &str) -> Result<Result<(), String>> {
    let path = std::ffi::CString::new(target)?;
    let outcome = Inside::of(pid)?.run(|| {
        match nix::unistd::mkdir(
            path.as_c_str(),
            nix::sys::stat::Mode::from_bits_truncate(0o755),
        ) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(e),
        }
        mount(
            Some(c"tmpfs"),
            path.as_c_str(),
            Some(c"tmpfs"),
            MsFlags::empty(),
            Some(c"size=1m"),
        )
        .map(|()| 0)
    })?;
    Ok(outcome
        .map(|_| ())
        .map_err(|(step, errno)| format!("{step}: {}", errno.desc())))
}

fn devices_work(ctx: &mut Ctx) -> Result<Verdict> {
    let run = ctx.probe(REPORT, &[])?;
    let report = report_or_fail!(run);
    let table = report.mounts();
    match table.iter().find(|m| m.mount_point == "/dev") {
        Some(m) if m.fstype == "tmpfs" => {}
        Some(m) => {
            return Ok(fail(
                "/dev is a fresh tmpfs",
                format!(
                    "/dev is {} (the host's devices must not be exposed)",
                    m.fstype
                ),
            ))
        }
        None => {
            return Ok(fail(
                "a tmpfs mounted on /dev",
                "nothing is mounted on /dev",
            ))
        }
    }
    for name in [
        "/dev/null",
        "/dev/zero",
        "/dev/random",
        "/dev/urandom",
        "/dev/tty",
    ] {
        let Some(d) = report.device(name) else {
            return Ok(fail(
                format!("{name} is reported"),
                "the probe did not report it",
            ));
        };
        if !d.exists {
            return Ok(fail(format!("{name} exists"), "it does not"));
        }
        if !d.char_device {
            return Ok(fail(
                format!("{name} is a character device"),
                "it is not a character device (mknod with SFlag::S_IFCHR)",
            ));
        }
        if !d.works {
            return Ok(fail(
                format!("{name} behaves like the real device"),
                format!(
                    "it is {} and does not work: {}",
                    numbers(d),
                    d.error.as_deref().unwrap_or_default()
                ),
            ));
        }
    }
    Ok(match table.iter().find(|m| m.mount_point == "/dev/pts") {
        Some(m) if m.fstype == "devpts" => Verdict::Pass,
        Some(m) => fail("a devpts on /dev/pts", format!("/dev/pts is {}", m.fstype)),
        None => fail("a devpts on /dev/pts", "nothing is mounted on /dev/pts"),
    })
}

/// How terminals work in a container: its own devpts, whose ptmx anyone may open.
const PTY_HINT: &str = "A terminal program (`docker run -it`, `script`, an ssh server) opens /dev/ptmx, then the /dev/pts/N it names. Mount a devpts of the container's own on /dev/pts with \"newinstance,ptmxmode=0666,mode=620\" (ptmxmode is the mode of pts/ptmx: 000, the default, lets only root open it) and make /dev/ptmx a symlink to pts/ptmx. Try: your runtime run -- ls -lL /dev/ptmx (crw-rw-rw- is what a user needs).";

/// The user without privileges the pty is opened as, as `docker run -it --user 1000` would.
const PTY_USER: &str = "1000";

fn pty_opens(ctx: &mut Ctx) -> Result<Verdict> {
    // Rootless, the user namespace maps one uid (root inside): there is no other user to be,
    // for the probe or the checker, so only root's pair is tried (README: "Without root").
    let users: &[Option<&str>] = if ctx.env.rootless {
        &[None]
    } else {
        &[None, Some(PTY_USER)]
    };
    for &user in users {
        let args: &[&str] = match user {
            Some(uid) => &["--as", uid],
            None => &[],
        };
        let run = ctx.probe(PTY, args)?;
        let pty = report_or_fail!(run);
        if user.is_some()
            && pty
                .error
                .as_deref()
                .is_some_and(|e| e.contains("EPERM") || e.contains("not permitted"))
        {
            // The container may not change its uid (runc's default capabilities lack
            // CAP_SETUID): the checker opens the pair there as that user, with its own.
            return pty_opens_from_outside(ctx);
        }
        if let Some(verdict) = pty_verdict(pty, user) {
            return Ok(verdict);
        }
    }
    Ok(Verdict::Pass)
}

/// The uid-1000 half of [`pty_opens`], done by the checker in the container's mount namespace
/// and root: first /dev/ptmx alone, then the whole pair (an answer is one errno, not a step).
fn pty_opens_from_outside(ctx: &mut Ctx) -> Result<Verdict> {
    let uid: libc::uid_t = PTY_USER.parse()?;
    let (run, outcomes) = ctx.hold(REPORT, &[], |held| -> Result<_> {
        let pid = held.probe_pid.context("the probe's host pid")?;
        let inside = Inside::of(pid)?;
        let ptmx = inside.run(|| open_pty_as(uid, false))?;
        let pair = inside.run(|| open_pty_as(uid, true))?;
        Ok((ptmx, pair))
    })?;
    report_or_fail!(run);
    let (ptmx, pair) = match outcomes.transpose()? {
        Some(outcomes) => outcomes,
        None => return Ok(fail("the probe reports and waits", "it did not")),
    };
    let who = format!("as uid {PTY_USER}, a user without privileges");
    let expected = format!("a pseudo-terminal pair opens {who} (/dev/ptmx, then /dev/pts/N)");
    Ok(match (ptmx, pair) {
        (Ok(_), Ok(_)) => Verdict::Pass,
        (Err((crate::enter::Step::Act, Errno::EACCES)), _) => fail(
            expected,
            "open /dev/ptmx failed with EACCES: only root with CAP_DAC_OVERRIDE may open it (devpts's ptmxmode=000, the default); mount devpts with ptmxmode=0666",
        ),
        (Err((crate::enter::Step::Act, errno)), _) => {
            fail(expected, format!("open /dev/ptmx failed with {errno}"))
        }
        (Ok(_), Err((crate::enter::Step::Act, errno))) => fail(
            expected,
            format!("/dev/ptmx opens, but unlockpt or the /dev/pts/N it names fails with {errno}"),
        ),
        (Err((step, errno)), _) | (_, Err((step, errno))) => Verdict::Skip(format!(
            "not tested {who}: the checker could not act in the container ({step}: {errno})"
        )),
    })
}

/// In a child of the checker inside the container: become `uid` (gid the same, no groups) and
/// open /dev/ptmx; with `pair`, unlock it and open the slave it names too. Raw syscalls only
/// (see crate::enter): the slave's name is built on the stack.
fn open_pty_as(uid: libc::uid_t, pair: bool) -> std::result::Result<u8, Errno> {
    // SAFETY: async-signal-safe syscalls on values of this function; every fd is closed.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0
            || libc::setgid(uid) != 0
            || libc::setuid(uid) != 0
        {
            return Err(Errno::last());
        }
        let master = libc::open(c"/dev/ptmx".as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
        if master < 0 {
            return Err(Errno::last());
        }
        let mut result = Ok(0);
        let mut unlock: libc::c_int = 0;
        let mut number: libc::c_uint = 0;
        if pair {
            if libc::ioctl(master, libc::TIOCSPTLCK, &mut unlock) != 0
                || libc::ioctl(master, libc::TIOCGPTN, &mut number) != 0
            {
                result = Err(Errno::last());
            } else {
                let mut path = [0u8; 32];
                let prefix = b"/dev/pts/";
                path[..prefix.len()].copy_from_slice(prefix);
                let mut digits = [0u8; 10];
                let mut count = 0;
                loop {
                    digits[count] = b'0' + (number % 10) as u8;
                    count += 1;
                    number /= 10;
                    if number == 0 {
                        break;
                    }
                }
                for i in 0..count {
                    path[prefix.len() + i] = digits[count - 1 - i];
                }
                let slave = libc::open(path.as_ptr().cast(), libc::O_RDWR | libc::O_NOCTTY);
                if slave < 0 {
                    result = Err(Errno::last());
                } else {
                    libc::close(slave);
                }
            }
        }
        libc::close(master);
        result
    }
}

/// The failure a `pty` reply shows, as root (`user` None) or as `user`; None when the pair opened.
fn pty_verdict(pty: &Pty, user: Option<&str>) -> Option<Verdict> {
    let who = match user {
        Some(uid) => format!("as uid {uid}, a user without privileges"),
        None => "as root".to_string(),
    };
    let expected = format!("a pseudo-terminal pair opens {who} (/dev/ptmx, then /dev/pts/N)");
    if let Some(error) = &pty.error {
        // Only the switch to the user fails this way: rootless, uid 1000 may be unmapped.
        return Some(Verdict::Skip(format!(
            "not tested {who}: the probe could not become that user ({error})"
        )));
    }
    let failed = pty.failed.as_deref()?;
    let errno = pty.errno.as_deref().unwrap_or("an error");
    let ptmx = match &pty.ptmx {
        Some(ptmx) => format!("/dev/ptmx is {ptmx}"),
        None => "/dev/ptmx does not exist".to_string(),
    };
    let slave = pty
        .slave
        .as_deref()
        .map_or(String::new(), |s| format!(" ({s})"));
    let mut observed = format!("{failed}{slave} failed with {errno}; {ptmx}");
    if errno == "EACCES" && failed == "open /dev/ptmx" {
        observed.push_str(
            ": only root with CAP_DAC_OVERRIDE may open it (devpts's ptmxmode=000, the default); mount devpts with ptmxmode=0666",
        );
    }
    Some(fail(expected, observed))
}

/// A device's `major:minor`, for messages.
fn numbers(d: &Device) -> String {
    match (d.major, d.minor) {
        (Some(major), Some(minor)) => format!("{major}:{minor}"),
        _ => "neither a character nor a block device".into(),
    }
}

fn nothing_left_mounted(ctx: &mut Ctx) -> Result<Verdict> {
    let host_before = mounts::read("/proc/self/mountinfo")?;
    let run = ctx.probe(REPORT, &[])?;
    report_or_fail!(run);
    let mut left: Vec<String> = ctx
        .sandbox
        .leftover_mounts()?
        .iter()
        .map(|m| format!("{} in the runtime's namespace", mounts::describe(m)))
        .collect();
    // On the host, only what this run made counts: others mount and unmount too.
    let (ids, nonces) = (ctx.ids.ids(), crate::run::nonces_made());
    let ours = crate::guard::Ours {
        work: &ctx.env.work,
        ids: &ids,
        nonces: &nonces,
        // What a process of the run mounted from the checker's own namespace is the guard's.
        reached: &[],
    };
    left.extend(
        mounts::added(&host_before, &mounts::read("/proc/self/mountinfo")?)
            .iter()
            .filter(|m| ours.owns_mount(m))
            .map(|m| format!("{} on the host", mounts::describe(m))),
    );
    Ok(if left.is_empty() {
        Verdict::Pass
    } else {
        fail(
            "no mount left after the container exited",
            format!("still mounted: {}", left.join("; ")),
        )
    })
}
