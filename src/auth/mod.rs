//! Who may connect: users, passwords, tokens. Pure functions over the
//! configured credentials and what a client presented in CONNECT; no I/O,
//! no clock, so tests and fuzz targets call them directly.

pub mod password;

use crate::options::Options;
use crate::proto::ConnectOpts;

/// nats-server's checks: the users list first (a client that presents no
/// credentials at all is the `no_auth_user`, when there is one), else the
/// token, else the single user.
pub fn authorized(opts: &Options, client: &ConnectOpts) -> bool {
    if let Some(users) = &opts.users {
        let anonymous =
            client.user.is_empty() && client.pass.is_empty() && client.auth_token.is_empty();
        if let (true, Some(no_auth_user)) = (anonymous, &opts.no_auth_user) {
            return users.iter().any(|u| u.username == *no_auth_user);
        }
        return users
            .iter()
            .any(|u| *u.username == *client.user && password::matches(&u.password, &client.pass));
    }
    if let Some(token) = &opts.authorization {
        return password::matches(token, &client.auth_token);
    }
    if let Some(user) = &opts.username {
        let pass = opts.password.as_deref().unwrap_or("");
        return *client.user == **user && password::matches(pass, &client.pass);
    }
    true
}
