//! What the loop reacts to, and what has been asked for and not done yet: however many saves and
//! keys arrive during a run, they make one more run.

use std::collections::BTreeSet;
use std::path::PathBuf;

/// What the loop reacts to.
#[derive(Debug)]
pub enum Input {
    /// Watched files changed (relative to the level's directory; empty when unknown which).
    Changed(Vec<PathBuf>),
    Key(Key),
}

/// The keys watch mode takes (`keys.rs` reads them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Hint,
    Rerun,
    Quit,
}

/// What has been asked for and not done yet.
#[derive(Debug, Default)]
pub struct Pending {
    /// Some once a change was seen: the files that changed since the last run.
    pub changes: Option<BTreeSet<PathBuf>>,
    pub rerun: bool,
    pub hint: bool,
    pub quit: bool,
}

impl Pending {
    pub fn add(&mut self, input: Input) {
        match input {
            Input::Changed(paths) => self.changes.get_or_insert_with(BTreeSet::new).extend(paths),
            Input::Key(Key::Rerun) => self.rerun = true,
            Input::Key(Key::Hint) => self.hint = true,
            Input::Key(Key::Quit) => self.quit = true,
        }
    }

    /// Why to run the checks now, if anything asked for a run. However many changes and keys
    /// came in, that is one run.
    pub fn take_run(&mut self) -> Option<Trigger> {
        let rerun = std::mem::take(&mut self.rerun);
        match self.changes.take() {
            Some(paths) => Some(Trigger::Changes(paths)),
            None => rerun.then_some(Trigger::Key),
        }
    }
}

/// Why a run happened, for its footer.
pub enum Trigger {
    Start,
    Key,
    Changes(BTreeSet<PathBuf>),
}

impl Trigger {
    pub fn describe(&self) -> String {
        match self {
            Trigger::Start => "first run".into(),
            Trigger::Key => "re-run on request".into(),
            Trigger::Changes(paths) => describe_changes(paths),
        }
    }
}

fn describe_changes(paths: &BTreeSet<PathBuf>) -> String {
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    match names.as_slice() {
        [] => "after a change".into(),
        [one] => format!("after {one} changed"),
        [first, second] => format!("after {first} and {second} changed"),
        [first, rest @ ..] => format!("after {first} and {} other files changed", rest.len()),
    }
}

/// How changes are noticed, for the footer.
pub enum Mode {
    Inotify,
    Polling,
    /// Polling because inotify failed; the reason is shown once, under the first run.
    PollingFallback(Option<String>),
}

impl Mode {
    /// What to say after "waiting for changes to levels/…/…".
    pub fn footer(&mut self) -> String {
        match self {
            Mode::Inotify => String::new(),
            Mode::Polling => " (polling every 0.5 s)".into(),
            Mode::PollingFallback(reason) => match reason.take() {
                Some(reason) => format!(" (polling every 0.5 s: {reason})"),
                None => " (polling every 0.5 s)".into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(names: &[&str]) -> Vec<PathBuf> {
        names.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn changes_and_keys_during_a_run_make_one_more_run() {
        let mut pending = Pending::default();
        pending.add(Input::Changed(paths(&["src/main.rs"])));
        pending.add(Input::Key(Key::Rerun));
        pending.add(Input::Changed(paths(&["src/main.rs", "Cargo.toml"])));
        match pending.take_run() {
            Some(Trigger::Changes(changed)) => {
                assert_eq!(changed.len(), 2, "{changed:?}")
            }
            _ => panic!("expected a run for the changes"),
        }
        assert!(pending.take_run().is_none(), "one run, not one per event");
    }

    #[test]
    fn the_footer_names_what_changed() {
        let set = |names: &[&str]| names.iter().map(PathBuf::from).collect();
        assert_eq!(describe_changes(&set(&[])), "after a change");
        assert_eq!(
            describe_changes(&set(&["src/main.rs"])),
            "after src/main.rs changed"
        );
        assert_eq!(
            describe_changes(&set(&["src/a.rs", "src/b.rs", "src/c.rs"])),
            "after src/a.rs and 2 other files changed"
        );
    }

    #[test]
    fn why_polling_is_said_once() {
        let mut mode = Mode::PollingFallback(Some("inotify could not start: x".into()));
        assert_eq!(
            mode.footer(),
            " (polling every 0.5 s: inotify could not start: x)"
        );
        assert_eq!(mode.footer(), " (polling every 0.5 s)");
        assert_eq!(Mode::Inotify.footer(), "");
    }
}
