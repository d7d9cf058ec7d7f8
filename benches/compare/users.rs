//! Users for the scenarios that log in: a configuration file both servers
//! read (`-c`), and who the clients say they are in `CONNECT`.

use std::path::{Path, PathBuf};

use crate::client::{Context, Login, Res};

/// The publishers' user.
pub const PUBLISHER: Login = Login {
    user: "pub",
    pass: "pub",
};
/// The subscribers' user.
pub const SUBSCRIBER: Login = Login {
    user: "sub",
    pass: "sub",
};

/// The users a server is configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Users {
    /// [`PUBLISHER`] and [`SUBSCRIBER`] without permissions: what logging
    /// in costs on its own (nothing per message).
    Plain,
    /// The same users with publish and subscribe allow/deny lists. The flow
    /// publishes and subscribes `bench`, which `bench.>` does not match, so
    /// it is allowed by name; the deny entries never match it but are
    /// there to be checked, as in a real configuration: the publisher's on
    /// every new subject, the subscriber's on every delivery.
    Permissioned,
}

impl Users {
    const ALL: [Users; 2] = [Users::Plain, Users::Permissioned];

    /// Where [`write_configs`] puts this configuration.
    pub fn config_file(self, bench_dir: &Path) -> PathBuf {
        bench_dir.join(match self {
            Users::Plain => "users.conf",
            Users::Permissioned => "users-perms.conf",
        })
    }

    /// The configuration file, in the syntax both servers read.
    fn config(self) -> &'static str {
        match self {
            Users::Plain => {
                "authorization { users: [
  {user: pub, password: pub}
  {user: sub, password: sub}
] }
"
            }
            Users::Permissioned => {
                r#"authorization { users: [
  {user: pub, password: pub, permissions: {publish: {allow: ["bench", "bench.>", "_INBOX.>"], deny: ["bench.secret.>"]}, subscribe: {allow: ["_INBOX.>", "bench", "bench.>"]}}}
  {user: sub, password: sub, permissions: {subscribe: {allow: ["bench", "bench.>", "_INBOX.>"], deny: ["bench.secret"]}, publish: {allow: ["_INBOX.>", "bench", "bench.>"]}}}
] }
"#
            }
        }
    }
}

/// Writes every configuration into `bench_dir`, once per bench run, so
/// each server started reads the same files.
pub fn write_configs(bench_dir: &Path) -> Res<()> {
    for users in Users::ALL {
        let file = users.config_file(bench_dir);
        std::fs::write(&file, users.config()).context(&format!("write {}", file.display()))?;
    }
    Ok(())
}
