//! The host guard: what must not change on the host while a check runs, what changed, and
//! undoing what is ours to undo.

use crate::check::Env;
use crate::{cgroups, mounts};

/// What must not change on the host while a check runs.
#[derive(PartialEq, Eq)]
pub struct HostState {
    mounts: Vec<mounts::Mount>,
    hostname: String,
    /// Network links: name and flags.
    links: Vec<(String, String)>,
    /// Groups under `rubber-crab/` in every cgroup hierarchy.
    cgroups: Vec<cgroups::RuntimeGroup>,
    /// The hierarchies' `rubber-crab/` dirs that exist.
    cgroup_parents: Vec<std::path::PathBuf>,
}

pub fn host_state() -> HostState {
    HostState {
        links: crate::links::host_links(),
        mounts: mounts::read("/proc/self/mountinfo").unwrap_or_default(),
        hostname: nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default(),
        cgroups: cgroups::runtime_groups(cgroups::host_layout()),
        cgroup_parents: cgroups::runtime_parents(cgroups::host_layout()),
    }
}

/// What changed on the host, after undoing what can be undone: mounts that appeared under the
/// checker's own directories are unmounted, the hostname is restored, a leaked tun device is
/// deleted.
pub fn host_damage(before: &HostState, env: &Env) -> Option<String> {
    let after = host_state();
    let changes: Vec<Change> = changes(before, &after)
        .into_iter()
        .filter(|change| !another_checkers(change, env))
        .collect();
    let text: Vec<String> = changes
        .iter()
        .map(|change| match undo(change, env) {
            true => format!("{} (the checker undid it)", describe(change)),
            false => describe(change),
        })
        .collect();
    // A runtime may leave the (empty) `rubber-crab/` parent, as Docker leaves `docker/`: that is
    // no damage, but the checker takes away what the check brought.
    for parent in &after.cgroup_parents {
        if !before.cgroup_parents.contains(parent) {
            let _ = std::fs::remove_dir(parent);
        }
    }
    (!text.is_empty()).then(|| text.join("; "))
}

/// A mount change under another checker's scratch dir (`<its home>/checker/run-<its pid>`) is
/// that checker's to report: several checkers may run at once (the test suite runs them, some
/// with homes of their own).
fn another_checkers(change: &Change, env: &Env) -> bool {
    let (Change::MountAdded(m) | Change::MountRemoved(m)) = change else {
        return false;
    };
    in_another_checkers_run(std::path::Path::new(&m.mount_point), &env.work)
}

fn in_another_checkers_run(mount_point: &std::path::Path, work: &std::path::Path) -> bool {
    let is_run_dir = |dir: &std::path::Path| {
        dir.file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with("run-"))
            && dir
                .parent()
                .and_then(|parent| parent.file_name())
                .is_some_and(|parent| parent == "checker")
    };
    !mount_point.starts_with(work) && mount_point.ancestors().any(is_run_dir)
}

/// One difference between two snapshots of the host.
#[derive(Debug, PartialEq, Eq)]
enum Change {
    MountAdded(mounts::Mount),
    MountRemoved(mounts::Mount),
    LinkAdded(String),
    LinkRemoved(String),
    LinkFlags {
        name: String,
        before: String,
        after: String,
    },
    Hostname {
        before: String,
        after: String,
    },
    CgroupAdded(cgroups::RuntimeGroup),
    CgroupRemoved(cgroups::RuntimeGroup),
}

fn changes(before: &HostState, after: &HostState) -> Vec<Change> {
    let mut changes: Vec<Change> = mounts::added(&before.mounts, &after.mounts)
        .into_iter()
        .map(Change::MountAdded)
        .collect();
    changes.extend(
        mounts::added(&after.mounts, &before.mounts)
            .into_iter()
            .map(Change::MountRemoved),
    );
    let flags_of = |links: &[(String, String)], name: &str| {
        links
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, f)| f.clone())
    };
    for (name, flags) in &after.links {
        match flags_of(&before.links, name) {
            None => changes.push(Change::LinkAdded(name.clone())),
            Some(old) if &old != flags => changes.push(Change::LinkFlags {
                name: name.clone(),
                before: old,
                after: flags.clone(),
            }),
            Some(_) => {}
        }
    }
    for (name, _) in before
        .links
        .iter()
        .filter(|(name, _)| flags_of(&after.links, name).is_none())
    {
        changes.push(Change::LinkRemoved(name.clone()));
    }
    for group in &after.cgroups {
        if !before.cgroups.contains(group) {
            changes.push(Change::CgroupAdded(group.clone()));
        }
    }
    for group in &before.cgroups {
        if !after.cgroups.contains(group) {
            changes.push(Change::CgroupRemoved(group.clone()));
        }
    }
    if after.hostname != before.hostname {
        changes.push(Change::Hostname {
            before: before.hostname.clone(),
            after: after.hostname.clone(),
        });
    }
    changes
}

fn describe(change: &Change) -> String {
    match change {
        Change::MountAdded(m) => format!("{} appeared on the host", mounts::describe(m)),
        Change::MountRemoved(m) => format!("{} disappeared from the host", mounts::describe(m)),
        Change::LinkAdded(name) => format!("network link {name} appeared on the host"),
        Change::LinkRemoved(name) => format!("network link {name} disappeared from the host"),
        Change::LinkFlags {
            name,
            before,
            after,
        } => format!("the flags of host link {name} changed from {before} to {after}"),
        Change::Hostname { before, after } => {
            format!("the host's hostname changed from {before:?} to {after:?}")
        }
        Change::CgroupAdded(g) => format!(
            "cgroup {} ({}) was left on the host after the container exited",
            g.path, g.hierarchy
        ),
        Change::CgroupRemoved(g) => format!(
            "cgroup {} ({}) disappeared from the host",
            g.path, g.hierarchy
        ),
    }
}

/// Undoes a change when it is ours to undo: only mounts under the checker's own directory, only
/// the hostname we saw before, only tun devices (see links::remove_leaked), only groups under
/// `rubber-crab/` that appeared during the check (their processes are killed first).
fn undo(change: &Change, env: &Env) -> bool {
    match change {
        Change::MountAdded(m)
            if std::path::Path::new(&m.mount_point)
                .starts_with(env.work.parent().unwrap_or(&env.work)) =>
        {
            nix::mount::umount2(m.mount_point.as_str(), nix::mount::MntFlags::MNT_DETACH).is_ok()
        }
        Change::LinkAdded(name) => crate::links::remove_leaked(name),
        Change::Hostname { before, .. } => nix::unistd::sethostname(before).is_ok(),
        Change::CgroupAdded(group) => cgroups::remove_group(&group.dir).is_ok(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_in_another_checkers_run_dir_are_its_own_to_report() {
        let work = std::path::Path::new("/w/target/rubber-crab/checker/run-10");
        let theirs = |p: &str| in_another_checkers_run(std::path::Path::new(p), work);
        assert!(theirs("/w/target/rubber-crab/checker/run-11/L0.x/rootfs"));
        assert!(
            theirs("/tmp/.tmpAbc/checker/run-12/L3.y/rootfs/proc"),
            "another home"
        );
        assert!(
            !theirs("/w/target/rubber-crab/checker/run-10/L0.x/rootfs"),
            "ours"
        );
        assert!(
            !theirs("/w/target/rubber-crab/checker/run-10"),
            "over our work dir"
        );
        assert!(!theirs("/mnt/run-11"), "not a checker's");
        assert!(!theirs("/"));
    }

    fn state(mounts: &str, hostname: &str, links: &[(&str, &str)]) -> HostState {
        HostState {
            cgroups: Vec::new(),
            cgroup_parents: Vec::new(),
            mounts: mounts::parse(mounts),
            hostname: hostname.into(),
            links: links
                .iter()
                .map(|(n, f)| (n.to_string(), f.to_string()))
                .collect(),
        }
    }

    const ROOT: &str = "22 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n";
    const PROC: &str = "23 22 0:21 / /proc rw,relatime - proc proc rw\n";

    #[test]
    fn an_unchanged_host_has_no_changes() {
        let host = state(ROOT, "vm", &[("lo", "0x9")]);
        assert!(changes(&host, &state(ROOT, "vm", &[("lo", "0x9")])).is_empty());
    }

    #[test]
    fn every_kind_of_change_is_seen_and_named() {
        let before = state(
            &format!("{ROOT}{PROC}"),
            "vm",
            &[("lo", "0x9"), ("eth0", "0x1003")],
        );
        let leaked = "99 22 0:50 / /work/x rw - tmpfs tmpfs rw\n";
        let mut after = state(
            &format!("{ROOT}{leaked}"),
            "box",
            &[("lo", "0x8"), ("veth0", "0x1002")],
        );
        after.cgroups.push(cgroups::RuntimeGroup {
            hierarchy: "memory".into(),
            path: "rubber-crab/3f2a".into(),
            dir: "/sys/fs/cgroup/memory/rubber-crab/3f2a".into(),
        });
        let said: Vec<String> = changes(&before, &after).iter().map(describe).collect();
        assert_eq!(
            said,
            [
                "tmpfs on /work/x appeared on the host",
                "proc on /proc disappeared from the host",
                "the flags of host link lo changed from 0x9 to 0x8",
                "network link veth0 appeared on the host",
                "network link eth0 disappeared from the host",
                "cgroup rubber-crab/3f2a (memory) was left on the host after the container exited",
                "the host's hostname changed from \"vm\" to \"box\"",
            ]
        );
    }
}
