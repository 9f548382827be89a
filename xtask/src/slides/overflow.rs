//! No slide overflows a 100×30 terminal, as presenterm judges it: `presenterm
//! --validate-overflows` measures every slide when it loads the deck and, when one is too tall or
//! too wide, shows "Error loading presentation: presentation overflows vertically on slide N"
//! instead of the first slide. It never exits on its own and needs a terminal, so it runs under a
//! pseudo-terminal of that size; this side plays the terminal (it answers presenterm's capability
//! queries), reads the screen until it stops changing, then presses `q`. A deck presenterm cannot
//! load (a one-line speaker note with a `: ` in it, a bad front matter) fails the same way, with
//! presenterm's own error: this is also the test that every deck parses.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::pty::{openpty, Winsize};

/// The smallest terminal a deck must fit: a projector at a readable font size.
const SIZE: Winsize = Winsize {
    ws_row: 30,
    ws_col: 100,
    ws_xpixel: 0,
    ws_ypixel: 0,
};
/// The screen counts as drawn once it has not changed for this long.
const QUIET: Duration = Duration::from_millis(1500);
/// However slow the machine, one deck's check ends by then.
const DEADLINE: Duration = Duration::from_secs(60);
/// What presenterm shows instead of a slide when a deck does not load or does not fit.
const ERROR_HEADINGS: [&str; 2] = ["Error loading presentation", "Error in slide"];
/// Set in CI (`.ci/run`): there a missing presenterm is a failure, not a skip.
const CI_ENV: &str = "RUBBER_CRAB_CI";

/// The queries presenterm sends a terminal at start, and what a plain xterm answers: primary
/// device attributes, device status, cursor position.
const ANSWERS: [(&[u8], &[u8]); 3] = [
    (b"\x1b[c", b"\x1b[?62;22c"),
    (b"\x1b[5n", b"\x1b[0n"),
    (b"\x1b[6n", b"\x1b[1;1R"),
];

/// presenterm's path, if it is installed (in PATH or where `cargo install` puts it).
fn presenterm() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let cargo_bin = std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo/bin"));
    std::env::split_paths(&path)
        .chain(cargo_bin)
        .map(|dir| dir.join("presenterm"))
        .find(|p| p.is_file())
}

/// Starts `presenterm --validate-overflows deck` on a new 100×30 pseudo-terminal; returns it and
/// the terminal's master side.
fn start(
    presenterm: &Path,
    deck: &Path,
    config: &Path,
) -> std::io::Result<(std::process::Child, OwnedFd)> {
    use std::os::unix::process::CommandExt;
    let pty = openpty(Some(&SIZE), None)?;
    let slave = pty.slave;
    let mut command = Command::new(presenterm);
    command
        .arg("--validate-overflows")
        // As presented (slides/README.md): a demo's slide shows that it can run.
        .arg("--enable-snippet-execution")
        .arg(deck)
        // The defaults, not whoever runs the tests' own config (its theme may change the sizes).
        .env("XDG_CONFIG_HOME", config)
        .env("TERM", "xterm-256color")
        .stdin(Stdio::from(slave.try_clone()?))
        .stdout(Stdio::from(slave.try_clone()?))
        .stderr(Stdio::from(slave));
    // SAFETY: setsid and ioctl are async-signal-safe; nothing is allocated between fork and exec.
    unsafe {
        command.pre_exec(|| {
            // Its own session with the pty as controlling terminal, as a shell in a terminal has.
            nix::unistd::setsid()?;
            if nix::libc::ioctl(0, nix::libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok((command.spawn()?, pty.master))
}

/// The bytes read from `master` as they come, on a channel (a read blocks; this does not).
fn reader(master: File) -> mpsc::Receiver<Vec<u8>> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let mut master = master;
        let mut buf = [0u8; 4096];
        // EIO once presenterm has exited and closed the terminal: the end.
        while let Ok(n @ 1..) = master.read(&mut buf) {
            if send.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    receive
}

/// How many times `needle` occurs in `hay`.
fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

/// Plays the terminal until the screen is drawn and quiet, then presses `q`; returns everything
/// presenterm wrote and whether it was still running when `q` was pressed.
fn screen(presenterm: &Path, deck: &Path, config: &Path) -> Result<(String, bool), String> {
    let (mut child, master) =
        start(presenterm, deck, config).map_err(|e| format!("cannot start presenterm: {e}"))?;
    let mut keys = File::from(master);
    let output = reader(keys.try_clone().map_err(|e| e.to_string())?);
    let mut screen = Vec::new();
    let mut answered = [0; ANSWERS.len()];
    let started = Instant::now();
    let mut running = true;
    loop {
        match output.recv_timeout(QUIET) {
            Ok(bytes) => screen.extend(bytes),
            Err(mpsc::RecvTimeoutError::Timeout) => break,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                running = false;
                break;
            }
        }
        for ((query, answer), done) in ANSWERS.iter().zip(answered.iter_mut()) {
            for _ in *done..count(&screen, query) {
                let _ = keys.write_all(answer);
            }
            *done = count(&screen, query);
        }
        if started.elapsed() > DEADLINE {
            break;
        }
    }
    let _ = keys.write_all(b"q");
    let exited = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        child.try_wait().is_ok_and(|s| s.is_some())
    });
    if !exited {
        let _ = child.kill();
        let _ = child.wait();
    }
    Ok((text(&screen), running && exited))
}

/// The text of terminal output: escape sequences (CSI, OSC, DCS/APC and two-byte ones) removed.
pub(super) fn text(bytes: &[u8]) -> String {
    let raw = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                // Parameters, then one final byte in @..~.
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            Some(']' | 'P' | '_' | '^') => {
                // Up to BEL or ESC \.
                while let Some(c) = chars.next() {
                    if c == '\x07' || (c == '\x1b' && chars.next_if_eq(&'\\').is_some()) {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out.replace('\r', "")
}

/// Whether `deck` fits a 100×30 terminal; the error presenterm shows when it does not.
fn fits(presenterm: &Path, deck: &Path) -> Result<(), String> {
    let config = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (screen, ran) = screen(presenterm, deck, config.path())?;
    let flat = screen.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(at) = ERROR_HEADINGS.iter().find_map(|h| flat.find(h)) {
        let error: String = flat[at..].chars().take(200).collect();
        // Say how presenterm counts, and what overflowing means, where it says "on slide N".
        let help = if error.contains("overflows") {
            " (slide 1 is the title slide the front matter makes; on 100 columns a code line \
             holds 70 characters: slides/README.md, \"Writing a slide\")"
        } else {
            ""
        };
        return Err(format!("presenterm says: {error}{help}"));
    }
    if !ran {
        return Err(format!(
            "presenterm did not show the deck; it printed: {flat}"
        ));
    }
    Ok(())
}

/// presenterm, or why the test cannot run: a failure in CI, a skip elsewhere.
pub(super) fn presenterm_or_skip(test: &str) -> Option<std::path::PathBuf> {
    let found = presenterm();
    if found.is_none() {
        let install = "cargo install --locked presenterm --version \"~0.16\"";
        assert!(
            std::env::var(CI_ENV).ok().as_deref() != Some("1"),
            "presenterm is not installed ({CI_ENV} is set: CI must run this test): {install}"
        );
        super::say_skipped(test, &format!("presenterm is not installed: {install}"));
    }
    found
}

#[test]
fn no_slide_overflows_a_100x30_terminal() {
    let Some(presenterm) = presenterm_or_skip("no_slide_overflows_a_100x30_terminal") else {
        return;
    };
    let root = kit::paths::workspace_root();
    let failures: Vec<String> = super::decks(&root)
        .iter()
        .filter_map(|deck| {
            fits(&presenterm, deck)
                .err()
                .map(|e| format!("{}: {e}", super::shown(&root, deck)))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_slide_too_tall_or_too_wide_for_100x30_is_caught_and_one_that_fits_is_not() {
    let Some(presenterm) = presenterm_or_skip("a_slide_too_tall_or_too_wide_for_100x30_is_caught")
    else {
        return;
    };
    // presenterm counts the title slide that the front matter makes: the fixtures' second
    // slide is its slide 3.
    let fits_exactly = kit::paths::workspace_root().join("slides/fixtures/fits.md");
    assert_eq!(fits(&presenterm, &fits_exactly), Ok(()));
    let fixtures = [
        ("overflow.md", "overflows vertically on slide 3"),
        ("too-wide.md", "overflows horizontally on slide 3"),
    ];
    for (fixture, error) in fixtures {
        let fixture = kit::paths::workspace_root()
            .join("slides/fixtures")
            .join(fixture);
        let verdict = fits(&presenterm, &fixture);
        assert!(
            verdict.as_ref().is_err_and(|e| e.contains(error)),
            "{verdict:?}"
        );
        // The fixture is a well-formed deck: only its size is wrong (a code line of 71 columns
        // is also one that wraps, which the deck's own check measures).
        let deck = std::fs::read_to_string(&fixture).expect("reading the fixture");
        let problems = super::format_problems(&deck);
        assert!(
            problems.iter().all(|p| p.contains("presenterm shows 66")),
            "{problems:?}"
        );
    }
}

#[test]
fn escape_sequences_are_not_text() {
    let screen =
        b"\x1b[?1049h\x1b[1;1H\x1b[31mError\x1b[0m in\x1b]66;s=2; \x1b\\ slide\r\n\x1b_Ga=q\x1b\\";
    assert_eq!(text(screen), "Error in slide\n");
    assert_eq!(count(b"\x1b[c..\x1b[c", b"\x1b[c"), 2);
}
