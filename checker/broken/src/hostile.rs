//! Hostile runtimes: what a learner's runtime can do, by mistake or not, that must not hurt the
//! host or hang the checker. Each attack runs before the (otherwise correct) level-0 runtime.

use anyhow::{bail, Context, Result};
use kit::prelude::*;
use nix::mount::{mount, MsFlags};
use nix::sched::{setns, CloneFlags};
use nix::unistd::{fork, setsid, ForkResult};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::time::Duration;

pub fn attack(fault: &str, args: &RunArgs) -> Result<()> {
    match fault {
        "flood" => flood(),
        "fork-bomb" => fork_bomb(),
        "memory-hog" => memory_hog(None),
        "slow-memory-hog" => memory_hog(Some(SLOW_HOG_MIB_PER_SECOND)),
        "panic" => panic!("this runtime panics on purpose"),
        "orphan" => orphan(),
        "mount-over-work" => mount_over_work(args),
        "nsenter-uts" => nsenter_and(CloneFlags::CLONE_NEWUTS, "uts", || {
            Ok(nix::unistd::sethostname(PWNED).syscall("sethostname")?)
        }),
        "nsenter-mount" => nsenter_and(CloneFlags::CLONE_NEWNS, "mnt", || {
            Ok(mount(
                Some("pwned"),
                PWNED_MOUNT,
                Some("tmpfs"),
                MsFlags::empty(),
                None::<&str>,
            )
            .syscall("mount tmpfs on /mnt")?)
        }),
        "leave-behind" => leave_behind(args),
        "leak-link" => leak_link(args),
        "ignores-cgroup-parent" => ignore_cgroup_parent(args),
        "leaves-group-with-process" => leave_group_with_process(args),
        "limit-on-parent" => limit_on_parent(args),
        "v2-paths-on-v1" => v2_paths_on_v1(args),
        "escape-cage" => escape_cage(),
        "raise-cage-limits" => raise_cage_limits(args),
        _ => Ok(()),
    }
}

/// 50 MB of log lines on stdout, then the command's own output as usual.
fn flood() -> Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for n in 0..1_000_000 {
        writeln!(
            out,
            "log line {n:>8}: the runtime is very chatty today.........."
        )?;
    }
    Ok(out.flush()?)
}

/// Every process forks forever. Refuses to start outside a pids-capped group: this is a test of
/// the checker's cage, not of the machine.
fn fork_bomb() -> Result<()> {
    let groups = std::fs::read_to_string("/proc/self/cgroup")?;
    if !groups.contains("rubber-crab-checker") {
        bail!("refusing to fork-bomb outside the checker's cage");
    }
    loop {
        // SAFETY: single-threaded; parent and child both only loop here.
        if unsafe { fork() }.is_err() {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// How fast the slow memory hog touches its pages: it meets the checker's 512 MiB cap after two
/// seconds, past a one-second timeout, as the plain hog does on a slow machine (under software
/// emulation it took more than the CI's two seconds).
const SLOW_HOG_MIB_PER_SECOND: u32 = 256;

/// Allocates 1 GiB and touches every page, so it is really used; at most `pace` MiB a second.
fn memory_hog(pace: Option<u32>) -> Result<()> {
    let started = std::time::Instant::now();
    let mut hog = vec![0u8; 1 << 30];
    for (mib, chunk) in (1u32..).zip(hog.chunks_mut(1 << 20)) {
        for page in chunk.chunks_mut(4096) {
            page[0] = 1;
        }
        if let Some(pace) = pace {
            // Busy, not asleep: a slow machine's hog is slow while it runs.
            let due = Duration::from_secs_f64(f64::from(mib) / f64::from(pace));
            while started.elapsed() < due {
                std::hint::spin_loop();
            }
        }
    }
    std::hint::black_box(&hog);
    Ok(())
}

/// The runtime exits at once; its child leaves the process group (a new session), waits a
/// little and carries on as the runtime.
fn orphan() -> Result<()> {
    // SAFETY: single-threaded.
    match unsafe { fork() }? {
        ForkResult::Parent { .. } => std::process::exit(0),
        ForkResult::Child => {
            setsid()?;
            std::thread::sleep(Duration::from_millis(300));
            Ok(())
        }
    }
}

/// Joins the mount namespace of its parent (the checker: the host's), found by its host pid, and
/// mounts a tmpfs over the
/// checker's scratch directory for this check (the parent of `--container-dir`).
fn mount_over_work(args: &RunArgs) -> Result<()> {
    // getppid() is 0 here: the checker starts runtimes in a PID namespace of its own, below
    // its own, and mounts that namespace's procfs on /proc. The host's procfs is still under
    // it: in a mount namespace of our own, lift the top one, and the host's /proc names the
    // parent by its host pid.
    if ppid_of("self")? == "0" {
        lift_proc()?;
    }
    let ppid = ppid_of("self")?;
    let parent = std::fs::File::open(format!("/proc/{ppid}/ns/mnt"))?;
    setns(parent, CloneFlags::CLONE_NEWNS).syscall("setns(<parent's mount namespace>)")?;
    let work = args
        .container_dir()
        .parent()
        .context("the container dir has a parent")?
        .to_path_buf();
    mount(
        Some("hostile"),
        &work,
        Some("tmpfs"),
        MsFlags::empty(),
        None::<&str>,
    )
    .syscall("mount tmpfs over the work dir")?;
    Ok(())
}

/// The hostname `nsenter-uts` gives the checker's UTS namespace.
const PWNED: &str = "pwned";
/// Where `nsenter-mount` mounts a tmpfs in the checker's mount namespace: outside the checker's
/// dirs, named after nothing of the run.
const PWNED_MOUNT: &str = "/mnt";

/// What `nsenter -t <the checker's pid> -u hostname pwned` does (or `-m mount -t tmpfs pwned
/// /mnt`), from a child of the runtime: it joins the checker's namespace `kind` (`uts`, `mnt`)
/// and acts there. The runtime waits for it, then runs its command as usual.
fn nsenter_and(ns: CloneFlags, kind: &str, act: impl FnOnce() -> Result<()>) -> Result<()> {
    // SAFETY: single-threaded.
    match unsafe { fork() }? {
        ForkResult::Child => {
            let code = match join_the_checkers(ns, kind).and_then(|()| act()) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("nsenter {kind}: {e:#}");
                    1
                }
            };
            std::process::exit(code)
        }
        ForkResult::Parent { child } => {
            let status = nix::sys::wait::waitpid(child, None)?;
            anyhow::ensure!(
                status == nix::sys::wait::WaitStatus::Exited(child, 0),
                "entering the checker's {kind} namespace failed: {status:?}"
            );
            Ok(())
        }
    }
}

/// Joins the namespace `kind` of the checker, the runtime's parent (this process's
/// grandparent), found by its host pid as mount_over_work finds it.
fn join_the_checkers(ns: CloneFlags, kind: &str) -> Result<()> {
    if ppid_of("self")? == "0" || ppid_of(&ppid_of("self")?)? == "0" {
        lift_proc()?;
    }
    let checker = ppid_of(&ppid_of("self")?)?;
    let file = std::fs::File::open(format!("/proc/{checker}/ns/{kind}"))?;
    Ok(setns(file, ns).syscall("setns(<the checker's namespace>)")?)
}

/// In a mount namespace of our own, unmounts the procfs of the run's PID namespace: the
/// host's, under it, names every process by its host pid.
fn lift_proc() -> Result<()> {
    nix::sched::unshare(CloneFlags::CLONE_NEWNS).syscall("unshare(CLONE_NEWNS)")?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .syscall("making / private")?;
    Ok(nix::mount::umount2("/proc", nix::mount::MntFlags::MNT_DETACH).syscall("umount2(/proc)")?)
}

/// The parent's pid of the process `pid` (or `self`), as the procfs on /proc names it (0:
/// outside that procfs's namespace).
fn ppid_of(pid: &str) -> Result<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    stat.rsplit_once(") ")
        .and_then(|(_, rest)| rest.split(' ').nth(1))
        .map(str::to_string)
        .with_context(|| format!("the ppid in /proc/{pid}/stat"))
}

/// Follows the contract (a container id, `<container-dir>/<id>/`, a group `rubber-crab/<id>`
/// holding itself and so the command it starts), then never cleans up: the group stays, and a
/// tmpfs stays mounted on the container's dir.
fn leave_behind(args: &RunArgs) -> Result<()> {
    let id = kit::container::new_id()?;
    let dir = args.container_dir().join(&id);
    std::fs::create_dir_all(&dir)?;
    let group = cgroup_root()?.join("rubber-crab").join(&id);
    std::fs::create_dir_all(&group)?;
    std::fs::write(group.join("cgroup.procs"), "0")?;
    mount(
        Some("hostile"),
        &dir,
        Some("tmpfs"),
        MsFlags::empty(),
        None::<&str>,
    )
    .syscall("mount tmpfs on the container's dir")?;
    Ok(())
}

/// Follows the contract (a container id and `<container-dir>/<id>/`, removed at exit) and creates
/// a persistent tun device named after the id, `rcleak<first 8 characters>`, in the host's
/// network namespace (where a runtime is until level 6), and never deletes it.
fn leak_link(args: &RunArgs) -> Result<()> {
    let id = kit::container::new_id()?;
    let dir = args.container_dir().join(&id);
    std::fs::create_dir_all(&dir)?;
    let name = format!("rcleak{}", id.get(..8).unwrap_or(&id));
    let tun = checker::links::attach_tun(&name, (libc::IFF_TUN | libc::IFF_NO_PI) as i16)
        .with_context(|| format!("creating tun device {name}"))?;
    checker::links::set_persist(&tun, true).with_context(|| format!("making {name} persist"))?;
    std::fs::remove_dir(&dir)?;
    Ok(())
}

/// A container id, announced as the contract does (`<container-dir>/<id>/`, which the checker
/// records as it appears) and removed again at once.
fn announce_container(args: &RunArgs) -> Result<String> {
    let id = kit::container::new_id()?;
    let dir = args.container_dir().join(&id);
    std::fs::create_dir_all(&dir)?;
    std::fs::remove_dir(&dir)?;
    Ok(id)
}

/// The directories of the group `relative` in the hierarchies holding cpu, memory and pids
/// (one on v2).
fn groups_at(relative: &str) -> Vec<std::path::PathBuf> {
    let layout = checker::cgroups::host_layout();
    let mut dirs: Vec<std::path::PathBuf> = ["cpu", "memory", "pids"]
        .iter()
        .filter_map(|controller| layout.group_dir(controller, relative))
        .collect();
    dirs.dedup();
    dirs
}

/// Makes `dir` and moves `pid` (0: this process) into it.
fn join_group(dir: &std::path::Path, pid: u32) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join("cgroup.procs"), pid.to_string())
        .with_context(|| format!("moving {pid} into {}", dir.display()))
}

/// Ignores `--cgroup-parent`: its container's group is `rubber-crab/<id>` at the root of each
/// hierarchy (out of the checker's cage), it joins it (so the command does too), and removes
/// nothing.
fn ignore_cgroup_parent(args: &RunArgs) -> Result<()> {
    let id = announce_container(args)?;
    for dir in groups_at(&format!("rubber-crab/{id}")) {
        join_group(&dir, 0)?;
    }
    Ok(())
}

/// Makes its container's group `<cgroup-parent>/<id>` and leaves it behind with a `sleep` in it
/// that outlives the runtime (in a process group of its own).
fn leave_group_with_process(args: &RunArgs) -> Result<()> {
    let id = announce_container(args)?;
    // A day less a second: how the hostile test knows this sleep (checker/tests/hostile.rs).
    let sleep = std::process::Command::new("sleep")
        .arg("86399")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .context("starting sleep")?;
    let parent = args.cgroup_parent.display().to_string();
    for dir in groups_at(&format!("{parent}/{id}")) {
        join_group(&dir, sleep.id())?;
    }
    Ok(())
}

/// Makes its container's group `<cgroup-parent>/<id>` but writes the limits to the parent: a
/// memory limit of 256 MiB and a process limit of 64, loose enough for any command of level 0.
/// Removes its group again, so only the limits tell.
fn limit_on_parent(args: &RunArgs) -> Result<()> {
    let id = announce_container(args)?;
    let relative = args.cgroup_parent.display().to_string();
    let layout = checker::cgroups::host_layout();
    for (controller, files, value) in [
        (
            "memory",
            ["memory.max", "memory.limit_in_bytes"],
            "268435456",
        ),
        ("pids", ["pids.max", "pids.max"], "64"),
    ] {
        let Some(parent) = layout.group_dir(controller, &relative) else {
            continue;
        };
        let group = parent.join(&id);
        std::fs::create_dir_all(&group)?;
        let file = files
            .iter()
            .map(|f| parent.join(f))
            .find(|f| f.exists())
            .with_context(|| format!("no {controller} limit file in {}", parent.display()))?;
        std::fs::write(&file, value).with_context(|| format!("writing {}", file.display()))?;
        std::fs::remove_dir(&group)?;
    }
    Ok(())
}

/// The memory hierarchy on a v1 host, the unified tree on a v2 host.
fn cgroup_root() -> Result<std::path::PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
    let mut unified = None;
    for line in mountinfo.lines() {
        let Some((_, after)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = line.split(' ').collect();
        let point = fields.get(4).copied().unwrap_or("");
        if after.starts_with("cgroup ") && after.split(',').any(|o| o == "memory") {
            return Ok(point.into());
        }
        if after.starts_with("cgroup2 ") {
            unified = Some(point.into());
        }
    }
    unified.context("no cgroup hierarchy is mounted")
}

/// Where `/sys/fs/cgroup` is a tmpfs (v1 and hybrid hosts), writes its container's limits as on
/// v2, `/sys/fs/cgroup/<cgroup-parent>/<id>/cpu.max` and `cgroup.procs`: plain directories and
/// files on the tmpfs, no group. On a v2 host it does nothing (there those paths are groups).
fn v2_paths_on_v1(args: &RunArgs) -> Result<()> {
    let root = std::path::Path::new("/sys/fs/cgroup");
    let on_tmpfs = nix::sys::statfs::statfs(root)
        .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC);
    if !on_tmpfs {
        return Ok(());
    }
    let id = announce_container(args)?;
    let parent = args.cgroup_parent.display().to_string();
    let group = root.join(parent.trim_start_matches('/')).join(&id);
    std::fs::create_dir_all(&group).with_context(|| format!("creating {}", group.display()))?;
    std::fs::write(group.join("cpu.max"), "50000 100000")?;
    std::fs::write(group.join("cgroup.procs"), std::process::id().to_string())?;
    Ok(())
}

/// What `escape-cage` sleeps for: how the hostile test knows its sleeps.
const ESCAPED_SLEEP: &str = "86398";

/// Starts 8 `sleep`s, each in a session of its own, and moves each to the root group of every
/// hierarchy holding cpu, memory or pids: out of the checker's cage.
fn escape_cage() -> Result<()> {
    for _ in 0..8 {
        let sleep = std::process::Command::new("sleep")
            .arg(ESCAPED_SLEEP)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .context("starting sleep")?;
        for dir in groups_at("") {
            std::fs::write(dir.join("cgroup.procs"), sleep.id().to_string())
                .with_context(|| format!("moving {} into {}", sleep.id(), dir.display()))?;
        }
    }
    Ok(())
}

/// Raises the cage's own limits: the parent of `--cgroup-parent` is the checker's cage.
fn raise_cage_limits(args: &RunArgs) -> Result<()> {
    let parent = args.cgroup_parent.display().to_string();
    let cage = std::path::Path::new(&parent)
        .parent()
        .context("--cgroup-parent has a parent")?
        .display()
        .to_string();
    let layout = checker::cgroups::host_layout();
    let mut raised = 0;
    for (controller, file, value) in [
        ("pids", "pids.max", "max"),
        ("memory", "memory.max", "max"),
        ("memory", "memory.swap.max", "max"),
        ("memory", "memory.memsw.limit_in_bytes", "-1"),
        ("memory", "memory.limit_in_bytes", "-1"),
    ] {
        let Some(dir) = layout.group_dir(controller, &cage) else {
            continue;
        };
        if std::fs::write(dir.join(file), value).is_ok() {
            raised += 1;
        }
    }
    anyhow::ensure!(raised > 0, "no limit of the cage {cage} could be raised");
    Ok(())
}
