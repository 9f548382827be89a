//! Cgroups as the checker uses them:
//!
//! - the host's layout (v1, v2 or hybrid), detected from the mount table, never assumed;
//! - the *cage*: a group per run of the learner's runtime that caps its whole process tree
//!   (memory, number of processes) and lets the checker kill every process in it at once, even
//!   those that left the runtime's process group; it holds the `--cgroup-parent` the checker
//!   passes, so the containers' groups are in it too;
//! - the groups under `rubber-crab/` that a runtime creates for its containers and must remove
//!   when they exit: the host guard snapshots them before and after every check.

mod cage;
mod group;
mod layout;

pub use cage::*;
pub use group::*;
pub use layout::*;

use std::path::PathBuf;
use std::sync::OnceLock;

/// Where a learner's runtime puts its containers' groups (DESIGN.md).
pub const RUNTIME_PARENT: &str = "rubber-crab";

/// The host's layout, read once.
pub fn host_layout() -> &'static Layout {
    static LAYOUT: OnceLock<Layout> = OnceLock::new();
    LAYOUT.get_or_init(Layout::of_host)
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

    #[test]
    fn a_group_in_several_hierarchies_is_told_once() {
        let group = |hierarchy: &str, path: &str| RuntimeGroup {
            hierarchy: hierarchy.into(),
            path: path.into(),
            dir: std::path::Path::new("/nonexistent")
                .join(hierarchy)
                .join(path),
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
}
