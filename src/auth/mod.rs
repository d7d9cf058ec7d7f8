//! Who may connect: users, passwords, tokens. Pure functions over the
//! configured credentials and what a client presented in CONNECT; no I/O,
//! no clock, so tests and fuzz targets call them directly.

pub mod cert;
#[cfg(feature = "jwt")]
pub mod jwt;
#[cfg(feature = "jwt")]
pub mod limits;
#[cfg(feature = "jwt")]
pub mod nkeys;
#[cfg(feature = "jwt")]
pub mod nonce;
#[cfg(feature = "jwt")]
pub mod operator;
pub mod password;
pub mod permissions;
#[cfg(feature = "jwt")]
pub mod template;

use crate::options::{Options, User, WebsocketOptions};
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
            Login::User(user) => Some(user.name()),
        }
    }
}

/// How a client came in, for the checks that depend on it.
#[derive(Debug, Clone, Copy)]
pub struct Via<'a> {
    /// Its `allowed_connection_types` name: `STANDARD` or `WEBSOCKET`.
    pub kind: &'static str,
    /// The WebSocket block, for a WebSocket client.
    pub websocket: Option<&'a WebsocketOptions>,
    /// `verify_and_map`: the user its certificate names.
    pub cert_user: CertUser<'a>,
}

/// What `verify_and_map` made of a client's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertUser<'a> {
    /// No mapping: the CONNECT says who the client is.
    NotMapped,
    /// The certificate names this user.
    Mapped(&'a str),
    /// Mapping is on and the certificate names no configured user.
    Unknown,
}

impl Via<'_> {
    pub const STANDARD: Via<'static> = Via {
        kind: "STANDARD",
        websocket: None,
        cert_user: CertUser::NotMapped,
    };
}

/// nats-server's checks: the users list first (a client that presents no
/// credentials at all is the `no_auth_user`, when there is one; one that
/// presents an NKey must sign `nonce` with it), else the token, else the
/// single user. A WebSocket block with credentials of its own replaces the
/// server's token, single user and `no_auth_user` for its clients; a user
/// must allow the connection's type. `None`: refused; `why` may say why,
/// for the debug log.
pub fn authenticate<'a>(
    opts: &'a Options,
    via: Via<'a>,
    client: &ConnectOpts,
    nonce: &[u8],
    logins: &mut password::VerifiedLogins,
    why: &mut Option<&'static str>,
) -> Option<Login<'a>> {
    let login = authenticate_user(opts, via, client, nonce, logins, why)?;
    if let Login::User(user) = login {
        if !user.allows(via.kind) {
            *why = Some("User connection type not allowed");
            return None;
        }
    }
    Some(login)
}

fn authenticate_user<'a>(
    opts: &'a Options,
    via: Via<'a>,
    client: &ConnectOpts,
    nonce: &[u8],
    logins: &mut password::VerifiedLogins,
    why: &mut Option<&'static str>,
) -> Option<Login<'a>> {
    let overrides = via.websocket.filter(|ws| ws.auth_override());
    let (no_auth_user, token, username, password) = match overrides {
        Some(ws) => (&ws.no_auth_user, &ws.token, &ws.username, &ws.password),
        None => (
            &opts.no_auth_user,
            &opts.authorization,
            &opts.username,
            &opts.password,
        ),
    };
    if let Some(users) = &opts.users {
        let anonymous = client.user.is_empty()
            && client.pass.is_empty()
            && client.auth_token.is_empty()
            && client.nkey().is_empty()
            && client.jwt().is_empty();
        if let (true, Some(no_auth_user)) = (anonymous, no_auth_user) {
            return users
                .iter()
                .find(|u| u.name() == no_auth_user)
                .map(Login::User);
        }
        if anonymous && opts.anonymous_into_global() {
            return Some(Login::Anyone);
        }
        let has_nkeys = users.iter().any(|u| u.nkey.is_some());
        let presents_nkey = has_nkeys && !client.nkey().is_empty();
        match via.cert_user {
            CertUser::NotMapped => {}
            _ if presents_nkey => {}
            CertUser::Unknown => return None,
            // The certificate names the user; its password (none, most
            // often) must still match.
            CertUser::Mapped(name) => {
                return users
                    .iter()
                    .find(|u| u.nkey.is_none() && u.username == name)
                    .filter(|u| logins.matches(&u.password, &client.pass))
                    .map(Login::User);
            }
        }
        if presents_nkey {
            let user = users
                .iter()
                .find(|u| u.nkey.as_deref() == Some(client.nkey()))?;
            return match signed_nonce(client, nonce) {
                Ok(()) => Some(Login::User(user)),
                Err(reason) => {
                    *why = Some(reason);
                    None
                }
            };
        }
        return users
            .iter()
            .find(|u| {
                u.nkey.is_none()
                    && *u.username == *client.user
                    && logins.matches(&u.password, &client.pass)
            })
            .map(Login::User);
    }
    if let Some(token) = token {
        return logins
            .matches(token, &client.auth_token)
            .then_some(Login::Token);
    }
    if let Some(user) = username {
        let pass = password.as_deref().unwrap_or("");
        let ok = *client.user == **user && logins.matches(pass, &client.pass);
        return ok.then_some(Login::SingleUser(user));
    }
    Some(Login::Anyone)
}

/// Whether the client's `sig` is its `nkey`'s signature of `nonce`;
/// if not, nats-server's debug text for why.
#[cfg(feature = "jwt")]
fn signed_nonce(client: &ConnectOpts, nonce: &[u8]) -> Result<(), &'static str> {
    if client.sig().is_empty() {
        return Err("Signature missing");
    }
    let sig = nonce::decode_sig(client.sig()).ok_or("Signature not valid base64")?;
    let key = nkeys::PublicKey::decode(client.nkey()).map_err(|_| "User nkey not valid")?;
    if !key.verify(nonce, &sig) {
        return Err("Signature not verified");
    }
    Ok(())
}

/// Without NKeys no user has one (`Options::validate` refuses them).
#[cfg(not(feature = "jwt"))]
fn signed_nonce(_client: &ConnectOpts, _nonce: &[u8]) -> Result<(), &'static str> {
    Err("Signature not verified")
}
