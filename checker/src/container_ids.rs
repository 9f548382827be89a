//! The container ids a runtime creates: what a run can be blamed for on the host (its groups
//! `rubber-crab/<id>`, its links and mounts named after an id) is found by them.

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The container ids a runtime creates under its `--container-dir`, recorded as they appear: a
/// runtime removes `<container-dir>/<id>/` when its container exits, so looking only afterwards
/// would find nothing. inotify(7) queues every creation in the dir until it is read.
///
/// One inotify instance serves every check of the checker, each with a watch of its own: closing
/// an instance waits for an SRCU grace period (fsnotify frees its marks), 10-15 ms that every
/// check paid at its end when each had an instance of its own. Removing a watch does not wait.
pub struct IdRecorder {
    dir: PathBuf,
    /// None where inotify is unavailable (no instances left): then only what is still there at
    /// the end is recorded.
    watch: Option<WatchDescriptor>,
    /// What inotify said so far about this watch.
    seen: Vec<String>,
}

/// The checker's one inotify instance, and the names of the dirs created under each live watch
/// read from its queue so far (the queue holds every watch's events).
struct Shared {
    inotify: Inotify,
    created: HashMap<WatchDescriptor, Vec<String>>,
}

static SHARED: Mutex<Option<Shared>> = Mutex::new(None);

fn shared() -> std::sync::MutexGuard<'static, Option<Shared>> {
    SHARED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    /// Reads the queue (non-blocking: EAGAIN once it is empty) into `created`; events of a
    /// watch no longer live (removed, or its dir deleted) are dropped.
    fn drain(&mut self) {
        while let Ok(events) = self.inotify.read_events() {
            for event in events {
                let Some(names) = self.created.get_mut(&event.wd) else {
                    continue;
                };
                if event.mask.contains(AddWatchFlags::IN_ISDIR) {
                    if let Some(name) = event.name {
                        names.push(name.to_string_lossy().into_owned());
                    }
                }
            }
        }
    }
}

impl IdRecorder {
    pub fn watch(dir: &Path) -> IdRecorder {
        let mut shared = shared();
        if shared.is_none() {
            *shared = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
                .ok()
                .map(|inotify| Shared {
                    inotify,
                    created: HashMap::new(),
                });
        }
        let watch = shared.as_mut().and_then(|shared| {
            let flags =
                AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO | AddWatchFlags::IN_ONLYDIR;
            let wd = shared.inotify.add_watch(dir, flags).ok()?;
            shared.created.insert(wd, Vec::new());
            Some(wd)
        });
        IdRecorder {
            dir: dir.to_path_buf(),
            watch,
            seen: Vec::new(),
        }
    }

    /// Every directory created in the container dir since [`IdRecorder::watch`], and every one
    /// there now; sorted, without duplicates.
    pub fn ids(&mut self) -> Vec<String> {
        let mut ids: Vec<String> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if let (Some(wd), Some(shared)) = (self.watch, shared().as_mut()) {
            shared.drain();
            if let Some(names) = shared.created.get_mut(&wd) {
                self.seen.append(names);
            }
        }
        ids.extend(self.seen.iter().cloned());
        ids.sort();
        ids.dedup();
        ids
    }
}

impl Drop for IdRecorder {
    /// Removes the watch (its dir may be gone already, which removed it: EINVAL, fine).
    fn drop(&mut self) {
        let Some(wd) = self.watch else { return };
        if let Some(shared) = shared().as_mut() {
            let _ = shared.inotify.rm_watch(wd);
            shared.created.remove(&wd);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_recorder_sees_the_dirs_made_in_its_own_dir_even_once_removed() {
        let root = std::env::temp_dir().join(format!("ids-test-{}", std::process::id()));
        let (a, b) = (root.join("a"), root.join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let mut in_a = IdRecorder::watch(&a);
        let mut in_b = IdRecorder::watch(&b);
        std::fs::create_dir(a.join("0a1b2c3d4e5f")).unwrap();
        std::fs::create_dir(b.join("ffeeddccbbaa")).unwrap();
        std::fs::remove_dir(a.join("0a1b2c3d4e5f")).unwrap();
        // b's event is read (and kept for b) while a's are.
        assert_eq!(in_a.ids(), ["0a1b2c3d4e5f"]);
        std::fs::remove_dir(b.join("ffeeddccbbaa")).unwrap();
        assert_eq!(in_b.ids(), ["ffeeddccbbaa"]);
        drop(in_a);
        // A recorder made after another ended sees only its own dir's.
        let mut again = IdRecorder::watch(&a);
        std::fs::create_dir(a.join("123456789abc")).unwrap();
        assert_eq!(again.ids(), ["123456789abc"]);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
