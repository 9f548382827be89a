//! Default locations: everything lives under `target/rubber-crab/` in this workspace, so a
//! `cargo clean` resets the workshop and nothing is written elsewhere on the host.
//! `RUBBER_CRAB_HOME` moves it. A user who cannot write there (a checkout that root built, used
//! with `checker --rootless`) gets a directory of their own instead: `$XDG_CACHE_HOME/rubber-crab`,
//! `~/.cache/rubber-crab`, or `/tmp/rubber-crab-<uid>`, whichever they can write first.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// `$RUBBER_CRAB_HOME`, or `<workspace>/target/rubber-crab`, or (when this user cannot write
/// there) a cache directory of their own.
pub fn home() -> PathBuf {
    match std::env::var_os("RUBBER_CRAB_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => {
            let in_workspace = workspace_root().join("target/rubber-crab");
            if can_write(&in_workspace) {
                in_workspace
            } else {
                users_own_home()
            }
        }
    }
}

/// Whether this user can create or write `dir`: the nearest part of it that exists is writable.
pub fn can_write(dir: &Path) -> bool {
    dir.ancestors()
        .find(|p| p.exists())
        .is_some_and(|p| nix::unistd::access(p, nix::unistd::AccessFlags::W_OK).is_ok())
}

/// A directory this user owns for caches and scratch space.
fn users_own_home() -> PathBuf {
    let xdg = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from);
    let home_cache = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache"));
    for base in [xdg, home_cache].into_iter().flatten() {
        if base.is_absolute() && can_write(&base) {
            return base.join("rubber-crab");
        }
    }
    // /tmp is shared: the directory is created private, and only used when it is ours.
    let uid = nix::unistd::getuid();
    let dir = std::env::temp_dir().join(format!("rubber-crab-{uid}"));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    if owned_private_dir(&dir, uid.as_raw()) {
        return dir;
    }
    // Someone else made it (or a link by that name): use a fresh one for this process.
    let fresh = std::env::temp_dir().join(format!("rubber-crab-{uid}-{}", std::process::id()));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&fresh);
    fresh
}

/// A real directory (not a link), owned by `uid`, that no one else can write.
fn owned_private_dir(dir: &Path, uid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(dir)
        .is_ok_and(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o022 == 0)
}

/// The workspace this kit was built in: the one place it is found (the checker, its tests and
/// xtask ask here).
pub fn workspace_root() -> PathBuf {
    // kit/ sits directly under the workspace root.
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

pub fn default_image_dir() -> PathBuf {
    home().join("images")
}

pub fn default_container_dir() -> PathBuf {
    home().join("containers")
}
