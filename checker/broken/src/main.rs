//! Deliberately broken runtimes, one per mistake a learner can make. The checker's tests run each
//! one and assert exactly which checks fail: a check that no wrong runtime can fail proves nothing.
//!
//! One binary, many faults: it is started through a symlink named after the fault (or with
//! `BROKEN_FAULT=<name>`), and is otherwise a complete runtime (up to level 10, its cgroups in
//! `cgroups.rs`; level 13's cable in `veth.rs`, through `ip`) written independently of the solutions, so the checker is never validated
//! against the very code it judges.

use anyhow::{bail, Context, Result};
use kit::prelude::*;
use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{chdir, chroot, execvp, fork, pivot_root, sethostname, ForkResult, Pid};
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

mod cgroups;
mod faults;
mod hostile;
mod privileges;
mod veth;

use cgroups::{Group, Removal};

/// The level of runtime this fault is.
fn level() -> u32 {
    faults::find(&fault()).map_or(3, |f| f.level)
}

fn fault() -> String {
    std::env::var("BROKEN_FAULT").unwrap_or_else(|_| kit::program_name())
}

fn is(name: &str) -> bool {
    fault() == name
}

fn main() -> std::process::ExitCode {
    if faults::find(&fault()).is_none() {
        eprintln!(
            "broken: unknown fault {:?}; start me through a symlink named after one of:",
            fault()
        );
        for f in faults::FAULTS {
            eprintln!("  {:<23} level {}  {}", f.name, f.level, f.what);
            eprintln!("  {:<23}          {}", "", f.proof.describe());
        }
        return std::process::ExitCode::from(2);
    }
    if fault().starts_with("strict-cli") {
        if let Err(refused) = strict_command_line(level()) {
            eprintln!("broken: {refused}");
            return std::process::ExitCode::from(2);
        }
    }
    if is("multi-line-usage") {
        use clap::Parser;
        let _ = kit::cli::Cli::parse();
    }
    // A fault that forgets one of the kit's checks of the command line.
    let skip: Vec<&str> = UNCHECKED
        .iter()
        .filter(|(name, _)| is(name))
        .map(|&(_, flag)| flag)
        .collect();
    kit::main_skipping(&skip, |args| match run(args) {
        Err(err) if is("bad-input-125") => {
            eprintln!("broken: {err:#}");
            Ok(125)
        }
        other => other,
    })
}

/// A runtime written elsewhere, with a command line as strict as its level: an option that a
/// later level introduces (the runtime contract in README.md) is unknown to it, bad input.
fn strict_command_line(level: u32) -> std::result::Result<(), String> {
    let options: &[(&str, u32)] = &[
        ("--image", 0),
        ("--image-dir", 0),
        ("--container-dir", 0),
        ("--explain", 0),
        ("--hostname", 4),
        ("--cpus", 8),
        ("--cpu-shares", 8),
        ("--cgroup-parent", 8),
        ("--memory", 9),
        ("--memory-swap", 9),
        ("--pids-limit", 10),
        ("--user", 11),
        ("--ip", 13),
    ];
    let mut words = std::env::args().skip(2);
    while let Some(word) = words.next() {
        if word == "--" || !word.starts_with("--") {
            break;
        }
        let name = word.split('=').next().unwrap_or_default();
        match options.iter().find(|(option, _)| *option == name) {
            Some((_, introduced)) if *introduced <= level => {
                if name != "--explain" && !word.contains('=') {
                    words.next();
                }
            }
            _ => return Err(format!("unknown option {name} (a level-{level} runtime)")),
        }
    }
    Ok(())
}

/// (fault, the flag whose check it skips).
const UNCHECKED: &[(&str, &str)] = &[
    ("image-path-accepted", "--image"),
    ("hostname-unchecked", "--hostname"),
    ("cpus-unchecked", "--cpus"),
    ("cgroup-parent-unchecked", "--cgroup-parent"),
    ("memory-unchecked", "--memory"),
    ("pids-limit-unchecked", "--pids-limit"),
    ("user-unchecked", "--user"),
    ("ip-unchecked", "--ip"),
];

/// Level 1 to 6's extraction, and the image faults: a name taken as a path when its tar
/// exists, an empty file taken as an empty image, contradicting members reported as a failure
/// of the runtime (125), not as bad input.
fn extract_copy(args: &RunArgs, rootfs: &Path) -> Result<()> {
    let tar = kit::image::tar_path(&args.image_dir(), &args.image);
    if is("image-path-accepted") && tar.is_file() {
        std::fs::create_dir_all(rootfs)?;
        return kit::image::extract_tar(&tar, rootfs, false);
    }
    if is("empty-image-accepted") && std::fs::metadata(&tar).is_ok_and(|m| m.len() == 0) {
        std::fs::create_dir_all(rootfs)?;
        return Ok(());
    }
    let extracted = kit::image::extract(&args.image_dir(), &args.image, rootfs);
    match extracted {
        Err(err) if is("contradiction-125") && contradicts(&err) => Err(anyhow::anyhow!("{err:#}")),
        other => other,
    }
}

/// Whether kit refused the image for members that contradict each other.
fn contradicts(err: &anyhow::Error) -> bool {
    let text = format!("{err:#}");
    text.contains("replace a directory") || text.contains("a directory over a link")
}

fn run(args: RunArgs) -> Result<i32> {
    hostile::attack(&fault(), &args)?;
    if level() >= 9 && !is("swap-below-memory-accepted") {
        vet_memory_swap(&args)?;
    }
    let (dir, rootfs) = rootfs_for(&args)?;
    // Up to level 6 (and the no-overlay fault, a level-6 runtime) each container gets a copy.
    if (1..7).contains(&level()) || is("copy-under-overlay") {
        let extracted = extract_copy(&args, &rootfs);
        if extracted.is_err() && !is("keep-dir-on-refusal") {
            let _ = kit::container::remove_dir_on_one_filesystem(&dir);
        }
        extracted?;
    }
    // Before unshare(CLONE_NEWPID): ip, its first child after it, would be the namespace's PID 1.
    if level() >= 13 {
        let id = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Err(err) = veth::plug(&args, &id) {
            let _ = kit::container::remove_dir_on_one_filesystem(&dir);
            return Err(err);
        }
    }
    if level() >= 5 && !is("no-pid-ns") && !is("unshare-pid-in-child") {
        unshare(CloneFlags::CLONE_NEWPID).syscall("unshare(CLONE_NEWPID)")?;
    }
    let argv = argv(&args);
    if is("exec-without-fork") {
        let Err(err) = setup_and_exec(&args, &dir, &rootfs, &argv);
        kit::exit_child(err);
    }
    let group = match group_for(&args, &dir) {
        Ok(group) => group,
        Err(err) => {
            let _ = kit::container::remove_dir_on_one_filesystem(&dir);
            return Err(err);
        }
    };
    let relay = match is("attach-after-exec") {
        true => Some(nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?),
        false => None,
    };
    let sync = match parent_attaches() && group.is_some() {
        true => Some(nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?),
        false => None,
    };
    // SAFETY: single-threaded; the child only sets up and execs.
    let child = match unsafe { fork() }? {
        ForkResult::Child => {
            let attached = match (&group, &relay, sync) {
                (_, _, Some((ready, release))) => {
                    drop(release);
                    wait_for_release(ready)
                }
                (Some(group), None, None) => group.attach_self(),
                (_, Some((_, stdout)), None) => relay_stdout(stdout),
                (None, None, None) => Ok(()),
            };
            let Err(err) = attached.and_then(|()| setup_and_exec(&args, &dir, &rootfs, &argv));
            kit::exit_child(err)
        }
        ForkResult::Parent { child } => child,
    };
    if let (Some(group), Some(pipe)) = (&group, relay) {
        attach_after_exec(group, child, pipe)?;
    }
    if let (Some(group), Some((ready, release))) = (&group, sync) {
        drop(ready);
        attach_and_release(group, child, release, &args)?;
    }
    if is("no-wait") {
        return Ok(0);
    }
    if is("hang") {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
    let code = match waitpid(child, None)? {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, signal, _) if is("signal-number") => signal as i32,
        WaitStatus::Signaled(_, signal, _) => 128 + signal as i32,
        other => bail!("unexpected wait status {other:?}"),
    };
    veth::unplug();
    if let Some(group) = &group {
        say_why_killed(group, code, args.memory);
        remove_group(group, code);
    }
    if !is("shared-rootfs") && !is("keep-container-dir") {
        let _ = kit::container::remove_dir_on_one_filesystem(&dir);
    }
    Ok(if is("exit-zero") { 0 } else { code })
}

/// Docker refuses a memory-plus-swap limit below the memory limit, or without one: bad input,
/// before anything is made.
fn vet_memory_swap(args: &RunArgs) -> Result<()> {
    match (args.memory, args.memory_swap) {
        (None, Some(_)) => bail!(kit::BadInput(
            "--memory-swap without --memory: give --memory too".into()
        )),
        (Some(memory), Some(kit::cli::MemorySwap::Bytes(total))) if total < memory => {
            bail!(kit::BadInput(format!(
                "--memory-swap {total} is below --memory {memory}: it counts memory plus swap"
            )))
        }
        _ => Ok(()),
    }
}

/// The controllers of each cgroup level: cpu from level 8, memory from 9, pids from 10.
fn controllers() -> &'static [&'static str] {
    match level() {
        8 => &["cpu"],
        9 => &["cpu", "memory"],
        _ => &["cpu", "memory", "pids"],
    }
}

/// From level 8: the container's group `<cgroup-parent>/<id>`, its limits written, before the
/// child exists.
fn group_for(args: &RunArgs, dir: &Path) -> Result<Option<Group>> {
    if level() < 8 || is("no-cgroup") {
        return Ok(None);
    }
    let group = Group::create(&args.cgroup_parent, &container_id(dir), controllers())?;
    if let Err(err) = apply_limits(&group, args) {
        let _ = group.remove(Removal::KillAndRetry);
        return Err(err);
    }
    Ok(Some(group))
}

fn apply_limits(group: &Group, args: &RunArgs) -> Result<()> {
    if let Some(cpus) = args.cpus {
        let period = match is("cpu-period-200ms") {
            true => 2 * cgroups::CPU_PERIOD_US,
            false => cgroups::CPU_PERIOD_US,
        };
        // A tenth: the quota written as if the period were 10000 µs.
        let cpus = match is("cpus-tenth") {
            true => cpus / 10.0,
            false => cpus,
        };
        group.limit_cpus(cpus, period)?;
    }
    if let Some(shares) = args.cpu_shares.filter(|_| !is("ignore-cpu-shares")) {
        group.limit_cpu_shares(shares, is("new-weight-formula"))?;
    }
    if let Some(memory) = args.memory.filter(|_| !is("no-memory-limit")) {
        let memory = match is("memory-in-kib") {
            true => memory >> 10,
            false => memory,
        };
        let swap = match (is("no-swap-by-default"), args.memory_swap) {
            (true, None) => Some(kit::cli::MemorySwap::Bytes(memory)),
            (_, swap) => swap,
        };
        group.limit_memory(memory, swap)?;
    }
    let later = is("no-pids-limit") || is("pids-after-release");
    if let Some(max) = args.pids_limit.filter(|_| !later) {
        group.limit_pids(max)?;
    }
    Ok(())
}

/// The faults whose parent attaches the child through a sync pipe (the solutions' way), each
/// getting the order wrong; the correct runtime's child attaches itself.
fn parent_attaches() -> bool {
    is("child-does-not-wait") || is("release-then-attach") || is("pids-after-release")
}

/// In the child: wait for the parent's byte, except for the fault that does not.
fn wait_for_release(ready: OwnedFd) -> Result<()> {
    if is("child-does-not-wait") {
        return Ok(());
    }
    let mut byte = [0u8; 1];
    match nix::unistd::read(ready.as_raw_fd(), &mut byte).syscall("read(<sync>)")? {
        1 => Ok(()),
        _ => bail!("the parent closed the sync pipe without releasing the child"),
    }
}

/// In the parent: attach, then release, each fault getting one step out of order. Errors are
/// ignored where the fault makes them likely: the child may have exec'd and even exited (a
/// write to the pipe nobody reads any more, a zombie to attach).
fn attach_and_release(group: &Group, child: Pid, release: OwnedFd, args: &RunArgs) -> Result<()> {
    let release_it = || {
        let _ = nix::unistd::write(&release, b"1");
    };
    if is("release-then-attach") {
        release_it();
        let _ = group.attach(child);
    } else {
        let _ = group.attach(child);
        release_it();
    }
    if let Some(max) = args.pids_limit.filter(|_| is("pids-after-release")) {
        group.limit_pids(max)?;
    }
    Ok(())
}

/// The `attach-after-exec` fault's child: its stdout goes through the runtime.
fn relay_stdout(stdout: &OwnedFd) -> Result<()> {
    nix::unistd::dup2(stdout.as_raw_fd(), 1).syscall("dup2(<relay>, 1)")?;
    Ok(())
}

/// The race a sync pipe exists to prevent, made certain: the child execs at once, and the
/// parent moves it into the group only once the command has written to stdout (which the
/// runtime relays), so always after the command's first instructions, and always before
/// anyone reads what it wrote.
fn attach_after_exec(group: &Group, child: Pid, (output, ours): (OwnedFd, OwnedFd)) -> Result<()> {
    use std::io::{Read, Write};
    // Only the child's copy of the write end may be left: EOF when the command is done.
    drop(ours);
    let mut output = std::fs::File::from(output);
    let mut first = [0u8; 4096];
    let n = output.read(&mut first)?;
    // The command may be gone already: then there is nothing to attach.
    let _ = group.attach(child);
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&first[..n])?;
    stdout.flush()?;
    std::io::copy(&mut output, &mut stdout)?;
    Ok(())
}

/// A bare 137 tells nobody that the memory limit was hit: say so, with the limit.
fn say_why_killed(group: &Group, code: i32, memory: Option<u64>) {
    if code != 128 + libc::SIGKILL || is("bare-137") {
        return;
    }
    if let Some(limit) = memory.filter(|_| is("oom-on-every-137")) {
        eprintln!(
            "broken: the command was killed: out of memory (limit {})",
            cgroups::describe_limit(limit)
        );
        return;
    }
    if let Some(limit) = group.oom_killed() {
        eprintln!(
            "broken: the command was killed: out of memory (limit {})",
            cgroups::describe_limit(limit)
        );
    }
}

fn remove_group(group: &Group, code: i32) {
    let oom = code == 128 + libc::SIGKILL;
    if is("cgroup-left-behind") || (oom && is("cgroup-left-after-oom")) {
        return;
    }
    let how = match is("rmdir-without-kill") {
        true => Removal::RmdirOnce,
        false => Removal::KillAndRetry,
    };
    if let Err(err) = group.remove(how) {
        eprintln!("broken: {err:#}");
    }
}

fn container_id(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn rootfs_for(args: &RunArgs) -> Result<(PathBuf, PathBuf)> {
    if is("shared-rootfs") {
        let dir = args.container_dir().join("shared");
        return Ok((dir.clone(), dir.join("rootfs")));
    }
    if is("rootfs-elsewhere") {
        let dir =
            std::env::temp_dir().join(format!("rubber-crab-broken-{}", kit::container::new_id()?));
        return Ok((dir.clone(), dir.join("rootfs")));
    }
    let container = Container::create(args)?;
    let dirs = (container.dir.clone(), container.rootfs());
    // Its lock stays held until this runtime exits: a live container is never taken for dead.
    std::mem::forget(container);
    Ok(dirs)
}

fn argv(args: &RunArgs) -> Vec<CString> {
    let argv = kit::c_strings(&args.command);
    if !is("joined-argv") {
        return argv;
    }
    let joined: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    joined
        .join(" ")
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(|w| CString::new(w).expect("no NUL"))
        .collect()
}

fn setup_and_exec(
    args: &RunArgs,
    dir: &Path,
    rootfs: &Path,
    argv: &[CString],
) -> Result<std::convert::Infallible> {
    if is("unshare-pid-in-child") {
        unshare(CloneFlags::CLONE_NEWPID).syscall("unshare(CLONE_NEWPID)")?;
    }
    if level() >= 4 {
        set_up_uts(args, dir)?;
    }
    if level() >= 6 {
        set_up_network()?;
    }
    if level() >= 2 {
        if !is("no-unshare") {
            unshare(CloneFlags::CLONE_NEWNS).syscall("unshare")?;
        }
        if !is("not-private") && !is("no-unshare") {
            mount(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                None::<&str>,
            )
            .syscall("mount")?;
        }
        if level() >= 7 && !is("no-overlay") {
            mount_overlay(args, dir, rootfs)?;
        }
        if is("host-proc") {
            let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
            mount(
                Some("/proc"),
                &rootfs.join("proc"),
                None::<&str>,
                flags,
                None::<&str>,
            )
            .syscall("bind /proc")?;
        } else if !is("no-proc") {
            mount(
                Some("proc"),
                &rootfs.join("proc"),
                Some("proc"),
                MsFlags::empty(),
                None::<&str>,
            )
            .syscall("mount proc")?;
        }
        make_dev(&rootfs.join("dev"))?;
    }
    if level() >= 1 && !is("no-chroot") {
        enter_root(rootfs)?;
    }
    if is("mixed-streams") {
        nix::unistd::dup2(1, 2)?;
    }
    if level() >= 12 && !is("no-cap-drop") && !is("drop-after-setuid") {
        privileges::confine()?;
    }
    if let Some(user) = args.user.filter(|_| level() >= 11 && !is("ignore-user")) {
        privileges::switch_user(user)?;
    }
    if is("drop-after-setuid") {
        privileges::confine()?;
    }
    if is("runc-caps") || is("chroot-no-caps") {
        keep_only_capabilities(RUNC_DEFAULT_CAPABILITIES)?;
    }
    if is("panic-on-missing") {
        #[allow(clippy::unwrap_used)]
        execvp(&argv[0], argv).unwrap();
    }
    execvp(&argv[0], argv)
        .syscall(format!("execvp({:?})", argv[0]))
        .map_err(kit::cannot_exec)
}

fn make_dev(dev: &Path) -> Result<()> {
    if is("host-dev") {
        mount(
            Some("/dev"),
            dev,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .syscall("bind /dev")?;
        return Ok(());
    }
    mount(
        Some("tmpfs"),
        dev,
        Some("tmpfs"),
        MsFlags::empty(),
        Some("mode=755"),
    )
    .syscall("mount tmpfs")?;
    for (name, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        let path = dev.join(name);
        if is("file-devices") {
            std::fs::write(&path, "")?;
        } else {
            mknod(
                &path,
                SFlag::S_IFCHR,
                Mode::from_bits_truncate(0o666),
                makedev(major, minor),
            )
            .syscall("mknod")?;
        }
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o666))?;
    }
    std::fs::create_dir_all(dev.join("pts"))?;
    mount(
        Some("devpts"),
        &dev.join("pts"),
        Some("devpts"),
        MsFlags::empty(),
        Some(if is("ptmxmode-000") {
            "newinstance,ptmxmode=000"
        } else {
            "newinstance,ptmxmode=0666"
        }),
    )
    .syscall("mount devpts")?;
    std::os::unix::fs::symlink("pts/ptmx", dev.join("ptmx")).context("symlink /dev/ptmx")?;
    Ok(())
}

fn enter_root(rootfs: &Path) -> Result<()> {
    if level() < 3 {
        chroot(rootfs).syscall("chroot")?;
        if !is("no-chdir") {
            chdir("/").syscall("chdir")?;
        }
        return Ok(());
    }
    if !is("pivot-no-bind") {
        mount(
            Some(rootfs),
            rootfs,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .syscall("bind rootfs")?;
    }
    chdir(rootfs).syscall("chdir")?;
    std::fs::create_dir_all("old")?;
    pivot_root(".", "old").syscall("pivot_root")?;
    chdir("/").syscall("chdir")?;
    if !is("keep-old-root") {
        umount2("/old", MntFlags::MNT_DETACH).syscall("umount2")?;
        if !is("keep-old-dir") {
            std::fs::remove_dir("/old").context("rmdir /old")?;
        }
    }
    Ok(())
}

fn set_up_uts(args: &RunArgs, dir: &Path) -> Result<()> {
    let id = container_id(dir);
    let hostname = match (
        &args.hostname,
        is("ignore-hostname-flag"),
        is("hostname-fixed"),
    ) {
        (Some(name), false, _) => name.clone(),
        (_, _, true) => "container".to_string(),
        _ => id,
    };
    if is("hostname-before-unshare") {
        sethostname(&hostname).syscall("sethostname")?;
    }
    if !is("no-uts") {
        unshare(CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWIPC)
            .syscall("unshare(CLONE_NEWUTS)")?;
    }
    sethostname(&hostname).syscall("sethostname")?;
    Ok(())
}

fn set_up_network() -> Result<()> {
    // A socket belongs to the network namespace it is opened in, whatever happens after.
    let early = match is("socket-before-unshare") {
        true => Some(std::net::UdpSocket::bind("0.0.0.0:0")?),
        false => None,
    };
    let host = match level() >= 13 {
        true => Some(veth::host_namespace()?),
        false => None,
    };
    if !is("no-net-ns") {
        unshare(CloneFlags::CLONE_NEWNET).syscall("unshare(CLONE_NEWNET)")?;
    }
    if let Some(host) = &host {
        veth::take_end(host)?;
    }
    if is("lo-down") {
        return Ok(());
    }
    let socket = match early {
        Some(socket) => socket,
        None => std::net::UdpSocket::bind("0.0.0.0:0")?,
    };
    // SAFETY: ifreq is plain old data; the ioctls read and write only the request we own.
    unsafe {
        let mut request: libc::ifreq = std::mem::zeroed();
        request.ifr_name[0] = b'l' as libc::c_char;
        request.ifr_name[1] = b'o' as libc::c_char;
        Errno::result(libc::ioctl(
            socket.as_raw_fd(),
            libc::SIOCGIFFLAGS,
            &mut request,
        ))
        .syscall("SIOCGIFFLAGS")?;
        request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        Errno::result(libc::ioctl(
            socket.as_raw_fd(),
            libc::SIOCSIFFLAGS,
            &request,
        ))
        .syscall("SIOCSIFFLAGS")?;
    }
    Ok(())
}

/// What `runc spec` grants: CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE (no CAP_SYS_ADMIN,
/// no CAP_SYS_CHROOT).
const RUNC_DEFAULT_CAPABILITIES: &[u32] = &[29, 5, 10];

/// Drops every other capability from the bounding set: root's command, once exec'd, is
/// permitted only what the bounding set holds (capabilities(7), "Transformation of capabilities
/// during execve()").
fn keep_only_capabilities(keep: &[u32]) -> Result<()> {
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")?
        .trim()
        .parse()?;
    for cap in (0..=last).filter(|c| !keep.contains(c)) {
        // SAFETY: prctl(PR_CAPBSET_DROP) takes plain integers.
        Errno::result(unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) })
            .syscall("prctl(PR_CAPBSET_DROP)")?;
    }
    Ok(())
}

/// The image, extracted once into a snapshot dir of this runtime's own (not `<image-dir>/<name>/`):
/// `<image-dir>/snapshots/<name>/rootfs`, made complete under another name, then renamed.
fn extract_to_snapshot(args: &RunArgs) -> Result<PathBuf> {
    let snapshot = args.image_dir().join("snapshots").join(&args.image);
    let lower = snapshot.join("rootfs");
    if !lower.is_dir() {
        let partial = snapshot.join(format!("rootfs.{}", kit::container::new_id()?));
        if let Err(refused) = kit::image::extract(&args.image_dir(), &args.image, &partial) {
            // A refused image leaves no snapshot behind (nor the snapshots dir it made).
            let _ = kit::container::remove_dir_on_one_filesystem(&snapshot);
            let _ = std::fs::remove_dir(snapshot.parent().unwrap_or(&snapshot));
            return Err(refused);
        }
        std::fs::rename(&partial, &lower).context("renaming the snapshot into place")?;
    }
    Ok(lower)
}

fn mount_overlay(args: &RunArgs, dir: &Path, rootfs: &Path) -> Result<()> {
    if is("extract-each-time") {
        // <image-dir>/<name> is a symlink to the copy of this tar: remove both.
        let link = kit::image::extracted_dir(&args.image_dir(), &args.image);
        if let Ok(copy) = std::fs::canonicalize(&link) {
            let _ = kit::container::remove_dir_on_one_filesystem(&copy);
        }
        let _ = kit::container::remove_dir_on_one_filesystem(&link);
    }
    let lower = if is("lower-elsewhere") {
        extract_to_snapshot(args)?
    } else {
        kit::image::extract_once(&args.image_dir(), &args.image)?
    };
    std::fs::create_dir_all(rootfs)?;
    if is("write-through") {
        let flags = MsFlags::MS_BIND;
        mount(Some(&lower), rootfs, None::<&str>, flags, None::<&str>).syscall("bind the image")?;
        return Ok(());
    }
    let layers = if is("shared-upper") {
        args.container_dir().join("shared")
    } else {
        dir.to_path_buf()
    };
    let (upper, mut work) = (layers.join("upper"), layers.join("work"));
    if is("shared-workdir") {
        work = args.container_dir().join("shared-work");
    }
    std::fs::create_dir_all(&upper)?;
    std::fs::create_dir_all(&work)?;
    let mut options = format!("lowerdir={},upperdir={}", lower.display(), upper.display());
    if !is("no-workdir") {
        options.push_str(&format!(",workdir={}", work.display()));
    }
    mount(
        Some("overlay"),
        rootfs,
        Some("overlay"),
        MsFlags::empty(),
        Some(options.as_str()),
    )
    .syscall("mount overlay")?;
    Ok(())
}
