//! The runtime's output, captured from each stream up to a cap. Past the cap only the probe's
//! lines are kept: the learner's logging, however much, never hides the probe's report.

use serde_json::Value;
use std::io::Read;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Output captured from one stream, capped.
#[derive(Debug, Default)]
pub struct Capture {
    bytes: Mutex<Vec<u8>>,
    dropped: Mutex<usize>,
    /// Lines starting with the probe's marker, found past the cap.
    probe_lines: Mutex<Vec<u8>>,
    /// How many reads have arrived (the stream's end counts as one), told to waiters.
    reads: Mutex<u64>,
    arrived: Condvar,
}

impl Capture {
    pub fn text(&self) -> String {
        let bytes = self.bytes.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The probe's report with `nonce`, captured or found past the cap.
    pub(crate) fn probe_report(&self, nonce: &str) -> Result<Value, probe::ParseError> {
        probe::find_line(&self.text(), nonce)
            .or_else(|e| probe::find_line(&self.probe_lines(), nonce).map_err(|_| e))
    }

    /// The probe's lines that arrived past the cap.
    fn probe_lines(&self) -> String {
        let bytes = self
            .probe_lines
            .lock()
            .map(|b| b.clone())
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// How many reads have arrived so far: give it to [`Capture::wait_past`].
    pub(crate) fn reads(&self) -> u64 {
        self.reads.lock().map(|r| *r).unwrap_or(0)
    }

    /// Waits until more than `reads` reads have arrived (or the stream ended), at most
    /// `timeout`: a poll that wakes as soon as output comes rather than at its next tick.
    pub(crate) fn wait_past(&self, reads: u64, timeout: Duration) {
        let Ok(now) = self.reads.lock() else { return };
        let _ = self
            .arrived
            .wait_timeout_while(now, timeout, |now| *now <= reads);
    }

    fn tell_waiters(&self) {
        if let Ok(mut reads) = self.reads.lock() {
            *reads += 1;
        }
        self.arrived.notify_all();
    }

    /// Bytes read past the cap and thrown away.
    pub fn dropped(&self) -> usize {
        self.dropped.lock().map(|d| *d).unwrap_or(0)
    }
}

pub(crate) fn read_capped(
    mut stream: impl Read + Send + 'static,
    capture: Arc<Capture>,
    cap: usize,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        let mut past_cap: Option<ProbeLines> = None;
        while let Ok(n) = stream.read(&mut chunk) {
            if n == 0 {
                break;
            }
            // Told once the chunk is in (the guards below are dropped at the loop's end).
            let _tell = TellWaiters(&capture);
            let (Ok(mut bytes), Ok(mut dropped)) = (capture.bytes.lock(), capture.dropped.lock())
            else {
                break;
            };
            let room = cap.saturating_sub(bytes.len()).min(n);
            bytes.extend_from_slice(&chunk[..room]);
            *dropped += n - room;
            if room < n {
                // The line cut by the cap may be the probe's: it goes on past the cap.
                let lines = past_cap.get_or_insert_with(|| ProbeLines::continuing(&bytes));
                lines.feed(&chunk[room..n], &capture);
            }
        }
        capture.tell_waiters();
    })
}

/// Tells the capture's waiters when dropped: after the chunk's locks are released.
struct TellWaiters<'a>(&'a Capture);

impl Drop for TellWaiters<'_> {
    fn drop(&mut self) {
        self.0.tell_waiters();
    }
}

/// The longest probe line kept past the cap (a report with a large mount table fits).
const PROBE_LINE_MAX: usize = 1 << 20;

/// Past the cap, reads lines and keeps only those that start with the probe's marker.
struct ProbeLines {
    /// The line being read, while it may still be the probe's.
    line: Vec<u8>,
    /// The line being read cannot be the probe's: skip to its end.
    skipping: bool,
}

impl ProbeLines {
    /// Starts with the unfinished last line of what was captured.
    fn continuing(captured: &[u8]) -> ProbeLines {
        let start = captured
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let mut lines = ProbeLines {
            line: Vec::new(),
            skipping: false,
        };
        for &byte in &captured[start..] {
            lines.push(byte);
        }
        lines
    }

    fn feed(&mut self, bytes: &[u8], capture: &Capture) {
        for &byte in bytes {
            if byte != b'\n' {
                self.push(byte);
                continue;
            }
            if !self.skipping {
                if let Ok(mut kept) = capture.probe_lines.lock() {
                    kept.extend_from_slice(&self.line);
                    kept.push(b'\n');
                }
            }
            self.line.clear();
            self.skipping = false;
        }
    }

    fn push(&mut self, byte: u8) {
        if self.skipping {
            return;
        }
        self.line.push(byte);
        let marker = probe::MARKER.as_bytes();
        let prefix = &self.line[..self.line.len().min(marker.len())];
        if !marker.starts_with(prefix) || self.line.len() > PROBE_LINE_MAX {
            self.skipping = true;
            self.line.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(input: Vec<u8>, cap: usize) -> Arc<Capture> {
        let capture = Arc::new(Capture::default());
        read_capped(std::io::Cursor::new(input), capture.clone(), cap)
            .join()
            .unwrap();
        capture
    }

    #[test]
    fn the_probe_line_survives_a_flood_of_output() {
        let mut input = b"y".repeat(100_000);
        input.extend_from_slice(b"\nlog RCPROBE not at the start\nRCPROBE abc {}\nmore\n");
        let c = capture(input, 1000);
        assert_eq!(c.text().len(), 1000);
        assert!(c.dropped() > 99_000);
        assert_eq!(c.probe_lines(), "RCPROBE abc {}\n");
    }

    #[test]
    fn a_probe_line_cut_by_the_cap_is_kept_whole() {
        let c = capture(b"hello\nRCPROBE abc {\"x\": 1}\n".to_vec(), 12);
        assert_eq!(c.text(), "hello\nRCPROB");
        assert_eq!(c.probe_lines(), "RCPROBE abc {\"x\": 1}\n");
    }
}
