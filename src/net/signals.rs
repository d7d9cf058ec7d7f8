//! The signals natsd acts on, with nats-server's meaning and names.
//!
//! | signal | action |
//! | --- | --- |
//! | SIGINT | shut down |
//! | SIGTERM | shut down, unless in lame duck mode (which ends on its own) |
//! | SIGUSR1 | reopen the log file (after it was rotated) |
//! | SIGUSR2 | lame duck mode |
//! | SIGHUP | reload the configuration file |

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};

/// Every signal the server traps.
pub const TRAPPED: [i32; 5] = [SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGHUP];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Shutdown,
    ShutdownUnlessLameDuck,
    ReopenLog,
    LameDuck,
    Reload,
}

/// What `signal` asks for, and its name as nats-server logs it
/// (`Trapped "hangup" signal`).
pub fn action(signal: i32) -> Option<(Action, &'static str)> {
    Some(match signal {
        SIGINT => (Action::Shutdown, "interrupt"),
        SIGTERM => (Action::ShutdownUnlessLameDuck, "terminated"),
        SIGUSR1 => (Action::ReopenLog, "user defined signal 1"),
        SIGUSR2 => (Action::LameDuck, "user defined signal 2"),
        SIGHUP => (Action::Reload, "hangup"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_trapped_signal_has_an_action() {
        for signal in TRAPPED {
            assert!(action(signal).is_some(), "{signal}");
        }
        assert_eq!(action(SIGHUP), Some((Action::Reload, "hangup")));
        assert_eq!(action(signal_hook::consts::SIGQUIT), None);
    }
}
