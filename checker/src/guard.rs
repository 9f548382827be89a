//! The host guard: what must not change on the host while a check runs, what changed, which
//! changes this run made (and are undone and blamed), and which someone else made (and are only
//! noted: other container engines, another checker, an automounter or a VPN share the host).

use crate::check::Env;
use crate::{cgroups, mounts};
use std::path::Path;

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
    /// What the tmpfs at `/sys/fs/cgroup` (v1 and hybrid hosts) holds besides mount points.
    cgroup_tmpfs: Vec<std::path::PathBuf>,
}

fn host_state() -> HostState {
    let mounts = mounts::read("/proc/self/mountinfo").unwrap_or_default();
    HostState {
        links: crate::links::host_links(),
        cgroup_tmpfs: cgroups::tmpfs_entries(&mounts),
        mounts,
        hostname: nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default(),
        cgroups: cgroups::runtime_groups(cgroups::host_layout()),
        cgroup_parents: cgroups::runtime_parents(cgroups::host_layout()),
    }
}

/// What one check's run owns, and so what it can be blamed for: the checker run's scratch dir,
/// the container ids its runtime created, and the nonces the checker made.
pub struct Ours<'a> {
    pub work: &'a Path,
    pub ids: &'a [String],
    pub nonces: &'a [String],
    /// What the run's processes did in the checker's own namespaces (reach.rs).
    pub reached: &'a [crate::reach::Reached],
}

/// Names shorter than this are too common to attribute anything to by a substring.
const MIN_NAME: usize = 8;

impl Ours<'_> {
    /// A path under the run's scratch dir, or with a component named after one of its ids or
    /// nonces (`…/containers/<id>/rootfs`, `/rc-tmpfs-<nonce>`).
    fn owns_path(&self, path: &str) -> bool {
        let path = Path::new(path);
        path.starts_with(self.work)
            || path.components().any(|c| {
                let c = c.as_os_str().to_string_lossy();
                self.names().any(|name| names_after(&c, name))
            })
    }

    /// A link named after one of the run's ids or nonces. Link names have at most 15 bytes, so
    /// `veth3f2a91c0` is named after the id `3f2a91c07b1e`: its first 8 characters are enough.
    fn owns_link(&self, link: &str) -> bool {
        self.names().any(|name| {
            let prefix = name.get(..MIN_NAME).unwrap_or(name);
            link == name || names_after(link, prefix)
        })
    }

    /// A mount on the host this run made.
    pub fn owns_mount(&self, m: &mounts::Mount) -> bool {
        self.owns_path(&m.mount_point) || self.reached_mount(m).is_some()
    }

    /// The call of a process of the run that mounted `m`, or unmounted it, in the checker's
    /// mount namespace.
    fn reached_mount(&self, m: &mounts::Mount) -> Option<&crate::reach::Reached> {
        use crate::reach::Act;
        self.reached.iter().find(|r| match &r.act {
            Act::Mount(at) | Act::Unmount(at) => crate::reach::same_place(at, &m.mount_point),
            Act::Hostname => false,
        })
    }

    /// The call of a process of the run that set the hostname in the checker's UTS namespace.
    fn reached_hostname(&self) -> Option<&crate::reach::Reached> {
        self.reached
            .iter()
            .find(|r| r.act == crate::reach::Act::Hostname)
    }

    /// `rubber-crab/<id>` or a group below it, for one of the run's container ids.
    fn owns_group(&self, path: &str) -> bool {
        let mut parts = Path::new(path).components();
        parts
            .next()
            .is_some_and(|p| p.as_os_str() == cgroups::RUNTIME_PARENT)
            && parts
                .next()
                .is_some_and(|p| self.ids.iter().any(|id| p.as_os_str() == id.as_str()))
    }

    fn names(&self) -> impl Iterator<Item = &String> {
        self.ids.iter().chain(self.nonces)
    }
}

/// `text` is `name`, or holds it when `name` is long enough to be unique.
fn names_after(text: &str, name: &str) -> bool {
    !name.is_empty() && (text == name || name.len() >= MIN_NAME && text.contains(name))
}

/// The guard of one check: the host as it was before, and the links announced since.
pub struct Guard {
    before: HostState,
    links: Option<crate::links::LinkWatch>,
}

impl Guard {
    pub fn start() -> Guard {
        // What earlier checks' runs reached was theirs.
        let _ = crate::reach::take();
        // Links first: one made while the snapshot is taken is announced, not missed.
        let links = crate::links::LinkWatch::start();
        Guard {
            before: host_state(),
            links,
        }
    }

    /// What changed, with `ids` the container ids the check's runtime created (see [`inspect`])
    /// and `cgroup_damage` what its runs did to their `--cgroup-parent`, in the cage (groups
    /// left below it, limits written to it: see `RunSummary::cgroup_damage`).
    pub fn finish(self, env: &Env, ids: &[String], cgroup_damage: &[String]) -> Findings {
        let nonces = crate::run::nonces_made();
        let reached = crate::reach::take();
        let ours = Ours {
            work: &env.work,
            ids,
            nonces: &nonces,
            reached: &reached,
        };
        let announced = self.links.map(|w| w.announced()).unwrap_or_default();
        let mut findings = inspect(&self.before, env, &ours, &announced);
        let damage: Vec<String> = findings
            .damage
            .take()
            .into_iter()
            .chain(cgroup_damage.iter().cloned())
            .collect();
        findings.damage = (!damage.is_empty()).then(|| damage.join("; "));
        findings
    }
}

/// What the guard found after a check.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Findings {
    /// Changes this run made: they fail the check (each says whether the checker undid it).
    pub damage: Option<String>,
    /// Changes someone else made while the check ran: reported, never undone, never blamed.
    pub note: Option<String>,
}

/// What changed on the host during a check. Changes this run made are undone where we can
/// (mounts unmounted, leaked tun devices deleted, groups emptied and removed) and blamed; the
/// rest is left alone and noted. `announced` are the links the kernel announced during the check (links::LinkWatch).
fn inspect(before: &HostState, env: &Env, ours: &Ours, announced: &[String]) -> Findings {
    let after = host_state();
    let mut all = changes(before, &after);
    all.extend(links_come_and_gone(before, &after, announced));
    let (blamed, foreign): (Vec<Change>, Vec<Change>) = all
        .into_iter()
        .filter(|change| !another_checkers(change, env))
        .partition(|change| attributable(change, ours));
    // Someone else's link that came and went left the host as it was: not worth a note.
    let foreign: Vec<Change> = foreign
        .into_iter()
        .filter(|change| !matches!(change, Change::LinkCameAndWent(_)))
        .collect();
    let undone = |said: String, undid: bool| match undid {
        true => format!("{said} (the checker undid it)"),
        false => said,
    };
    let mut damage: Vec<String> = blamed
        .iter()
        .filter(|change| !matches!(change, Change::CgroupAdded(_)))
        .map(|change| {
            let said = undone(describe(change), undo(change));
            match who_reached(change, ours) {
                Some(who) => format!("{said}: {}", who.describe()),
                None => said,
            }
        })
        .collect();
    // A group in several hierarchies is told once, described before the undo kills the
    // processes it names.
    let groups = blamed.iter().filter_map(|change| match change {
        Change::CgroupAdded(group) => Some(group),
        _ => None,
    });
    for same in cgroups::SameGroup::gather(groups) {
        let said = describe_outside_parent(&same);
        let undid = same
            .groups
            .iter()
            .all(|g| cgroups::remove_group(&g.dir).is_ok());
        damage.push(undone(said, undid));
    }
    // A runtime may leave the (empty) `rubber-crab/` parent, as Docker leaves `docker/`: that is
    // no damage. The checker takes away one that the check brought only when it held a group of
    // this run's (so the run made it): other engines share the parent.
    for parent in &after.cgroup_parents {
        let held_ours = blamed.iter().any(
            |change| matches!(change, Change::CgroupAdded(group) if group.dir.starts_with(parent)),
        );
        if held_ours && !before.cgroup_parents.contains(parent) {
            let _ = std::fs::remove_dir(parent);
        }
    }
    let (said, foreign_tmpfs) = tmpfs_changes(before, &after, ours);
    damage.extend(said);
    let mut note = note(&foreign);
    if !foreign_tmpfs.is_empty() {
        let sentence = format!(
            "{} appeared on the tmpfs at {} during this check; not counted against your runtime (not named after its containers)",
            foreign_tmpfs.join(", "),
            cgroups::CGROUP_ROOT
        );
        note = Some(note.map_or(sentence.clone(), |n| format!("{n}\n{sentence}")));
    }
    Findings {
        damage: (!damage.is_empty()).then(|| damage.join("; ")),
        note,
    }
}

/// What appeared on the tmpfs at `/sys/fs/cgroup` of a v1 or hybrid host: a runtime that writes
/// v2 paths there (`/sys/fs/cgroup/<parent>/<id>/cpu.max`) makes plain directories and files,
/// not groups. Those named after this run's containers or nonces (and the new directories that
/// only lead to them) are removed and blamed, with where the limit files are on this host; the
/// rest is someone else's, left alone and noted.
fn tmpfs_changes(
    before: &HostState,
    after: &HostState,
    ours: &Ours,
) -> (Option<String>, Vec<String>) {
    let added: Vec<&std::path::PathBuf> = after
        .cgroup_tmpfs
        .iter()
        .filter(|p| !before.cgroup_tmpfs.contains(p))
        .collect();
    let owned: Vec<&std::path::PathBuf> = added
        .iter()
        .copied()
        .filter(|p| ours.owns_path(&p.to_string_lossy()))
        .collect();
    let (blamed, foreign): (Vec<&std::path::PathBuf>, Vec<&std::path::PathBuf>) = added
        .iter()
        .partition(|p| owned.iter().any(|o| o.starts_with(p)));
    let foreign = foreign.iter().map(|p| p.display().to_string()).collect();
    if blamed.is_empty() {
        return (None, foreign);
    }
    // The deepest directory made, relative to the tmpfs: the runtime's idea of its group.
    let root = std::path::Path::new(cgroups::CGROUP_ROOT);
    let group = blamed
        .iter()
        .filter(|p| p.is_dir())
        .max_by_key(|p| p.components().count())
        .and_then(|p| p.strip_prefix(root).ok())
        .map(|p| p.to_path_buf());
    // Deepest first: files, then the directories that held them.
    let mut undo = blamed.clone();
    undo.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    let mut undid = true;
    for path in &undo {
        let removed = match path.symlink_metadata() {
            Ok(m) if m.is_dir() => std::fs::remove_dir(path).is_ok(),
            Ok(_) => std::fs::remove_file(path).is_ok(),
            Err(_) => true,
        };
        // A directory that only led to ours may hold another checker's too: then it stays.
        undid &= removed || !owned.contains(path);
    }
    let layout = cgroups::host_layout();
    let example = group
        .as_deref()
        .and_then(|g| {
            cgroups::v1_file(layout, "cpu", g, "cpu.cfs_quota_us")
                .or_else(|| cgroups::v1_file(layout, "memory", g, "memory.limit_in_bytes"))
        })
        .map(|f| format!(", e.g. {}", f.display()))
        .unwrap_or_default();
    // The deepest first: the files the runtime took for limit files.
    let shown: Vec<String> = undo.iter().map(|p| p.display().to_string()).collect();
    let mut shown = shown;
    let more = shown.len().saturating_sub(4);
    shown.truncate(4);
    let list = match more {
        0 => shown.join(", "),
        n => format!("{} and {n} more", shown.join(", ")),
    };
    let said = format!(
        "this host's cgroups are {} ({} is a tmpfs holding one v1 hierarchy per controller), so the runtime made plain directories and files there, not groups: {list}; a group and its limit files are in each controller's hierarchy{example}{}",
        layout.kind(),
        cgroups::CGROUP_ROOT,
        if undid { " (the checker undid it)" } else { "" }
    );
    (Some(said), foreign)
}

/// The note for changes someone else made, one sentence per kind of thing.
fn note(foreign: &[Change]) -> Option<String> {
    let of = |kind: Kind| -> Vec<String> {
        foreign
            .iter()
            .filter(|c| c.kind() == kind)
            .map(|change| match change {
                Change::CgroupAdded(g) => {
                    format!("cgroup {} ({}) appeared on the host", g.path, g.hierarchy)
                }
                other => describe(other),
            })
            .collect()
    };
    let sentences: Vec<String> = [
        (Kind::Mounts, "the host's mount table"),
        (Kind::Links, "the host's network links"),
        (Kind::Cgroups, "the host's rubber-crab/ cgroups"),
        (Kind::Hostname, "the host's hostname"),
    ]
    .into_iter()
    .filter_map(|(kind, what)| {
        let seen = of(kind);
        (!seen.is_empty()).then(|| {
            format!(
                "{what} changed during this check: {}; not counted against your runtime (not under the checker's directory, not named after its containers)",
                seen.join("; ")
            )
        })
    })
    .collect();
    (!sentences.is_empty()).then(|| sentences.join("\n"))
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
    /// A link that appeared during the check and was gone again by its end. No level before 13
    /// (veth) has any business creating a link on the host, so one of this run's is a leak, even
    /// if someone (the host's tooling) deleted it since.
    LinkCameAndWent(String),
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

/// What a change is about, for the note.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Kind {
    Mounts,
    Links,
    Cgroups,
    Hostname,
}

impl Change {
    fn kind(&self) -> Kind {
        match self {
            Change::MountAdded(_) | Change::MountRemoved(_) => Kind::Mounts,
            Change::LinkAdded(_)
            | Change::LinkRemoved(_)
            | Change::LinkCameAndWent(_)
            | Change::LinkFlags { .. } => Kind::Links,
            Change::CgroupAdded(_) | Change::CgroupRemoved(_) => Kind::Cgroups,
            Change::Hostname { .. } => Kind::Hostname,
        }
    }
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

/// Links the kernel announced that neither snapshot has.
fn links_come_and_gone(before: &HostState, after: &HostState, announced: &[String]) -> Vec<Change> {
    let known = |name: &String| {
        before
            .links
            .iter()
            .chain(&after.links)
            .any(|(n, _)| n == name)
    };
    let mut gone: Vec<&String> = announced.iter().filter(|name| !known(name)).collect();
    gone.sort();
    gone.dedup();
    gone.into_iter()
        .map(|name| Change::LinkCameAndWent(name.clone()))
        .collect()
}

fn describe(change: &Change) -> String {
    match change {
        Change::MountAdded(m) => format!("{} appeared on the host", mounts::describe(m)),
        Change::MountRemoved(m) => format!("{} disappeared from the host", mounts::describe(m)),
        Change::LinkAdded(name) => format!("network link {name} appeared on the host"),
        Change::LinkRemoved(name) => format!("network link {name} disappeared from the host"),
        Change::LinkCameAndWent(name) => format!(
            "network link {name} appeared on the host during the check (it was gone again by its end)"
        ),
        Change::LinkFlags {
            name,
            before,
            after,
        } => format!("the flags of host link {name} changed from {before} to {after}"),
        Change::Hostname { before, after } => {
            format!("the host's hostname changed from {before:?} to {after:?}")
        }
        Change::CgroupAdded(g) => {
            describe_outside_parent(&cgroups::SameGroup::gather([g])[0])
        }
        Change::CgroupRemoved(g) => format!(
            "cgroup {} ({}) disappeared from the host",
            g.path, g.hierarchy
        ),
    }
}

/// A group named after one of this run's containers, outside the parent the checker passed.
fn describe_outside_parent(same: &cgroups::SameGroup) -> String {
    format!(
        "the container's group was created at /{} ({}), not under the --cgroup-parent the checker passed (a container's group is <cgroup-parent>/<id>), and left on the host{}",
        same.path,
        same.hierarchies(),
        same.processes()
    )
}

/// The call of a process of the run, in the checker's own namespace, that made the change.
fn who_reached<'a>(change: &Change, ours: &'a Ours) -> Option<&'a crate::reach::Reached> {
    match change {
        Change::MountAdded(m) | Change::MountRemoved(m) => ours.reached_mount(m),
        Change::Hostname { .. } => ours.reached_hostname(),
        _ => None,
    }
}

/// Whether this run made the change: mounts under its directories or named after its
/// containers, links named after them, their `rubber-crab/<id>` groups, and what a process of
/// the run did in the checker's own mount or UTS namespace (reach.rs). The runtime runs in a
/// UTS namespace of the sandbox's: the host's hostname is its only when a process of the run
/// set it from the checker's own.
fn attributable(change: &Change, ours: &Ours) -> bool {
    match change {
        Change::MountAdded(m) | Change::MountRemoved(m) => ours.owns_mount(m),
        Change::LinkAdded(name)
        | Change::LinkRemoved(name)
        | Change::LinkCameAndWent(name)
        | Change::LinkFlags { name, .. } => ours.owns_link(name),
        Change::CgroupAdded(g) | Change::CgroupRemoved(g) => ours.owns_group(&g.path),
        Change::Hostname { .. } => ours.reached_hostname().is_some(),
    }
}

/// Undoes a change this run made, where we know how: a mount is unmounted, a tun device
/// deleted (see links::remove_leaked), a group emptied and removed.
fn undo(change: &Change) -> bool {
    match change {
        Change::MountAdded(m) => {
            nix::mount::umount2(m.mount_point.as_str(), nix::mount::MntFlags::MNT_DETACH).is_ok()
        }
        Change::LinkAdded(name) => crate::links::remove_leaked(name),
        // Set where the guard read it: in the checker's own UTS namespace.
        Change::Hostname { before, .. } => nix::unistd::sethostname(before).is_ok(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_files_on_the_cgroup_tmpfs_named_after_the_run_are_removed_the_rest_noted() {
        let root = tempfile::tempdir().unwrap();
        let at = |p: &str| root.path().join(p);
        let before_paths = vec![at("kept")];
        std::fs::create_dir(at("kept")).unwrap();
        let ours_dir = "rubber-crab-checker/77-5f1e2d3c4b5a/containers/0a1b2c3d4e5f";
        std::fs::create_dir_all(at(ours_dir)).unwrap();
        std::fs::write(at(&format!("{ours_dir}/cpu.max")), "50000 100000").unwrap();
        std::fs::create_dir_all(at("someone-else/x")).unwrap();
        let mut before = state("", "h", &[]);
        before.cgroup_tmpfs = before_paths;
        let mut after = state("", "h", &[]);
        after.cgroup_tmpfs = crate::cgroups::entries_below(root.path(), &[], 8);
        let ids = ["0a1b2c3d4e5f".to_string()];
        let nonces = ["5f1e2d3c4b5a".to_string()];
        let ours = Ours {
            work: std::path::Path::new("/nowhere"),
            ids: &ids,
            nonces: &nonces,
            reached: &[],
        };
        let (said, foreign) = tmpfs_changes(&before, &after, &ours);
        let said = said.unwrap();
        assert!(
            said.contains("plain directories and files there, not groups"),
            "{said}"
        );
        assert!(said.contains("0a1b2c3d4e5f/cpu.max"), "{said}");
        assert!(said.ends_with("(the checker undid it)"), "{said}");
        assert!(
            !at("rubber-crab-checker").exists(),
            "what only led to ours is gone"
        );
        assert!(at("kept").exists() && at("someone-else/x").exists());
        assert_eq!(
            foreign,
            [
                at("someone-else").display().to_string(),
                at("someone-else/x").display().to_string()
            ]
        );
        // Nothing new: nothing said.
        assert_eq!(tmpfs_changes(&before, &before, &ours), (None, Vec::new()));
    }

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
            cgroup_tmpfs: Vec::new(),
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
                "the container's group was created at /rubber-crab/3f2a (memory), not under the --cgroup-parent the checker passed (a container's group is <cgroup-parent>/<id>), and left on the host",
                "the host's hostname changed from \"vm\" to \"box\"",
            ]
        );
    }

    fn group(path: &str) -> cgroups::RuntimeGroup {
        cgroups::RuntimeGroup {
            hierarchy: "memory".into(),
            path: path.into(),
            dir: std::path::Path::new("/sys/fs/cgroup/memory").join(path),
        }
    }

    fn mount_on(point: &str) -> mounts::Mount {
        mounts::parse(&format!("99 22 0:50 / {point} rw - tmpfs tmpfs rw\n"))
            .pop()
            .unwrap()
    }

    const WORK: &str = "/w/target/rubber-crab/checker/run-10";
    const ID: &str = "3f2a91c07b1e";
    const NONCE: &str = "0badc0ffee42";

    fn ours_blames(change: &Change) -> bool {
        let (ids, nonces) = ([ID.to_string()], [NONCE.to_string()]);
        let ours = Ours {
            work: std::path::Path::new(WORK),
            ids: &ids,
            nonces: &nonces,
            reached: &[],
        };
        attributable(change, &ours)
    }

    #[test]
    fn groups_are_ours_only_when_named_by_this_runs_container_ids() {
        let added = |path: &str| ours_blames(&Change::CgroupAdded(group(path)));
        assert!(added("rubber-crab/3f2a91c07b1e"));
        assert!(added("rubber-crab/3f2a91c07b1e/init"), "below it");
        assert!(
            !added("rubber-crab/9eff00112233"),
            "another engine's container"
        );
        assert!(!added("rubber-crab/3f2a91c07b1e0"), "only the whole id");
        assert!(!added("rubber-crab/left-3f2a91c07b1e"), "only the whole id");
        assert!(!added("docker/3f2a91c07b1e"), "not under rubber-crab/");
        assert!(!ours_blames(&Change::CgroupRemoved(group(
            "rubber-crab/9eff00112233"
        ))));
    }

    #[test]
    fn mounts_are_ours_under_the_work_dir_or_named_after_our_ids_and_nonces() {
        let added = |point: &str| ours_blames(&Change::MountAdded(mount_on(point)));
        assert!(added(&format!("{WORK}/L0.x-0")), "over a check's dir");
        assert!(added(WORK), "over the work dir itself");
        assert!(added("/var/lib/x/containers/3f2a91c07b1e/rootfs"));
        assert!(added("/rc-tmpfs-0badc0ffee42"), "named after a nonce");
        assert!(!added("/tmp/rcnoise1/m3"), "someone else's");
        assert!(
            !added("/scratch/containers/9eff00112233/rootfs"),
            "another engine's overlay"
        );
        assert!(
            !added("/w/target/rubber-crab/checker/run-11/L0.x-0"),
            "another checker's"
        );
        assert!(
            !added("/w/target/rubber-crab/checker"),
            "above the work dir"
        );
        assert!(!ours_blames(&Change::MountRemoved(mount_on("/mnt/usb"))));
    }

    #[test]
    fn links_are_ours_when_named_after_our_ids_even_shortened() {
        let added = |name: &str| ours_blames(&Change::LinkAdded(name.into()));
        assert!(added("rcleak3f2a91c0"), "the first 8 characters");
        assert!(added("3f2a91c07b1e"));
        assert!(ours_blames(&Change::LinkCameAndWent("veth3f2a91c0".into())));
        assert!(!added("rcleak3f2a91"), "fewer than 8 characters");
        assert!(!added("docker0"));
        assert!(!added("rcnoise7"));
        assert!(!ours_blames(&Change::LinkFlags {
            name: "eth0".into(),
            before: "0x1003".into(),
            after: "0x1002".into()
        }));
    }

    #[test]
    fn the_hosts_hostname_is_never_the_runtimes() {
        assert!(!ours_blames(&Change::Hostname {
            before: "vm".into(),
            after: "box".into()
        }));
    }

    #[test]
    fn what_a_process_of_the_run_did_in_the_checkers_namespaces_is_the_runs() {
        use crate::reach::{Act, Reached};
        let by = |act: Act| Reached {
            pid: 4242,
            comm: "nsenter".into(),
            act,
        };
        let reached = [by(Act::Hostname), by(Act::Mount("/mnt".into()))];
        let (ids, nonces) = ([ID.to_string()], Vec::new());
        let ours = Ours {
            work: std::path::Path::new(WORK),
            ids: &ids,
            nonces: &nonces,
            reached: &reached,
        };
        let hostname = Change::Hostname {
            before: "vm".into(),
            after: "pwned".into(),
        };
        assert!(attributable(&hostname, &ours));
        assert!(attributable(&Change::MountAdded(mount_on("/mnt")), &ours));
        assert!(!attributable(&Change::MountAdded(mount_on("/srv")), &ours));
        let said = who_reached(&hostname, &ours).unwrap().describe();
        assert!(
            said.starts_with(
                "pid 4242 (nsenter), a process of this run, joined the checker's own UTS namespace"
            ),
            "{said}"
        );
        // Without such a call, the hostname is someone else's.
        let none = Ours {
            reached: &[],
            ..ours
        };
        assert!(!attributable(&hostname, &none));
    }

    #[test]
    fn short_ids_are_matched_whole_only() {
        let (ids, nonces) = (["ab".to_string()], Vec::new());
        let ours = Ours {
            work: std::path::Path::new(WORK),
            ids: &ids,
            nonces: &nonces,
            reached: &[],
        };
        assert!(ours.owns_path("/c/ab/rootfs"));
        assert!(!ours.owns_path("/c/abc/rootfs"));
        assert!(!ours.owns_link("tab0"));
    }

    #[test]
    fn someone_elses_changes_are_noted_by_kind() {
        let foreign = [
            Change::MountAdded(mount_on("/tmp/rcnoise1/m3")),
            Change::CgroupAdded(group("rubber-crab/9eff00112233")),
            Change::LinkAdded("docker0".into()),
        ];
        assert_eq!(
            note(&foreign).unwrap(),
            "the host's mount table changed during this check: tmpfs on /tmp/rcnoise1/m3 appeared on the host; not counted against your runtime (not under the checker's directory, not named after its containers)\n\
             the host's network links changed during this check: network link docker0 appeared on the host; not counted against your runtime (not under the checker's directory, not named after its containers)\n\
             the host's rubber-crab/ cgroups changed during this check: cgroup rubber-crab/9eff00112233 (memory) appeared on the host; not counted against your runtime (not under the checker's directory, not named after its containers)"
        );
        assert_eq!(note(&[]), None);
    }

    #[test]
    fn a_link_that_came_and_went_is_seen() {
        let before = state(ROOT, "vm", &[("lo", "0x9")]);
        let after = state(ROOT, "vm", &[("lo", "0x9"), ("veth1", "0x1002")]);
        let announced = ["lo", "veth1", "rcleak3f2a91c0", "rcleak3f2a91c0"].map(String::from);
        assert_eq!(
            links_come_and_gone(&before, &after, &announced),
            [Change::LinkCameAndWent("rcleak3f2a91c0".into())]
        );
    }
}
