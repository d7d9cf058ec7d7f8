//! What the bench asks of the kernel that std has no call for: more file
//! descriptors. The bench's only `unsafe` is here; each call is a plain
//! libc call on values this module owns for the duration of the call.

use std::io;

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
