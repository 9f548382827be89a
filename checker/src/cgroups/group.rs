//! One group and the groups below it: their processes, killing them, removing the groups
//! (reclaiming their memory first), reading their counters.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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
pub(super) fn kill_group(dir: &Path, unified: bool) {
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

pub(super) fn wait_until_empty(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !members_below(dir).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Members of the groups `dirs` and of every group below them, sorted, once each.
pub(super) fn members_of_all<'a>(dirs: impl Iterator<Item = &'a Path>) -> Vec<u32> {
    let mut pids: Vec<u32> = dirs.flat_map(members_below).collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// Members of `dir` and of every group below it.
pub(super) fn members_below(dir: &Path) -> Vec<u32> {
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
    let _t = crate::trace::span("cg.rmdir");
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
pub(super) fn give_back_memory(dir: &Path) {
    let _t = crate::trace::span("cg.give-back");
    // v1: force_empty reclaims everything the (empty) group holds, synchronously. A group
    // charged nothing (most of a cage's: a parent, a group the runtime's files were freed from
    // before it ends) is skipped: force_empty drains every CPU's page lists even then.
    let usage = dir.join("memory.usage_in_bytes");
    if usage.exists() {
        if read_number(&usage) > 0 {
            let _ = std::fs::write(dir.join("memory.force_empty"), "0");
        }
        return;
    }
    // v2 (Linux 5.19+): memory.reclaim takes an amount: ask for all it holds. EAGAIN when it
    // could not reclaim all of it, which is fine.
    let held = read_number(&dir.join("memory.current"));
    if held > 0 {
        let _ = std::fs::write(dir.join("memory.reclaim"), held.to_string());
    }
}

/// A number alone in a cgroup file (`memory.current`, `pids.current`); 0 when unreadable.
pub(super) fn read_number(file: &Path) -> u64 {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// The count of `event` in a flat-keyed file such as `memory.events`; 0 when absent.
pub(super) fn event_count(file: &Path, event: &str) -> u64 {
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

/// A group the runtime left below its `--cgroup-parent`, described, and whether it still held
/// a process.
pub struct LeftGroup {
    pub text: String,
    pub busy: bool,
}

/// Every group below `parent` in every hierarchy of the host, described as the host guard
/// describes a leftover (with the processes still in it): read right after the runtime exits,
/// before the checker kills or removes anything.
pub fn left_below(parent: &str) -> Vec<LeftGroup> {
    let mut left = Vec::new();
    for h in &super::host_layout().hierarchies {
        for dir in groups_below(&h.mount_point.join(parent.trim_matches('/')), 4) {
            let path = dir.strip_prefix(&h.mount_point).unwrap_or(&dir).display();
            let procs = members(&dir);
            let with = match procs.as_slice() {
                [] => String::new(),
                procs => format!(", with processes {procs:?} in it"),
            };
            left.push(LeftGroup {
                text: format!(
                    "cgroup /{path} ({}) was left behind after the container exited{with}",
                    h.name
                ),
                busy: !procs.is_empty(),
            });
        }
    }
    left
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn groups_left_below_a_parent_are_listed_deepest_first() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("p/a/b")).unwrap();
        std::fs::write(root.path().join("p/file"), "").unwrap();
        let found = groups_below(&root.path().join("p"), 4);
        assert_eq!(found, [root.path().join("p/a/b"), root.path().join("p/a")]);
        assert!(groups_below(&root.path().join("missing"), 4).is_empty());
    }
}
