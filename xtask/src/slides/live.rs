//! A demo's slide, once the demo has run, still fits 100×30: presenterm's `--validate-overflows`
//! measures a slide before its demo runs, and the output then pushes whatever is below the code
//! down. This presents the deck as the room sees it, in a 100×30 tmux window (tmux is the
//! terminal: it keeps the screen, which this side reads back with `capture-pane`), goes to each
//! demo's slide, presses Ctrl+E, waits for presenterm's `[finished]` line, and reads the screen.
//!
//! presenterm's default theme keeps the last 3 rows for its footer, the page number in the
//! middle one. Its validator calls a slide that uses them an overflow; a demo's output may push
//! text into the first of them, where it is still seen whole (row 28), but no further: below
//! it, text collides with the page number (row 29) or is cut (row 30).
//!
//! (An HTML export with `-x` also draws the output, but with the titles at double size, as
//! only terminals with kitty's font-size protocol show them: taller than most rooms see.)

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The rows text may take once a demo has run (see above).
const USABLE_ROWS: usize = 28;
/// The terminal.
const ROWS: usize = 30;
const COLUMNS: usize = 100;
/// However slow the demo, its slide's check ends by then (the demo test's own timeout).
const DEADLINE: Duration = Duration::from_secs(120);

/// Whether tmux is installed.
pub(super) fn have_tmux() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// One tmux server of this test's own (its socket named after this process): never the
/// user's.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .map_err(|e| format!("cannot run tmux: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "tmux {args:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    }

    fn screen(&self) -> Result<Vec<String>, String> {
        let text = self.run(&["capture-pane", "-p", "-t", "deck"])?;
        Ok(text.lines().map(|l| l.trim_end().to_string()).collect())
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// Presents `deck` in a 100×30 tmux window, runs the demo of each slide in `slides`
/// (numbered as presenterm does: the title slide is 1) and returns what is wrong.
pub(super) fn too_tall_once_run(
    presenterm: &Path,
    deck: &Path,
    slides: &[usize],
) -> Result<Vec<String>, String> {
    let home = tempfile::tempdir().map_err(|e| e.to_string())?;
    let tmux = Tmux {
        socket: format!("rubber-crab-slides-{}", std::process::id()),
    };
    let command = format!(
        "env XDG_CONFIG_HOME='{}' TERM=xterm-256color '{}' --enable-snippet-execution '{}'",
        home.path().display(),
        presenterm.display(),
        deck.display()
    );
    let (columns, rows) = (COLUMNS.to_string(), ROWS.to_string());
    tmux.run(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        "deck",
        "-x",
        &columns,
        "-y",
        &rows,
        &command,
    ])?;
    // The window may not shrink to 100×30 if tmux takes its default size first.
    let _ = tmux.run(&["resize-window", "-t", "deck", "-x", &columns, "-y", &rows]);
    // Keys pressed before presenterm has drawn its first slide are lost.
    wait_for(&tmux, DEADLINE, |screen| {
        screen.iter().any(|r| !r.trim().is_empty())
    })?;
    let mut problems = Vec::new();
    for &slide in slides {
        let page = format!("{slide} / ");
        let mut shown = false;
        let start = Instant::now();
        while !shown && start.elapsed() < DEADLINE {
            tmux.run(&["send-keys", "-t", "deck", &slide.to_string(), "G"])?;
            shown = wait_for(&tmux, Duration::from_secs(3), |screen| {
                screen.iter().any(|r| r.trim_start().starts_with(&page))
            })?;
        }
        if !shown {
            problems.push(format!("slide {slide}: presenterm did not show it"));
            continue;
        }
        tmux.run(&["send-keys", "-t", "deck", "C-e"])?;
        let finished = wait_for(&tmux, DEADLINE, |screen| {
            screen.iter().any(|r| r.contains("[finished"))
        })?;
        let screen = tmux.screen()?;
        if !finished {
            problems.push(format!(
                "slide {slide}: the demo did not finish within {DEADLINE:?}"
            ));
            continue;
        }
        if let Some(row) = spilled(&screen) {
            problems.push(format!(
                "slide {slide} (the title slide is 1), once its demo has run, is taller than \
                 100×30 shows: its text goes below row {USABLE_ROWS}, onto the page number or \
                 off the screen ({row:?}); cut the output (`| head`, fewer lines of code), move \
                 text to the speaker note, or split the slide"
            ));
        }
    }
    let _ = tmux.run(&["send-keys", "-t", "deck", "q"]);
    Ok(problems)
}

/// Polls the screen until `done` says so or `patience` has passed; whether it did.
fn wait_for(
    tmux: &Tmux,
    patience: Duration,
    done: impl Fn(&[String]) -> bool,
) -> Result<bool, String> {
    let start = Instant::now();
    while start.elapsed() < patience {
        if done(&tmux.screen()?) {
            return Ok(true);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(false)
}

/// The last line of text below [`USABLE_ROWS`] but the page number, if any.
fn spilled(screen: &[String]) -> Option<String> {
    let below = screen.iter().enumerate().skip(USABLE_ROWS);
    let mut text = below.filter(|(i, row)| {
        let page_number = *i == ROWS - 2 && is_page_number(row);
        !row.trim().is_empty() && !page_number
    });
    text.next_back().map(|(_, row)| row.trim().to_string())
}

/// `2 / 13`, the default footer.
fn is_page_number(row: &str) -> bool {
    let words: Vec<&str> = row.split_whitespace().collect();
    matches!(words[..], [a, "/", b] if a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok())
}

#[test]
fn text_below_row_28_but_the_page_number_is_caught() {
    let screen = |n: usize| {
        let mut rows = vec![String::new(); ROWS];
        for row in rows.iter_mut().take(n) {
            *row = "text".to_string();
        }
        rows[ROWS - 2] = format!("{}2 / 13", " ".repeat(90));
        rows
    };
    assert_eq!(spilled(&screen(USABLE_ROWS)), None);
    // Row 29 is the page number's (a line there mixes with it, below); row 30 is cut.
    assert_eq!(spilled(&screen(ROWS)), Some("text".to_string()));
    let mut mixed = screen(3);
    mixed[ROWS - 2] = "a line of text      2 / 13".to_string();
    assert_eq!(
        spilled(&mixed),
        Some("a line of text      2 / 13".to_string())
    );
}
