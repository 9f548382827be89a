//! Where a container's cgroup lives, and reading and writing its files with narration.
//!
//! Creating the group, attaching the container to it, writing its limits and removing it are
//! the levels' own code; this module only answers "which directory?" and turns a refused write
//! into a sentence.
//!
//! - **v2** (`/sys/fs/cgroup` is a cgroup2 filesystem): one tree; every controller a group uses
//!   must be enabled in its parent's `cgroup.subtree_control`.
//! - **v1**: one hierarchy per controller (or per comounted set, like `cpu,cpuacct`), each
//!   mounted where `/proc/self/mountinfo` says. On a hybrid host the v2 tree at
//!   `/sys/fs/cgroup/unified` holds no controllers: the v1 hierarchies are the ones to use.
//!
//! This is how runc decides (`libcontainer/cgroups/utils.go`, `IsCgroup2UnifiedMode`: the statfs
//! magic of `/sys/fs/cgroup`).

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use std::path::{Component, Path, PathBuf};

/// Where cgroup filesystems are mounted on every distribution (and where runc looks).
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The host's cgroup layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// One unified tree, mounted at its root.
    V2 { root: PathBuf },
    /// One hierarchy per controller set: `(controllers, mount point)`.
    V1 {
        hierarchies: Vec<(Vec<String>, PathBuf)>,
    },
}

impl Layout {
    /// The layout of this host: v2 when `/sys/fs/cgroup` is a cgroup2 filesystem (statfs(2)
    /// f_type CGROUP2_SUPER_MAGIC), else the v1 hierarchies in `/proc/self/mountinfo`.
    pub fn detect() -> Result<Layout> {
        let root = Path::new(CGROUP_ROOT);
        let fs = nix::sys::statfs::statfs(root).map_err(|e| {
            anyhow::anyhow!("statfs({CGROUP_ROOT}) failed: {e}: is cgroupfs mounted?")
        })?;
        if fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC {
            crate::explain!("statfs({CGROUP_ROOT:?}) = CGROUP2_SUPER_MAGIC  # cgroup v2: one tree");
            return Ok(Layout::V2 { root: root.into() });
        }
        crate::explain!(
            "statfs({CGROUP_ROOT:?}) ≠ CGROUP2_SUPER_MAGIC  # cgroup v1: see mountinfo"
        );
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
            .context("reading /proc/self/mountinfo")?;
        Ok(Layout::v1_from_mountinfo(&mountinfo))
    }

    /// The v1 hierarchies of a mount table: its mounts of type `cgroup`, named by the controllers
    /// in their super options (`rw,cpu,cpuacct`).
    pub fn v1_from_mountinfo(mountinfo: &str) -> Layout {
        let mut hierarchies: Vec<(Vec<String>, PathBuf)> = Vec::new();
        for line in mountinfo.lines() {
            let Some((mount, fs)) = line.split_once(" - ") else {
                continue;
            };
            let mut fs = fs.split(' ');
            let (fstype, options) = (fs.next(), fs.nth(1));
            let Some(mount_point) = mount.split(' ').nth(4) else {
                continue;
            };
            if fstype != Some("cgroup") {
                continue;
            }
            let controllers: Vec<String> = options
                .unwrap_or_default()
                .split(',')
                .filter(|o| is_v1_controller(o))
                .map(String::from)
                .collect();
            // A hierarchy mounted twice is still one hierarchy: keep its first mount point.
            if !controllers.is_empty() && !hierarchies.iter().any(|(c, _)| *c == controllers) {
                hierarchies.push((controllers, PathBuf::from(unescape(mount_point))));
            }
        }
        Layout::V1 { hierarchies }
    }

    pub fn is_v2(&self) -> bool {
        matches!(self, Layout::V2 { .. })
    }

    /// The root of the tree (v2) or of the hierarchy (v1) that holds `controller`.
    pub fn root_of(&self, controller: &str) -> Result<&Path> {
        match self {
            Layout::V2 { root } => Ok(root),
            Layout::V1 { hierarchies } => hierarchies
                .iter()
                .find(|(controllers, _)| controllers.iter().any(|c| c == controller))
                .map(|(_, mount_point)| mount_point.as_path())
                .with_context(|| {
                    format!(
                        "no cgroup v1 hierarchy holds the {controller} controller here \
                         (see /proc/cgroups and `grep cgroup /proc/self/mountinfo`)"
                    )
                }),
        }
    }
}

/// The v1 controllers, as /proc/cgroups names them: a v1 mount's super options list those it
/// holds among `rw`, `relatime`, `name=systemd`, ….
pub const V1_CONTROLLERS: &[&str] = &[
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

fn is_v1_controller(option: &str) -> bool {
    V1_CONTROLLERS.contains(&option)
}

/// mountinfo escapes space, tab, newline and backslash as `\040`-style octal (proc(5)).
fn unescape(field: &str) -> String {
    let mut out = Vec::with_capacity(field.len());
    let bytes = field.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            let text = std::str::from_utf8(d).ok()?;
            u8::from_str_radix(text, 8).ok()
        });
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A container's group, `<parent>/<id>`, relative to each hierarchy's root: where it is, not
/// whether it exists.
#[derive(Debug, Clone)]
pub struct Cgroup {
    pub layout: Layout,
    /// `<--cgroup-parent>/<container id>`, relative (a leading `/` is dropped, as Docker does).
    pub path: PathBuf,
    /// The controllers this group uses: `cpu`, `memory`, `pids`.
    pub controllers: Vec<&'static str>,
}

impl Cgroup {
    /// The group `<parent>/<id>` for `controllers`, on this host's layout. A parent that climbs
    /// out (`..`) is bad input.
    pub fn new(parent: &Path, id: &str, controllers: &[&'static str]) -> Result<Cgroup> {
        let relative: PathBuf = parent
            .components()
            .filter(|c| !matches!(c, Component::RootDir | Component::CurDir))
            .collect();
        if relative.components().any(|c| c == Component::ParentDir) {
            bail!(crate::BadInput(format!(
                "--cgroup-parent {}: `..` would leave the cgroup tree; give a path like rubber-crab",
                parent.display()
            )));
        }
        let layout = Layout::detect()?;
        for controller in controllers {
            layout.root_of(controller)?;
        }
        Ok(Cgroup {
            layout,
            path: relative.join(id),
            controllers: controllers.to_vec(),
        })
    }

    /// The parent, relative to each hierarchy's root.
    pub fn parent(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new(""))
    }

    /// The group's directory in the hierarchy that holds `controller`.
    pub fn dir(&self, controller: &str) -> Result<PathBuf> {
        Ok(self.layout.root_of(controller)?.join(&self.path))
    }

    /// The group's directories, each once (v2: one; v1: one per hierarchy used, and `cpu` and
    /// `cpuacct` may share one).
    pub fn dirs(&self) -> Result<Vec<PathBuf>> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        for controller in &self.controllers {
            let dir = self.dir(controller)?;
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        Ok(dirs)
    }
}

/// Writes `value` to the cgroup file `dir/file`, narrated (`echo VALUE > FILE  # why`), with an
/// error that names the file, the value and, where we know it, what to do.
pub fn write_file(dir: &Path, file: &str, value: &str, why: &str) -> Result<()> {
    let path = dir.join(file);
    crate::explain!("echo {value:?} > {}  # {why}", path.display());
    std::fs::write(&path, value).map_err(|e| {
        let errno = Errno::from_raw(e.raw_os_error().unwrap_or(0));
        // The group is there but not the file: a name from the other cgroup version.
        let missing = dir.is_dir() && path.symlink_metadata().is_err();
        let advice = write_advice(file, errno, missing.then(host_is_v2))
            .map(|a| format!(" — {a}"))
            .unwrap_or_default();
        anyhow::anyhow!(
            "writing {value:?} to {} failed: {errno:?} ({}){advice}",
            path.display(),
            errno.desc()
        )
    })
}

/// Reads the cgroup file `dir/file`.
pub fn read_file(dir: &Path, file: &str) -> Result<String> {
    let path = dir.join(file);
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

/// The value of `key` in a flat-keyed cgroup file such as `memory.events` (`oom_kill 1`).
pub fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .filter_map(|line| line.split_once(' '))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.trim().parse().ok())
}

/// Whether `/sys/fs/cgroup` is the v2 tree (else v1 or hybrid), without narrating.
fn host_is_v2() -> bool {
    nix::sys::statfs::statfs(CGROUP_ROOT)
        .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

/// The same limit's file in the other cgroup version: (v2 name, v1 name).
const SAME_LIMIT: &[(&str, &str)] = &[
    ("cpu.max", "cpu.cfs_quota_us (and cpu.cfs_period_us)"),
    ("cpu.weight", "cpu.shares"),
    ("memory.max", "memory.limit_in_bytes"),
    ("memory.swap.max", "memory.memsw.limit_in_bytes"),
    ("memory.events", "memory.oom_control"),
];

/// What to do about a refused write to a cgroup file. Only advice we are sure of. `missing`:
/// the group exists but the file does not, and whether this host is v2 (cgroupfs refuses to
/// create a file, with EACCES even for root).
fn write_advice(file: &str, errno: Errno, missing: Option<bool>) -> Option<String> {
    if let Some(v2) = missing {
        return Some(missing_file_advice(file, v2));
    }
    Some(match (file, errno) {
        ("cgroup.subtree_control", Errno::EBUSY) => "a v2 group with processes in it cannot enable controllers for children (the no-internal-processes rule): move its processes into a leaf group first",
        ("cgroup.subtree_control", Errno::ENOENT) => "that controller is not available here: is it in the parent's cgroup.subtree_control (and the root's cgroup.controllers)?",
        ("cgroup.procs", Errno::EBUSY) => "on v2 a process may only join a leaf group: this group has child groups with controllers enabled",
        ("cgroup.procs", Errno::ESRCH) => "that process is gone (did the child exit before it was attached?)",
        ("cgroup.procs", Errno::EOPNOTSUPP) => "the group is in threaded mode: write to cgroup.threads instead, or use a domain group",
        ("memory.memsw.limit_in_bytes", Errno::EINVAL) => "memory plus swap may never be below the memory limit, and a new group's memory limit is unlimited: write memory.limit_in_bytes first, then memsw (≥ it)",
        (_, Errno::ENOENT) => "no such file: the group does not exist, or its controller is not enabled for it (v2: is it in the parent's cgroup.subtree_control?)",
        (_, Errno::EINVAL) => "the kernel refused that value: check its unit and range in the kernel's cgroup documentation",
        (_, Errno::EBUSY) => "the value conflicts with the group's current state (a memory limit below what it already uses?)",
        (_, Errno::EACCES | Errno::EPERM) => "writing cgroup files needs root, or a delegated group (systemd Delegate=yes)",
        _ => return None,
    }.to_string())
}

/// The group exists, the file does not: a name from the other version, a controller not
/// enabled (v2), or a file no version has.
fn missing_file_advice(file: &str, v2: bool) -> String {
    let same = SAME_LIMIT.iter().find_map(|&(two, one)| match v2 {
        true if one.split(' ').next() == Some(file) => Some(two),
        false if two == file => Some(one),
        _ => None,
    });
    let is_v2_name = SAME_LIMIT.iter().any(|&(two, _)| two == file);
    match (v2, same) {
        (true, Some(name)) => format!("there is no {file} in a group here: this host has cgroup v2 (one tree at {CGROUP_ROOT}), where that limit is {name}"),
        (false, Some(name)) => format!("there is no {file} in a group here: this host has cgroup v1 (or hybrid: v1 controllers, a v2 tree without them), one hierarchy per controller as in {CGROUP_ROOT}/cpu/<parent>/<id>/, where that limit is {name}"),
        (true, None) if is_v2_name || file.starts_with("cpu.") || file.starts_with("memory.") || file.starts_with("pids.") => format!("there is no {file} in that group: on cgroup v2 a controller's files appear only once the parent enables it (+cpu, +memory, +pids in the parent's cgroup.subtree_control)"),
        (true, None) => format!("there is no {file} in that group on this host's cgroup v2 (ls the group's directory for the files it has)"),
        (false, None) => format!("there is no {file} in that group on this host's cgroup v1 hierarchy (ls the group's directory for the files it has; pids.max is the process limit)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
25 24 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd
30 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
32 25 0:28 / /mnt/again\\040here rw,nosuid - cgroup cgroup rw,memory
33 25 0:29 / /mnt/pids\\040x rw,nosuid - cgroup cgroup rw,pids
";

    #[test]
    fn v1_hierarchies_come_from_cgroup_mounts_by_controller() {
        let layout = Layout::v1_from_mountinfo(HYBRID);
        assert!(!layout.is_v2());
        let cpu = layout.root_of("cpu").unwrap();
        assert_eq!(cpu, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(layout.root_of("cpuacct").unwrap(), cpu);
        // Mounted twice: the first mount point.
        assert_eq!(
            layout.root_of("memory").unwrap(),
            Path::new("/sys/fs/cgroup/memory")
        );
        assert_eq!(layout.root_of("pids").unwrap(), Path::new("/mnt/pids x"));
        let err = layout.root_of("rdma").unwrap_err().to_string();
        assert!(
            err.contains("no cgroup v1 hierarchy holds the rdma controller"),
            "{err}"
        );
    }

    #[test]
    fn dirs_are_each_hierarchys_root_joined_with_parent_and_id() {
        let cgroup = Cgroup {
            layout: Layout::v1_from_mountinfo(HYBRID),
            path: PathBuf::from("cage/containers/abc"),
            controllers: vec!["cpu", "cpuacct", "memory"],
        };
        assert_eq!(
            cgroup.dirs().unwrap(),
            [
                PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/cage/containers/abc"),
                PathBuf::from("/sys/fs/cgroup/memory/cage/containers/abc"),
            ]
        );
        assert_eq!(cgroup.parent(), Path::new("cage/containers"));
        let v2 = Cgroup {
            layout: Layout::V2 {
                root: CGROUP_ROOT.into(),
            },
            ..cgroup
        };
        assert_eq!(
            v2.dirs().unwrap(),
            [PathBuf::from("/sys/fs/cgroup/cage/containers/abc")]
        );
    }

    #[test]
    fn keyed_files_are_read_by_key() {
        let events = "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n";
        assert_eq!(keyed(events, "oom_kill"), Some(1));
        assert_eq!(keyed(events, "oom"), Some(1));
        assert_eq!(keyed("oom_kill_disable 0\nunder_oom 0\n", "oom_kill"), None);
    }

    #[test]
    fn a_missing_file_names_the_host_s_layout_and_its_file() {
        let on_v1 = write_advice("cpu.max", Errno::EACCES, Some(false)).unwrap();
        assert!(on_v1.contains("there is no cpu.max"), "{on_v1}");
        assert!(on_v1.contains("cgroup v1 (or hybrid"), "{on_v1}");
        assert!(on_v1.contains("cpu.cfs_quota_us"), "{on_v1}");
        assert!(!on_v1.contains("needs root"), "{on_v1}");
        let on_v2 = write_advice("cpu.shares", Errno::EACCES, Some(true)).unwrap();
        assert!(
            on_v2.contains("cgroup v2") && on_v2.contains("cpu.weight"),
            "{on_v2}"
        );
        let wrong = write_advice("pids.limit", Errno::EACCES, Some(false)).unwrap();
        assert!(
            wrong.contains("no pids.limit") && wrong.contains("pids.max"),
            "{wrong}"
        );
        let not_enabled = write_advice("pids.max", Errno::ENOENT, Some(true)).unwrap();
        assert!(not_enabled.contains("subtree_control"), "{not_enabled}");
        // A file that is there, refused: the old advice.
        let denied = write_advice("cpu.max", Errno::EACCES, None).unwrap();
        assert!(denied.contains("needs root"), "{denied}");
    }

    #[test]
    fn memsw_below_memory_says_to_write_the_memory_limit_first() {
        let advice = write_advice("memory.memsw.limit_in_bytes", Errno::EINVAL, None).unwrap();
        assert!(
            advice.contains("write memory.limit_in_bytes first"),
            "{advice}"
        );
    }

    #[test]
    fn a_refused_write_names_the_file_the_value_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_file(&dir.path().join("gone"), "cpu.max", "50000 100000", "x").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("writing \"50000 100000\" to "), "{msg}");
        assert!(msg.contains("cpu.max failed: ENOENT"), "{msg}");
        assert!(msg.contains("cgroup.subtree_control"), "{msg}");
    }
}
