//! How changes to the level's files (`files.rs`) are noticed: inotify through the `notify` crate,
//! or polling (`poll.rs`) when asked or when inotify cannot start.

use super::files::is_watched;
use super::poll::Poller;
use super::state::{Input, Mode};
use notify::event::{EventKind, MetadataKind, ModifyKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;

/// Keeps change detection running while alive: never read, only held (and dropped to stop).
pub enum Watcher {
    Inotify(#[allow(dead_code)] RecommendedWatcher),
    Polling(#[allow(dead_code)] Poller),
}

/// Starts inotify (or polling when asked, or when inotify cannot start) on the level's files.
pub fn start_watching(dir: &Path, poll: bool, sender: Sender<Input>) -> (Watcher, Mode) {
    if poll {
        return (Watcher::Polling(Poller::start(dir, sender)), Mode::Polling);
    }
    match inotify_watcher(dir, sender.clone()) {
        Ok(watcher) => (Watcher::Inotify(watcher), Mode::Inotify),
        Err(e) => {
            let reason = format!("inotify could not start: {e}");
            let poller = Poller::start(dir, sender);
            (
                Watcher::Polling(poller),
                Mode::PollingFallback(Some(reason)),
            )
        }
    }
}

fn inotify_watcher(dir: &Path, sender: Sender<Input>) -> notify::Result<RecommendedWatcher> {
    let root = dir.to_path_buf();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Some(paths) = event.ok().and_then(|event| changed_by(&root, &event)) {
            let _ = sender.send(Input::Changed(paths));
        }
    })?;
    // The directory itself (not recursively) sees Cargo.toml even when an editor replaces it by
    // a rename; src/ recursively sees every module. Nothing else (a stray target/) gets watches.
    watcher.watch(dir, RecursiveMode::NonRecursive)?;
    watcher.watch(&dir.join("src"), RecursiveMode::Recursive)?;
    Ok(watcher)
}

/// The watched files an event changed (relative to `dir`): None when it changed none of them.
fn changed_by(dir: &Path, event: &notify::Event) -> Option<Vec<PathBuf>> {
    if event.need_rescan() {
        // Events were lost (the queue overflowed): something changed, we don't know what.
        return Some(Vec::new());
    }
    if !is_content_change(&event.kind) {
        return None;
    }
    let paths: Vec<PathBuf> = event
        .paths
        .iter()
        .filter_map(|path| path.strip_prefix(dir).ok())
        .filter(|relative| is_watched(relative))
        .map(Path::to_path_buf)
        .collect();
    (!paths.is_empty()).then_some(paths)
}

/// Reading a file is not changing it. This matters: every build opens every source file, inotify
/// reports those opens, and counting them would re-run the checks forever.
fn is_content_change(kind: &EventKind) -> bool {
    !matches!(
        kind,
        EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, CreateKind, DataChange, RemoveKind};

    fn paths(names: &[&str]) -> Vec<PathBuf> {
        names.iter().map(PathBuf::from).collect()
    }

    fn event(kind: EventKind, path: &str) -> notify::Event {
        notify::Event::new(kind).add_path(PathBuf::from("/level").join(path))
    }

    #[test]
    fn writing_a_source_file_is_a_change() {
        let write = EventKind::Modify(ModifyKind::Data(DataChange::Content));
        assert_eq!(
            changed_by(Path::new("/level"), &event(write, "src/main.rs")),
            Some(paths(&["src/main.rs"]))
        );
        let create = EventKind::Create(CreateKind::File);
        assert!(changed_by(Path::new("/level"), &event(create, "Cargo.toml")).is_some());
        let remove = EventKind::Remove(RemoveKind::File);
        assert!(changed_by(Path::new("/level"), &event(remove, "src/mount.rs")).is_some());
    }

    #[test]
    fn reading_a_source_file_or_touching_a_swap_file_is_no_change() {
        // cargo opens every source file on each build: that must not trigger another run.
        let open = EventKind::Access(AccessKind::Open(notify::event::AccessMode::Any));
        assert_eq!(
            changed_by(Path::new("/level"), &event(open, "src/main.rs")),
            None
        );
        let write = EventKind::Modify(ModifyKind::Data(DataChange::Any));
        assert_eq!(
            changed_by(Path::new("/level"), &event(write, "src/.main.rs.swp")),
            None
        );
        assert_eq!(
            changed_by(Path::new("/level"), &event(write, "README.md")),
            None
        );
    }

    #[test]
    fn lost_events_count_as_a_change() {
        let overflow = notify::Event::new(EventKind::Other).set_flag(notify::event::Flag::Rescan);
        assert_eq!(changed_by(Path::new("/level"), &overflow), Some(Vec::new()));
    }
}
