//! `--poll`, and the fallback when inotify cannot start: snapshots of the level's files (their
//! modification times and sizes), compared every 500 ms on a thread of their own. For
//! filesystems where inotify says nothing, such as some shared folders.

use super::files::is_watched;
use super::state::Input;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, SystemTime};

/// How often `--poll` compares snapshots of the level's files.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// What polling compares: a file's modification time and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    size: u64,
}

/// The watched files (relative to the level's directory) and their stamps.
type Snapshot = BTreeMap<PathBuf, Stamp>;

/// The watched files under `dir` as they are now.
fn snapshot(dir: &Path) -> Snapshot {
    let mut files = Snapshot::new();
    add_file(dir, Path::new("Cargo.toml"), &mut files);
    add_tree(dir, Path::new("src"), &mut files);
    files
}

fn add_tree(dir: &Path, relative: &Path, files: &mut Snapshot) {
    // Files come and go while an editor saves: whatever cannot be read now is read next poll.
    let Ok(entries) = std::fs::read_dir(dir.join(relative)) else {
        return;
    };
    for entry in entries.flatten() {
        let path = relative.join(entry.file_name());
        if !is_watched(&path) {
            continue;
        }
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => add_tree(dir, &path, files),
            Ok(_) => add_file(dir, &path, files),
            Err(_) => {}
        }
    }
}

fn add_file(dir: &Path, relative: &Path, files: &mut Snapshot) {
    if let Ok(meta) = std::fs::metadata(dir.join(relative)) {
        if meta.is_file() {
            let stamp = Stamp {
                modified: meta.modified().ok(),
                size: meta.len(),
            };
            files.insert(relative.to_path_buf(), stamp);
        }
    }
}

/// The files added, removed or modified between two snapshots, sorted.
fn differences(before: &Snapshot, after: &Snapshot) -> Vec<PathBuf> {
    let added_or_modified = after
        .iter()
        .filter(|(path, stamp)| before.get(*path) != Some(stamp))
        .map(|(path, _)| path);
    let removed = before.keys().filter(|path| !after.contains_key(*path));
    let mut changed: Vec<PathBuf> = added_or_modified.chain(removed).cloned().collect();
    changed.sort();
    changed
}

/// Compares snapshots of the level's files every POLL_INTERVAL, on its own thread.
pub struct Poller {
    stop: Arc<AtomicBool>,
}

impl Poller {
    pub fn start(dir: &Path, sender: Sender<Input>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let dir = dir.to_path_buf();
        thread::spawn(move || {
            let mut before = snapshot(&dir);
            while !stopped.load(Ordering::Relaxed) {
                thread::sleep(POLL_INTERVAL);
                let after = snapshot(&dir);
                let changed = differences(&before, &after);
                if !changed.is_empty() && sender.send(Input::Changed(changed)).is_err() {
                    break;
                }
                before = after;
            }
        });
        Self { stop }
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        // Not joined: quitting should not wait for a poll; the thread ends at its next wake-up.
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(secs: u64, size: u64) -> Stamp {
        Stamp {
            modified: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs)),
            size,
        }
    }

    fn snap(files: &[(&str, Stamp)]) -> Snapshot {
        files
            .iter()
            .map(|(path, stamp)| (PathBuf::from(path), *stamp))
            .collect()
    }

    fn paths(names: &[&str]) -> Vec<PathBuf> {
        names.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn the_same_snapshot_has_no_differences() {
        let files = snap(&[("src/main.rs", stamp(1, 10)), ("Cargo.toml", stamp(1, 5))]);
        assert!(differences(&files, &files.clone()).is_empty());
    }

    #[test]
    fn an_added_file_is_a_difference() {
        let before = snap(&[("src/main.rs", stamp(1, 10))]);
        let after = snap(&[("src/main.rs", stamp(1, 10)), ("src/mount.rs", stamp(2, 3))]);
        assert_eq!(differences(&before, &after), paths(&["src/mount.rs"]));
    }

    #[test]
    fn a_removed_file_is_a_difference() {
        let before = snap(&[("src/main.rs", stamp(1, 10)), ("src/old.rs", stamp(1, 3))]);
        let after = snap(&[("src/main.rs", stamp(1, 10))]);
        assert_eq!(differences(&before, &after), paths(&["src/old.rs"]));
    }

    #[test]
    fn a_new_mtime_or_size_is_a_modification() {
        let before = snap(&[("src/main.rs", stamp(1, 10)), ("Cargo.toml", stamp(1, 5))]);
        let after = snap(&[("src/main.rs", stamp(2, 10)), ("Cargo.toml", stamp(1, 6))]);
        assert_eq!(
            differences(&before, &after),
            paths(&["Cargo.toml", "src/main.rs"])
        );
    }

    #[test]
    fn a_snapshot_holds_the_watched_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src/net")).unwrap();
        std::fs::create_dir_all(root.join("target")).unwrap();
        for file in [
            "Cargo.toml",
            "README.md",
            "src/main.rs",
            "src/net/mod.rs",
            "src/.main.rs.swp",
            "target/out",
        ] {
            std::fs::write(root.join(file), "x").unwrap();
        }
        let files: Vec<PathBuf> = snapshot(root).into_keys().collect();
        assert_eq!(
            files,
            paths(&["Cargo.toml", "src/main.rs", "src/net/mod.rs"])
        );
    }

    #[test]
    fn a_save_shows_up_in_the_next_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        let main = dir.path().join("src/main.rs");
        std::fs::write(&main, "fn main() {}").unwrap();
        let before = snapshot(dir.path());
        std::fs::write(&main, "fn main() { todo!() }").unwrap();
        assert_eq!(
            differences(&before, &snapshot(dir.path())),
            paths(&["src/main.rs"])
        );
    }
}
