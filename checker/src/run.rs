//! Running the learner's runtime: spawn it in the sandbox, capture its output (capped), enforce the
//! timeout by killing its whole process group, and find the probe it started by its nonce.

use crate::sandbox::Sandbox;
use anyhow::{Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Exited(i32),
    Signaled(i32),
    TimedOut,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Status::Exited(code) => write!(f, "exit status {code}"),
            Status::Signaled(sig) => write!(f, "the runtime itself was killed by signal {sig}"),
            Status::TimedOut => write!(
                f,
                "no exit: it was still running at the timeout and was killed"
            ),
        }
    }
}

/// Output captured from one stream, capped.
#[derive(Debug, Default)]
pub struct Capture {
    bytes: Mutex<Vec<u8>>,
    dropped: Mutex<usize>,
}

impl Capture {
    pub fn text(&self) -> String {
        let bytes = self.bytes.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Bytes read past the cap and thrown away.
    pub fn dropped(&self) -> usize {
        self.dropped.lock().map(|d| *d).unwrap_or(0)
    }
}

/// Everything one run of the runtime produced.
#[derive(Debug)]
pub struct Run {
    pub command_line: String,
    pub nonce: String,
    pub status: Status,
    pub stdout: String,
    pub stderr: String,
    /// Bytes of output dropped past the cap.
    pub dropped: usize,
    /// The probe's report, or why there is none.
    pub report: Result<Value, String>,
    /// The runtime's host pid.
    pub runtime_pid: u32,
    /// Processes of the runtime's process group (the command, most likely) still running right
    /// after the runtime exited.
    pub stragglers: Vec<u32>,
}

/// What a check sees while a holding probe is alive.
pub struct Held<'a> {
    pub sandbox: &'a Sandbox,
    pub runtime_pid: u32,
    /// The probe's host pid, found by its nonce.
    pub probe_pid: Option<u32>,
}

pub struct Spec<'a> {
    pub runtime: &'a Path,
    pub runtime_args: Vec<String>,
    /// The command the runtime must run, argv[0] first.
    pub command: Vec<String>,
    pub nonce: String,
    pub timeout: Duration,
    pub output_cap: usize,
}

impl Spec<'_> {
    pub fn command_line(&self) -> String {
        let mut words = vec![self.runtime.display().to_string()];
        words.extend(self.runtime_args.iter().cloned());
        words.push("--".into());
        words.extend(self.command.iter().cloned());
        words
            .iter()
            .map(|w| shell_quote(w))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Runs the spec to completion.
pub fn run(spec: &Spec, sandbox: &Sandbox) -> Result<Run> {
    let spawned = spawn(spec, sandbox)?;
    Ok(finish(spec, spawned, Instant::now() + spec.timeout))
}

/// Runs the spec, waits for the probe's report, lets `observe` look at the live container, then
/// releases the probe and waits for the runtime to end. `observe` is not called when the probe
/// never reported (the run's `report` says why).
pub fn run_holding<T>(
    spec: &Spec,
    sandbox: &Sandbox,
    observe: impl FnOnce(&Held) -> T,
) -> Result<(Run, Option<T>)> {
    let spawned = spawn(spec, sandbox)?;
    let deadline = Instant::now() + spec.timeout;
    let mut observed = None;
    loop {
        if probe::find_line(&spawned.stdout.text(), &spec.nonce).is_ok() {
            let probe_pid = find_probe(&spec.command[0], &spec.nonce).first().copied();
            let held = Held {
                sandbox,
                runtime_pid: spawned.child.id(),
                probe_pid,
            };
            observed = Some(observe(&held));
            match probe_pid {
                Some(pid) => {
                    let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
                }
                None => kill_probes(&spec.command[0], &spec.nonce),
            }
            break;
        }
        if spawned.exited() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok((finish(spec, spawned, deadline), observed))
}

struct Spawned {
    child: Child,
    stdout: Arc<Capture>,
    stderr: Arc<Capture>,
    readers: Vec<JoinHandle<()>>,
}

impl Spawned {
    fn exited(&self) -> bool {
        // try_wait needs &mut; peek at /proc instead: a zombie or a missing entry means it ended.
        match std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())) {
            Ok(stat) => stat
                .rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('Z')),
            Err(_) => true,
        }
    }
}

fn spawn(spec: &Spec, sandbox: &Sandbox) -> Result<Spawned> {
    let mut command = Command::new(spec.runtime);
    command
        .args(&spec.runtime_args)
        .arg("--")
        .args(&spec.command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("RUST_BACKTRACE")
        // Its own process group, so a timeout can kill the runtime and everything it started.
        .process_group(0);
    sandbox.enter_on_spawn(&mut command);
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", spec.runtime.display()))?;
    let stdout = Arc::new(Capture::default());
    let stderr = Arc::new(Capture::default());
    let readers = vec![
        read_capped(
            child.stdout.take().context("stdout")?,
            stdout.clone(),
            spec.output_cap,
        ),
        read_capped(
            child.stderr.take().context("stderr")?,
            stderr.clone(),
            spec.output_cap,
        ),
    ];
    Ok(Spawned {
        child,
        stdout,
        stderr,
        readers,
    })
}

fn read_capped(
    mut stream: impl Read + Send + 'static,
    capture: Arc<Capture>,
    cap: usize,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        while let Ok(n) = stream.read(&mut chunk) {
            if n == 0 {
                break;
            }
            let (Ok(mut bytes), Ok(mut dropped)) = (capture.bytes.lock(), capture.dropped.lock())
            else {
                break;
            };
            let room = cap.saturating_sub(bytes.len()).min(n);
            bytes.extend_from_slice(&chunk[..room]);
            *dropped += n - room;
        }
    })
}

fn finish(spec: &Spec, mut spawned: Spawned, deadline: Instant) -> Run {
    let pgid = Pid::from_raw(-(spawned.child.id() as i32));
    let status = loop {
        match spawned.child.try_wait() {
            Ok(Some(status)) => break status_of(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = kill(pgid, Signal::SIGKILL);
                kill_probes(&spec.command[0], &spec.nonce);
                let _ = spawned.child.wait();
                break Status::TimedOut;
            }
        }
    };
    let stragglers = live_members_of_group(spawned.child.id());
    // Whatever the runtime left running goes now: its process group, and any probe that escaped it.
    let _ = kill(pgid, Signal::SIGKILL);
    kill_probes(&spec.command[0], &spec.nonce);
    // The readers end when every writer has closed the pipes; don't wait forever for one that a
    // runaway process outside the group still holds.
    let until = Instant::now() + Duration::from_secs(2);
    for reader in spawned.readers.drain(..) {
        while !reader.is_finished() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        if reader.is_finished() {
            let _ = reader.join();
        }
    }
    let stdout = spawned.stdout.text();
    let report = probe::find_line(&stdout, &spec.nonce).map_err(|e| e.to_string());
    Run {
        command_line: spec.command_line(),
        nonce: spec.nonce.clone(),
        status,
        stderr: spawned.stderr.text(),
        dropped: spawned.stdout.dropped() + spawned.stderr.dropped(),
        stdout,
        report,
        runtime_pid: spawned.child.id(),
        stragglers,
    }
}

fn status_of(status: std::process::ExitStatus) -> Status {
    match (status.code(), status.signal()) {
        (Some(code), _) => Status::Exited(code),
        (None, Some(sig)) => Status::Signaled(sig),
        (None, None) => Status::Exited(-1),
    }
}

/// Host pids of processes running `program` with `nonce` among their arguments.
pub fn find_probe(program: &str, nonce: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let mut args = cmdline.split(|b| *b == 0);
            args.next() == Some(program.as_bytes()) && args.any(|a| a == nonce.as_bytes())
        })
        .collect()
}

/// Host pids of the live (not zombie) processes in process group `pgid`.
fn live_members_of_group(pgid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // After the command name in parentheses: state, ppid, pgrp, ...
            let fields: Vec<&str> = stat
                .rsplit_once(") ")
                .map(|(_, rest)| rest.split(' ').collect())
                .unwrap_or_default();
            fields.len() > 2 && fields[0] != "Z" && fields[2] == pgid.to_string()
        })
        .collect()
}

fn kill_probes(program: &str, nonce: &str) {
    for pid in find_probe(program, nonce) {
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
    }
}

/// The parent pid of `pid` as the host sees it.
pub fn parent_of(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Whether `ancestor` is `pid` or one of its ancestors.
pub fn descends_from(pid: u32, ancestor: u32) -> bool {
    let mut current = pid;
    for _ in 0..64 {
        if current == ancestor {
            return true;
        }
        match parent_of(current) {
            Some(parent) if parent > 0 => current = parent,
            _ => return false,
        }
    }
    false
}

/// Quotes a word for a POSIX shell, only when it needs it.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./=:,+-@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// A random hex nonce.
pub fn nonce() -> String {
    kit::container::new_id().unwrap_or_else(|_| format!("{:x}", std::process::id()))
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_needed() {
        assert_eq!(shell_quote("/bin/sh"), "/bin/sh");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }
}
