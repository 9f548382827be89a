//! The broken runtime's own cgroups, written apart from `solutions/runtime.rs` and the checker's
//! `cgroups.rs` so that neither judges itself. Where they differ on purpose: the layout comes from
//! the filesystem magic of `/sys/fs/cgroup/<controller>` and `/sys/fs/cgroup/unified` (as runc's
//! libcontainer tells v1 from v2), not from mountinfo; the child attaches itself by writing "0"
//! to `cgroup.procs`, not through a pipe; leftovers are killed one pid at a time (or with
//! `cgroup.kill` on v2) until rmdir succeeds.

use anyhow::{bail, Context, Result};
use kit::cli::MemorySwap;
use nix::sys::signal::{kill, Signal};
use nix::sys::statfs::{statfs, FsType, CGROUP2_SUPER_MAGIC, CGROUP_SUPER_MAGIC};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const MOUNTS: &str = "/sys/fs/cgroup";

/// The CFS period runc and Docker use: 100 ms.
pub const CPU_PERIOD_US: u64 = 100_000;

/// How long leftovers get to die before rmdir gives up.
const REMOVE_DEADLINE: Duration = Duration::from_secs(3);

/// One directory of the container's group: in a v1 hierarchy, or in the unified tree.
#[derive(Debug)]
struct Place {
    dir: PathBuf,
    unified: bool,
    controllers: Vec<&'static str>,
}

/// The container's group, `<cgroup-parent>/<id>`, in every hierarchy holding a controller it uses.
#[derive(Debug)]
pub struct Group {
    places: Vec<Place>,
}

/// How to take the group down when the container is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Kill what is left, then rmdir until it succeeds or the deadline passes.
    KillAndRetry,
    /// One rmdir, whatever is still inside.
    RmdirOnce,
}

fn magic(path: &Path) -> Option<FsType> {
    statfs(path).ok().map(|s| s.filesystem_type())
}

/// The root of the hierarchy holding `controller`, and whether it is the unified (v2) tree.
fn hierarchy_of(controller: &str) -> Result<(PathBuf, bool)> {
    let mounts = Path::new(MOUNTS);
    if magic(mounts) == Some(CGROUP2_SUPER_MAGIC) {
        return Ok((mounts.to_path_buf(), true));
    }
    let v1 = mounts.join(controller);
    if magic(&v1) == Some(CGROUP_SUPER_MAGIC) {
        // cpu is often a symlink to cpu,cpuacct: one hierarchy, one directory.
        return Ok((v1.canonicalize().unwrap_or(v1), false));
    }
    let unified = mounts.join("unified");
    if magic(&unified) == Some(CGROUP2_SUPER_MAGIC) && lists(&unified, controller) {
        return Ok((unified, true));
    }
    bail!("no cgroup hierarchy under {MOUNTS} holds the {controller} controller")
}

/// Whether the v2 group `dir` may hand `controller` to its children.
fn lists(dir: &Path, controller: &str) -> bool {
    std::fs::read_to_string(dir.join("cgroup.controllers"))
        .is_ok_and(|all| all.split_whitespace().any(|c| c == controller))
}

fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    let path = dir.join(file);
    std::fs::write(&path, value).with_context(|| format!("writing {value} to {}", path.display()))
}

fn read(dir: &Path, file: &str) -> Result<String> {
    let path = dir.join(file);
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

/// `key value` lines (memory.events, memory.oom_control): the value of `key`.
fn field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// `--cgroup-parent` relative to a hierarchy's root, even when given as `/a/b`.
fn relative(parent: &Path) -> &Path {
    parent.strip_prefix("/").unwrap_or(parent)
}

impl Group {
    /// Creates `<parent>/<id>` wherever `controllers` live; on v2 the controllers are enabled in
    /// `cgroup.subtree_control` from the root down to `<parent>`.
    pub fn create(parent: &Path, id: &str, controllers: &[&'static str]) -> Result<Group> {
        let mut places: Vec<Place> = Vec::new();
        for &controller in controllers {
            let (root, unified) = hierarchy_of(controller)?;
            let dir = root.join(relative(parent)).join(id);
            match places.iter_mut().find(|p| p.dir == dir) {
                Some(place) => place.controllers.push(controller),
                None => places.push(Place {
                    dir,
                    unified,
                    controllers: vec![controller],
                }),
            }
        }
        let group = Group { places };
        for place in &group.places {
            std::fs::create_dir_all(&place.dir)
                .with_context(|| format!("creating the cgroup {}", place.dir.display()))?;
        }
        if let Err(err) = group.enable_controllers() {
            let _ = group.remove(Removal::KillAndRetry);
            return Err(err);
        }
        Ok(group)
    }

    /// cgroups(7), v2: a controller reaches a group only through its parent's subtree_control,
    /// and so on up to the root.
    fn enable_controllers(&self) -> Result<()> {
        for place in self.places.iter().filter(|p| p.unified) {
            let mut ancestors: Vec<&Path> = place.dir.ancestors().skip(1).collect();
            ancestors.retain(|a| a.starts_with(MOUNTS) && magic(a) == Some(CGROUP2_SUPER_MAGIC));
            for dir in ancestors.into_iter().rev() {
                let enabled = read(dir, "cgroup.subtree_control")?;
                for c in &place.controllers {
                    if !enabled.split_whitespace().any(|e| e == *c) {
                        write(dir, "cgroup.subtree_control", &format!("+{c}"))?;
                    }
                }
            }
        }
        Ok(())
    }

    fn place(&self, controller: &str) -> Option<&Place> {
        self.places
            .iter()
            .find(|p| p.controllers.contains(&controller))
    }

    /// Moves the calling process into the group: "0" is the writer itself.
    pub fn attach_self(&self) -> Result<()> {
        for place in &self.places {
            write(&place.dir, "cgroup.procs", "0")?;
        }
        Ok(())
    }

    /// Moves `pid` (seen from the runtime's PID namespace) into the group.
    pub fn attach(&self, pid: Pid) -> Result<()> {
        for place in &self.places {
            write(&place.dir, "cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }

    /// `--cpus` as a CFS quota per 100 ms period, written against `period` microseconds.
    pub fn limit_cpus(&self, cpus: f64, period: u64) -> Result<()> {
        let Some(place) = self.place("cpu") else {
            return Ok(());
        };
        let quota = (cpus * CPU_PERIOD_US as f64).round() as u64;
        if place.unified {
            return write(&place.dir, "cpu.max", &format!("{quota} {period}"));
        }
        // The period first: the kernel checks the quota against the period already there.
        write(&place.dir, "cpu.cfs_period_us", &period.to_string())?;
        write(&place.dir, "cpu.cfs_quota_us", &quota.to_string())
    }

    /// `--cpu-shares`; on v2 as a weight, with runc's conversion (opencontainers/cgroups,
    /// ConvertCPUSharesToCgroupV2Value): up to runc 1.3.1 2..262144 onto 1..10000 linearly; with
    /// `curve`, as runc 1.3.2+ and crun 1.23 do, a quadratic in log2 space (1024 gives 100).
    pub fn limit_cpu_shares(&self, shares: u64, curve: bool) -> Result<()> {
        let Some(place) = self.place("cpu") else {
            return Ok(());
        };
        if place.unified {
            let weight = match curve {
                false => 1 + (shares.saturating_sub(2) * 9999) / 262_142,
                true => weight_curve(shares),
            };
            return write(&place.dir, "cpu.weight", &weight.to_string());
        }
        write(&place.dir, "cpu.shares", &shares.to_string())
    }

    /// `--memory` and `--memory-swap` with Docker's meaning: swap unset means as much swap as
    /// memory; equal to `--memory` means no swap; -1 means unlimited swap.
    pub fn limit_memory(&self, memory: u64, swap: Option<MemorySwap>) -> Result<()> {
        let Some(place) = self.place("memory") else {
            return Ok(());
        };
        let total = match swap {
            Some(MemorySwap::Bytes(total)) => Some(total.max(memory)),
            Some(MemorySwap::Unlimited) => None,
            None => Some(memory.saturating_mul(2)),
        };
        if place.unified {
            write(&place.dir, "memory.max", &memory.to_string())?;
            let swap_max = total.map_or("max".to_string(), |t| (t - memory).to_string());
            if place.dir.join("memory.swap.max").exists() {
                write(&place.dir, "memory.swap.max", &swap_max)?;
            }
            return Ok(());
        }
        // memsw may never be below limit_in_bytes: the limit first.
        write(&place.dir, "memory.limit_in_bytes", &memory.to_string())?;
        if place.dir.join("memory.memsw.limit_in_bytes").exists() {
            let total = total.map_or("-1".to_string(), |t| t.to_string());
            write(&place.dir, "memory.memsw.limit_in_bytes", &total)?;
        }
        Ok(())
    }

    /// `--pids-limit`.
    pub fn limit_pids(&self, max: u64) -> Result<()> {
        match self.place("pids") {
            Some(place) => write(&place.dir, "pids.max", &max.to_string()),
            None => Ok(()),
        }
    }

    /// The memory limit, if the OOM killer struck in the group: v2 memory.events, v1
    /// memory.oom_control (both count `oom_kill`).
    pub fn oom_killed(&self) -> Option<u64> {
        let place = self.place("memory")?;
        let (events, limit) = match place.unified {
            true => ("memory.events", "memory.max"),
            false => ("memory.oom_control", "memory.limit_in_bytes"),
        };
        let kills = field(&read(&place.dir, events).ok()?, "oom_kill")?;
        let limit = read(&place.dir, limit).ok()?.trim().parse().ok()?;
        (kills > 0).then_some(limit)
    }

    /// Removes `<parent>/<id>` in every hierarchy (never the parents: they may be shared).
    /// Every hierarchy is tried; the first error is returned.
    pub fn remove(&self, how: Removal) -> Result<()> {
        let mut first_error = Ok(());
        for place in &self.places {
            let removed = match how {
                Removal::KillAndRetry => kill_and_rmdir(place),
                Removal::RmdirOnce => std::fs::remove_dir(&place.dir)
                    .with_context(|| format!("removing the cgroup {}", place.dir.display())),
            };
            if first_error.is_ok() {
                first_error = removed;
            }
        }
        first_error
    }
}

/// A process moved in from outside the container's PID namespace survives its PID 1: kill
/// what is left until the directory can go (rmdir gives EBUSY while a task remains, and for a
/// moment after the last one died).
fn kill_and_rmdir(place: &Place) -> Result<()> {
    let started = Instant::now();
    loop {
        kill_members(place);
        match std::fs::remove_dir(&place.dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e)
                if started.elapsed() < REMOVE_DEADLINE && e.raw_os_error() == Some(libc::EBUSY) =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "removing the cgroup {} (after killing what was left)",
                        place.dir.display()
                    )
                })
            }
        }
    }
}

fn kill_members(place: &Place) {
    // cgroup.kill (Linux 5.14) kills the whole group at once, forks in flight included.
    if place.unified && write(&place.dir, "cgroup.kill", "1").is_ok() {
        return;
    }
    let Ok(procs) = read(&place.dir, "cgroup.procs") else {
        return;
    };
    for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// runc 1.3.2's shares-to-weight curve: 10^((l² + 125·l) / 612 − 7/34), l = log2(shares), rounded up.
fn weight_curve(shares: u64) -> u64 {
    if shares <= 2 {
        return 1;
    }
    if shares >= 262_144 {
        return 10_000;
    }
    let l = (shares as f64).log2();
    10f64.powf((l * l + 125.0 * l) / 612.0 - 7.0 / 34.0).ceil() as u64
}

/// "64 MiB", or bytes where the limit is not whole MiB.
pub fn describe_limit(bytes: u64) -> String {
    match bytes % (1 << 20) {
        0 => format!("{} MiB", bytes >> 20),
        _ => format!("{bytes} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oom_kill_is_read_from_either_file() {
        let v2 = "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n";
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(field(v2, "oom_kill"), Some(1));
        assert_eq!(field(v1, "oom_kill"), Some(3));
        assert_eq!(field(v1, "oom"), None);
    }

    #[test]
    fn the_weight_curve_maps_the_default_shares_to_the_default_weight() {
        assert_eq!(weight_curve(1024), 100);
        assert_eq!(weight_curve(2000), 170);
        assert_eq!(weight_curve(512), 59);
    }

    #[test]
    fn limits_read_as_mib() {
        assert_eq!(describe_limit(64 << 20), "64 MiB");
        assert_eq!(describe_limit(1000), "1000 bytes");
    }

    /// A group in a temp dir, as one v1 hierarchy or the v2 tree holding every controller,
    /// with the optional files the kernel has only where swap is accounted.
    fn fixture(unified: bool) -> (tempfile::TempDir, Group) {
        let dir = tempfile::tempdir().unwrap();
        let swap = match unified {
            true => "memory.swap.max",
            false => "memory.memsw.limit_in_bytes",
        };
        std::fs::write(dir.path().join(swap), "").unwrap();
        let place = Place {
            dir: dir.path().to_path_buf(),
            unified,
            controllers: vec!["cpu", "memory", "pids"],
        };
        let group = Group {
            places: vec![place],
        };
        (dir, group)
    }

    fn file(dir: &tempfile::TempDir, name: &str) -> String {
        std::fs::read_to_string(dir.path().join(name)).unwrap()
    }

    #[test]
    fn v2_limits_go_to_the_unified_files() {
        let (dir, group) = fixture(true);
        group.limit_cpus(0.5, CPU_PERIOD_US).unwrap();
        group.limit_cpu_shares(512, false).unwrap();
        group
            .limit_memory(64 << 20, Some(MemorySwap::Bytes(64 << 20)))
            .unwrap();
        group.limit_pids(20).unwrap();
        assert_eq!(file(&dir, "cpu.max"), "50000 100000");
        assert_eq!(file(&dir, "cpu.weight"), "20");
        assert_eq!(file(&dir, "memory.max"), "67108864");
        assert_eq!(file(&dir, "memory.swap.max"), "0");
        assert_eq!(file(&dir, "pids.max"), "20");
        std::fs::write(dir.path().join("memory.events"), "oom 1\noom_kill 1\n").unwrap();
        assert_eq!(group.oom_killed(), Some(64 << 20));
    }

    #[test]
    fn v1_limits_go_to_each_hierarchy_s_files() {
        let (dir, group) = fixture(false);
        group.limit_cpus(0.25, CPU_PERIOD_US).unwrap();
        group.limit_cpu_shares(512, false).unwrap();
        group.limit_memory(64 << 20, None).unwrap();
        assert_eq!(file(&dir, "cpu.cfs_quota_us"), "25000");
        assert_eq!(file(&dir, "cpu.cfs_period_us"), "100000");
        assert_eq!(file(&dir, "cpu.shares"), "512");
        assert_eq!(file(&dir, "memory.limit_in_bytes"), "67108864");
        // Docker: without --memory-swap, as much swap as memory.
        assert_eq!(file(&dir, "memory.memsw.limit_in_bytes"), "134217728");
        std::fs::write(
            dir.path().join("memory.oom_control"),
            "under_oom 0\noom_kill 0\n",
        )
        .unwrap();
        assert_eq!(group.oom_killed(), None);
    }

    #[test]
    fn unlimited_swap_is_max_or_minus_one() {
        let (v2, group) = fixture(true);
        group
            .limit_memory(1 << 20, Some(MemorySwap::Unlimited))
            .unwrap();
        assert_eq!(file(&v2, "memory.swap.max"), "max");
        let (v1, group) = fixture(false);
        group
            .limit_memory(1 << 20, Some(MemorySwap::Unlimited))
            .unwrap();
        assert_eq!(file(&v1, "memory.memsw.limit_in_bytes"), "-1");
    }

    #[test]
    fn an_absolute_parent_is_relative_to_the_hierarchy() {
        assert_eq!(relative(Path::new("/a/b")), Path::new("a/b"));
        assert_eq!(relative(Path::new("a/b")), Path::new("a/b"));
    }
}
