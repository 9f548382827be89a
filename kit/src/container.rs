//! Container ids and their state directories.

use crate::BadInput;
use anyhow::{Context, Result};
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// One container's state: `<container-dir>/<id>/`.
#[derive(Debug)]
pub struct Container {
    pub id: String,
    pub dir: PathBuf,
}

impl Container {
    /// Picks a fresh id and creates `<container_dir>/<id>/`.
    pub fn create(container_dir: &Path) -> Result<Container> {
        fs::create_dir_all(container_dir).map_err(|e| {
            BadInput(format!(
                "cannot create the container dir {}: {e}",
                container_dir.display()
            ))
        })?;
        let id = new_id()?;
        let dir = container_dir.join(&id);
        fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Container { id, dir })
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

    #[test]
    fn a_container_gets_its_own_dir_and_removes_it() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Container::create(tmp.path()).unwrap();
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
}
