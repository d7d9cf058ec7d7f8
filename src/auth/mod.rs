//! Who may connect: users, passwords, tokens. Pure functions over the
//! configured credentials and what a client presented in CONNECT; no I/O,
//! no clock, so tests and fuzz targets call them directly.

pub mod password;
pub mod permissions;

use crate::options::{Options, User};
use crate::proto::ConnectOpts;

/// Who a client turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login<'a> {
    /// No authentication is configured: anyone is welcome, in `$G`.
    Anyone,
    /// The configured token (`--auth`, `authorization { token }`).
    Token,
    /// The single configured user (`--user`, `authorization { user }`).
    SingleUser(&'a str),
    /// One of the users list, by its credentials or as the `no_auth_user`.
    User(&'a User),
}

impl Login<'_> {
    /// The user name `/connz?auth=1` shows as `authorized_user`.
    pub fn user_name(&self) -> Option<&str> {
        match self {
            Login::Anyone => None,
            Login::Token => Some("[REDACTED]"),
            Login::SingleUser(name) => Some(name),
            Login::User(user) => Some(&user.username),
        }
    }
}

/// nats-server's checks: the users list first (a client that presents no
/// credentials at all is the `no_auth_user`, when there is one), else the
/// token, else the single user. `None`: refused.
pub fn authenticate<'a>(
    opts: &'a Options,
    client: &ConnectOpts,
    logins: &mut password::VerifiedLogins,
) -> Option<Login<'a>> {
    if let Some(users) = &opts.users {
        let anonymous =
            client.user.is_empty() && client.pass.is_empty() && client.auth_token.is_empty();
        if let (true, Some(no_auth_user)) = (anonymous, &opts.no_auth_user) {
            return users
                .iter()
                .find(|u| u.username == *no_auth_user)
                .map(Login::User);
        }
        if anonymous && opts.anonymous_into_global() {
            return Some(Login::Anyone);
        }
        return users
            .iter()
            .find(|u| *u.username == *client.user && logins.matches(&u.password, &client.pass))
            .map(Login::User);
    }
    if let Some(token) = &opts.authorization {
        return logins
            .matches(token, &client.auth_token)
            .then_some(Login::Token);
    }
    if let Some(user) = &opts.username {
        let pass = opts.password.as_deref().unwrap_or("");
        let ok = *client.user == **user && logins.matches(pass, &client.pass);
        return ok.then_some(Login::SingleUser(user));
    }
    Some(Login::Anyone)
}
