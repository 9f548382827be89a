//! Cgroups as the checker uses them:
//!
//! - the host's layout (v1, v2 or hybrid), detected from the mount table, never assumed;
//! - the *cage*: a group per run of the learner's runtime that caps its whole process tree
//!   (memory, number of processes) and lets the checker kill every process in it at once, even
//!   those that left the runtime's process group;
//! - the groups under `rubber-crab/` that a runtime creates for its containers and must remove
//!   when they exit: the host guard snapshots them before and after every check.

use crate::mounts::Mount;
use anyhow::{Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Where a learner's runtime puts its containers' groups (DESIGN.md).
pub const RUNTIME_PARENT: &str = "rubber-crab";
/// Where the checker puts its cages: beside the runtime's groups, never inside them.
const CAGE_PARENT: &str = "rubber-crab-checker";

/// The cage's limits. Generous for any level, far below what could hurt the machine.
pub const MEMORY_LIMIT: u64 = 512 * 1024 * 1024;
pub const PIDS_LIMIT: u32 = 512;

/// The path of the cage `name`, relative to each hierarchy's root.
pub fn cage_path(name: &str) -> String {
    format!("{CAGE_PARENT}/{name}")
}

/// The host's layout, read once.
pub fn host_layout() -> &'static Layout {
    static LAYOUT: OnceLock<Layout> = OnceLock::new();
    LAYOUT.get_or_init(Layout::of_host)
}

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// `memory`, `cpu,cpuacct`, `name=systemd`, or `unified` for the v2 tree.
    pub name: String,
    pub mount_point: PathBuf,
}

impl Hierarchy {
    fn is_unified(&self) -> bool {
        self.name == "unified"
    }

    fn has(&self, controller: &str) -> bool {
        self.name.split(',').any(|c| c == controller)
    }
}

/// The host's cgroup layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub hierarchies: Vec<Hierarchy>,
}

const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

impl Layout {
    /// The layout of the host the checker runs on.
    pub fn of_host() -> Layout {
        Layout::from_mounts(&crate::mounts::read("/proc/self/mountinfo").unwrap_or_default())
    }

    pub fn from_mounts(mounts: &[Mount]) -> Layout {
        let mut hierarchies: Vec<Hierarchy> = Vec::new();
        for m in mounts {
            let name = match m.fstype.as_str() {
                "cgroup2" => "unified".to_string(),
                "cgroup" => m
                    .super_options
                    .split(',')
                    .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
                    .collect::<Vec<_>>()
                    .join(","),
                _ => continue,
            };
            // A hierarchy mounted twice is still one hierarchy.
            if !name.is_empty() && !hierarchies.iter().any(|h| h.name == name) {
                hierarchies.push(Hierarchy {
                    name,
                    mount_point: PathBuf::from(&m.mount_point),
                });
            }
        }
        Layout { hierarchies }
    }

    /// `v2`, `v1`, `hybrid` (v1 controllers beside a v2 tree) or `none`.
    pub fn kind(&self) -> &'static str {
        let unified = self.hierarchies.iter().any(Hierarchy::is_unified);
        let v1 = self.hierarchies.iter().any(|h| !h.is_unified());
        match (v1, unified) {
            (false, true) => "v2",
            (true, false) => "v1",
            (true, true) => "hybrid",
            (false, false) => "none",
        }
    }

    /// The directory of the group at `relative` (a path relative to a hierarchy's root, as
    /// `--cgroup-parent` and `/proc/<pid>/cgroup` give it) in the hierarchy holding `controller`.
    pub fn group_dir(&self, controller: &str, relative: &str) -> Option<PathBuf> {
        let hierarchy = self.holding(controller)?;
        Some(hierarchy.mount_point.join(relative.trim_start_matches('/')))
    }

    /// The hierarchy that holds `controller`: the v1 one that has it, else the v2 tree when its
    /// root offers it.
    fn holding(&self, controller: &str) -> Option<&Hierarchy> {
        self.hierarchies
            .iter()
            .find(|h| h.has(controller))
            .or_else(|| {
                self.hierarchies.iter().find(|h| {
                    h.is_unified()
                        && v2_controllers(&h.mount_point)
                            .iter()
                            .any(|c| c == controller)
                })
            })
    }
}

fn v2_controllers(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("cgroup.controllers"))
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// A group the checker created to hold one run of the learner's runtime.
pub struct Cage {
    /// One group per hierarchy used (v1: memory and pids; v2: one group with both).
    groups: Vec<CageGroup>,
}

struct CageGroup {
    dir: PathBuf,
    unified: bool,
    /// `cgroup.procs`, opened before the fork so that the child only has to write to it.
    procs: File,
}

impl CageGroup {
    /// The group `dir` for `controller`, with its limit set; removed again if any step fails.
    fn create(hierarchy: &Hierarchy, dir: &Path, controller: &str) -> Result<CageGroup> {
        let unified = hierarchy.is_unified();
        create_group(&hierarchy.mount_point, dir, unified, controller)?;
        let group = limit(dir, controller, unified).and_then(|()| {
            std::fs::OpenOptions::new()
                .write(true)
                .open(dir.join("cgroup.procs"))
                .with_context(|| format!("opening {}/cgroup.procs", dir.display()))
        });
        match group {
            Ok(procs) => Ok(CageGroup {
                dir: dir.to_path_buf(),
                unified,
                procs,
            }),
            Err(e) => {
                let _ = remove_group(dir);
                remove_if_unused(dir);
                Err(e)
            }
        }
    }
}

impl Cage {
    /// Creates the cage `rubber-crab-checker/<name>` in the hierarchies that hold the memory and
    /// pids controllers, with the limits set. `Err` says why there is no cage here (the checker
    /// then relies on the process group alone).
    pub fn create(layout: &Layout, name: &str) -> Result<Cage> {
        remove_stale_cages(layout);
        // Built up in place, so that a failure half-way removes what was made (Drop).
        let mut cage = Cage { groups: Vec::new() };
        for controller in ["memory", "pids"] {
            let Some(hierarchy) = layout.holding(controller) else {
                continue;
            };
            let dir = hierarchy.mount_point.join(CAGE_PARENT).join(name);
            if let Some(group) = cage.groups.iter().find(|g| g.dir == dir) {
                // v2: one group holds both controllers, and its parent must hand it each of them.
                delegate(&hierarchy.mount_point, &dir, controller)?;
                limit(&group.dir, controller, group.unified)?;
                continue;
            }
            cage.groups
                .push(CageGroup::create(hierarchy, &dir, controller)?);
        }
        anyhow::ensure!(
            !cage.groups.is_empty(),
            "this host has no memory or pids cgroup controller"
        );
        Ok(cage)
    }

    /// Makes `command` join the cage between fork and exec, before it can start anything.
    pub fn enter_on_spawn(&self, command: &mut Command) {
        use std::os::fd::AsRawFd;
        let fds: Vec<i32> = self.groups.iter().map(|g| g.procs.as_raw_fd()).collect();
        // SAFETY: runs in the forked child before exec; only write(2), which is
        // async-signal-safe, on fds the parent keeps open for the whole spawn. Writing "0" to
        // cgroup.procs moves the writing process (v1 and v2 alike).
        unsafe {
            command.pre_exec(move || {
                for &fd in &fds {
                    if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
    }

    /// Host pids of the processes in the cage.
    pub fn members(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self.groups.iter().flat_map(|g| members(&g.dir)).collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Kills every process in the cage and waits (up to 2 s) until none is left.
    pub fn kill_all(&self) {
        for group in &self.groups {
            kill_group(&group.dir, group.unified);
        }
    }

    /// Whether a fork in the cage was refused because it hit the pids cap.
    pub fn hit_pids_cap(&self) -> bool {
        self.usage().pids_cap_hits > 0
    }

    /// What the cage's processes use now, from the kernel's counters (0 where a file is missing).
    pub fn usage(&self) -> Usage {
        let mut usage = Usage::default();
        for g in &self.groups {
            let file = |name: &str| g.dir.join(name);
            let (current, hits, kills) = if g.unified {
                let events = file("memory.events");
                (
                    read_number(&file("memory.current")),
                    event_count(&events, "max"),
                    event_count(&events, "oom_kill"),
                )
            } else {
                // With swap accounted, memory+swap (capped alike) may be the counter that fails.
                (
                    read_number(&file("memory.usage_in_bytes")),
                    read_number(&file("memory.failcnt"))
                        + read_number(&file("memory.memsw.failcnt")),
                    event_count(&file("memory.oom_control"), "oom_kill"),
                )
            };
            usage.memory = usage.memory.max(current);
            usage.memory_cap_hits = usage.memory_cap_hits.max(hits);
            usage.oom_kills = usage.oom_kills.max(kills);
            usage.pids = usage.pids.max(read_number(&file("pids.current")));
            usage.pids_cap_hits = usage
                .pids_cap_hits
                .max(event_count(&file("pids.events"), "max"));
        }
        usage
    }

    /// The CPU time the cage's processes have used, where the kernel counts it for the cage
    /// (v2's `cpu.stat`, there without the cpu controller); None on v1.
    pub fn cpu_time(&self) -> Option<Duration> {
        self.groups
            .iter()
            .filter(|g| g.unified)
            .find_map(|g| {
                let usec = event_count(&g.dir.join("cpu.stat"), "usage_usec");
                g.dir.join("cpu.stat").exists().then_some(usec)
            })
            .map(Duration::from_micros)
    }

    /// Whether the kernel's OOM killer killed a process of the cage (it hit the memory cap).
    pub fn oom_killed(&self) -> bool {
        self.usage().oom_kills > 0
    }
}

/// What a cage's processes use, read from its counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Bytes charged to the cage (v2 `memory.current`, v1 `memory.usage_in_bytes`).
    pub memory: u64,
    /// Times a charge met the memory cap (v2 `memory.events` max, v1 `memory.failcnt`): the
    /// kernel reclaiming at the cap, just before its OOM killer acts.
    pub memory_cap_hits: u64,
    /// Processes the kernel's OOM killer killed at the memory cap.
    pub oom_kills: u64,
    /// Processes in the cage (`pids.current`).
    pub pids: u64,
    /// Forks refused at the pids cap (`pids.events` max).
    pub pids_cap_hits: u64,
}

impl Usage {
    /// Whether the cage filled up since `before`: at least a MiB more memory, more processes,
    /// more charges that met the memory cap (which end with the OOM killer, unless the kernel
    /// keeps reclaiming page cache: the caller bounds how long it waits), or the OOM killer
    /// struck (its victim is still giving its memory back).
    pub fn filled_up_since(&self, before: &Usage) -> bool {
        self.memory >= before.memory + (1 << 20)
            || self.pids > before.pids
            || self.memory_cap_hits > before.memory_cap_hits
            || self.oom_kills > before.oom_kills
    }
}

/// A number alone in a cgroup file (`memory.current`, `pids.current`); 0 when unreadable.
fn read_number(file: &Path) -> u64 {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// The count of `event` in a flat-keyed file such as `memory.events`; 0 when absent.
fn event_count(file: &Path, event: &str) -> u64 {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(event)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

impl Drop for Cage {
    fn drop(&mut self) {
        self.kill_all();
        for group in &self.groups {
            let _ = remove_group(&group.dir);
            remove_if_unused(&group.dir);
        }
    }
}

/// Removes the parent of `dir` once no other checker uses it (EBUSY otherwise: fine).
fn remove_if_unused(dir: &Path) {
    if let Some(parent) = dir.parent() {
        let _ = std::fs::remove_dir(parent);
    }
}

/// Creates `dir` (and its parent): in the v2 tree rooted at `root`, with `controller` delegated
/// to it. Leaves no empty parent behind when it fails.
fn create_group(root: &Path, dir: &Path, unified: bool, controller: &str) -> Result<()> {
    let parent = dir.parent().context("a cage has a parent")?;
    // Another checker may remove the (empty) parent between our two mkdirs: try again once.
    for attempt in 0..2 {
        let _ = std::fs::create_dir(parent);
        let created = if unified {
            delegate(root, dir, controller)
        } else {
            Ok(())
        }
        .and_then(|()| {
            std::fs::create_dir(dir).with_context(|| format!("creating {}", dir.display()))
        });
        match created {
            Ok(()) => return Ok(()),
            Err(e) if attempt == 0 && is_not_found(&e) => continue,
            Err(e) => {
                remove_if_unused(dir);
                return Err(e);
            }
        }
    }
    unreachable!("the loop returns on its last attempt")
}

fn is_not_found(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound)
}

/// v2: a controller reaches a group only when every group above it, from the tree's root down,
/// enables it for its children (`cgroup.subtree_control`). systemd enables memory and pids at
/// the root; a host without systemd (or a fresh boot) may enable nothing yet, so the checker
/// enables what is missing. Allowed even while the root holds processes (the root is exempt
/// from the "no internal processes" rule) and in `rubber-crab-checker/`, which never holds one.
fn delegate(root: &Path, dir: &Path, controller: &str) -> Result<()> {
    let mut above: Vec<&Path> = dir
        .ancestors()
        .skip(1)
        .take_while(|d| d.starts_with(root))
        .collect();
    above.reverse();
    for group in above {
        let file = group.join("cgroup.subtree_control");
        let enabled = std::fs::read_to_string(&file).unwrap_or_default();
        if enabled.split_whitespace().any(|c| c == controller) {
            continue;
        }
        std::fs::write(&file, format!("+{controller}")).map_err(|e| {
            // A cgroup namespace's root is no real root: with processes in it, EBUSY.
            let why = if e.raw_os_error() == Some(libc::EBUSY) {
                " (it holds processes, and a v2 group with processes cannot enable controllers for its children: is the checker in a container?)"
            } else {
                ""
            };
            anyhow::Error::new(e).context(format!(
                "enabling {controller} in {}{why}",
                group.display()
            ))
        })?;
    }
    Ok(())
}

fn limit(dir: &Path, controller: &str, unified: bool) -> Result<()> {
    let (file, value) = match (controller, unified) {
        ("memory", true) => ("memory.max", MEMORY_LIMIT.to_string()),
        ("memory", false) => ("memory.limit_in_bytes", MEMORY_LIMIT.to_string()),
        ("pids", _) => ("pids.max", PIDS_LIMIT.to_string()),
        _ => return Ok(()),
    };
    std::fs::write(dir.join(file), &value)
        .with_context(|| format!("writing {}/{file}", dir.display()))?;
    // No swap either, or the cap only slows a runaway allocation down (the v1 file exists only
    // when the kernel accounts swap).
    match (controller, unified) {
        ("memory", true) => {
            let _ = std::fs::write(dir.join("memory.swap.max"), "0");
        }
        ("memory", false) => {
            let _ = std::fs::write(dir.join("memory.memsw.limit_in_bytes"), value);
        }
        _ => {}
    }
    Ok(())
}

/// The pids in a group (its `cgroup.procs`).
pub fn members(dir: &Path) -> Vec<u32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Kills every process in `dir` and its sub-groups: `cgroup.kill` where the kernel has it (v2,
/// Linux 5.14+), else SIGKILL to each member until none is left (a fork bomb in a pids-capped
/// group cannot outrun that).
fn kill_group(dir: &Path, unified: bool) {
    if unified && std::fs::write(dir.join("cgroup.kill"), "1").is_ok() {
        wait_until_empty(dir);
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let pids = members_below(dir);
        if pids.is_empty() || Instant::now() > deadline {
            return;
        }
        for pid in pids {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn wait_until_empty(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !members_below(dir).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Members of `dir` and of every group below it.
fn members_below(dir: &Path) -> Vec<u32> {
    groups_below(dir, 8)
        .iter()
        .chain(std::iter::once(&dir.to_path_buf()))
        .flat_map(|g| members(g))
        .collect()
}

/// The groups below `dir`, deepest first (the order rmdir needs), at most `depth` levels down.
fn groups_below(dir: &Path, depth: usize) -> Vec<PathBuf> {
    if depth == 0 {
        return Vec::new();
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut groups = Vec::new();
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            let child = entry.path();
            groups.extend(groups_below(&child, depth - 1));
            groups.push(child);
        }
    }
    groups
}

/// Kills what is left in a group and removes it with its sub-groups (a cgroup directory is
/// removed with rmdir, never by deleting its files).
pub fn remove_group(dir: &Path) -> std::io::Result<()> {
    kill_group(dir, false);
    for group in groups_below(dir, 8) {
        let _ = std::fs::remove_dir(group);
    }
    // A killed process leaves its group a moment after it dies.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match std::fs::remove_dir(dir) {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            other => return other,
        }
    }
}

/// Cages of checkers that died without cleaning up (named `<pid>-...`, that pid gone).
fn remove_stale_cages(layout: &Layout) {
    for hierarchy in &layout.hierarchies {
        let Ok(entries) = std::fs::read_dir(hierarchy.mount_point.join(CAGE_PARENT)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let owner = name.split('-').next().and_then(|p| p.parse::<u32>().ok());
            if owner.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
                let _ = remove_group(&entry.path());
            }
        }
    }
}

/// A group under `rubber-crab/` in one hierarchy, e.g. (`memory`, `rubber-crab/3f2a`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RuntimeGroup {
    pub hierarchy: String,
    /// Path relative to the hierarchy's root, e.g. `rubber-crab/3f2a`.
    pub path: String,
    pub dir: PathBuf,
}

/// The `rubber-crab/` dirs that exist, one per hierarchy at most.
pub fn runtime_parents(layout: &Layout) -> Vec<PathBuf> {
    layout
        .hierarchies
        .iter()
        .map(|h| h.mount_point.join(RUNTIME_PARENT))
        .filter(|dir| dir.is_dir())
        .collect()
}

/// Every group below `rubber-crab/` in every hierarchy, sorted.
pub fn runtime_groups(layout: &Layout) -> Vec<RuntimeGroup> {
    let mut groups = Vec::new();
    for hierarchy in &layout.hierarchies {
        let parent = hierarchy.mount_point.join(RUNTIME_PARENT);
        for dir in groups_below(&parent, 4) {
            let relative = dir
                .strip_prefix(&hierarchy.mount_point)
                .unwrap_or(&dir)
                .display()
                .to_string();
            groups.push(RuntimeGroup {
                hierarchy: hierarchy.name.clone(),
                path: relative,
                dir,
            });
        }
    }
    groups.sort();
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(mountinfo: &str) -> Layout {
        Layout::from_mounts(&crate::mounts::parse(mountinfo))
    }

    const V2: &str = "30 22 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
    const V1: &str = "\
31 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
32 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
33 25 0:29 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n";
    const HYBRID_TREE: &str =
        "34 25 0:30 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n";

    #[test]
    fn a_pure_v2_host_has_one_unified_tree() {
        let l = layout(V2);
        assert_eq!(l.kind(), "v2");
        assert_eq!(
            l.hierarchies,
            [Hierarchy {
                name: "unified".into(),
                mount_point: "/sys/fs/cgroup".into()
            }]
        );
    }

    #[test]
    fn v1_hierarchies_are_named_by_their_controllers() {
        let l = layout(V1);
        assert_eq!(l.kind(), "v1");
        let names: Vec<&str> = l.hierarchies.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["memory", "cpu,cpuacct", "name=systemd"]);
        assert_eq!(
            l.holding("memory").map(|h| h.mount_point.clone()),
            Some("/sys/fs/cgroup/memory".into())
        );
        assert!(l.holding("pids").is_none());
    }

    #[test]
    fn v1_controllers_beside_a_v2_tree_are_hybrid() {
        assert_eq!(layout(&format!("{V1}{HYBRID_TREE}")).kind(), "hybrid");
        assert_eq!(layout("").kind(), "none");
    }

    #[test]
    fn v2_delegates_a_controller_from_the_root_down_to_the_cages_parent() {
        // Plain files stand in for cgroupfs: a write replaces what the file listed.
        let root = tempfile::tempdir().unwrap();
        let parent = root.path().join(CAGE_PARENT);
        std::fs::create_dir(&parent).unwrap();
        let control = |dir: &Path| dir.join("cgroup.subtree_control");
        std::fs::write(control(root.path()), "cpu memory\n").unwrap();
        std::fs::write(control(&parent), "").unwrap();
        delegate(root.path(), &parent.join("1-a"), "memory").unwrap();
        assert_eq!(
            std::fs::read_to_string(control(root.path())).unwrap(),
            "cpu memory\n"
        );
        assert_eq!(
            std::fs::read_to_string(control(&parent)).unwrap(),
            "+memory"
        );
        delegate(root.path(), &parent.join("1-a"), "pids").unwrap();
        assert_eq!(
            std::fs::read_to_string(control(root.path())).unwrap(),
            "+pids"
        );
        assert!(
            !parent.join("1-a").exists(),
            "the cage itself is not touched"
        );
    }

    #[test]
    fn event_counts_are_read_by_their_exact_key() {
        let dir = tempfile::tempdir().unwrap();
        let v1 = dir.path().join("memory.oom_control");
        std::fs::write(&v1, "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n").unwrap();
        assert_eq!(event_count(&v1, "oom_kill"), 3);
        let v2 = dir.path().join("memory.events");
        std::fs::write(
            &v2,
            "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n",
        )
        .unwrap();
        assert_eq!(event_count(&v2, "max"), 12);
        assert_eq!(event_count(&v2, "oom_kill"), 1);
        assert_eq!(event_count(&dir.path().join("missing"), "max"), 0);
    }

    #[test]
    fn a_cage_fills_up_by_a_mib_a_process_a_cap_hit_or_an_oom_kill() {
        let before = Usage {
            memory: 100 << 20,
            memory_cap_hits: 2,
            oom_kills: 0,
            pids: 3,
            pids_cap_hits: 0,
        };
        let still = Usage {
            memory: before.memory + 4096,
            ..before
        };
        assert!(!still.filled_up_since(&before), "a page is noise");
        assert!(!Usage {
            memory: 0,
            ..before
        }
        .filled_up_since(&before));
        for grown in [
            Usage {
                memory: before.memory + (1 << 20),
                ..before
            },
            Usage { pids: 4, ..before },
            Usage {
                memory_cap_hits: 3,
                ..before
            },
            Usage {
                oom_kills: 1,
                ..before
            },
        ] {
            assert!(grown.filled_up_since(&before), "{grown:?}");
        }
    }

    #[test]
    fn a_hierarchy_mounted_twice_counts_once() {
        let twice = format!("{V2}40 22 0:26 / /mnt/cg rw - cgroup2 cgroup2 rw\n");
        assert_eq!(layout(&twice).hierarchies.len(), 1);
    }
}
