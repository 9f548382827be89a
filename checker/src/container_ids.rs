//! The container ids a runtime creates: what a run can be blamed for on the host (its groups
//! `rubber-crab/<id>`, its links and mounts named after an id) is found by them.

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use std::path::{Path, PathBuf};

/// The container ids a runtime creates under its `--container-dir`, recorded as they appear: a
/// runtime removes `<container-dir>/<id>/` when its container exits, so looking only afterwards
/// would find nothing. inotify(7) queues every creation in the dir until it is read.
pub struct IdRecorder {
    dir: PathBuf,
    /// None where inotify is unavailable (no instances left): then only what is still there at
    /// the end is recorded.
    inotify: Option<Inotify>,
    /// What inotify said so far (reading its queue empties it).
    seen: Vec<String>,
}

impl IdRecorder {
    pub fn watch(dir: &Path) -> IdRecorder {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .ok()
            .filter(|inotify| {
                let flags = AddWatchFlags::IN_CREATE
                    | AddWatchFlags::IN_MOVED_TO
                    | AddWatchFlags::IN_ONLYDIR;
                inotify.add_watch(dir, flags).is_ok()
            });
        IdRecorder {
            dir: dir.to_path_buf(),
            inotify,
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
        if let Some(inotify) = &self.inotify {
            // Non-blocking: EAGAIN once the queue is empty.
            while let Ok(events) = inotify.read_events() {
                self.seen.extend(
                    events
                        .into_iter()
                        .filter(|e| e.mask.contains(AddWatchFlags::IN_ISDIR))
                        .filter_map(|e| e.name)
                        .map(|name| name.to_string_lossy().into_owned()),
                );
            }
        }
        ids.extend(self.seen.iter().cloned());
        ids.sort();
        ids.dedup();
        ids
    }
}
