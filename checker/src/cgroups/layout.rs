//! The host's cgroup layout (v1, v2 or hybrid), detected from the mount table, never assumed,
//! and where each controller's files are in it.

use crate::mounts::Mount;
use std::path::{Path, PathBuf};

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// `memory`, `cpu,cpuacct`, `name=systemd`, or `unified` for the v2 tree.
    pub name: String,
    pub mount_point: PathBuf,
}

impl Hierarchy {
    pub(super) fn is_unified(&self) -> bool {
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
    pub fn holding(&self, controller: &str) -> Option<&Hierarchy> {
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

pub(super) fn v2_controllers(dir: &Path) -> Vec<String> {
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
    fn a_hierarchy_mounted_twice_counts_once() {
        let twice = format!("{V2}40 22 0:26 / /mnt/cg rw - cgroup2 cgroup2 rw\n");
        assert_eq!(layout(&twice).hierarchies.len(), 1);
    }
}
