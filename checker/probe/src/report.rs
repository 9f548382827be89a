//! `report`: what the process sees, from the inside (see [`probe::Report`]).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::mem::MaybeUninit;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::{env, process, ptr};

use probe::{Device, Report};

use crate::commands::{read_capped, read_lines};
use crate::hold::reply_then_hold;

/// Namespaces listed in `report`'s `ns`.
const NAMESPACES: [&str; 7] = ["mnt", "uts", "ipc", "pid", "net", "user", "cgroup"];
/// Keys of `/proc/self/status` copied into `report`'s `status`.
const STATUS_KEYS: [&str; 9] = [
    "CapEff",
    "CapBnd",
    "CapPrm",
    "CapInh",
    "CapAmb",
    "NoNewPrivs",
    "NSpid",
    "Uid",
    "Gid",
];
/// Devices checked by `report`.
const DEVICES: [&str; 5] = [
    "/dev/null",
    "/dev/zero",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
];

pub fn report(nonce: &str, reads: &[String], hold: bool) -> i32 {
    let collect = || collect_report(nonce, reads);
    reply_then_hold(nonce, hold, collect, |report| report.ok)
}

fn collect_report(nonce: &str, reads: &[String]) -> Report {
    // First: a runtime that attaches the command to its group after exec may not have yet.
    let cgroup = read_lines("/proc/self/cgroup");
    let mut errors = Vec::new();
    let mut note = |what: &str, e: io::Error| errors.push(format!("{what}: {e}"));
    let cwd = env::current_dir()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|e| {
            note("getcwd", e);
            String::new()
        });
    let hostname = nodename().unwrap_or_else(|e| {
        note("uname", e);
        String::new()
    });
    let groups = groups().unwrap_or_else(|e| {
        note("getgroups", e);
        Vec::new()
    });
    let pid = process::id();
    Report {
        ok: errors.is_empty(),
        error: (!errors.is_empty()).then(|| errors.join("; ")),
        pid: pid as i32,
        ppid: std::os::unix::process::parent_id() as i32,
        // SAFETY: getuid/getgid take no arguments and cannot fail.
        uid: unsafe { libc::getuid() },
        // SAFETY: as above.
        gid: unsafe { libc::getgid() },
        groups,
        cwd,
        hostname,
        argv: env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        proc_self: fs::read_link("/proc/self")
            .ok()
            .map(|p| p.to_string_lossy().into_owned()),
        ns: NAMESPACES
            .iter()
            .filter_map(|ns| {
                let link = fs::read_link(format!("/proc/self/ns/{ns}")).ok()?;
                Some((ns.to_string(), link.to_string_lossy().into_owned()))
            })
            .collect(),
        mountinfo: read_lines("/proc/self/mountinfo"),
        cgroup,
        status: proc_status(),
        interfaces: interfaces(),
        files: reads
            .iter()
            .map(|path| (path.clone(), read_capped(path).ok()))
            .collect(),
        root_entries: root_entries(),
        devices: DEVICES.iter().map(|path| check_device(path)).collect(),
        proc_shows_self: fs::read(format!("/proc/{pid}/cmdline"))
            .map(|cmdline| cmdline.windows(nonce.len()).any(|w| w == nonce.as_bytes()))
            .unwrap_or(false),
        proc_pids: probe::proc::pids(),
    }
}

fn nodename() -> io::Result<String> {
    let mut uts = MaybeUninit::<libc::utsname>::uninit();
    // SAFETY: uname writes a whole utsname into the pointed-to buffer.
    if unsafe { libc::uname(uts.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: uname succeeded, so the struct is initialised.
    let uts = unsafe { uts.assume_init() };
    let bytes: Vec<u8> = uts
        .nodename
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn groups() -> io::Result<Vec<u32>> {
    // SAFETY: a size of 0 with a null list only asks for the number of groups.
    let count = unsafe { libc::getgroups(0, ptr::null_mut()) };
    let count = usize::try_from(count).map_err(|_| io::Error::last_os_error())?;
    let mut list: Vec<libc::gid_t> = vec![0; count];
    // SAFETY: `list` has room for `count` entries, the size we pass.
    let got = unsafe { libc::getgroups(count as libc::c_int, list.as_mut_ptr()) };
    let got = usize::try_from(got).map_err(|_| io::Error::last_os_error())?;
    list.truncate(got);
    Ok(list)
}

fn proc_status() -> BTreeMap<String, String> {
    read_lines("/proc/self/status")
        .iter()
        .filter_map(|line| {
            let (key, value) = line.split_once(':')?;
            STATUS_KEYS
                .contains(&key)
                .then(|| (key.to_string(), value.trim().to_string()))
        })
        .collect()
}

/// Interface names from `/proc/net/dev`.
fn interfaces() -> Vec<String> {
    probe::net_dev_names(&read_lines("/proc/net/dev").join("\n"))
}

fn root_entries() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir("/")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn check_device(path: &str) -> Device {
    let mut dev = Device {
        path: path.to_string(),
        ..Device::default()
    };
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) => {
            dev.error = Some(e.to_string());
            return dev;
        }
    };
    dev.exists = true;
    let kind = meta.file_type();
    dev.char_device = kind.is_char_device();
    if kind.is_char_device() || kind.is_block_device() {
        dev.major = Some(libc::major(meta.rdev()));
        dev.minor = Some(libc::minor(meta.rdev()));
    }
    let check = match path {
        "/dev/null" => write_device(path),
        "/dev/zero" => read_device(
            path,
            |bytes| bytes.iter().all(|&b| b == 0),
            "read non-zero bytes",
        ),
        "/dev/tty" if dev.char_device && (dev.major, dev.minor) == (Some(5), Some(0)) => Ok(()),
        "/dev/tty" => Err("not the character device 5:0".to_string()),
        _ => read_device(
            path,
            |bytes| bytes.iter().any(|&b| b != 0),
            "read 16 zero bytes",
        ),
    };
    match check {
        Ok(()) => dev.works = true,
        Err(e) => dev.error = Some(e),
    }
    dev
}

/// Opens without blocking (a FIFO or an unseeded /dev/random must not hang the probe) and
/// without creating anything.
fn open_device(path: &str, write: bool) -> io::Result<File> {
    OpenOptions::new()
        .read(!write)
        .write(write)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

fn write_device(path: &str) -> Result<(), String> {
    open_device(path, true)
        .and_then(|mut f| f.write_all(b"crab"))
        .map_err(|e| e.to_string())
}

fn read_device(path: &str, good: fn(&[u8]) -> bool, bad: &str) -> Result<(), String> {
    let mut bytes = [0u8; 16];
    open_device(path, false)
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| e.to_string())?;
    if good(&bytes) {
        Ok(())
    } else {
        Err(bad.to_string())
    }
}
