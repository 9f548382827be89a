//! Container ids and their state directories.
//!
//! A runtime that dies (`kill -9`) cannot clean up after itself, so the next one does: each
//! container dir holds a `lock` file that its runtime keeps locked (flock(2)) for as long as it
//! lives. The kernel drops the lock when the last descriptor of it closes, when the process dies
//! however it dies: a dir whose lock can be taken belongs to a dead runtime. That holds across
//! PID namespaces and pid reuse (no pid is recorded), and it never names anything this contract
//! did not make: a dir without a `lock` is not ours, and is left alone.

use crate::BadInput;
use anyhow::{Context, Result};
use nix::fcntl::{Flock, FlockArg};
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The file in each container dir that its runtime holds locked while it lives.
pub const LOCK: &str = "lock";

/// One container's state: `<container-dir>/<id>/`.
#[derive(Debug)]
pub struct Container {
    pub id: String,
    pub dir: PathBuf,
    /// `<dir>/lock`, locked: dropped (closed) when the runtime exits or dies. Opened close-on-exec,
    /// so the command never holds it.
    _lock: Flock<fs::File>,
}

impl Container {
    /// Removes what dead runtimes left in `--container-dir` ([`remove_dead`]), then picks a fresh
    /// id and creates `<container-dir>/<id>/`, its lock held.
    pub fn create(args: &crate::RunArgs) -> Result<Container> {
        let container_dir = args.container_dir();
        fs::create_dir_all(&container_dir).map_err(|e| {
            BadInput(format!(
                "cannot create the container dir {}: {e}",
                container_dir.display()
            ))
        })?;
        remove_dead(&container_dir);
        let id = new_id()?;
        // Made under a hidden name and renamed once locked: no other runtime ever sees the dir
        // with its lock free.
        let tmp = container_dir.join(format!(".{id}.new"));
        fs::create_dir(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let file = fs::File::create(tmp.join(LOCK))
            .with_context(|| format!("creating {}/{LOCK}", tmp.display()))?;
        let mut lock = Flock::lock(file, FlockArg::LockExclusiveNonblock)
            .map_err(|(_, errno)| errno)
            .with_context(|| format!("locking {}/{LOCK}", tmp.display()))?;
        // Where its groups will be, for whoever removes them if this runtime dies.
        let parent = args.cgroup_parent.to_string_lossy();
        writeln!(lock, "cgroup-parent {parent}")?;
        let dir = container_dir.join(&id);
        fs::rename(&tmp, &dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Container {
            id,
            dir,
            _lock: lock,
        })
    }

    /// Where the container's root filesystem goes.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// Deletes the container's directory, never crossing into a mount point: if a mount leaked
    /// (a `/proc` or a bind mount still mounted under the rootfs), deleting through it could
    /// delete the host's files. Such mounts are left alone and named in the error.
    pub fn remove(&self) -> Result<()> {
        remove_dir_on_one_filesystem(&self.dir)
    }
}

/// Removes each container in `container_dir` whose runtime is dead (its lock can be taken): its
/// groups (`<cgroup-parent>/<id>` in each hierarchy, if empty) and its dir, saying so in one line
/// each on stderr. Nothing else: a dir without a lock, or whose lock is held, is left alone.
pub fn remove_dead(container_dir: &Path) {
    let Ok(entries) = fs::read_dir(container_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let id = entry.file_name().to_string_lossy().into_owned();
        if !is_id(&id) {
            continue;
        }
        let dir = entry.path();
        let Some(lock) = dead_runtimes_lock(&dir) else {
            continue;
        };
        let program = crate::program_name();
        let mut what = vec![format!("its dir {}", dir.display())];
        let groups = remove_dead_groups(&lock, &id);
        if !groups.is_empty() {
            what.push(format!("its groups {}", groups.join(", ")));
        }
        let what = what.join(" and ");
        match remove_dir_on_one_filesystem(&dir) {
            Ok(()) => eprintln!("{program}: container {id}'s runtime died: removed {what}"),
            Err(err) => eprintln!("{program}: container {id}'s runtime died: warning: {err:#}"),
        }
        drop(lock);
    }
}

/// `<dir>/lock`, locked by us, if no live runtime holds it.
fn dead_runtimes_lock(dir: &Path) -> Option<Flock<fs::File>> {
    let file = fs::File::open(dir.join(LOCK)).ok()?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock).ok()
}

/// rmdirs the dead container's group in each hierarchy, below the parent its lock names: only
/// an empty group goes (rmdir refuses one with processes). Returns the groups removed.
fn remove_dead_groups(mut lock: &fs::File, id: &str) -> Vec<String> {
    let mut text = String::new();
    let _ = lock.read_to_string(&mut text);
    let Some(parent) = text.lines().find_map(|l| l.strip_prefix("cgroup-parent ")) else {
        return Vec::new();
    };
    let parent = parent.trim_start_matches('/');
    let Ok(layout) = crate::cgroup::Layout::detect() else {
        return Vec::new();
    };
    let roots: Vec<PathBuf> = match layout {
        crate::cgroup::Layout::V2 { root } => vec![root],
        crate::cgroup::Layout::V1 { hierarchies } => {
            hierarchies.into_iter().map(|(_, root)| root).collect()
        }
    };
    roots
        .into_iter()
        .map(|root| root.join(parent).join(id))
        .filter(|group| group.is_dir() && fs::remove_dir(group).is_ok())
        .map(|group| group.display().to_string())
        .collect()
}

/// Whether `name` is a container id: 12 hex digits ([`new_id`]).
fn is_id(name: &str) -> bool {
    name.len() == 12 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// 12 random hex digits, like a short Docker id.
pub fn new_id() -> Result<String> {
    let mut bytes = [0u8; 6];
    fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// `rm -rf --one-file-system`: removes `dir`, skipping anything on another filesystem.
pub fn remove_dir_on_one_filesystem(dir: &Path) -> Result<()> {
    let dev = match fs::symlink_metadata(dir) {
        Ok(meta) => meta.dev(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("inspecting {}", dir.display())),
    };
    let mut skipped = Vec::new();
    remove_tree(dir, dev, &mut skipped)?;
    if !skipped.is_empty() {
        let list: Vec<_> = skipped.iter().map(|p| p.display().to_string()).collect();
        anyhow::bail!(
            "left {} in place: still mounted (unmount it, then delete it)",
            list.join(", ")
        );
    }
    Ok(())
}

fn remove_tree(path: &Path, dev: u64, skipped: &mut Vec<PathBuf>) -> Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.dev() != dev {
        skipped.push(path.to_path_buf());
        return Ok(());
    }
    if meta.is_dir() {
        for entry in fs::read_dir(path)? {
            remove_tree(&entry?.path(), dev, skipped)?;
        }
        if skipped.iter().all(|s| !s.starts_with(path)) {
            fs::remove_dir(path).with_context(|| format!("removing {}", path.display()))?;
        }
    } else {
        fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_twelve_hex_digits_and_fresh() {
        let a = new_id().unwrap();
        assert_eq!(a.len(), 12);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, new_id().unwrap());
    }

    fn args_for(container_dir: &Path) -> crate::RunArgs {
        use clap::Parser;
        let dir = container_dir.to_str().unwrap();
        let argv = [
            "rt",
            "run",
            "--container-dir",
            dir,
            "--cgroup-parent",
            "x",
            "true",
        ];
        match crate::cli::Cli::parse_from(argv).command {
            crate::cli::Command::Run(args) => args,
        }
    }

    #[test]
    fn a_container_gets_its_own_dir_and_removes_it() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Container::create(&args_for(tmp.path())).unwrap();
        assert_eq!(c.dir, tmp.path().join(&c.id));
        fs::create_dir_all(c.rootfs().join("bin")).unwrap();
        fs::write(c.rootfs().join("bin/x"), "x").unwrap();
        std::os::unix::fs::symlink("/etc", c.rootfs().join("etc")).unwrap();
        c.remove().unwrap();
        assert!(!c.dir.exists());
        assert!(
            Path::new("/etc").exists(),
            "removal must not follow symlinks"
        );
    }

    #[test]
    fn a_dead_runtimes_container_is_removed_by_the_next_and_a_live_ones_is_not() {
        let tmp = tempfile::tempdir().unwrap();
        let args = args_for(tmp.path());
        let live = Container::create(&args).unwrap();
        let dead = Container::create(&args).unwrap();
        fs::create_dir_all(dead.rootfs().join("bin")).unwrap();
        assert_eq!(
            fs::read_to_string(dead.dir.join(LOCK)).unwrap(),
            "cgroup-parent x\n"
        );
        // Dropping it closes the lock, as the runtime's death would.
        let dead_dir = dead.dir.clone();
        drop(dead);
        // Not ours: no lock, or not an id.
        let foreign = [tmp.path().join("0123456789ab"), tmp.path().join("other")];
        for dir in &foreign {
            fs::create_dir(dir).unwrap();
        }
        fs::write(tmp.path().join("other").join(LOCK), "").unwrap();
        let next = Container::create(&args).unwrap();
        assert!(!dead_dir.exists(), "the dead runtime's dir is removed");
        assert!(live.dir.join(LOCK).exists(), "a live runtime's dir is kept");
        assert!(next.dir.exists());
        for dir in &foreign {
            assert!(dir.exists(), "{} is not ours: kept", dir.display());
        }
        // Nothing half-made is left: only the ids and the foreign dirs.
        let names: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 4, "{names:?}");
    }
}
