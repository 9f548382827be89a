//! The *cage*: a group per run of the learner's runtime that caps its whole process tree
//! (memory, number of processes) and lets the checker kill every process in it at once, even
//! those that left the runtime's process group; it holds the `--cgroup-parent` the checker
//! passes, so the containers' groups are in it too.

use super::group::{groups_below, kill_group, members_of_all, remove_group};
use super::layout::{v2_controllers, Hierarchy, Layout};
use super::RuntimeGroup;
use anyhow::{Context, Result};
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

mod readings;

pub use readings::Usage;

/// Where the checker puts its cages: beside the runtime's groups, never inside them.
const CAGE_PARENT: &str = "rubber-crab-checker";

/// The cage's limits. Generous for any level, far below what could hurt the machine.
pub const MEMORY_LIMIT: u64 = 512 * 1024 * 1024;
pub const PIDS_LIMIT: u32 = 512;

/// The path of the cage `name`, relative to each hierarchy's root.
pub fn cage_path(name: &str) -> String {
    format!("{CAGE_PARENT}/{name}")
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
    /// The file of the runtime leaf that moves the process writing "0" into it (see
    /// [`entry_file`]), opened before the fork so that the child only has to write to it.
    entry: File,
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
            Ok(entry) => Ok(CageGroup {
                hierarchy: hierarchy.name.clone(),
                dir: dir.to_path_buf(),
                unified,
                entry,
            }),
            Err(e) => {
                let _ = remove_group(dir);
                remove_if_unused(dir);
                Err(e)
            }
        }
    }
}

/// Makes the cage's two children and opens the runtime leaf's [`entry_file`]. On v2, first
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
    let file = entry_file(hierarchy.is_unified());
    std::fs::OpenOptions::new()
        .write(true)
        .open(leaf.join(file))
        .with_context(|| format!("opening {}/{file}", leaf.display()))
}

/// The file through which the runtime enters the cage, written "0" by its own (single-threaded)
/// process between fork and exec. On v1, `tasks`: it moves the writing thread alone, which the
/// kernel does without write-locking every thread group of the system (cgroup_procs_write_start:
/// a writer naming itself, no thread group). `cgroup.procs` takes that lock, whose RCU grace
/// period cost 8-14 ms per run here. After fork the thread is the whole process, so both move
/// the same. On v2 `cgroup.threads` only works in threaded subtrees: `cgroup.procs` it is.
fn entry_file(unified: bool) -> &'static str {
    match unified {
        true => "cgroup.procs",
        false => "tasks",
    }
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
        let fds: Vec<i32> = self.groups.iter().map(|g| g.entry.as_raw_fd()).collect();
        // SAFETY: runs in the forked child before exec; only write(2), which is
        // async-signal-safe, on fds the parent keeps open for the whole spawn. Writing "0" to
        // the entry file moves the writing process: its one thread (see `entry_file`).
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
        // On a v1 hierarchy the kernel shows every exiting process in the root group ("/"),
        // wherever it was: a `tar` that dies of SIGPIPE as the runtime exits has not escaped.
        // PF_EXITING is set before that and never cleared, so reading it after the cgroup file
        // cannot miss it.
        let stat = probe::proc::stat(pid)?;
        if stat.is_exiting() {
            return None;
        }
        let name = stat.name;
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

#[cfg(test)]
mod tests {
    use super::*;

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

    /// v1 shows an exiting process in the root group ("/") whatever group it was in: that is
    /// no escape (runc's wrapper failed L1 when a `tar` died of SIGPIPE as it refused an image).
    #[test]
    fn a_process_that_exited_in_the_cage_has_not_left_it() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: making a cage needs root");
            return;
        }
        let name = format!("{}-{}", std::process::id(), crate::run::nonce());
        let cage = Cage::create(crate::cgroups::host_layout(), &name).unwrap();
        let spawn = |script: &str| {
            let mut command = std::process::Command::new("sh");
            command.args(["-c", script]);
            cage.enter_on_spawn(&mut command);
            command.spawn().unwrap()
        };
        let mut living = spawn("sleep 30");
        // Not waited for: it stays a zombie, which v1 places in "/".
        let mut exited = spawn("exit 0");
        let pid = exited.id();
        while probe::proc::stat(pid).is_some_and(|s| !s.is_zombie()) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(cage.outside(living.id()), None);
        assert_eq!(
            cage.outside(pid),
            None,
            "{:?}",
            std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        );
        let _ = living.kill();
        let _ = living.wait();
        let _ = exited.wait();
    }
}
