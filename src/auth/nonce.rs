//! The nonce a client signs with its NKey: nats-server's 11 random bytes in
//! unpadded base64url (15 characters), different for every connection.
//!
//! Rather than keep 15 bytes per connection, natsd derives each nonce from
//! the connection id with a keyed hash (HMAC-SHA-256) whose key is drawn
//! from the system's random numbers at start-up: unpredictable without the
//! key, never repeated within a process, and recomputed when CONNECT comes.

use data_encoding::BASE64URL_NOPAD;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

/// nats-server's `nonceRawLen`.
const NONCE_RAW_LEN: usize = 11;
/// The nonce's length as text (`nonceLen`).
pub const NONCE_LEN: usize = 15;

pub struct Nonces {
    key: hmac::Key,
}

impl Nonces {
    pub fn new() -> Nonces {
        let mut key = [0u8; 32];
        SystemRandom::new()
            .fill(&mut key)
            .expect("the system has random numbers");
        Nonces {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
        }
    }

    /// The nonce of connection `cid`.
    pub fn for_connection(&self, cid: u64) -> [u8; NONCE_LEN] {
        let tag = hmac::sign(&self.key, &cid.to_le_bytes());
        let mut out = [0u8; NONCE_LEN];
        BASE64URL_NOPAD.encode_mut(&tag.as_ref()[..NONCE_RAW_LEN], &mut out);
        out
    }
}

impl Default for Nonces {
    fn default() -> Self {
        Nonces::new()
    }
}

/// nats-server's reading of a client's `sig`: unpadded base64url, else
/// standard padded base64 (what some clients send).
pub fn decode_sig(sig: &str) -> Option<Vec<u8>> {
    use data_encoding::BASE64;
    BASE64URL_NOPAD
        .decode(sig.as_bytes())
        .or_else(|_| BASE64.decode(sig.as_bytes()))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_fifteen_url_safe_characters_and_differ() {
        let nonces = Nonces::new();
        let a = nonces.for_connection(1);
        let b = nonces.for_connection(2);
        assert_ne!(a, b);
        assert_eq!(a, nonces.for_connection(1), "recomputed, not stored");
        assert!(a
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_'));
        assert_ne!(
            Nonces::new().for_connection(1),
            a,
            "another process, another key"
        );
    }

    #[test]
    fn signatures_decode_as_nats_server_decodes_them() {
        let raw = [0xfbu8; 64];
        let url = BASE64URL_NOPAD.encode(&raw);
        let std = data_encoding::BASE64.encode(&raw);
        assert_eq!(decode_sig(&url).unwrap(), raw);
        assert_eq!(decode_sig(&std).unwrap(), raw);
        assert!(decode_sig("not base64!").is_none());
        // Padded base64url is neither form; Go refuses it too.
        assert!(decode_sig(&data_encoding::BASE64URL.encode(&raw)).is_none());
    }
}
