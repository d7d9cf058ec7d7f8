//! NKeys as nats-io/nkeys writes them: ed25519 keys in base32 (no
//! padding) with a prefix byte naming the key's role and a CRC-16 (XMODEM,
//! little-endian) at the end.
//!
//! A public key is `prefix | key[32] | crc[2]` (56 characters, `U...` for
//! a user); a seed is `seed-prefix | role | seed[32] | crc[2]` with the
//! role packed into the two leading bytes (58 characters, `SU...`).

use std::fmt;

use data_encoding::{Encoding, Specification};
use ring::signature::{self, Ed25519KeyPair, KeyPair as _};

/// What a key is for: its prefix byte (the first base32 letter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    Operator,
    Account,
    User,
    Server,
    Cluster,
    /// x25519 keys for encryption; natsd decodes them and verifies nothing
    /// with them.
    Curve,
}

const PREFIX_SEED: u8 = 18 << 3;
const PREFIX_PRIVATE: u8 = 15 << 3;

impl KeyKind {
    /// Every role, in nats-io/nkeys' order.
    pub const ALL: [KeyKind; 6] = [
        KeyKind::Operator,
        KeyKind::Account,
        KeyKind::User,
        KeyKind::Server,
        KeyKind::Cluster,
        KeyKind::Curve,
    ];

    pub const fn prefix(self) -> u8 {
        match self {
            KeyKind::Operator => 14 << 3,
            KeyKind::Account => 0,
            KeyKind::User => 20 << 3,
            KeyKind::Server => 13 << 3,
            KeyKind::Cluster => 2 << 3,
            KeyKind::Curve => 23 << 3,
        }
    }

    fn from_prefix(byte: u8) -> Option<KeyKind> {
        KeyKind::ALL.into_iter().find(|k| k.prefix() == byte)
    }

    /// How nats-server names the role in its messages.
    pub fn name(self) -> &'static str {
        match self {
            KeyKind::Operator => "operator",
            KeyKind::Account => "account",
            KeyKind::User => "user",
            KeyKind::Server => "server",
            KeyKind::Cluster => "cluster",
            KeyKind::Curve => "curve",
        }
    }
}

/// Why text is not a key (nats-io/nkeys' error texts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NkeyError {
    InvalidEncoding,
    InvalidChecksum,
    InvalidPrefixByte,
    InvalidSeed,
    InvalidPublicKey,
    InvalidSignature,
}

impl fmt::Display for NkeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NkeyError::InvalidEncoding => "nkeys: invalid encoded key",
            NkeyError::InvalidChecksum => "nkeys: invalid checksum",
            NkeyError::InvalidPrefixByte => "nkeys: invalid prefix byte",
            NkeyError::InvalidSeed => "nkeys: invalid seed",
            NkeyError::InvalidPublicKey => "nkeys: invalid public key",
            NkeyError::InvalidSignature => "nkeys: signature verification failed",
        })
    }
}

impl std::error::Error for NkeyError {}

/// RFC 4648 base32 without padding. Go's decoder does not insist that the
/// unused low bits of the last character are zero, so neither does this
/// one: a seed (36 bytes, 2 spare bits) Go reads, natsd reads.
fn base32() -> &'static Encoding {
    static ENCODING: std::sync::OnceLock<Encoding> = std::sync::OnceLock::new();
    ENCODING.get_or_init(|| {
        let mut spec = Specification::new();
        spec.symbols.push_str("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
        spec.check_trailing_bits = false;
        spec.encoding()
            .expect("RFC 4648 base32 is a valid specification")
    })
}

/// CRC-16/XMODEM: polynomial 0x1021, initial value 0, not reflected.
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Base32-decode `text` and check its CRC; the payload without the CRC.
fn decode_checked(text: &[u8]) -> Result<Vec<u8>, NkeyError> {
    // Public keys are 56 characters and seeds 58: anything much longer is
    // not a key, and is refused before any work in proportion to it.
    if text.len() > 128 {
        return Err(NkeyError::InvalidEncoding);
    }
    let mut raw = base32()
        .decode(text)
        .map_err(|_| NkeyError::InvalidEncoding)?;
    if raw.len() < 4 {
        return Err(NkeyError::InvalidEncoding);
    }
    let body = raw.len() - 2;
    let crc = u16::from_le_bytes([raw[body], raw[body + 1]]);
    if crc16(&raw[..body]) != crc {
        return Err(NkeyError::InvalidChecksum);
    }
    raw.truncate(body);
    Ok(raw)
}

/// A public key: its role and the 32 bytes of the ed25519 key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey {
    pub kind: KeyKind,
    pub key: [u8; 32],
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.encode())
    }
}

impl PublicKey {
    /// A public key of any role but a seed's or a private key's.
    pub fn decode(text: &str) -> Result<PublicKey, NkeyError> {
        let raw = decode_checked(text.as_bytes())?;
        let kind = KeyKind::from_prefix(raw[0]).ok_or(NkeyError::InvalidPublicKey)?;
        let key: [u8; 32] = raw[1..]
            .try_into()
            .map_err(|_| NkeyError::InvalidPublicKey)?;
        Ok(PublicKey { kind, key })
    }

    /// A public key of role `kind`, as nats-server checks configured keys
    /// (`nkeys.IsValidPublicUserKey` and friends).
    pub fn decode_as(text: &str, kind: KeyKind) -> Result<PublicKey, NkeyError> {
        let key = PublicKey::decode(text)?;
        if key.kind != kind {
            return Err(NkeyError::InvalidPrefixByte);
        }
        Ok(key)
    }

    pub fn encode(&self) -> String {
        let mut raw = Vec::with_capacity(35);
        raw.push(self.kind.prefix());
        raw.extend_from_slice(&self.key);
        let crc = crc16(&raw);
        raw.extend_from_slice(&crc.to_le_bytes());
        base32().encode(&raw)
    }

    /// Whether `sig` is this key's ed25519 signature of `message`.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        signature::UnparsedPublicKey::new(&signature::ED25519, &self.key)
            .verify(message, sig)
            .is_ok()
    }
}

/// Whether `text` is a public key of role `kind`.
pub fn is_valid_public_key(text: &str, kind: KeyKind) -> bool {
    PublicKey::decode_as(text, kind).is_ok()
}

/// A key pair from a seed: what signs nonces (a leaf node's `.creds`) and,
/// in tests, JWTs.
pub struct KeyPair {
    kind: KeyKind,
    seed: [u8; 32],
    pair: Ed25519KeyPair,
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the seed.
        write!(f, "KeyPair({})", self.public_key().encode())
    }
}

impl KeyPair {
    /// A key pair of role `kind` from 32 bytes of seed.
    pub fn from_raw_seed(kind: KeyKind, seed: [u8; 32]) -> KeyPair {
        let pair =
            Ed25519KeyPair::from_seed_unchecked(&seed).expect("any 32 bytes are an ed25519 seed");
        KeyPair { kind, seed, pair }
    }

    /// A new key pair of role `kind` from the system's random numbers.
    pub fn generate(kind: KeyKind) -> KeyPair {
        let mut seed = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut seed)
            .expect("the system has random numbers");
        KeyPair::from_raw_seed(kind, seed)
    }

    /// A seed as nats-io/nkeys writes it (`SU...`, `SA...`, `SO...`).
    pub fn from_seed(text: &str) -> Result<KeyPair, NkeyError> {
        let raw = decode_checked(text.trim().as_bytes())?;
        if raw.len() != 34 {
            return Err(NkeyError::InvalidSeed);
        }
        if raw[0] & 0xf8 != PREFIX_SEED {
            return Err(NkeyError::InvalidSeed);
        }
        let role = ((raw[0] & 7) << 5) | ((raw[1] & 0xf8) >> 3);
        let kind = KeyKind::from_prefix(role).ok_or(NkeyError::InvalidPrefixByte)?;
        let seed: [u8; 32] = raw[2..].try_into().map_err(|_| NkeyError::InvalidSeed)?;
        Ok(KeyPair::from_raw_seed(kind, seed))
    }

    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    pub fn public_key(&self) -> PublicKey {
        let key: [u8; 32] = self
            .pair
            .public_key()
            .as_ref()
            .try_into()
            .expect("ed25519 public keys are 32 bytes");
        PublicKey {
            kind: self.kind,
            key,
        }
    }

    /// The seed as nats-io/nkeys writes it.
    pub fn encode_seed(&self) -> String {
        let role = self.kind.prefix();
        let mut raw = Vec::with_capacity(36);
        raw.push(PREFIX_SEED | (role >> 5));
        raw.push((role & 31) << 3);
        raw.extend_from_slice(&self.seed);
        let crc = crc16(&raw);
        raw.extend_from_slice(&crc.to_le_bytes());
        base32().encode(&raw)
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.pair
            .sign(message)
            .as_ref()
            .try_into()
            .expect("ed25519 signatures are 64 bytes")
    }
}

/// nats-io/nkeys' private key text (`P...`) is never used by a server;
/// its prefix is only refused where a public key is expected.
pub fn is_private_key_text(text: &str) -> bool {
    decode_checked(text.as_bytes()).is_ok_and(|raw| raw[0] == PREFIX_PRIVATE)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A user seed and its public key as the Python `nkeys` package derives it.
    const USER_SEED: &str = "SUAMK2FG4MI6UE3ACF3FK3OIQBCEIEZV7NSWFFEW63UXMRLFM2XLAXK4GY";
    const USER_PUB: &str = "UAT6BWCSCWLUKJT6K6MBJJOEOTXZ5AJDOYKNEVRFC7VNO6OA43N4TRNO";

    #[test]
    fn crc16_is_xmodem() {
        assert_eq!(crc16(b"123456789"), 0x31c3);
        assert_eq!(crc16(b""), 0);
    }

    #[test]
    fn a_seed_from_nats_server_tests_gives_its_public_key() {
        let pair = KeyPair::from_seed(USER_SEED).unwrap();
        assert_eq!(pair.kind(), KeyKind::User);
        assert_eq!(pair.public_key().encode(), USER_PUB);
        assert_eq!(pair.encode_seed(), USER_SEED);
    }

    #[test]
    fn keys_round_trip_for_every_role() {
        for kind in KeyKind::ALL {
            let pair = KeyPair::from_raw_seed(kind, [kind.prefix(); 32]);
            let public = pair.public_key().encode();
            assert_eq!(public.len(), 56);
            assert_eq!(public.as_bytes()[0], b"OAUNCX"[index(kind)]);
            assert_eq!(
                PublicKey::decode_as(&public, kind).unwrap(),
                pair.public_key()
            );
            let seed = pair.encode_seed();
            assert_eq!(seed.len(), 58);
            assert_eq!(&seed[..2], format!("S{}", &public[..1]));
            let again = KeyPair::from_seed(&seed).unwrap();
            assert_eq!(again.public_key(), pair.public_key());
        }
        fn index(kind: KeyKind) -> usize {
            match kind {
                KeyKind::Operator => 0,
                KeyKind::Account => 1,
                KeyKind::User => 2,
                KeyKind::Server => 3,
                KeyKind::Cluster => 4,
                KeyKind::Curve => 5,
            }
        }
    }

    #[test]
    fn signatures_verify_only_for_their_key_and_message() {
        let pair = KeyPair::from_seed(USER_SEED).unwrap();
        let sig = pair.sign(b"nonce");
        let public = pair.public_key();
        assert!(public.verify(b"nonce", &sig));
        assert!(!public.verify(b"nonc3", &sig));
        assert!(!public.verify(b"nonce", &sig[..63]));
        let other = KeyPair::from_raw_seed(KeyKind::User, [1; 32]).public_key();
        assert!(!other.verify(b"nonce", &sig));
    }

    #[test]
    fn malformed_keys_are_refused_with_nkeys_errors() {
        let mut flipped = USER_PUB.to_string();
        flipped.replace_range(10..11, "A");
        assert_eq!(PublicKey::decode(&flipped), Err(NkeyError::InvalidChecksum));
        assert_eq!(
            PublicKey::decode("not a key"),
            Err(NkeyError::InvalidEncoding)
        );
        assert_eq!(PublicKey::decode(""), Err(NkeyError::InvalidEncoding));
        assert_eq!(
            PublicKey::decode_as(USER_PUB, KeyKind::Account),
            Err(NkeyError::InvalidPrefixByte)
        );
        // A seed is not a public key, and a public key is not a seed.
        assert!(PublicKey::decode(USER_SEED).is_err());
        assert!(KeyPair::from_seed(USER_PUB).is_err());
        assert!(PublicKey::decode(&"A".repeat(4096)).is_err());
        // Lower case is not base32 as Go reads it.
        assert!(PublicKey::decode(&USER_PUB.to_lowercase()).is_err());
    }
}
