//! Levels 11 and 12 of the broken runtime: the user (setresgid/setresuid) and Docker's
//! capabilities (bounding set, capset, ambient, no_new_privs), each fault getting one thing wrong.
//! Written apart from the solutions: raw syscalls through libc, masks rather than names.

use crate::is;
use anyhow::{bail, Result};
use kit::prelude::*;
use nix::errno::Errno;
use nix::unistd::{Gid, Uid};

/// Docker's default capability set as a mask (moby's oci/caps/defaults.go).
const DOCKER: u64 = 0xa804_25fb;
/// What `too-few-caps` keeps: Docker's set without CHOWN (0) and NET_BIND_SERVICE (10).
const TOO_FEW: u64 = DOCKER & !(1 << 0) & !(1 << 10);
/// CAP_DAC_OVERRIDE, which `keep-dac-override` keeps for the user.
const DAC_OVERRIDE: u32 = 1;

/// `--user`: groups, gid, uid, each fault getting one of them wrong.
pub fn switch_user(user: kit::cli::User) -> Result<()> {
    let gid = match (user.gid, is("gid-is-uid")) {
        (Some(gid), _) => gid,
        (None, true) => user.uid,
        (None, false) => 0,
    };
    if !is("no-setgroups") {
        nix::unistd::setgroups(&[]).syscall("setgroups")?;
    }
    if is("keep-dac-override") {
        // SAFETY: prctl with integer arguments.
        Errno::result(unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) })
            .syscall("prctl(PR_SET_KEEPCAPS)")?;
    }
    let (uid, gid) = (Uid::from_raw(user.uid), Gid::from_raw(gid));
    if is("euid-only") {
        nix::unistd::setegid(gid).syscall("setegid")?;
        nix::unistd::seteuid(uid).syscall("seteuid")?;
    } else {
        nix::unistd::setresgid(gid, gid, gid).syscall("setresgid")?;
        nix::unistd::setresuid(uid, uid, uid).syscall("setresuid")?;
    }
    if is("keep-dac-override") {
        let bit = 1u64 << DAC_OVERRIDE;
        set_sets(bit, bit, bit)?;
        // SAFETY: prctl with integer arguments.
        Errno::result(unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE,
                DAC_OVERRIDE as libc::c_ulong,
                0,
                0,
            )
        })
        .syscall("prctl(PR_CAP_AMBIENT_RAISE)")?;
    }
    // The parent-death signal does not survive a change of credentials.
    // SAFETY: prctl with integer arguments.
    Errno::result(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) })
        .syscall("prctl(PR_SET_PDEATHSIG)")?;
    Ok(())
}

/// Docker's capabilities only, for good.
pub fn confine() -> Result<()> {
    let keep = if is("too-few-caps") { TOO_FEW } else { DOCKER };
    let mut cap = 0;
    loop {
        if keep & (1 << cap) == 0 {
            // SAFETY: prctl with integer arguments.
            match Errno::result(unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) }) {
                Ok(_) => {}
                Err(Errno::EINVAL) => break,
                Err(errno) => bail!("prctl(PR_CAPBSET_DROP, {cap}) failed: {errno}"),
            }
        }
        cap += 1;
        if cap == 64 {
            break;
        }
    }
    if !is("bounding-only") {
        let inheritable = match is("keep-inheritable") {
            true => current_sets()?.2,
            false => 0,
        };
        set_sets(keep, keep, inheritable)?;
    }
    if !is("bounding-only") && !is("keep-inheritable") {
        // SAFETY: prctl with integer arguments.
        Errno::result(unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL,
                0,
                0,
                0,
            )
        })
        .syscall("prctl(PR_CAP_AMBIENT_CLEAR_ALL)")?;
    }
    if !is("no-no-new-privs") {
        // SAFETY: prctl with integer arguments.
        Errno::result(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) })
            .syscall("prctl(PR_SET_NO_NEW_PRIVS)")?;
    }
    Ok(())
}

/// capget's version 3 header for this thread, and its six words: effective, permitted and
/// inheritable, low 32 bits, then the same for the high ones.
fn header() -> [u32; 2] {
    [0x2008_0522, 0]
}

/// (effective, permitted, inheritable).
fn current_sets() -> Result<(u64, u64, u64)> {
    let mut data = [0u32; 6];
    // SAFETY: capget writes two 3-word structs into `data`, which has room for them.
    Errno::result(unsafe {
        libc::syscall(libc::SYS_capget, header().as_mut_ptr(), data.as_mut_ptr())
    })
    .syscall("capget")?;
    let join = |i: usize| u64::from(data[i]) | (u64::from(data[i + 3]) << 32);
    Ok((join(0), join(1), join(2)))
}

fn set_sets(effective: u64, permitted: u64, inheritable: u64) -> Result<()> {
    let (lo, hi) = (|m: u64| m as u32, |m: u64| (m >> 32) as u32);
    let data = [
        lo(effective),
        lo(permitted),
        lo(inheritable),
        hi(effective),
        hi(permitted),
        hi(inheritable),
    ];
    // SAFETY: capset reads two 3-word structs from `data`.
    Errno::result(unsafe { libc::syscall(libc::SYS_capset, header().as_mut_ptr(), data.as_ptr()) })
        .syscall("capset")?;
    Ok(())
}
