//! What the bench asks of the kernel that std has no call for: more file
//! descriptors, a small receive buffer on one socket, and a fine timer
//! slack for a paced sender. The
//! bench's only `unsafe` is here; each call is a plain libc call on values
//! this module owns or borrows for the duration of the call.

use std::io;
use std::mem::size_of;
use std::net::TcpStream;
use std::os::fd::AsRawFd;

use crate::client::Res;

/// Raises this process's soft `RLIMIT_NOFILE` to its hard limit. Servers started afterwards inherit it, so
/// a scenario holding 10,000 connections has the descriptors on both
/// sides (a soft limit of 1,024 is common, the hard one much higher).
pub fn raise_fd_limit() -> Res<()> {
    let mut limit = fd_limit_pair()?;
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: `limit` is a valid, initialised rlimit that outlives the
        // call; setrlimit only reads it.
        let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
        if rc != 0 {
            return Err(format!("setrlimit(NOFILE): {}", io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// The soft and hard `RLIMIT_NOFILE` of this process, in that order.
pub fn fd_limit() -> Res<(u64, u64)> {
    let limit = fd_limit_pair()?;
    Ok((limit.rlim_cur as u64, limit.rlim_max as u64))
}

fn fd_limit_pair() -> Res<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit that outlives the call; getrlimit
    // only writes it.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    if rc != 0 {
        return Err(format!("getrlimit(NOFILE): {}", io::Error::last_os_error()));
    }
    Ok(limit)
}

/// Sets `SO_RCVBUF` on `socket`: a client that stops reading then fills
/// its receive window in kilobytes, not megabytes, so the server sees the
/// stall at once instead of after the kernel has absorbed seconds of
/// traffic. (Linux doubles the value and has a floor of a few KiB.)
pub fn set_receive_buffer(socket: &TcpStream, bytes: usize) -> Res<()> {
    let value = libc::c_int::try_from(bytes).map_err(|_| "receive buffer too large")?;
    // SAFETY: the fd is open for the borrow of `socket`; `value` is a
    // c_int that outlives the call and its size is the length passed.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&value as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(format!(
            "setsockopt(SO_RCVBUF): {}",
            io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Lets this thread's sleeps end within a microsecond of their deadline
/// (`PR_SET_TIMERSLACK`; the default slack is 50 µs), so a paced sender
/// can send one message every 50 µs. Best effort: a kernel that refuses
/// leaves the pacing coarser, never wrong in rate.
pub fn fine_timer_slack() {
    // SAFETY: prctl with PR_SET_TIMERSLACK takes a plain integer and
    // changes only this thread's timer slack.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1_000 as libc::c_ulong);
    }
}
