//! The subcommands that load the container, for the cgroup levels to limit: `burn` (CPU),
//! `touch-memory` (memory) and `fork-until-refused` (processes).

use std::io;
use std::time::{Duration, Instant};
use std::{hint, ptr};

use probe::{Burn, Forks, Touched};

use crate::commands::{emit, errno_name, status_of};
use crate::hold::{reply_then_hold, reply_then_wait};

/// Spins for `ms` milliseconds of wall time; replies with the CPU time that took.
pub fn burn(nonce: &str, ms: u64, hold: bool) -> i32 {
    let spin = || {
        let cpu_before = cpu_time();
        let start = Instant::now();
        let until = start + Duration::from_millis(ms);
        let mut n: u64 = 0;
        while Instant::now() < until {
            for _ in 0..1000 {
                n = hint::black_box(n.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        let wall = start.elapsed();
        match (cpu_before, cpu_time()) {
            (Ok(before), Ok(after)) => Burn {
                ok: true,
                error: None,
                cpu_ms: after.saturating_sub(before).as_millis() as u64,
                wall_ms: wall.as_millis() as u64,
            },
            (Err(e), _) | (_, Err(e)) => Burn {
                ok: false,
                error: Some(format!("clock_gettime(CLOCK_PROCESS_CPUTIME_ID): {e}")),
                ..Burn::default()
            },
        }
    };
    reply_then_hold(nonce, hold, spin, |burn| burn.ok)
}

/// The CPU time this process has used.
fn cpu_time() -> io::Result<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid pointer it is given.
    if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// Allocates `mib` MiB and writes to every page of it, so that all of it is charged to the
/// container's memory group. With `wait`, first replies "ready" (0 MiB) and waits for a hold
/// signal: the checker finds the probe's pid before the OOM killer may strike.
pub fn touch_memory(nonce: &str, mib: u64, wait: bool) -> i32 {
    if wait {
        let ready = Touched {
            ok: true,
            error: None,
            mib: 0,
        };
        reply_then_wait(nonce, &ready);
    }
    let reply = match touch(mib) {
        Ok(()) => Touched {
            ok: true,
            error: None,
            mib,
        },
        Err(e) => Touched {
            ok: false,
            error: Some(format!("touching {mib} MiB: {e}")),
            mib: 0,
        },
    };
    emit(nonce, &reply);
    status_of(reply.ok)
}

/// Maps `mib` MiB of anonymous memory and writes a byte to each page (the memory stays mapped
/// until the probe exits).
fn touch(mib: u64) -> io::Result<()> {
    let len = usize::try_from(mib << 20).map_err(|_| io::Error::other("too large"))?;
    if len == 0 {
        return Ok(());
    }
    // SAFETY: an anonymous private mapping at an address the kernel chooses; no file, no
    // existing memory is affected.
    let addr = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    let page = 4096;
    let bytes = addr.cast::<u8>();
    for offset in (0..len).step_by(page) {
        // SAFETY: `offset < len`, inside the mapping just made, which is readable and writable.
        unsafe { ptr::write_volatile(bytes.add(offset), 1) };
    }
    Ok(())
}

/// Forks children that wait, until fork fails or `max` are alive; replies how many and why it
/// stopped, then ends them all (they exit when the pipe they wait on closes) and reaps them.
pub fn fork_until_refused(nonce: &str, max: u32, exit: i32) -> i32 {
    match fork_children(max) {
        Ok((children, errno)) => {
            // Replied before the children end: the count is of processes alive at once.
            let reply = Forks {
                ok: true,
                error: None,
                forked: children.len() as u32,
                errno: errno.map(errno_name),
            };
            emit(nonce, &reply);
            end_children(children);
            exit
        }
        Err(e) => {
            let reply = Forks {
                ok: false,
                error: Some(format!("pipe: {e}")),
                ..Forks::default()
            };
            emit(nonce, &reply);
            status_of(false)
        }
    }
}

/// The children: their pids and the write end of the pipe they wait on.
struct Children {
    pids: Vec<libc::pid_t>,
    write_end: libc::c_int,
}

impl Children {
    fn len(&self) -> usize {
        self.pids.len()
    }
}

/// Forks until fork fails (its errno) or `max` children are alive (None).
fn fork_children(max: u32) -> io::Result<(Children, Option<i32>)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe writes two fds into the array it is given.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let [read_end, write_end] = fds;
    let mut children = Children {
        pids: Vec::new(),
        write_end,
    };
    while children.len() < max as usize {
        // SAFETY: the probe is single-threaded; the child only calls async-signal-safe
        // functions (close, read, _exit) before it exits.
        match unsafe { libc::fork() } {
            -1 => {
                let errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
                // SAFETY: our own fd, closed once.
                unsafe { libc::close(read_end) };
                return Ok((children, Some(errno)));
            }
            0 => wait_for_the_pipe(read_end, write_end),
            pid => children.pids.push(pid),
        }
    }
    // SAFETY: our own fd, closed once.
    unsafe { libc::close(read_end) };
    Ok((children, None))
}

/// In a child: waits until every write end of the pipe is closed, then exits.
fn wait_for_the_pipe(read_end: libc::c_int, write_end: libc::c_int) -> ! {
    let mut byte = 0u8;
    // SAFETY: async-signal-safe calls on fds this child inherited; _exit skips the parent's
    // atexit handlers and stdio buffers.
    unsafe {
        libc::close(write_end);
        while libc::read(read_end, ptr::addr_of_mut!(byte).cast(), 1) < 0 {}
        libc::_exit(0)
    }
}

/// Closes the pipe, which ends every child, and reaps them.
fn end_children(children: Children) {
    // SAFETY: our own fd, closed once; then waitpid on our own children.
    unsafe {
        libc::close(children.write_end);
        for pid in children.pids {
            libc::waitpid(pid, ptr::null_mut(), 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spinning_uses_cpu_time() {
        let before = cpu_time().unwrap();
        let until = Instant::now() + Duration::from_millis(50);
        while Instant::now() < until {
            hint::black_box(0);
        }
        assert!(cpu_time().unwrap() > before);
    }

    #[test]
    fn touching_maps_and_writes_the_memory() {
        touch(0).unwrap();
        touch(4).unwrap();
    }

    #[test]
    fn forking_stops_at_the_maximum_and_the_children_end_with_the_pipe() {
        let (children, errno) = fork_children(3).unwrap();
        assert_eq!((children.len(), errno), (3, None));
        let pids = children.pids.clone();
        end_children(children);
        for pid in pids {
            // Reaped: no such child any more.
            // SAFETY: waitpid on a pid with a null status pointer.
            assert_eq!(
                unsafe { libc::waitpid(pid, ptr::null_mut(), libc::WNOHANG) },
                -1
            );
        }
    }
}
