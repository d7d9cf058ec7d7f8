//! Comparing a configured secret (password or token) with what a client
//! presented: a bcrypt hash is verified, anything else compared in constant
//! time, as nats-server's `comparePasswords` does.

use ring::digest::{Context, SHA256};

/// bcrypt never looks past this many bytes of a password; a longer one is
/// refused rather than matched on its first 72 bytes.
const BCRYPT_MAX_PASSWORD: usize = 72;

/// nats-server's `isBcrypt`: `^\$2[abxy]\$\d{2}\$`.
pub fn is_bcrypt(secret: &str) -> bool {
    let b = secret.as_bytes();
    b.len() >= 7
        && b.starts_with(b"$2")
        && matches!(b[2], b'a' | b'b' | b'x' | b'y')
        && b[3] == b'$'
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
        && b[6] == b'$'
}

/// Whether `presented` matches the configured `secret`.
pub fn matches(secret: &str, presented: &str) -> bool {
    if is_bcrypt(secret) {
        presented.len() <= BCRYPT_MAX_PASSWORD && bcrypt::verify(presented, secret).unwrap_or(false)
    } else {
        constant_time_eq(secret.as_bytes(), presented.as_bytes())
    }
}

/// Logins verified against bcrypt hashes, so that a client that connects
/// again (a device on a flaky link) costs a hash, not a bcrypt run: at cost
/// 11 one takes about 140 ms, and natsd checks on its one thread. What is
/// kept is a keyed SHA-256 of the hash and the password, never the
/// password; the key is per process. Failures are not kept: a wrong
/// password always pays the full price, as in nats-server.
pub struct VerifiedLogins {
    key: [u8; 32],
    verified: std::collections::HashSet<[u8; 32]>,
}

/// Verified logins kept; past it the set starts over.
const VERIFIED_MAX: usize = 1024;

impl VerifiedLogins {
    /// `seed` keys the digests (the server's random seed).
    pub fn new(seed: u64) -> VerifiedLogins {
        let mut key = [0u8; 32];
        key.copy_from_slice(ring::digest::digest(&SHA256, &seed.to_le_bytes()).as_ref());
        VerifiedLogins {
            key,
            verified: Default::default(),
        }
    }

    /// [`matches`], remembering a bcrypt success.
    pub fn matches(&mut self, secret: &str, presented: &str) -> bool {
        if !is_bcrypt(secret) {
            return matches(secret, presented);
        }
        let mut h = Context::new(&SHA256);
        h.update(&self.key);
        h.update(&(secret.len() as u64).to_le_bytes());
        h.update(secret.as_bytes());
        h.update(presented.as_bytes());
        let mut digest = [0u8; 32];
        digest.copy_from_slice(h.finish().as_ref());
        if self.verified.contains(&digest) {
            return true;
        }
        let ok = matches(secret, presented);
        if ok {
            if self.verified.len() >= VERIFIED_MAX {
                self.verified.clear();
            }
            self.verified.insert(digest);
        }
        ok
    }
}

/// Compare secrets without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `s3cr3t` at cost 4 (the lowest bcrypt allows, to keep tests fast).
    const HASH_2A: &str = "$2a$04$Xo9SJEa7u0p2xB4hJ3Vx9O3H0Kk3p6m9qzBm2zv2m0Jr8s3rjRVOa";

    #[test]
    fn bcrypt_hashes_are_recognised_as_nats_server_recognises_them() {
        for yes in ["$2a$11$abc", "$2b$04$", "$2x$10$x", "$2y$12$y"] {
            assert!(is_bcrypt(yes), "{yes}");
        }
        for no in [
            "$2c$11$abc",
            "$2a$1$abc",
            "$2a11$abc",
            "2a$11$",
            "$2a$1x$",
            "pass",
            "",
        ] {
            assert!(!is_bcrypt(no), "{no}");
        }
    }

    #[test]
    fn a_bcrypt_secret_admits_the_password_and_not_the_hash() {
        let hash = bcrypt::hash_with_salt("s3cr3t", 4, [7; 16]).unwrap();
        for version in [
            bcrypt::Version::TwoA,
            bcrypt::Version::TwoB,
            bcrypt::Version::TwoY,
        ] {
            let hash = hash.format_for_version(version);
            assert!(matches(&hash, "s3cr3t"), "{hash}");
            assert!(!matches(&hash, &hash), "the hash itself must not log in");
            assert!(!matches(&hash, "s3cr3"));
            assert!(!matches(&hash, ""));
        }
    }

    #[test]
    fn a_malformed_hash_admits_nobody() {
        assert!(!matches(HASH_2A, "anything"));
        assert!(!matches("$2a$04$short", "$2a$04$short"));
    }

    #[test]
    fn plain_secrets_compare_exactly() {
        assert!(matches("pass", "pass"));
        assert!(!matches("pass", "pas"));
        assert!(!matches("pass", "passs"));
        assert!(matches("", ""));
    }

    #[test]
    fn verified_logins_are_remembered_and_failures_are_not() {
        let hash = bcrypt::hash_with_salt("s3cr3t", 4, [7; 16])
            .unwrap()
            .format_for_version(bcrypt::Version::TwoA);
        let mut logins = VerifiedLogins::new(1);
        assert!(!logins.matches(&hash, "wrong"));
        assert!(logins.verified.is_empty());
        assert!(logins.matches(&hash, "s3cr3t"));
        assert_eq!(logins.verified.len(), 1);
        assert!(logins.matches(&hash, "s3cr3t"));
        assert!(
            !logins.matches(&hash, "s3cr3tx"),
            "a remembered login is only itself"
        );
        assert!(logins.matches("plain", "plain"));
        assert_eq!(logins.verified.len(), 1, "plain passwords need no memory");
    }

    #[test]
    fn passwords_beyond_what_bcrypt_reads_are_refused() {
        let long = "x".repeat(80);
        let hash = bcrypt::hash_with_salt(&long, 4, [1; 16])
            .unwrap()
            .format_for_version(bcrypt::Version::TwoA);
        assert!(!matches(&hash, &long));
        assert!(matches(&hash, &long[..72]));
    }
}
