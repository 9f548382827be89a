//! Cgroups as the checker uses them:
//!
//! - the host's layout (v1, v2 or hybrid), detected from the mount table, never assumed;
//! - the *cage*: a group per run of the learner's runtime that caps its whole process tree
//!   (memory, number of processes) and lets the checker kill every process in it at once, even
//!   those that left the runtime's process group; it holds the `--cgroup-parent` the checker
//!   passes, so the containers' groups are in it too;
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
                    .filter(|o| kit::cgroup::V1_CONTROLLERS.contains(o) || o.starts_with("name="))
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

/// Where v1 and hybrid hosts mount a tmpfs holding one mount point per hierarchy.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// What is on the tmpfs at `/sys/fs/cgroup` besides the hierarchies' mount points (and what the
/// distribution put there, such as `cpu -> cpu,cpuacct`): every path below it that no cgroup
/// filesystem holds. Empty on v2 hosts (there `/sys/fs/cgroup` is the v2 tree). A runtime that
/// writes v2 paths on a v1 host makes plain directories and files here, not groups.
pub fn tmpfs_entries(mounts: &[Mount]) -> Vec<PathBuf> {
    let root = Path::new(CGROUP_ROOT);
    let on_tmpfs = mounts
        .iter()
        .rev()
        .find(|m| Path::new(&m.mount_point) == root)
        .is_some_and(|m| m.fstype == "tmpfs");
    if !on_tmpfs {
        return Vec::new();
    }
    let mount_points: Vec<PathBuf> = mounts
        .iter()
        .map(|m| PathBuf::from(&m.mount_point))
        .filter(|p| p.starts_with(root) && p != root)
        .collect();
    entries_below(root, &mount_points, 8)
}

/// Every path below `dir` (to `depth` levels), not following symlinks nor entering
/// `mount_points`, sorted.
pub fn entries_below(dir: &Path, mount_points: &[PathBuf], depth: usize) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if depth == 0 {
        return found;
    }
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if mount_points.contains(&path) {
            continue;
        }
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        found.push(path.clone());
        if is_dir {
            found.extend(entries_below(&path, mount_points, depth - 1));
        }
    }
    found.sort();
    found
}

/// The limit file `file` (a v1 name) of the group at `relative` in the v1 hierarchy that holds
/// its controller: where a v1 runtime writes it, e.g. `/sys/fs/cgroup/cpu,cpuacct/P/ID/cpu.cfs_quota_us`.
pub fn v1_file(layout: &Layout, controller: &str, relative: &Path, file: &str) -> Option<PathBuf> {
    let hierarchy = layout
        .hierarchies
        .iter()
        .find(|h| !h.is_unified() && h.has(controller))?;
    Some(hierarchy.mount_point.join(relative).join(file))
}

/// The leaf of a cage that holds the runtime: on v2 a group with children may hold no process
/// ("no internal processes"), so the runtime sits beside the parent of its containers.
const RUNTIME_LEAF: &str = "runtime";
/// The group of a cage under which the runtime puts its containers' groups (`--cgroup-parent`).
const CONTAINERS: &str = "containers";

/// The `--cgroup-parent` inside the cage `name`, relative to each hierarchy's root.
pub fn containers_path(name: &str) -> String {
    format!("{}/{CONTAINERS}", cage_path(name))
}

/// The checker's groups for one run of the learner's runtime, the same shape in every hierarchy
/// it uses:
///
/// ```text
/// rubber-crab-checker/<pid>-<nonce>/            the cage: the limits, and no process of its own
/// rubber-crab-checker/<pid>-<nonce>/runtime     the runtime (and what it starts before its containers)
/// rubber-crab-checker/<pid>-<nonce>/containers  the --cgroup-parent: the containers' groups go below
/// ```
///
/// The cage's limits bound the runtime and its containers together; its counters and
/// `cgroup.kill` cover the whole subtree.
pub struct Cage {
    /// `rubber-crab-checker/<name>`, relative to each hierarchy's root.
    path: String,
    /// Every hierarchy of the host: a runtime may make its groups in any of them (runc makes
    /// them in all), and each one's copy of the cage is removed at the end.
    hierarchies: Vec<Hierarchy>,
    /// One group per hierarchy holding memory or pids (v2: one group with both).
    groups: Vec<CageGroup>,
    /// The limit files of the containers' parent as the checker made it, to see a runtime that
    /// writes its container's limit there (see [`Cage::parent_limits_changed`]).
    parent_limits: Vec<(PathBuf, String)>,
    /// The cage's own limit files as the checker set them: a run that changes them is caught
    /// and they are restored (see [`Cage::restore_own_limits`]).
    own_limits: Vec<(PathBuf, String)>,
    /// The lock that proves the cage in use (see ownership.rs), held while it lives.
    lock: Option<(PathBuf, crate::ownership::Held)>,
    /// How to remove the cage if the checker is interrupted.
    interrupt: Option<crate::interrupt::Registered>,
}

/// Where the locks of the cages are: `<checker home>/cages/<cage name>.lock`.
fn cage_locks() -> PathBuf {
    crate::prepare::checker_home().join("cages")
}

/// The lock of the cage `name`.
fn cage_lock(name: &str) -> PathBuf {
    cage_locks().join(format!("{name}.lock"))
}

/// The files that limit a group's cpu, memory or processes, v1 and v2.
const LIMIT_FILES: &[&str] = &[
    "cpu.max",
    "cpu.weight",
    "cpu.cfs_quota_us",
    "cpu.cfs_period_us",
    "cpu.shares",
    "memory.max",
    "memory.swap.max",
    "memory.limit_in_bytes",
    "memory.memsw.limit_in_bytes",
    "pids.max",
];

/// The limit files of the group `dir` that exist, with what they hold.
fn limits_of(dir: &Path) -> Vec<(PathBuf, String)> {
    LIMIT_FILES
        .iter()
        .map(|file| dir.join(file))
        .filter_map(|file| Some((file.clone(), std::fs::read_to_string(&file).ok()?)))
        .collect()
}

struct CageGroup {
    /// The hierarchy's name (`memory`, `unified`), as /proc/<pid>/cgroup tells it.
    hierarchy: String,
    /// The cage's directory in this hierarchy.
    dir: PathBuf,
    unified: bool,
    /// The runtime leaf's `cgroup.procs`, opened before the fork so that the child only has to
    /// write to it.
    procs: File,
}

impl CageGroup {
    /// The cage `dir` for `controller`, with its limit set, its runtime leaf and its containers'
    /// parent; removed again if any step fails.
    fn create(hierarchy: &Hierarchy, dir: &Path, controller: &str) -> Result<CageGroup> {
        let unified = hierarchy.is_unified();
        create_group(&hierarchy.mount_point, dir, unified, controller)?;
        let group =
            limit(dir, controller, unified).and_then(|()| open_runtime_leaf(hierarchy, dir));
        match group {
            Ok(procs) => Ok(CageGroup {
                hierarchy: hierarchy.name.clone(),
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

/// Makes the cage's two children and opens the runtime leaf's `cgroup.procs`. On v2, first
/// enables every controller the tree's root offers of cpu, memory and pids from the root down
/// to the containers' parent, so that a runtime can enable them for its containers (it is its
/// job to enable them in the parent itself, as the contract says).
fn open_runtime_leaf(hierarchy: &Hierarchy, dir: &Path) -> Result<File> {
    let parent = dir.join(CONTAINERS);
    if hierarchy.is_unified() {
        let offered = v2_controllers(&hierarchy.mount_point);
        for controller in ["cpu", "memory", "pids"] {
            if offered.iter().any(|c| c == controller) {
                delegate(&hierarchy.mount_point, &parent, controller)?;
            }
        }
    }
    let leaf = dir.join(RUNTIME_LEAF);
    for group in [&leaf, &parent] {
        make_dir(group)?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open(leaf.join("cgroup.procs"))
        .with_context(|| format!("opening {}/cgroup.procs", leaf.display()))
}

/// mkdir, where the directory may already be there (one v2 group holds two controllers).
fn make_dir(dir: &Path) -> Result<()> {
    match std::fs::create_dir(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            Err(e).with_context(|| format!("creating {}", dir.display()))
        }
        _ => Ok(()),
    }
}

impl Cage {
    /// Creates the cage `rubber-crab-checker/<name>` in the hierarchies that hold the memory and
    /// pids controllers, with the limits set, and its containers' parent also in those holding
    /// cpu and cpuacct (so that a runtime's `<parent>/<id>` there is inside a checker-owned
    /// dir). `Err` says why there is no cage here (the checker then relies on the process group
    /// alone).
    pub fn create(layout: &Layout, name: &str) -> Result<Cage> {
        // The lock first: the cage never exists unowned.
        let lock = cage_lock(name);
        let held = crate::ownership::create_locked(&lock)?;
        // Built up in place, so that a failure half-way removes what was made (Drop).
        let dirs: Vec<PathBuf> = layout
            .hierarchies
            .iter()
            .map(|h| h.mount_point.join(cage_path(name)))
            .collect();
        let (shown, lock_file) = (cage_path(name), lock.clone());
        let interrupt = crate::interrupt::register(move || {
            let mut found = false;
            for dir in dirs.iter().filter(|d| d.is_dir()) {
                found = true;
                let _ = remove_group(dir);
                remove_if_unused(dir);
            }
            let _ = std::fs::remove_file(&lock_file);
            found.then(|| format!("cgroup {shown}"))
        });
        let mut cage = Cage {
            interrupt: Some(interrupt),
            lock: Some((lock, held)),
            path: cage_path(name),
            hierarchies: layout.hierarchies.clone(),
            groups: Vec::new(),
            parent_limits: Vec::new(),
            own_limits: Vec::new(),
        };
        for controller in ["memory", "pids"] {
            let Some(hierarchy) = layout.holding(controller) else {
                continue;
            };
            let dir = hierarchy.mount_point.join(&cage.path);
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
        for controller in ["cpu", "cpuacct"] {
            let Some(hierarchy) = layout.holding(controller) else {
                continue;
            };
            let parent = hierarchy.mount_point.join(containers_path(name));
            if !parent.is_dir() {
                // `mkdir -p`: the parents are the checker's too (removed with the cage).
                std::fs::create_dir_all(&parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
        }
        cage.parent_limits = cage
            .hierarchies
            .iter()
            .flat_map(|h| limits_of(&h.mount_point.join(containers_path(name))))
            .collect();
        cage.own_limits = cage.groups.iter().flat_map(|g| limits_of(&g.dir)).collect();
        Ok(cage)
    }

    /// Makes `command` join the cage's runtime leaf between fork and exec, before it can start
    /// anything.
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

    /// Host pids of the processes anywhere in the cage.
    pub fn members(&self) -> Vec<u32> {
        members_of_all(self.groups.iter().map(|g| g.dir.as_path()))
    }

    /// Kills every process in the cage (its runtime and its containers) and waits (up to 2 s)
    /// until none is left.
    pub fn kill_all(&self) {
        for group in &self.groups {
            kill_group(&group.dir, group.unified);
        }
    }

    /// Whether a fork in the cage was refused because it hit the cage's pids cap.
    pub fn hit_pids_cap(&self) -> bool {
        self.usage().pids_cap_hits > 0
    }

    /// What the cage's processes use now, from the kernel's counters (0 where a file is
    /// missing). Usage is the whole subtree's; cap hits and OOM kills count the cage's own caps
    /// only, never a limit a runtime set on its container (that is the runtime's business).
    pub fn usage(&self) -> Usage {
        let mut usage = Usage::default();
        for g in &self.groups {
            let file = |name: &str| g.dir.join(name);
            let (current, hits) = if g.unified {
                (
                    read_number(&file("memory.current")),
                    own_event_count(&g.dir, "memory.events", "max"),
                )
            } else {
                // With swap accounted, memory+swap (capped alike) may be the counter that fails.
                // A v1 failcnt counts the failures of this group's own limit.
                (
                    read_number(&file("memory.usage_in_bytes")),
                    read_number(&file("memory.failcnt"))
                        + read_number(&file("memory.memsw.failcnt")),
                )
            };
            usage.memory = usage.memory.max(current);
            usage.memory_cap_hits = usage.memory_cap_hits.max(hits);
            usage.oom_kills = usage.oom_kills.max(oom_kills_at_cap(g));
            usage.pids = usage.pids.max(read_number(&file("pids.current")));
            usage.pids_cap_hits = usage.pids_cap_hits.max(pids_cap_hits(&g.dir));
        }
        usage
    }

    /// The CPU time the cage's processes have used, where the kernel counts it for the cage
    /// (v2's `cpu.stat`, there without the cpu controller, hierarchical); None on v1.
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

    /// Whether the kernel's OOM killer killed a process of the cage at the cage's memory cap.
    pub fn oom_killed(&self) -> bool {
        self.usage().oom_kills > 0
    }

    /// The groups directly below the containers' parent, in every hierarchy: after the runtime
    /// exited, each is a group it left behind.
    pub fn groups_in_parent(&self) -> Vec<RuntimeGroup> {
        let mut groups: Vec<RuntimeGroup> = self
            .hierarchies
            .iter()
            .flat_map(|h| {
                groups_below(&h.mount_point.join(&self.path).join(CONTAINERS), 1)
                    .into_iter()
                    .map(|dir| RuntimeGroup::at(h, dir))
            })
            .collect();
        groups.sort();
        groups
    }
}

impl Cage {
    /// Where `pid`, a process of the run, is when it is no longer in the cage in some hierarchy:
    /// `process 4242 (sleep) left the checker's cage: it was moved to / (memory)...`; None
    /// while it is inside (or gone).
    pub fn outside(&self, pid: u32) -> Option<String> {
        let lines = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        // In this cage or another of this checker's: several runs may share a sandbox at once.
        let inside = format!("/{CAGE_PARENT}/{}-", std::process::id());
        let mut away = Vec::new();
        for group in &self.groups {
            let path = lines.lines().find_map(|line| {
                let mut fields = line.splitn(3, ':');
                let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
                let matches = match group.hierarchy.as_str() {
                    "unified" => controllers.is_empty(),
                    name => controllers == name,
                };
                matches.then(|| path.to_string())
            })?;
            let within = path.starts_with(&inside);
            if !within {
                away.push(format!("{path} ({})", group.hierarchy));
            }
        }
        if away.is_empty() {
            return None;
        }
        let name = probe::proc::stat(pid).map(|s| s.name).unwrap_or_default();
        Some(format!(
            "process {pid} ({name}), started by the runtime, left the checker's cage {}: it was moved to {}; a runtime and everything it starts stay below the group it was started in (the checker killed it)",
            self.path,
            away.join(", ")
        ))
    }

    /// The cage's own limits the run changed, each told, and restored: the cage is the
    /// checker's, and its caps bound the whole run.
    pub fn restore_own_limits(&self) -> Vec<String> {
        let changed: Vec<(&PathBuf, &String, String)> = self
            .own_limits
            .iter()
            .filter_map(|(file, was)| {
                let now = std::fs::read_to_string(file).ok()?;
                (now != *was).then_some((file, was, now))
            })
            .collect();
        // Twice: a v1 memory limit cannot go above memory+swap's, nor that one below it.
        for _ in 0..2 {
            for (file, was, _) in &changed {
                let _ = std::fs::write(file, was.trim());
            }
        }
        changed
            .iter()
            .map(|(file, was, now)| {
                let name = file.file_name().unwrap_or_default().to_string_lossy();
                let restored = std::fs::read_to_string(file).is_ok_and(|s| s == **was);
                format!(
                    "{} was written to {name} of the checker's cage {} itself, where the checker had set {}: the cage's limits are the checker's and bound the whole run; a container's limits go in its own group, <cgroup-parent>/<id> ({})",
                    now.trim(),
                    self.path,
                    was.trim(),
                    if restored { "the checker restored it" } else { "the checker could not restore it" }
                )
            })
            .collect()
    }

    /// The limits written to the containers' parent itself since the cage was made, each as
    /// `pids.max of <parent> (pids) was set to 20`: a container's limits belong in its own group
    /// (the parent is shared by every container, and a limit there bounds them all together).
    pub fn parent_limits_changed(&self) -> Vec<String> {
        self.parent_limits
            .iter()
            .filter_map(|(file, was)| {
                let now = std::fs::read_to_string(file).ok()?;
                (now != *was).then(|| {
                    let name = file.file_name().unwrap_or_default().to_string_lossy();
                    let group = self
                        .hierarchies
                        .iter()
                        .find(|h| file.starts_with(&h.mount_point))
                        .map(|h| RuntimeGroup::at(h, file.parent().unwrap_or(file).to_path_buf()));
                    let (path, hierarchy) = group
                        .map(|g| (g.path, g.hierarchy))
                        .unwrap_or_else(|| (file.display().to_string(), String::new()));
                    format!(
                        "{} was written to {name} of the --cgroup-parent {path} ({hierarchy}) itself, where it held {}: a container's limits go in its own group, <cgroup-parent>/<id> (a limit on the parent bounds every container in it together)",
                        now.trim(),
                        was.trim()
                    )
                })
            })
            .collect()
    }
}

/// OOM kills at the cage's own memory cap: the kills in the cage's subtree, once the cage's own
/// limit (not a container's) was reached (v2 `memory.events.local` oom; v1 the cage's peak at
/// its limit). v2 counts a kill in every group above its victim (`memory.events`); v1 only in
/// the victim's own group (`memory.oom_control`), so there every group of the cage is read.
fn oom_kills_at_cap(g: &CageGroup) -> u64 {
    let (at_cap, kills) = if g.unified {
        (
            own_event_count(&g.dir, "memory.events", "oom") > 0,
            event_count(&g.dir.join("memory.events"), "oom_kill"),
        )
    } else {
        (
            v1_peaked_at_cap(&g.dir),
            std::iter::once(g.dir.clone())
                .chain(groups_below(&g.dir, 6))
                .map(|group| event_count(&group.join("memory.oom_control"), "oom_kill"))
                .sum(),
        )
    };
    if at_cap {
        kills
    } else {
        0
    }
}

/// Whether a v1 cage's memory (or memory+swap) use ever came within a MiB of its cap. Its
/// failcnt would say it, but recent kernels leave it at 0 at the cap (seen on 6.18).
fn v1_peaked_at_cap(cage: &Path) -> bool {
    [
        "memory.max_usage_in_bytes",
        "memory.memsw.max_usage_in_bytes",
    ]
    .iter()
    .any(|file| read_number(&cage.join(file)) + (1 << 20) >= MEMORY_LIMIT)
}

/// An event of `dir`'s own limit: from `<file>.local` where the kernel has it (v2; `<file>`
/// is hierarchical there and also counts the limits of the groups below), else from `<file>`.
fn own_event_count(dir: &Path, file: &str, event: &str) -> u64 {
    let local = dir.join(format!("{file}.local"));
    if local.exists() {
        event_count(&local, event)
    } else {
        event_count(&dir.join(file), event)
    }
}

/// Forks refused at the cage's pids cap. v2 kernels with `pids.events.local` count them at the
/// group whose limit was hit; elsewhere (v1, older kernels) `pids.events` counts a refusal in
/// the group of the process that forked: then any group of the cage without a limit of its own
/// (a container's limit is the runtime's business).
fn pids_cap_hits(cage: &Path) -> u64 {
    let local = cage.join("pids.events.local");
    if local.exists() {
        return event_count(&local, "max");
    }
    std::iter::once(cage.to_path_buf())
        .chain(groups_below(cage, 6))
        .filter(|g| g == cage || !has_own_pids_limit(g))
        .map(|g| event_count(&g.join("pids.events"), "max"))
        .max()
        .unwrap_or(0)
}

fn has_own_pids_limit(group: &Path) -> bool {
    std::fs::read_to_string(group.join("pids.max")).is_ok_and(|s| s.trim() != "max")
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
    keyed(&std::fs::read_to_string(file).unwrap_or_default(), event).unwrap_or(0)
}

/// The value of `key` in the text of a flat-keyed file (`cpu.stat`, `memory.events`,
/// `pids.events`): the line `key value`, matched by its whole key.
pub fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok())?
    })
}

impl Drop for Cage {
    /// Kills what is left and removes the cage in every hierarchy, with whatever the runtime
    /// left below it (deepest first, with a bounded retry: see [`remove_group`]).
    fn drop(&mut self) {
        self.kill_all();
        for hierarchy in &self.hierarchies {
            let dir = hierarchy.mount_point.join(&self.path);
            if dir.is_dir() {
                let _ = remove_group(&dir);
                remove_if_unused(&dir);
            }
        }
        drop(self.interrupt.take());
        if let Some((lock, held)) = self.lock.take() {
            let _ = std::fs::remove_file(lock);
            drop(held);
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

/// Members of the groups `dirs` and of every group below them, sorted, once each.
fn members_of_all<'a>(dirs: impl Iterator<Item = &'a Path>) -> Vec<u32> {
    let mut pids: Vec<u32> = dirs.flat_map(members_below).collect();
    pids.sort_unstable();
    pids.dedup();
    pids
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
pub fn groups_below(dir: &Path, depth: usize) -> Vec<PathBuf> {
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
        give_back_memory(&group);
        let _ = std::fs::remove_dir(group);
    }
    give_back_memory(dir);
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

/// Reclaims what is still charged to a memory group, just before it is removed. A removed
/// memory cgroup whose pages are still charged (the page cache of the image a runtime read, the
/// filesystem metadata of the files it made and deleted) is kept by the kernel as a *dying*
/// cgroup until memory pressure reclaims them, and every reclaim and every memory.stat read walks
/// the dying ones too: a checker that left one behind per run got slower the more it was used.
/// Only the checker's own groups get here. Best effort: a group that is not a memory group (no
/// such file), or holds nothing, costs one failed open.
fn give_back_memory(dir: &Path) {
    // v1: force_empty reclaims everything the (empty) group holds, synchronously.
    if std::fs::write(dir.join("memory.force_empty"), "0").is_ok() {
        return;
    }
    // v2 (Linux 5.19+): memory.reclaim takes an amount: ask for all it holds. EAGAIN when it
    // could not reclaim all of it, which is fine.
    let held = read_number(&dir.join("memory.current"));
    if held > 0 {
        let _ = std::fs::write(dir.join("memory.reclaim"), held.to_string());
    }
}

/// Removes the cages of checkers that died without cleaning up: those whose lock can be taken
/// (see ownership.rs). A cage without a lock here (another checkout's checker, one in another
/// mount namespace) or whose lock is held is left alone. Returns the cages removed.
pub fn remove_stale_cages(layout: &Layout) -> Vec<String> {
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(cage_locks())
        .into_iter()
        .flatten()
        .flatten()
    {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(name) = file.strip_suffix(".lock").filter(|n| !n.starts_with('.')) else {
            continue;
        };
        let Some(held) = crate::ownership::take_if_dead(&entry.path()) else {
            continue;
        };
        let path = cage_path(name);
        let mut found = false;
        for hierarchy in &layout.hierarchies {
            let dir = hierarchy.mount_point.join(&path);
            if dir.is_dir() {
                found = true;
                let _ = remove_group(&dir);
                remove_if_unused(&dir);
            }
        }
        if found {
            removed.push(path);
        }
        let _ = std::fs::remove_file(entry.path());
        drop(held);
    }
    removed
}

/// A group under `rubber-crab/` in one hierarchy, e.g. (`memory`, `rubber-crab/3f2a`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RuntimeGroup {
    pub hierarchy: String,
    /// Path relative to the hierarchy's root, e.g. `rubber-crab/3f2a`.
    pub path: String,
    pub dir: PathBuf,
}

impl RuntimeGroup {
    fn at(hierarchy: &Hierarchy, dir: PathBuf) -> RuntimeGroup {
        let relative = dir
            .strip_prefix(&hierarchy.mount_point)
            .unwrap_or(&dir)
            .display()
            .to_string();
        RuntimeGroup {
            hierarchy: hierarchy.name.clone(),
            path: relative,
            dir,
        }
    }
}

/// The same group in several hierarchies, told once: `rubber-crab/3f2a (memory, pids), with
/// process 4242 (sleep) in it`.
pub struct SameGroup<'a> {
    pub path: &'a str,
    pub groups: Vec<&'a RuntimeGroup>,
}

impl SameGroup<'_> {
    /// `groups` gathered by path, in the order of their first appearance.
    pub fn gather<'a>(groups: impl IntoIterator<Item = &'a RuntimeGroup>) -> Vec<SameGroup<'a>> {
        let mut gathered: Vec<SameGroup<'a>> = Vec::new();
        for group in groups {
            match gathered.iter_mut().find(|s| s.path == group.path) {
                Some(same) => same.groups.push(group),
                None => gathered.push(SameGroup {
                    path: &group.path,
                    groups: vec![group],
                }),
            }
        }
        gathered
    }

    /// `memory, pids`.
    pub fn hierarchies(&self) -> String {
        let names: Vec<&str> = self.groups.iter().map(|g| g.hierarchy.as_str()).collect();
        names.join(", ")
    }

    /// `, with process 4242 (sleep) in it` for the live members of the group in any of its
    /// hierarchies; empty when it has none.
    pub fn processes(&self) -> String {
        let named: Vec<String> = members_of_all(self.groups.iter().map(|g| g.dir.as_path()))
            .into_iter()
            .map(|pid| match probe::proc::stat(pid) {
                Some(stat) => format!("{pid} ({})", stat.name),
                None => pid.to_string(),
            })
            .collect();
        match named.len() {
            0 => String::new(),
            1 => format!(", with process {} in it", named[0]),
            _ => format!(", with processes {} in it", named.join(", ")),
        }
    }
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
        groups.extend(
            groups_below(&parent, 4)
                .into_iter()
                .map(|dir| RuntimeGroup::at(hierarchy, dir)),
        );
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
    fn a_cages_own_events_come_from_the_local_file_where_there_is_one() {
        let dir = tempfile::tempdir().unwrap();
        // Hierarchical: a container's OOM at its own limit counts here too.
        std::fs::write(
            dir.path().join("memory.events"),
            "max 9\noom 2\noom_kill 2\n",
        )
        .unwrap();
        assert_eq!(own_event_count(dir.path(), "memory.events", "oom"), 2);
        std::fs::write(dir.path().join("memory.events.local"), "max 0\noom 0\n").unwrap();
        assert_eq!(own_event_count(dir.path(), "memory.events", "oom"), 0);
    }

    #[test]
    fn oom_kills_count_at_the_cages_cap_only_and_from_every_v1_group() {
        let cage = tempfile::tempdir().unwrap();
        let leaf = cage.path().join(RUNTIME_LEAF);
        let container = cage.path().join(CONTAINERS).join("3f2a91c07b1e");
        std::fs::create_dir_all(&leaf).unwrap();
        std::fs::create_dir_all(&container).unwrap();
        let oom = |dir: &Path, kills: u32| {
            std::fs::write(
                dir.join("memory.oom_control"),
                format!("oom_kill_disable 0\nunder_oom 0\noom_kill {kills}\n"),
            )
            .unwrap()
        };
        oom(cage.path(), 0);
        oom(&container, 1);
        let peak = cage.path().join("memory.max_usage_in_bytes");
        std::fs::write(&peak, "67108864\n").unwrap();
        let group = CageGroup {
            hierarchy: "memory".into(),
            dir: cage.path().to_path_buf(),
            unified: false,
            procs: File::open(&peak).unwrap(),
        };
        assert_eq!(oom_kills_at_cap(&group), 0, "the container's own limit");
        // v1 counts a kill in its victim's group only: here the runtime's leaf.
        oom(&leaf, 1);
        std::fs::write(&peak, format!("{MEMORY_LIMIT}\n")).unwrap();
        assert_eq!(oom_kills_at_cap(&group), 2);
    }

    #[test]
    fn refused_forks_count_for_the_cage_unless_a_group_has_a_limit_of_its_own() {
        // v1 and older kernels count a refused fork in the forking process's group.
        let cage = tempfile::tempdir().unwrap();
        let runtime = cage.path().join(RUNTIME_LEAF);
        let container = cage.path().join(CONTAINERS).join("3f2a91c07b1e");
        std::fs::create_dir_all(&runtime).unwrap();
        std::fs::create_dir_all(&container).unwrap();
        std::fs::write(cage.path().join("pids.events"), "max 0\n").unwrap();
        std::fs::write(container.join("pids.max"), "20\n").unwrap();
        std::fs::write(container.join("pids.events"), "max 40\n").unwrap();
        assert_eq!(pids_cap_hits(cage.path()), 0, "the container's own limit");
        std::fs::write(runtime.join("pids.max"), "max\n").unwrap();
        std::fs::write(runtime.join("pids.events"), "max 7\n").unwrap();
        assert_eq!(
            pids_cap_hits(cage.path()),
            7,
            "the cage's cap, met by the runtime"
        );
        // v2 kernels with local events count it where the limit was hit.
        std::fs::write(cage.path().join("pids.events.local"), "max 3\n").unwrap();
        assert_eq!(pids_cap_hits(cage.path()), 3);
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
    fn a_group_in_several_hierarchies_is_told_once() {
        let group = |hierarchy: &str, path: &str| RuntimeGroup {
            hierarchy: hierarchy.into(),
            path: path.into(),
            dir: Path::new("/nonexistent").join(hierarchy).join(path),
        };
        let groups = [
            group("cpu", "rubber-crab/3f2a"),
            group("memory", "rubber-crab/3f2a"),
            group("memory", "rubber-crab/9eff"),
            group("pids", "rubber-crab/3f2a"),
        ];
        let told: Vec<(String, String)> = SameGroup::gather(&groups)
            .iter()
            .map(|same| (same.path.to_string(), same.hierarchies()))
            .collect();
        assert_eq!(
            told,
            [
                ("rubber-crab/3f2a".into(), "cpu, memory, pids".into()),
                ("rubber-crab/9eff".into(), "memory".into())
            ]
        );
        assert_eq!(SameGroup::gather(&groups)[0].processes(), "");
    }

    #[test]
    fn a_hierarchy_mounted_twice_counts_once() {
        let twice = format!("{V2}40 22 0:26 / /mnt/cg rw - cgroup2 cgroup2 rw\n");
        assert_eq!(layout(&twice).hierarchies.len(), 1);
    }
}
