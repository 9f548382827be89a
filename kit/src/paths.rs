//! Default locations: everything lives under `target/rubber-crab/` in this workspace, so a
//! `cargo clean` resets the workshop and nothing is written elsewhere on the host.
//! `RUBBER_CRAB_HOME` moves it.

use std::path::PathBuf;

/// `$RUBBER_CRAB_HOME`, or `<workspace>/target/rubber-crab`.
pub fn home() -> PathBuf {
    match std::env::var_os("RUBBER_CRAB_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_root().join("target/rubber-crab"),
    }
}

/// The workspace this kit was built in.
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
