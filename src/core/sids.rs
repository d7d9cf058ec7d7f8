//! A connection's subscriptions by sid.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use slab::Slab;

use super::conn::Subscription;

/// Subscriptions a connection keeps as a plain list before it indexes them.
const FEW_SIDS: usize = 16;

/// A connection's subscriptions by sid.
///
/// Most clients hold a few subscriptions: up to [`FEW_SIDS`] their slab keys
/// are a list, searched by comparing sids (16 keys take 64 bytes; a hash
/// table of them about 300). Beyond that they are keyed by a hash of the
/// sid, not a copy of it: the sid lives once, in the subscription, and is
/// compared there. The rare colliding sid goes to a short list, so no
/// subscription is ever mistaken for another. The hash key is per process
/// (`RandomState`), so collisions cannot be chosen in advance, and the table
/// uses that hash as is rather than hashing it again.
#[derive(Default)]
pub struct SidMap(Sids);

enum Sids {
    Few(Vec<u32>),
    /// Boxed: every connection carries a `Sids`, few need the table, and
    /// inline it would make all of them 32 bytes bigger.
    Many(Box<ManySids>),
}

struct ManySids {
    by_hash: HashMap<u64, usize, BuildHasherDefault<KeyIsHash>>,
    collided: Vec<usize>,
}

impl Default for Sids {
    fn default() -> Self {
        Sids::Few(Vec::new())
    }
}

/// A `Hasher` for keys that already are keyed hashes: it passes them on.
#[derive(Default)]
struct KeyIsHash(u64);

impl Hasher for KeyIsHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; this keeps any other key well mixed.
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl SidMap {
    pub fn len(&self) -> usize {
        match &self.0 {
            Sids::Few(keys) => keys.len(),
            Sids::Many(many) => many.by_hash.len() + many.collided.len(),
        }
    }

    /// The subscription with `sid`, whose hash is `hash`.
    pub fn get(&self, sid: &[u8], hash: u64, subs: &Slab<Subscription>) -> Option<usize> {
        let is = |k: usize| subs.get(k).is_some_and(|s| s.sid() == sid);
        match &self.0 {
            Sids::Few(keys) => keys.iter().map(|&k| k as usize).find(|&k| is(k)),
            Sids::Many(many) => match many.by_hash.get(&hash) {
                Some(&k) if is(k) => Some(k),
                Some(_) => many.collided.iter().copied().find(|&k| is(k)),
                None => None,
            },
        }
    }

    /// Add a subscription whose sid is not in the map yet; its sid hashes
    /// to `hash` under `hasher`, which also hashes the others' sids when
    /// the list grows into a table.
    pub fn insert(
        &mut self,
        hash: u64,
        sub_key: usize,
        subs: &Slab<Subscription>,
        hasher: &impl BuildHasher,
    ) {
        if let Sids::Few(keys) = &mut self.0 {
            if keys.len() < FEW_SIDS {
                keys.push(sub_key as u32);
                return;
            }
            let listed = std::mem::take(keys);
            self.0 = Sids::Many(Box::new(ManySids {
                by_hash: HashMap::default(),
                collided: Vec::new(),
            }));
            for k in listed {
                let k = k as usize;
                if let Some(sub) = subs.get(k) {
                    self.insert(hasher.hash_one(sub.sid()), k, subs, hasher);
                }
            }
        }
        let Sids::Many(many) = &mut self.0 else {
            unreachable!("a full list became a table above");
        };
        if let std::collections::hash_map::Entry::Vacant(e) = many.by_hash.entry(hash) {
            e.insert(sub_key);
        } else {
            many.collided.push(sub_key);
        }
    }

    /// Remove subscription `sub_key`, whose sid hashes to `hash` under
    /// `hasher` (the hash is not stored: 8 bytes for every subscription).
    pub fn remove(
        &mut self,
        hash: u64,
        sub_key: usize,
        subs: &Slab<Subscription>,
        hasher: &impl BuildHasher,
    ) {
        let (by_hash, collided) = match &mut self.0 {
            Sids::Few(keys) => {
                if let Some(i) = keys.iter().position(|&k| k as usize == sub_key) {
                    keys.swap_remove(i);
                }
                return;
            }
            Sids::Many(many) => (&mut many.by_hash, &mut many.collided),
        };
        if let Some(i) = collided.iter().position(|&k| k == sub_key) {
            collided.swap_remove(i);
            return;
        }
        if by_hash.get(&hash) == Some(&sub_key) {
            by_hash.remove(&hash);
            // A collided sid with the same hash takes the free place.
            let hash_of = |k: usize| subs.get(k).map(|s| hasher.hash_one(s.sid()));
            if let Some(i) = collided.iter().position(|&k| hash_of(k) == Some(hash)) {
                let moved = collided.swap_remove(i);
                by_hash.insert(hash, moved);
            }
        }
    }

    /// Every subscription key, in no particular order.
    pub fn keys(&self) -> Vec<usize> {
        match &self.0 {
            Sids::Few(keys) => keys.iter().map(|&k| k as usize).collect(),
            Sids::Many(many) => many
                .by_hash
                .values()
                .chain(&many.collided)
                .copied()
                .collect(),
        }
    }

    /// Every subscription key, emptying the map.
    pub fn drain(&mut self) -> Vec<usize> {
        let keys = self.keys();
        self.0 = Sids::default();
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes sid "4" to 9 and every other sid to 7, to force collisions.
    #[derive(Default)]
    struct Forced(u64);

    impl Hasher for Forced {
        fn finish(&self) -> u64 {
            if self.0 == 0 {
                7
            } else {
                self.0
            }
        }
        fn write(&mut self, bytes: &[u8]) {
            if bytes == b"4" {
                self.0 = 9;
            }
        }
    }

    /// As a short list and as a table (made so by `extra` more sids, all
    /// forced onto the hash 7 as well), colliding sids stay apart.
    #[test]
    fn sid_map_keeps_colliding_sids_apart() {
        let forced = BuildHasherDefault::<Forced>::default();
        assert_eq!(
            (forced.hash_one(&b"1"[..]), forced.hash_one(&b"4"[..])),
            (7, 9)
        );
        for extra in [0, FEW_SIDS] {
            let mut subs = Slab::new();
            let mut map = SidMap::default();
            let mut add = |sid: &[u8], hash: u64| {
                let key = subs.insert(Subscription::new(0, b"s", None, sid));
                map.insert(hash, key, &subs, &forced);
                key
            };
            // Three sids forced onto one hash, one on another.
            let keys: Vec<usize> = [(&b"1"[..], 7u64), (b"2", 7), (b"3", 7), (b"4", 9)]
                .into_iter()
                .map(|(sid, hash)| add(sid, hash))
                .collect();
            let extra_keys: Vec<usize> = (0..extra)
                .map(|i| add(format!("x{i}").as_bytes(), 7))
                .collect();
            assert_eq!(map.len(), 4 + extra);
            assert_eq!(matches!(map.0, Sids::Many(_)), extra > 0);
            for (sid, hash, key) in [
                (&b"1"[..], 7, keys[0]),
                (b"2", 7, keys[1]),
                (b"3", 7, keys[2]),
                (b"4", 9, keys[3]),
            ] {
                assert_eq!(map.get(sid, hash, &subs), Some(key));
            }
            assert_eq!(map.get(b"5", 7, &subs), None);
            // Removing the one in the table promotes a collided one.
            map.remove(7, keys[0], &subs, &forced);
            subs.remove(keys[0]);
            assert_eq!(map.get(b"1", 7, &subs), None);
            assert_eq!(map.get(b"2", 7, &subs), Some(keys[1]));
            assert_eq!(map.get(b"3", 7, &subs), Some(keys[2]));
            map.remove(7, keys[2], &subs, &forced);
            assert_eq!(map.get(b"2", 7, &subs), Some(keys[1]));
            for (i, &key) in extra_keys.iter().enumerate() {
                assert_eq!(map.get(format!("x{i}").as_bytes(), 7, &subs), Some(key));
            }
            let mut rest = map.drain();
            rest.sort();
            let mut want = [vec![keys[1], keys[3]], extra_keys].concat();
            want.sort();
            assert_eq!(rest, want);
            assert_eq!(map.len(), 0);
        }
    }
}
