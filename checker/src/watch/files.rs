//! Which of the level's files count: its `Cargo.toml` and what is under `src/`, without editor
//! litter and build output.

use std::ffi::OsStr;
use std::path::Path;

/// Whether a change to `relative` (a path inside the level's directory) should re-run the checks:
/// the level's `Cargo.toml` and what is under `src/`, but no editor litter and no build output.
pub fn is_watched(relative: &Path) -> bool {
    let mut components = relative.components();
    let in_scope = match components.next() {
        Some(first) if first.as_os_str() == "src" => true,
        Some(first) if first.as_os_str() == "Cargo.toml" => components.next().is_none(),
        _ => false,
    };
    in_scope
        && !relative
            .components()
            .any(|c| is_ignored_name(c.as_os_str()))
}

/// Files editors and builds leave next to the sources: hidden files (`.main.rs.swp`, emacs's
/// `.#main.rs`), backups (`main.rs~`), vim's swap files and its `4913` write test, emacs's
/// `#main.rs#` autosaves, and `target/`.
fn is_ignored_name(name: &OsStr) -> bool {
    let name = name.to_string_lossy();
    name.starts_with('.')
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || (name.len() > 1 && name.starts_with('#') && name.ends_with('#'))
        || name == "4913"
        || name == "target"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_and_the_manifest_are_watched() {
        for path in ["src/main.rs", "src/net/mod.rs", "Cargo.toml"] {
            assert!(is_watched(Path::new(path)), "{path}");
        }
    }

    #[test]
    fn editor_litter_and_build_output_are_ignored() {
        for path in [
            "src/.main.rs.swp",
            "src/.main.rs.swx",
            "src/main.rs.swp",
            "src/main.rs~",
            "src/4913",
            "src/.#main.rs",
            "src/#main.rs#",
            "src/target/debug/x.rs",
            "target/debug/level3",
            "README.md",
            "Cargo.toml~",
            "Cargo.toml/x",
        ] {
            assert!(!is_watched(Path::new(path)), "{path}");
        }
    }
}
