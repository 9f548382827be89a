//! `probe`: runs inside the learner's containers and reports what it sees.
//!
//! `probe <subcommand> --nonce NONCE [args...]` prints exactly one line
//! `RCPROBE <nonce> <json>` on stdout (see the library docs). Usage errors go to stderr, on one
//! line, with exit status 2; `probe help` lists the subcommands ([`SUBCOMMANDS`]). Unless a
//! subcommand sets its own status, the exit status is 0 when the reply says `ok` and 1 otherwise.
//!
//! `--hold` keeps the process alive after the line until SIGTERM, SIGUSR1 or SIGINT, at most
//! 30 s, then exits 0.

mod args;
mod commands;
mod hold;
mod load;
mod network;
mod report;

use std::{env, process};

use args::{many, optional, required, switch, Args, Opt};

/// One subcommand: its name (the checker's too, from [`probe::Subcommand`]), its arguments,
/// what it does, and how its arguments become a [`Cmd`].
struct Entry {
    name: &'static str,
    positionals: &'static [&'static str],
    options: &'static [Opt],
    does: &'static str,
    build: fn(&Args) -> Result<Cmd, String>,
}

/// Every subcommand, in the order `probe help` lists them.
const SUBCOMMANDS: &[Entry] = &[
    Entry {
        name: probe::REPORT.name,
        positionals: &[],
        options: &[many("--read", "PATH"), switch("--hold")],
        does: "what the process sees (see probe::Report); each PATH's content too",
        build: |a| {
            Ok(Cmd::Report {
                reads: a.all("--read"),
                hold: a.has("--hold"),
            })
        },
    },
    Entry {
        name: probe::ECHO.name,
        positionals: &[],
        options: &[optional("--stdout", "TEXT"), optional("--stderr", "TEXT")],
        does: "TEXT lines on stdout (before the RCPROBE line) and stderr",
        build: |a| {
            Ok(Cmd::Echo {
                stdout: a.last("--stdout"),
                stderr: a.last("--stderr"),
            })
        },
    },
    Entry {
        name: probe::EXIT.name,
        positionals: &["N"],
        options: &[],
        does: "the line, then exit status N",
        build: |a| Ok(Cmd::Exit(exit_code(a.positional(0))?)),
    },
    Entry {
        name: probe::KILL_SELF.name,
        positionals: &["SIG"],
        options: &[],
        does: "the line, then raise SIG (exit 99 if still alive 1 s later)",
        build: |a| Ok(Cmd::KillSelf(signal(a.positional(0))?)),
    },
    Entry {
        name: probe::SLEEP.name,
        positionals: &["MS"],
        options: &[optional("--exit", "N")],
        does: "sleep MS milliseconds, then the line, then exit status N (default 0)",
        build: |a| {
            Ok(Cmd::Sleep {
                ms: number("MS", a.positional(0))?,
                exit: a.last("--exit").as_deref().map_or(Ok(0), exit_code)?,
            })
        },
    },
    Entry {
        name: probe::WRITE.name,
        positionals: &["PATH"],
        options: &[optional("--content", "TEXT"), switch("--hold")],
        does: "create or truncate PATH with TEXT (default \"rubber-crab\\n\")",
        build: |a| {
            Ok(Cmd::Write {
                path: a.positional(0).into(),
                content: a
                    .last("--content")
                    .unwrap_or_else(|| "rubber-crab\n".into()),
                hold: a.has("--hold"),
            })
        },
    },
    Entry {
        name: probe::DELETE.name,
        positionals: &["PATH"],
        options: &[switch("--hold")],
        does: "remove a file (or an empty directory)",
        build: |a| {
            Ok(Cmd::Delete {
                path: a.positional(0).into(),
                hold: a.has("--hold"),
            })
        },
    },
    Entry {
        name: probe::ESCAPE.name,
        positionals: &[],
        options: &[required("--target", "PATH")],
        does: "the classic chroot escape, then read PATH",
        build: |a| {
            Ok(Cmd::Escape {
                target: a.last("--target").unwrap_or_default(),
            })
        },
    },
    Entry {
        name: probe::KILL_CHECK.name,
        positionals: &["PID"],
        options: &[],
        does: "kill(PID, 0): the errno name, or null if PID is visible",
        build: |a| Ok(Cmd::KillCheck(number("PID", a.positional(0))?)),
    },
    Entry {
        name: probe::TCP_LOOPBACK.name,
        positionals: &[],
        options: &[],
        does: "a TCP round trip over 127.0.0.1",
        build: |_| Ok(Cmd::TcpLoopback),
    },
    Entry {
        name: probe::BURN.name,
        positionals: &["MS"],
        options: &[switch("--hold")],
        does: "spin for MS ms of wall time; its CPU time and wall time",
        build: |a| {
            Ok(Cmd::Burn {
                ms: number("MS", a.positional(0))?,
                hold: a.has("--hold"),
            })
        },
    },
    Entry {
        name: probe::TOUCH_MEMORY.name,
        positionals: &["MIB"],
        options: &[switch("--wait")],
        does: "allocate and touch MIB MiB (--wait: a ready line, then wait as --hold does)",
        build: |a| {
            Ok(Cmd::TouchMemory {
                mib: number("MIB", a.positional(0))?,
                wait: a.has("--wait"),
            })
        },
    },
    Entry {
        name: probe::FORK_UNTIL_REFUSED.name,
        positionals: &["MAX"],
        options: &[optional("--exit", "N")],
        does: "fork children until fork fails or MAX live; count, errno; then exit N",
        build: |a| {
            Ok(Cmd::ForkUntilRefused {
                max: number("MAX", a.positional(0))?,
                exit: a.last("--exit").as_deref().map_or(Ok(0), exit_code)?,
            })
        },
    },
    Entry {
        name: probe::PTY.name,
        positionals: &[],
        options: &[optional("--as", "UID")],
        does: "open /dev/ptmx, unlockpt, open the slave by its /dev/pts/N name (--as: as UID:UID)",
        build: |a| {
            Ok(Cmd::Pty {
                user: a
                    .last("--as")
                    .as_deref()
                    .map(|uid| number("UID", uid))
                    .transpose()?,
            })
        },
    },
    Entry {
        name: probe::NETWORK.name,
        positionals: &[],
        options: &[optional("--connect", "ADDR:PORT"), switch("--hold")],
        does: "links, IPv4 addresses and routes; --connect: a TCP connection, the nonce sent on it",
        build: |a| {
            Ok(Cmd::Network {
                connect: a.last("--connect"),
                hold: a.has("--hold"),
            })
        },
    },
];

/// A subcommand with its arguments read.
#[derive(Debug, PartialEq, Eq)]
enum Cmd {
    Report {
        reads: Vec<String>,
        hold: bool,
    },
    Echo {
        stdout: Option<String>,
        stderr: Option<String>,
    },
    Exit(i32),
    KillSelf(libc::c_int),
    Sleep {
        ms: u64,
        exit: i32,
    },
    Write {
        path: String,
        content: String,
        hold: bool,
    },
    Delete {
        path: String,
        hold: bool,
    },
    Escape {
        target: String,
    },
    KillCheck(libc::pid_t),
    TcpLoopback,
    Burn {
        ms: u64,
        hold: bool,
    },
    TouchMemory {
        mib: u64,
        wait: bool,
    },
    ForkUntilRefused {
        max: u32,
        exit: i32,
    },
    Pty {
        user: Option<u32>,
    },
    Network {
        connect: Option<String>,
        hold: bool,
    },
}

impl Cmd {
    /// Does it, prints the line; the exit status.
    fn run(self, nonce: &str) -> i32 {
        match self {
            Cmd::Report { reads, hold } => report::report(nonce, &reads, hold),
            Cmd::Echo { stdout, stderr } => {
                commands::echo(nonce, stdout.as_deref(), stderr.as_deref())
            }
            Cmd::Exit(code) => commands::exit(nonce, code),
            Cmd::KillSelf(sig) => commands::kill_self(nonce, sig),
            Cmd::Sleep { ms, exit } => commands::sleep(nonce, ms, exit),
            Cmd::Write {
                path,
                content,
                hold,
            } => commands::write(nonce, &path, &content, hold),
            Cmd::Delete { path, hold } => commands::delete(nonce, &path, hold),
            Cmd::Escape { target } => commands::escape(nonce, &target),
            Cmd::KillCheck(pid) => commands::kill_check(nonce, pid),
            Cmd::TcpLoopback => commands::tcp_loopback(nonce),
            Cmd::Burn { ms, hold } => load::burn(nonce, ms, hold),
            Cmd::TouchMemory { mib, wait } => load::touch_memory(nonce, mib, wait),
            Cmd::ForkUntilRefused { max, exit } => load::fork_until_refused(nonce, max, exit),
            Cmd::Pty { user } => commands::pty(nonce, user),
            Cmd::Network { connect, hold } => network::network(nonce, connect.as_deref(), hold),
        }
    }
}

fn main() {
    let args: Vec<String> = env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if matches!(
        args.first().map(String::as_str),
        Some("help" | "--help" | "-h")
    ) {
        print!("{}", usage());
        process::exit(0);
    }
    let code = match parse(&args) {
        Ok((nonce, cmd)) => cmd.run(&nonce),
        Err(msg) => {
            eprintln!("probe: {msg}");
            2
        }
    };
    process::exit(code);
}

/// The nonce and the subcommand, from the command line; a usage error says what was wrong and
/// how the subcommand is called, on one line.
fn parse(args: &[String]) -> Result<(String, Cmd), String> {
    let (nonce, rest) = args::split_nonce(args).map_err(|e| format!("{e} ({})", short_usage()))?;
    let (name, rest) = rest
        .split_first()
        .ok_or_else(|| format!("missing subcommand ({})", short_usage()))?;
    let entry = SUBCOMMANDS
        .iter()
        .find(|e| e.name == name)
        .ok_or_else(|| format!("unknown subcommand {name:?} ({})", short_usage()))?;
    let args = Args::parse(rest, entry.positionals, entry.options)
        .map_err(|e| format!("{e} (usage: {})", entry.usage()))?;
    let cmd = (entry.build)(&args).map_err(|e| format!("{e} (usage: {})", entry.usage()))?;
    Ok((nonce, cmd))
}

impl Entry {
    /// `probe NAME --nonce NONCE ARGS...`
    fn usage(&self) -> String {
        let mut words = vec![format!("probe {} --nonce NONCE", self.name)];
        words.extend(self.positionals.iter().map(|p| p.to_string()));
        words.extend(self.options.iter().map(Opt::usage));
        words.join(" ")
    }
}

/// One line naming every subcommand.
fn short_usage() -> String {
    let names: Vec<&str> = SUBCOMMANDS.iter().map(|e| e.name).collect();
    format!("usage: probe {} --nonce NONCE [ARGS...]", names.join("|"))
}

/// Every subcommand's usage line and what it does.
fn usage() -> String {
    let lines: Vec<(String, &str)> = SUBCOMMANDS.iter().map(|e| (e.usage(), e.does)).collect();
    let width = lines.iter().map(|(u, _)| u.len()).max().unwrap_or(0);
    let mut text = String::from("Runs inside a container and prints one RCPROBE line.\n\n");
    for (line, does) in lines {
        text += &format!("  {line:<width$}  {does}\n");
    }
    text += "\n--hold: after the line, wait for SIGTERM, SIGUSR1 or SIGINT (at most 30 s).\n";
    text
}

fn exit_code(n: &str) -> Result<i32, String> {
    n.parse::<u8>()
        .map(i32::from)
        .map_err(|_| format!("exit status must be 0..=255, got {n:?}"))
}

fn signal(sig: &str) -> Result<libc::c_int, String> {
    match sig.parse() {
        Ok(sig @ 1..=64) => Ok(sig),
        _ => Err(format!("SIG must be a signal number 1..=64, got {sig:?}")),
    }
}

fn number<T: std::str::FromStr>(what: &str, word: &str) -> Result<T, String> {
    word.parse()
        .map_err(|_| format!("{what} must be a number, got {word:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(line: &str) -> Result<(String, Cmd), String> {
        let words: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&words)
    }

    fn cmd(line: &str) -> Cmd {
        parsed(line).unwrap().1
    }

    #[test]
    fn each_subcommand_reads_its_arguments() {
        assert_eq!(
            cmd("report --nonce n --read /a --read /b --hold"),
            Cmd::Report {
                reads: vec!["/a".into(), "/b".into()],
                hold: true
            }
        );
        assert_eq!(
            cmd("echo --stdout out --nonce n"),
            Cmd::Echo {
                stdout: Some("out".into()),
                stderr: None
            }
        );
        assert_eq!(cmd("exit 42 --nonce n"), Cmd::Exit(42));
        assert_eq!(cmd("kill-self 9 --nonce n"), Cmd::KillSelf(9));
        assert_eq!(
            cmd("sleep 400 --exit 7 --nonce n"),
            Cmd::Sleep { ms: 400, exit: 7 }
        );
        assert_eq!(
            cmd("write /x --nonce n"),
            Cmd::Write {
                path: "/x".into(),
                content: "rubber-crab\n".into(),
                hold: false
            }
        );
        assert_eq!(
            cmd("delete /x --hold --nonce n"),
            Cmd::Delete {
                path: "/x".into(),
                hold: true
            }
        );
        assert_eq!(
            cmd("escape --target /m --nonce n"),
            Cmd::Escape {
                target: "/m".into()
            }
        );
        assert_eq!(cmd("kill-check 1 --nonce n"), Cmd::KillCheck(1));
        assert_eq!(cmd("pty --nonce n"), Cmd::Pty { user: None });
        assert_eq!(
            cmd("pty --as 1000 --nonce n"),
            Cmd::Pty { user: Some(1000) }
        );
        assert_eq!(cmd("tcp-loopback --nonce n"), Cmd::TcpLoopback);
        assert_eq!(
            cmd("burn 1500 --hold --nonce n"),
            Cmd::Burn {
                ms: 1500,
                hold: true
            }
        );
        assert_eq!(
            cmd("touch-memory 128 --wait --nonce n"),
            Cmd::TouchMemory {
                mib: 128,
                wait: true
            }
        );
        assert_eq!(
            cmd("fork-until-refused 200 --exit 9 --nonce n"),
            Cmd::ForkUntilRefused { max: 200, exit: 9 }
        );
    }

    #[test]
    fn words_after_the_double_dash_are_for_argv_only() {
        let (nonce, report) = parsed("report --nonce n -- --hold --nonce two words").unwrap();
        assert_eq!(nonce, "n");
        assert_eq!(
            report,
            Cmd::Report {
                reads: vec![],
                hold: false
            }
        );
    }

    #[test]
    fn a_usage_error_names_the_subcommands_usage() {
        let err = parsed("exit 300 --nonce n").unwrap_err();
        assert_eq!(
            err,
            r#"exit status must be 0..=255, got "300" (usage: probe exit --nonce NONCE N)"#
        );
        let err = parsed("escape --nonce n").unwrap_err();
        assert_eq!(
            err,
            "missing --target PATH (usage: probe escape --nonce NONCE --target PATH)"
        );
        let err = parsed("kill-self 0 --nonce n").unwrap_err();
        assert!(err.starts_with("SIG must be a signal number"), "{err}");
        let err = parsed("sleep soon --nonce n").unwrap_err();
        assert!(
            err.starts_with(r#"MS must be a number, got "soon""#),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_or_missing_subcommand_lists_them_all() {
        for line in ["mount-tmpfs /x --nonce n", "--nonce n", "report"] {
            let err = parsed(line).unwrap_err();
            assert!(
                err.ends_with("(usage: probe report|echo|exit|kill-self|sleep|write|delete|escape|kill-check|tcp-loopback|burn|touch-memory|fork-until-refused|pty|network --nonce NONCE [ARGS...])"),
                "{err}"
            );
        }
    }

    #[test]
    fn the_usage_text_comes_from_the_table() {
        let text = usage();
        for entry in SUBCOMMANDS {
            assert!(text.contains(&entry.usage()), "{text}");
            assert!(text.contains(entry.does), "{text}");
        }
        assert!(text.contains("probe report --nonce NONCE [--read PATH]... [--hold]"));
    }

    #[test]
    fn subcommand_names_are_unique() {
        for (i, entry) in SUBCOMMANDS.iter().enumerate() {
            assert!(
                SUBCOMMANDS[i + 1..].iter().all(|e| e.name != entry.name),
                "{} twice",
                entry.name
            );
        }
    }
}
