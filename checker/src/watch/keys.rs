//! The keys watch mode takes (h: next hint, r or Enter: re-run, q: quit), read through crossterm
//! on a thread of their own and sent to the loop. Reading single keys needs the terminal in key
//! mode (`terminal.rs`).

use super::state::{Input, Key};
use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How often the reader looks at its stop flag: quitting waits for it at most this long.
const TICK: Duration = Duration::from_millis(100);

impl Key {
    /// The key a terminal event stands for, if watch mode takes it.
    fn from_event(event: &Event) -> Option<Key> {
        match event {
            Event::Key(key) if key.kind == KeyEventKind::Press => Key::from_key(key),
            _ => None,
        }
    }

    fn from_key(key: &KeyEvent) -> Option<Key> {
        let control = key.modifiers.contains(KeyModifiers::CONTROL);
        if key.modifiers.contains(KeyModifiers::ALT) {
            return None;
        }
        match key.code {
            KeyCode::Char('h' | 'H') if !control => Some(Key::Hint),
            KeyCode::Char('r' | 'R') if !control => Some(Key::Rerun),
            KeyCode::Enter => Some(Key::Rerun),
            // A bare line feed: with the terminal's CR-to-NL translation off, crossterm reads it
            // as Ctrl-J. Some terminals send it for Enter.
            KeyCode::Char('j') if control => Some(Key::Rerun),
            KeyCode::Char('q' | 'Q') if !control => Some(Key::Quit),
            _ => None,
        }
    }
}

/// Reads keys on its own thread and sends them to the loop; stopped and joined on drop.
pub struct KeyReader {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl KeyReader {
    pub fn start(sender: Sender<Input>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match next_key() {
                    Ok(Some(key)) if sender.send(Input::Key(key)).is_err() => break,
                    Ok(_) => {}
                    // The terminal is gone: no more keys, Ctrl-C (a signal) still works.
                    Err(_) => break,
                }
            }
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

/// The next key watch mode takes, if one comes within a tick: the reader looks at its stop flag
/// between ticks.
fn next_key() -> std::io::Result<Option<Key>> {
    if !event::poll(TICK)? {
        return Ok(None);
    }
    Ok(Key::from_event(&event::read()?))
}

impl Drop for KeyReader {
    fn drop(&mut self) {
        // Joined (at most one tick) so that no read is under way when the terminal's settings
        // are restored.
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> Option<Key> {
        Key::from_event(&Event::Key(KeyEvent::new(code, modifiers)))
    }

    #[test]
    fn keys_map_to_hint_rerun_and_quit() {
        let plain = KeyModifiers::NONE;
        assert_eq!(press(KeyCode::Char('h'), plain), Some(Key::Hint));
        assert_eq!(
            press(KeyCode::Char('H'), KeyModifiers::SHIFT),
            Some(Key::Hint)
        );
        assert_eq!(press(KeyCode::Enter, plain), Some(Key::Rerun));
        assert_eq!(
            press(KeyCode::Char('j'), KeyModifiers::CONTROL),
            Some(Key::Rerun)
        );
        assert_eq!(press(KeyCode::Char('r'), plain), Some(Key::Rerun));
        assert_eq!(press(KeyCode::Char('q'), plain), Some(Key::Quit));
        assert_eq!(press(KeyCode::Char('x'), plain), None);
    }

    #[test]
    fn control_and_alt_chords_are_not_the_letter() {
        assert_eq!(press(KeyCode::Char('h'), KeyModifiers::CONTROL), None);
        assert_eq!(press(KeyCode::Char('q'), KeyModifiers::ALT), None);
    }

    #[test]
    fn only_a_press_counts() {
        let mut release = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        assert_eq!(Key::from_event(&Event::Key(release)), None);
        assert_eq!(Key::from_event(&Event::Resize(80, 24)), None);
    }
}
