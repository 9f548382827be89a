//! What a cage's processes use, read from the kernel's counters: memory, processes, CPU time,
//! and whether the cage's own caps (not a container's) were hit.

use super::{Cage, CageGroup, MEMORY_LIMIT};
use crate::cgroups::group::{event_count, groups_below, read_number};
use std::path::Path;
use std::time::Duration;

impl Cage {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::cage::{CONTAINERS, RUNTIME_LEAF};
    use std::fs::File;
    use std::path::PathBuf;

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

    /// A cage in a temp dir (plain dirs stand in for groups), with its runtime's leaf and one
    /// container's group below it.
    fn cage_with_runtime_and_container() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let cage = tempfile::tempdir().unwrap();
        let runtime = cage.path().join(RUNTIME_LEAF);
        let container = cage.path().join(CONTAINERS).join("3f2a91c07b1e");
        std::fs::create_dir_all(&runtime).unwrap();
        std::fs::create_dir_all(&container).unwrap();
        (cage, runtime, container)
    }

    #[test]
    fn oom_kills_count_at_the_cages_cap_only_and_from_every_v1_group() {
        let (cage, leaf, container) = cage_with_runtime_and_container();
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
            entry: File::open(&peak).unwrap(),
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
        let (cage, runtime, container) = cage_with_runtime_and_container();
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
}
