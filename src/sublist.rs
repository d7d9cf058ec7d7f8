//! The subject trie: subscriptions stored by subject pattern, matched against
//! published subjects. The counterpart of nats-server's `server/sublist.go`.
//!
//! Layout: every trie node lives in one `Vec` and is addressed by a `u32`
//! index; freed nodes go on a free list and are reused. A node holds the
//! subscriptions whose pattern ends at it and the next level of the trie: its
//! literal-token children plus separate `pwc` (`*`) and `fwc` (`>`) slots, as
//! Go's `level` does, except that plain (non-queue) subscriptions on
//! `X.>` are kept in `X`'s node rather than a `>` node of their own. The root
//! is node 0; it holds only plain subscriptions on `>`.
//!
//! Values are whatever the caller uses to name a subscription (a slab key,
//! say); they are `Copy + Eq` and the sublist never looks inside them.
//!
//! A bounded match cache sits in front of the trie. Inserts and removes patch
//! the cached results (as Go does) instead of flushing them, so a cached
//! result always holds exactly what a fresh match would.
//!
//! Go's stats counters (inserts, removes, matches, cache hits) are kept, as
//! plain increments, for the monitor's `/subsz`. Not here: interest
//! notifications, `RemoveBatch`, remote queue weights. Single-threaded; no
//! locks.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use crate::subject::{self, FWC, PWC, TSEP};

/// Default bound of the match cache (Go's `slCacheMax`).
pub const DEFAULT_CACHE_CAPACITY: usize = 1024;

/// Index of a node in `Sublist::nodes`; `NONE` is "no node".
type NodeId = u32;
const NONE: NodeId = u32::MAX;
const ROOT: NodeId = 0;

/// Interned queue name. Ids are recycled once no subscription uses the name.
type QueueId = u32;

/// A level keeps its literal children in a `Vec` searched linearly up to this
/// many, and in a `HashMap` beyond. Measured on 6–11 byte tokens (release,
/// x86-64): a SipHash map lookup costs ~17 ns hit or miss; a linear scan
/// costs ~11 ns to hit and ~23 ns to miss at 16 entries, and beats the map
/// on both below ~12. Most levels of real subject spaces are far smaller.
/// The map is keyed with std's `RandomState` so that clients choosing tokens
/// cannot force collisions.
const SMALL_CHILDREN_MAX: usize = 16;
/// A map level shrinks back to a `Vec` at this size. The gap to
/// `SMALL_CHILDREN_MAX` stops one subscribe/unsubscribe pair at the boundary
/// from converting back and forth.
const SMALL_CHILDREN_SHRINK: usize = 8;
/// Removals times cached subjects past which a batch of removals forgets
/// the match cache instead of patching it.
const BULK_PATCH_LIMIT: usize = 1024;
/// Free trie nodes are renumbered away only past this many, so that small
/// tries never pay for it (the fuzzer's small tries must, to check it).
const COMPACT_MIN_FREE: usize = if cfg!(fuzzing) { 4 } else { 256 };

/// The literal-token children of one node: a pointer, null for the many
/// nodes that have none (leaves, and the nodes before a `>`), so every node
/// pays 8 bytes for them, not a table's 24.
#[derive(Debug, Default)]
struct Children(Option<Box<ChildTable>>);

#[derive(Debug)]
enum ChildTable {
    Small(Vec<Child>),
    Large(HashMap<Box<[u8]>, NodeId>),
}

/// A token and the node it leads to in 16 bytes, the token inline up to
/// [`Child::INLINE`] bytes (most tokens are short: `s1`, `7`, `temp`).
#[derive(Debug)]
enum Child {
    Inline {
        len: u8,
        bytes: [u8; Child::INLINE],
        node: NodeId,
    },
    #[allow(clippy::box_collection)]
    Heap { node: NodeId, token: Box<Box<[u8]>> },
}

impl Child {
    const INLINE: usize = 10;

    fn new(token: &[u8], node: NodeId) -> Child {
        if token.len() > Child::INLINE {
            return Child::Heap {
                node,
                token: Box::new(token.into()),
            };
        }
        let mut bytes = [0; Child::INLINE];
        bytes[..token.len()].copy_from_slice(token);
        Child::Inline {
            len: token.len() as u8,
            bytes,
            node,
        }
    }

    #[inline]
    fn token(&self) -> &[u8] {
        match self {
            Child::Inline { len, bytes, .. } => &bytes[..*len as usize],
            Child::Heap { token, .. } => token,
        }
    }

    #[inline]
    fn node(&self) -> NodeId {
        match *self {
            Child::Inline { node, .. } | Child::Heap { node, .. } => node,
        }
    }

    fn node_mut(&mut self) -> &mut NodeId {
        match self {
            Child::Inline { node, .. } | Child::Heap { node, .. } => node,
        }
    }
}

impl Children {
    fn get(&self, token: &[u8]) -> Option<NodeId> {
        match self.0.as_deref()? {
            ChildTable::Small(v) => v.iter().find(|c| c.token() == token).map(Child::node),
            ChildTable::Large(m) => m.get(token).copied(),
        }
    }

    /// `token` must not be present yet.
    fn insert(&mut self, token: &[u8], node: NodeId) {
        let table = self
            .0
            .get_or_insert_with(|| Box::new(ChildTable::Small(Vec::new())));
        match &mut **table {
            ChildTable::Small(v) if v.len() < SMALL_CHILDREN_MAX => {
                // Grow by half rather than double, from one: most interior
                // nodes have a single child, and a default `Vec` would give
                // it room for four.
                if v.len() == v.capacity() {
                    v.reserve_exact((v.len() / 2).max(1));
                }
                v.push(Child::new(token, node));
            }
            ChildTable::Small(v) => {
                let mut m: HashMap<Box<[u8]>, NodeId> =
                    v.drain(..).map(|c| (c.token().into(), c.node())).collect();
                m.insert(token.into(), node);
                **table = ChildTable::Large(m);
            }
            ChildTable::Large(m) => {
                m.insert(token.into(), node);
            }
        }
    }

    fn remove(&mut self, token: &[u8]) -> Option<NodeId> {
        let table = self.0.as_deref_mut()?;
        let node = match table {
            ChildTable::Small(v) => {
                let i = v.iter().position(|c| c.token() == token)?;
                v.swap_remove(i).node()
            }
            ChildTable::Large(m) => {
                let node = m.remove(token)?;
                if m.len() <= SMALL_CHILDREN_SHRINK {
                    *table = ChildTable::Small(m.drain().map(|(t, n)| Child::new(&t, n)).collect());
                } else if m.len() * 4 < m.capacity() {
                    // A crowd of tokens gone: give the table back.
                    m.shrink_to_fit();
                }
                node
            }
        };
        if self.is_empty() {
            self.0 = None;
        }
        Some(node)
    }

    fn is_empty(&self) -> bool {
        match self.0.as_deref() {
            None => true,
            Some(ChildTable::Small(v)) => v.is_empty(),
            Some(ChildTable::Large(m)) => m.is_empty(),
        }
    }

    fn ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        let (small, large) = match self.0.as_deref() {
            None => (None, None),
            Some(ChildTable::Small(v)) => (Some(v.iter().map(Child::node)), None),
            Some(ChildTable::Large(m)) => (None, Some(m.values().copied())),
        };
        small
            .into_iter()
            .flatten()
            .chain(large.into_iter().flatten())
    }

    fn ids_mut(&mut self) -> impl Iterator<Item = &mut NodeId> + '_ {
        let (small, large) = match self.0.as_deref_mut() {
            None => (None, None),
            Some(ChildTable::Small(v)) => (Some(v.iter_mut().map(Child::node_mut)), None),
            Some(ChildTable::Large(m)) => (None, Some(m.values_mut())),
        };
        small
            .into_iter()
            .flatten()
            .chain(large.into_iter().flatten())
    }
}

/// A node's plain subscriptions. Most nodes that hold any hold one (each
/// client subscribes to its own inbox, say), and one needs no allocation of
/// its own: a `Vec` would cost a heap block per leaf.
#[derive(Debug)]
enum Members<T> {
    Zero,
    One(T),
    /// Two or more. Boxed: it keeps every node 8 bytes smaller, and the
    /// pointer is followed only where a subject has several subscribers.
    #[allow(clippy::box_collection)]
    Many(Box<Vec<T>>),
}

impl<T> Members<T> {
    fn is_empty(&self) -> bool {
        matches!(self, Members::Zero)
    }

    fn as_slice(&self) -> &[T] {
        match self {
            Members::Zero => &[],
            Members::One(v) => std::slice::from_ref(v),
            Members::Many(v) => v,
        }
    }
}

impl<T: Copy + Eq> Members<T> {
    fn push(&mut self, value: T) {
        *self = match std::mem::replace(self, Members::Zero) {
            Members::Zero => Members::One(value),
            Members::One(first) => Members::Many(Box::new(vec![first, value])),
            Members::Many(mut all) => {
                all.push(value);
                Members::Many(all)
            }
        };
    }

    /// Remove one `value`; whether it was there.
    fn remove(&mut self, value: T) -> bool {
        match self {
            Members::Zero => false,
            Members::One(v) if *v == value => {
                *self = Members::Zero;
                true
            }
            Members::One(_) => false,
            Members::Many(all) => {
                let Some(i) = all.iter().position(|&v| v == value) else {
                    return false;
                };
                all.swap_remove(i);
                if all.len() == 1 {
                    *self = Members::One(all[0]);
                }
                true
            }
        }
    }
}

/// One trie node: the subscriptions whose pattern ends here, and the next
/// level (the children).
#[derive(Debug)]
struct Node<T> {
    children: Children,
    pwc: NodeId,
    /// The `>` child, for queue subscriptions on `<this>.>` only.
    fwc: NodeId,
    psubs: Members<T>,
    /// Plain subscriptions on `<this>.>`. A `>` node can hold nothing but
    /// subscriptions, so keeping the plain ones here saves a node for each
    /// device's `dev.<n>.s<m>.>` (a node is 40 bytes; this field 16).
    fwc_psubs: Members<T>,
    /// One entry per queue name with members here; no empty groups, and
    /// `None` rather than an empty list. Boxed because few nodes hold queue
    /// subscriptions: it keeps every node 16 bytes smaller.
    #[allow(clippy::box_collection)]
    qsubs: Option<Box<Vec<QueueGroup<T>>>>,
}

/// A queue name and its members at one node.
type QueueGroup<T> = (QueueId, Vec<T>);

impl<T> Node<T> {
    fn new() -> Self {
        Node {
            children: Children::default(),
            pwc: NONE,
            fwc: NONE,
            psubs: Members::Zero,
            fwc_psubs: Members::Zero,
            qsubs: None,
        }
    }

    fn queue_groups(&self) -> &[QueueGroup<T>] {
        self.qsubs.as_deref().map_or(&[], Vec::as_slice)
    }

    /// Every node this one links to, by id.
    fn links(&self) -> impl Iterator<Item = NodeId> + '_ {
        [self.pwc, self.fwc]
            .into_iter()
            .filter(|&id| id != NONE)
            .chain(self.children.ids())
    }

    fn relink(&mut self, new_id: &[NodeId]) {
        for id in [&mut self.pwc, &mut self.fwc]
            .into_iter()
            .chain(self.children.ids_mut())
        {
            if *id != NONE {
                *id = new_id[*id as usize];
            }
        }
    }

    /// No subscriptions and no children: the node can be pruned.
    fn is_empty(&self) -> bool {
        self.psubs.is_empty()
            && self.fwc_psubs.is_empty()
            && self.qsubs.is_none()
            && self.pwc == NONE
            && self.fwc == NONE
            && self.children.is_empty()
    }
}

/// Queue names interned to small ids, reference-counted by subscription.
#[derive(Debug, Default)]
struct Queues {
    ids: HashMap<Box<[u8]>, QueueId>,
    /// Subscriptions using each id; 0 for a free id.
    refs: Vec<usize>,
    free: Vec<QueueId>,
}

impl Queues {
    fn get(&self, name: &[u8]) -> Option<QueueId> {
        self.ids.get(name).copied()
    }

    /// Takes a reference to `name`, interning it if new. `None` only when
    /// every `u32` id is taken, which memory makes unreachable.
    fn acquire(&mut self, name: &[u8]) -> Option<QueueId> {
        if let Some(&id) = self.ids.get(name) {
            self.refs[id as usize] += 1;
            return Some(id);
        }
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                let id = QueueId::try_from(self.refs.len()).ok()?;
                self.refs.push(0);
                id
            }
        };
        self.refs[id as usize] = 1;
        self.ids.insert(name.into(), id);
        Some(id)
    }

    /// Drops one reference taken by `acquire`.
    fn release(&mut self, name: &[u8], id: QueueId) {
        let refs = &mut self.refs[id as usize];
        *refs -= 1;
        if *refs == 0 {
            self.ids.remove(name);
            self.free.push(id);
        }
    }
}

/// The subscriptions matching one published subject.
///
/// Order is unspecified, both of `psubs` and within and between queue
/// groups. A value inserted twice appears twice.
#[derive(Debug, Clone)]
pub struct SublistResult<T> {
    psubs: Vec<T>,
    /// Queue members, each group contiguous.
    qsubs: Vec<T>,
    /// `(queue, end)`: group `i` is `qsubs[end of group i-1 .. end]`. Never
    /// an empty group.
    qgroups: Vec<(QueueId, usize)>,
}

impl<T> Default for SublistResult<T> {
    fn default() -> Self {
        SublistResult {
            psubs: Vec::new(),
            qsubs: Vec::new(),
            qgroups: Vec::new(),
        }
    }
}

impl<T: Copy + Eq> SublistResult<T> {
    /// Plain (non-queue) subscriptions; each gets the message.
    pub fn psubs(&self) -> &[T] {
        &self.psubs
    }

    /// One non-empty slice per queue group: every matching member of the
    /// same queue name, whichever pattern it matched through, is one group
    /// (as in Go). One member of each group gets the message.
    pub fn queue_groups(&self) -> impl Iterator<Item = &[T]> + '_ {
        let mut start = 0;
        self.qgroups.iter().map(move |&(_, end)| {
            let group = self.qsubs.get(start..end).unwrap_or_default();
            start = end;
            group
        })
    }

    /// No subscription matched.
    pub fn is_empty(&self) -> bool {
        self.psubs.is_empty() && self.qgroups.is_empty()
    }

    fn clear(&mut self) {
        self.psubs.clear();
        self.qsubs.clear();
        self.qgroups.clear();
    }

    fn add(&mut self, queue: Option<QueueId>, value: T) {
        let Some(qid) = queue else {
            self.psubs.push(value);
            return;
        };
        match self.qgroups.iter().position(|&(q, _)| q == qid) {
            Some(g) => {
                let end = self.qgroups[g].1;
                self.qsubs.insert(end, value);
                for group in &mut self.qgroups[g..] {
                    group.1 += 1;
                }
            }
            None => {
                self.qsubs.push(value);
                self.qgroups.push((qid, self.qsubs.len()));
            }
        }
    }

    /// Removes one occurrence of `value`; false if there is none.
    fn remove(&mut self, queue: Option<QueueId>, value: T) -> bool {
        let Some(qid) = queue else {
            return match self.psubs.iter().position(|&v| v == value) {
                Some(i) => {
                    self.psubs.swap_remove(i);
                    true
                }
                None => false,
            };
        };
        let Some(g) = self.qgroups.iter().position(|&(q, _)| q == qid) else {
            return false;
        };
        let start = if g == 0 { 0 } else { self.qgroups[g - 1].1 };
        let end = self.qgroups[g].1;
        let Some(i) = self.qsubs[start..end].iter().position(|&v| v == value) else {
            return false;
        };
        self.qsubs.remove(start + i);
        for group in &mut self.qgroups[g..] {
            group.1 -= 1;
        }
        if end - 1 == start {
            self.qgroups.remove(g);
        }
        true
    }
}

/// A fast keyed hash of a subject for the match cache, which is consulted
/// for every published message: SipHash cost a fifth of a publish. This is
/// wyhash's multiply-fold mixing, eight bytes at a time, under a per-process
/// random key, so colliding subjects cannot be chosen in advance. The cache
/// is bounded and at most half full, so even a collision costs probes, never
/// memory.
fn subject_hash(key: u64, subject: &[u8]) -> u64 {
    const P0: u64 = 0xa076_1d64_78bd_642f;
    const P1: u64 = 0xe703_7ed1_a0b4_28db;
    fn mix(a: u64, b: u64) -> u64 {
        let r = u128::from(a) * u128::from(b);
        (r as u64) ^ ((r >> 64) as u64)
    }
    let mut h = key ^ mix(subject.len() as u64 ^ P0, P1);
    let mut chunks = subject.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        h = mix(h ^ word, P1);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        h = mix(h ^ short_word(rest), P0);
    }
    mix(h, P1)
}

/// One to seven bytes as a word, read with overlapping loads rather than
/// copied into a zeroed buffer: that copy is a `memcpy` call, and loading
/// the word it stored byte by byte stalls. The loads cover every byte, so
/// for one length equal words mean equal bytes (the length is hashed, and
/// compared, apart).
#[inline(always)]
fn short_word(bytes: &[u8]) -> u64 {
    let len = bytes.len();
    debug_assert!((1..8).contains(&len));
    let u32_at = |at: usize| {
        u64::from(u32::from_le_bytes(
            bytes[at..at + 4].try_into().expect("four bytes"),
        ))
    };
    if len >= 4 {
        u32_at(0) | u32_at(len - 4) << 32
    } else {
        u64::from(bytes[0]) | u64::from(bytes[len / 2]) << 8 | u64::from(bytes[len - 1]) << 16
    }
}

/// Byte equality without a call to `memcmp`: cached subjects are short, and
/// the call costs more than the comparison (this runs for every PUB).
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let len = a.len();
    if len != b.len() {
        return false;
    }
    let word =
        |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("eight bytes"));
    if len < 8 {
        return len == 0 || short_word(a) == short_word(b);
    }
    // Whole words, then the last eight bytes (overlapping the previous word).
    (0..len / 8).all(|i| word(a, i * 8) == word(b, i * 8)) && word(a, len - 8) == word(b, len - 8)
}

/// One cached match.
#[derive(Debug)]
struct CacheEntry<T> {
    subject: Vec<u8>,
    hash: u64,
    /// Matched since the last sweep: a sweep evicts unmarked entries first.
    hit: bool,
    result: SublistResult<T>,
}

/// The match cache: subject -> result, at most `capacity` entries.
///
/// Entries live in a `Vec`; `entries[..live]` are in use and the rest are
/// evicted entries kept for their allocations, so a miss in steady state
/// reuses a key buffer and result vectors instead of allocating. There are
/// never more than `capacity` entries, live or spare, so the memory held is
/// bounded by `capacity` times the largest subject and result seen. The
/// index is an open-addressing table of entry numbers with linear probing,
/// at most half full, so a probe always ends at an empty slot.
///
/// When a miss finds the cache full, a sweep keeps `low` entries (Go's
/// `slCacheSweep` idea, here half the capacity), preferring those matched
/// since the previous sweep (a second chance, which Go's random drop lacks),
/// and rebuilds the index.
#[derive(Debug)]
struct Cache<T> {
    capacity: usize,
    low: usize,
    entries: Vec<CacheEntry<T>>,
    live: usize,
    /// Entry numbers, `NONE` for empty; length a power of two ≥ 2 × capacity.
    slots: Vec<u32>,
    /// Per-process key of [`subject_hash`].
    hash_key: u64,
    /// The entry matched or added last. A publisher usually repeats its
    /// subject, so this entry is compared before the subject is hashed.
    /// Only a hint: used when it is live and its subject is the one asked.
    last: usize,
}

impl<T: Copy + Eq> Cache<T> {
    fn new(capacity: usize) -> Self {
        // Entry numbers are u32 and the index doubles the capacity; clamp so
        // both stay far from overflow. No real cache comes near this.
        let capacity = capacity.min(1 << 24);
        let slots = if capacity == 0 {
            Vec::new()
        } else {
            vec![NONE; (capacity * 2).next_power_of_two()]
        };
        Cache {
            capacity,
            low: capacity / 2,
            entries: Vec::new(),
            live: 0,
            slots,
            hash_key: RandomState::new().hash_one(0x6e61_7473_u64),
            last: 0,
        }
    }

    fn enabled(&self) -> bool {
        self.capacity > 0
    }

    fn hash(&self, subject: &[u8]) -> u64 {
        subject_hash(self.hash_key, subject)
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    fn find(&self, subject: &[u8], hash: u64) -> Option<usize> {
        if !self.enabled() {
            return None;
        }
        let mask = self.mask();
        let mut i = hash as usize & mask;
        loop {
            let e = self.slots[i];
            if e == NONE {
                return None;
            }
            let entry = &self.entries[e as usize];
            if entry.hash == hash && same_bytes(&entry.subject, subject) {
                return Some(e as usize);
            }
            i = (i + 1) & mask;
        }
    }

    fn place(&mut self, entry: usize) {
        let mask = self.mask();
        let mut i = self.entries[entry].hash as usize & mask;
        while self.slots[i] != NONE {
            i = (i + 1) & mask;
        }
        self.slots[i] = entry as u32;
    }

    /// Adds an entry for `subject` (not present) with a cleared result and
    /// returns its number. Sweeps first if full, so the new entry survives.
    fn insert(&mut self, subject: &[u8], hash: u64) -> usize {
        if self.live >= self.capacity {
            self.sweep();
        }
        let i = self.live;
        if i == self.entries.len() {
            self.entries.push(CacheEntry {
                subject: Vec::new(),
                hash,
                hit: false,
                result: SublistResult::default(),
            });
        }
        let entry = &mut self.entries[i];
        entry.subject.clear();
        entry.subject.extend_from_slice(subject);
        entry.hash = hash;
        entry.hit = false;
        entry.result.clear();
        self.live += 1;
        self.place(i);
        i
    }

    /// Evicts down to `low` entries. Entries matched since the last sweep
    /// are kept first; a subject seen only once (a unique reply inbox, say)
    /// is unmarked and goes first, so one-off subjects cannot flush the
    /// ones in steady use. Marks are cleared for the next round.
    fn sweep(&mut self) {
        let mut kept = 0;
        for i in 0..self.live {
            if kept == self.low {
                break;
            }
            if self.entries[i].hit {
                self.entries.swap(kept, i);
                kept += 1;
            }
        }
        // Fill up to `low` with whatever is left; all of it is unmarked
        // unless more than `low` entries were marked.
        self.live = self.live.min(self.low);
        self.slots.fill(NONE);
        for i in 0..self.live {
            self.entries[i].hit = false;
            self.place(i);
        }
    }

    /// Forgets every cached match, and gives back the entries' memory
    /// (after a crowd has left, nothing says the cache will fill again).
    fn clear(&mut self) {
        self.live = 0;
        self.entries = Vec::new();
        self.slots.fill(NONE);
    }

    /// Patches every cached result a new subscription matches.
    fn add(&mut self, pattern: &[u8], queue: Option<QueueId>, value: T) {
        self.patch(pattern, |result| result.add(queue, value));
    }

    /// Patches every cached result a removed subscription matched.
    fn remove(&mut self, pattern: &[u8], queue: Option<QueueId>, value: T) {
        self.patch(pattern, |result| {
            result.remove(queue, value);
        });
    }

    /// Applies `change` to every cached result whose subject `pattern`
    /// matches.
    fn patch(&mut self, pattern: &[u8], mut change: impl FnMut(&mut SublistResult<T>)) {
        if !self.enabled() {
            return;
        }
        if subject::is_literal(pattern) {
            // A literal pattern matches exactly one subject.
            if let Some(i) = self.find(pattern, self.hash(pattern)) {
                change(&mut self.entries[i].result);
            }
            return;
        }
        for entry in &mut self.entries[..self.live] {
            if subject::matches(pattern, &entry.subject) {
                change(&mut entry.result);
            }
        }
    }
}

/// A set of subscriptions keyed by subject pattern, with an optional bounded
/// match cache. See the module documentation.
///
/// The same `(subject, queue, value)` may be inserted more than once; it is
/// then stored (and matched) that many times, and each `remove` takes one
/// away. (Go keys subscriptions by pointer, so a second insert of the same
/// one is absorbed; the server never inserts a value twice, and a multiset
/// is the simpler consistent rule.)
#[derive(Debug)]
pub struct Sublist<T> {
    nodes: Vec<Node<T>>,
    free: Vec<NodeId>,
    queues: Queues,
    count: usize,
    cache: Cache<T>,
    /// The result handed out when the cache is off, and the empty result.
    scratch: SublistResult<T>,
    empty: SublistResult<T>,
    /// Reused by match: pending `(level node, byte offset of next token)`
    /// branches through `*` nodes.
    stack: Vec<(NodeId, usize)>,
    /// Reused by match: queue members before they are grouped.
    qscratch: Vec<(QueueId, T)>,
    /// Reused by remove: the nodes along the subject, root first.
    path: Vec<NodeId>,
    inserts: u64,
    removes: u64,
    matches: u64,
    cache_hits: u64,
}

/// Go's `SublistStats`: counters since the sublist was made, and the fanout
/// of the subjects in the match cache.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SublistStats {
    pub num_subs: usize,
    pub num_cache: usize,
    pub num_inserts: u64,
    pub num_removes: u64,
    pub num_matches: u64,
    pub cache_hits: u64,
    /// The most subscriptions (queue groups counted once) a cached subject
    /// matches.
    pub max_fanout: usize,
    /// Their sum over the cached subjects, for the average.
    pub total_fanout: usize,
}

impl SublistStats {
    /// Add another sublist's figures (nats-server's `/subsz` sums its
    /// accounts).
    pub fn add(&mut self, other: &SublistStats) {
        self.num_subs += other.num_subs;
        self.num_cache += other.num_cache;
        self.num_inserts += other.num_inserts;
        self.num_removes += other.num_removes;
        self.num_matches += other.num_matches;
        self.cache_hits += other.cache_hits;
        self.max_fanout = self.max_fanout.max(other.max_fanout);
        self.total_fanout += other.total_fanout;
    }
}

impl<T: Copy + Eq> Default for Sublist<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy + Eq> Sublist<T> {
    /// An empty sublist with the match cache on.
    pub fn new() -> Self {
        Self::with_cache(true)
    }

    /// An empty sublist with the match cache on or off. Go turns it off
    /// where interest changes far more often than messages are published.
    pub fn with_cache(enabled: bool) -> Self {
        Self::with_cache_capacity(if enabled { DEFAULT_CACHE_CAPACITY } else { 0 })
    }

    /// An empty sublist whose cache holds at most `capacity` subjects;
    /// 0 turns the cache off.
    pub fn with_cache_capacity(capacity: usize) -> Self {
        Sublist {
            nodes: vec![Node::new()],
            free: Vec::new(),
            queues: Queues::default(),
            count: 0,
            cache: Cache::new(capacity),
            scratch: SublistResult::default(),
            empty: SublistResult::default(),
            stack: Vec::new(),
            qscratch: Vec::new(),
            path: Vec::new(),
            inserts: 0,
            removes: 0,
            matches: 0,
            cache_hits: 0,
        }
    }

    /// Adds a subscription of `value` to `subject`, in the queue group named
    /// `queue` if given (`Some(b"")` is a group with an empty name).
    ///
    /// The caller has validated `subject` with
    /// [`subject::is_valid_subject`]. Should it fail the checks Go's
    /// `Sublist.Insert` makes ([`subject::is_valid_sub_subject`]: an empty
    /// token, or a `>` before the last token), nothing is stored and false
    /// is returned; that is Go's `ErrInvalidSubject`.
    pub fn insert(&mut self, subject: &[u8], queue: Option<&[u8]>, value: T) -> bool {
        if !subject::is_valid_sub_subject(subject) {
            return false;
        }
        // Make sure every node the subject may need can be numbered before
        // creating any, so a failure leaves no half-built path behind.
        let need = subject::num_tokens(subject).saturating_sub(self.free.len());
        if self.nodes.len().saturating_add(need) >= NONE as usize {
            return false;
        }
        let qid = match queue {
            None => None,
            Some(name) => match self.queues.acquire(name) {
                Some(id) => Some(id),
                None => return false,
            },
        };

        let in_parent = qid.is_none() && ends_with_fwc(subject);
        let mut node = ROOT;
        for token in path_tokens(subject, in_parent) {
            node = match self.child(node, token) {
                Some(child) => child,
                None => self.add_child(node, token),
            };
        }
        let node = &mut self.nodes[node as usize];
        match qid {
            None if in_parent => node.fwc_psubs.push(value),
            None => node.psubs.push(value),
            Some(qid) => {
                let groups = node.qsubs.get_or_insert_with(Default::default);
                match groups.iter_mut().find(|(q, _)| *q == qid) {
                    Some((_, members)) => members.push(value),
                    None => groups.push((qid, vec![value])),
                }
            }
        }
        self.count += 1;
        self.inserts += 1;
        self.cache.add(subject, qid, value);
        true
    }

    /// Removes one subscription of `value` to `subject` in `queue`, as
    /// inserted. Returns whether it was present. Nodes left with neither
    /// subscriptions nor children are pruned back to the free list.
    pub fn remove(&mut self, subject: &[u8], queue: Option<&[u8]>, value: T) -> bool {
        if !subject::is_valid_sub_subject(subject) {
            return false;
        }
        let qid = match queue {
            None => None,
            Some(name) => match self.queues.get(name) {
                Some(id) => Some(id),
                None => return false,
            },
        };

        let in_parent = qid.is_none() && ends_with_fwc(subject);
        self.path.clear();
        self.path.push(ROOT);
        let mut node = ROOT;
        for token in path_tokens(subject, in_parent) {
            match self.child(node, token) {
                Some(child) => node = child,
                None => return false,
            }
            self.path.push(node);
        }

        let n = &mut self.nodes[node as usize];
        match qid {
            None => {
                let members = if in_parent {
                    &mut n.fwc_psubs
                } else {
                    &mut n.psubs
                };
                if !members.remove(value) {
                    return false;
                }
            }
            Some(qid) => {
                let Some(groups) = n.qsubs.as_deref_mut() else {
                    return false;
                };
                let Some(g) = groups.iter().position(|(q, _)| *q == qid) else {
                    return false;
                };
                let members = &mut groups[g].1;
                let Some(i) = members.iter().position(|&v| v == value) else {
                    return false;
                };
                members.swap_remove(i);
                if members.is_empty() {
                    groups.swap_remove(g);
                    if groups.is_empty() {
                        n.qsubs = None;
                    }
                }
            }
        }
        self.count -= 1;
        self.removes += 1;

        // Prune from the leaf up while nodes are empty. `path[d]` was
        // reached from `path[d - 1]` through the d-th token.
        for (d, token) in (1..self.path.len())
            .rev()
            .zip(path_tokens(subject, in_parent).rev())
        {
            let child = self.path[d];
            if !self.nodes[child as usize].is_empty() {
                break;
            }
            let parent = &mut self.nodes[self.path[d - 1] as usize];
            if token == PWC {
                parent.pwc = NONE;
            } else if token == FWC {
                parent.fwc = NONE;
            } else {
                parent.children.remove(token);
            }
            // Drop the node's (empty) vectors so a free slot holds no memory.
            self.nodes[child as usize] = Node::new();
            self.free.push(child);
        }

        self.cache.remove(subject, qid, value);
        if let (Some(name), Some(qid)) = (queue, qid) {
            self.queues.release(name, qid);
        }
        if self.free.len() > COMPACT_MIN_FREE && self.free.len() * 4 > self.nodes.len() * 3 {
            self.compact_nodes();
        }
        true
    }

    /// Renumber the live nodes into a vector of their own size, so that a
    /// crowd of subscriptions gone gives its nodes' memory back (the free
    /// list alone would keep the peak for good). Runs once live nodes are
    /// a quarter of the slots: O(1) amortised per removal.
    fn compact_nodes(&mut self) {
        let mut new_id = vec![NONE; self.nodes.len()];
        let mut order = Vec::with_capacity(self.nodes.len() - self.free.len());
        new_id[ROOT as usize] = 0;
        order.push(ROOT);
        let mut next = 0;
        while let Some(&id) = order.get(next) {
            next += 1;
            for child in self.nodes[id as usize].links() {
                new_id[child as usize] = order.len() as NodeId;
                order.push(child);
            }
        }
        let mut nodes = Vec::with_capacity(order.len());
        for id in order {
            let mut node = std::mem::replace(&mut self.nodes[id as usize], Node::new());
            node.relink(&new_id);
            nodes.push(node);
        }
        self.nodes = nodes;
        self.free = Vec::new();
    }

    /// `removals` subscriptions are about to be removed together (a
    /// connection closing). Patching the cache costs a scan of it for each
    /// wildcard one; past a point it is cheaper to forget the cached
    /// matches, as nats-server's `RemoveBatch` does: 10,000 devices of 10
    /// wildcard subscriptions leaving a full cache took three seconds of
    /// patching, with every other client waiting.
    pub fn expect_removals(&mut self, removals: usize) {
        if removals > 1 && removals * self.cache.live > BULK_PATCH_LIMIT {
            self.cache.clear();
        }
    }

    /// Every subscription whose pattern matches the published `subject`.
    ///
    /// `subject` is taken literally: a `*` or `>` token in it is matched only
    /// by wildcard subscriptions. An empty subject or one with an empty token
    /// (`a..b`, `.a`, `a.`) matches nothing. Whitespace is not looked at.
    ///
    /// A cache hit allocates nothing; neither does a match with the cache
    /// off once the reused result has grown to size.
    pub fn match_subject(&mut self, subject: &[u8]) -> &SublistResult<T> {
        self.matches += 1;
        if self.cache.enabled() {
            let last = self.cache.last;
            let repeated =
                last < self.cache.live && same_bytes(&self.cache.entries[last].subject, subject);
            let hash = (!repeated).then(|| self.cache.hash(subject));
            let found = match hash {
                None => Some(last),
                Some(hash) => self.cache.find(subject, hash),
            };
            if let Some(i) = found {
                self.cache_hits += 1;
                self.cache.last = i;
                let entry = &mut self.cache.entries[i];
                entry.hit = true;
                return &entry.result;
            }
            if !is_matchable(subject) {
                return &self.empty;
            }
            // A miss was hashed above (a repeated subject is a hit).
            let hash = hash.unwrap_or_else(|| self.cache.hash(subject));
            let i = self.cache.insert(subject, hash);
            self.cache.last = i;
            let result = &mut self.cache.entries[i].result;
            collect(
                &self.nodes,
                subject,
                &mut self.stack,
                &mut self.qscratch,
                result,
            );
            return result;
        }
        if !is_matchable(subject) {
            return &self.empty;
        }
        collect(
            &self.nodes,
            subject,
            &mut self.stack,
            &mut self.qscratch,
            &mut self.scratch,
        );
        &self.scratch
    }

    /// Number of subscriptions stored.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Number of live trie nodes, the root included (so 1 when empty).
    pub fn node_count(&self) -> usize {
        self.nodes.len() - self.free.len()
    }

    /// Node slots held, free ones included: the trie's memory.
    pub fn node_slots(&self) -> usize {
        self.nodes.capacity()
    }

    /// Number of subjects in the match cache.
    pub fn cache_len(&self) -> usize {
        self.cache.live
    }

    /// The counters and the cache's fanout, as Go's `Sublist.Stats`. Walks
    /// the cache (at most its capacity), so it is for monitoring only.
    pub fn stats(&self) -> SublistStats {
        let mut stats = SublistStats {
            num_subs: self.count,
            num_cache: self.cache.live,
            num_inserts: self.inserts,
            num_removes: self.removes,
            num_matches: self.matches,
            cache_hits: self.cache_hits,
            ..SublistStats::default()
        };
        for entry in &self.cache.entries[..self.cache.live] {
            let fanout = entry.result.psubs.len() + entry.result.qgroups.len();
            stats.max_fanout = stats.max_fanout.max(fanout);
            stats.total_fanout += fanout;
        }
        stats
    }

    fn child(&self, node: NodeId, token: &[u8]) -> Option<NodeId> {
        let n = &self.nodes[node as usize];
        let child = if token == PWC {
            n.pwc
        } else if token == FWC {
            n.fwc
        } else {
            return n.children.get(token);
        };
        (child != NONE).then_some(child)
    }

    /// Creates the child of `parent` for `token` (absent). The caller has
    /// checked that node ids are not exhausted.
    fn add_child(&mut self, parent: NodeId, token: &[u8]) -> NodeId {
        let child = match self.free.pop() {
            Some(id) => id,
            None => {
                self.nodes.push(Node::new());
                (self.nodes.len() - 1) as NodeId
            }
        };
        let p = &mut self.nodes[parent as usize];
        if token == PWC {
            p.pwc = child;
        } else if token == FWC {
            p.fwc = child;
        } else {
            p.children.insert(token, child);
        }
        child
    }
}

/// The subject ends in a `>` token.
fn ends_with_fwc(subject: &[u8]) -> bool {
    subject == FWC || subject.ends_with(b".>")
}

/// The tokens naming the node a subscription is stored at: all of them,
/// or all but the final `>` for one stored in the parent's `fwc_psubs`.
fn path_tokens(subject: &[u8], in_parent: bool) -> impl DoubleEndedIterator<Item = &[u8]> {
    let path = match in_parent {
        true => &subject[..subject.len().saturating_sub(2)],
        false => subject,
    };
    // `>` alone is stored at the root: no tokens at all.
    subject::tokens(path).filter(move |_| !path.is_empty())
}

/// Can a published subject match anything? Not if it is empty or has an
/// empty token; Go returns its empty result for those (and does not cache
/// them).
fn is_matchable(subject: &[u8]) -> bool {
    !subject.is_empty() && subject::tokens(subject).all(|t| !t.is_empty())
}

/// Walks the trie for the matchable `subject` and fills `out`.
///
/// Iterative, so subject depth costs no call stack: each pending branch
/// through a `*` node is `(node whose children are the next level, offset of
/// the next token)`.
fn collect<T: Copy + Eq>(
    nodes: &[Node<T>],
    subject: &[u8],
    stack: &mut Vec<(NodeId, usize)>,
    qscratch: &mut Vec<(QueueId, T)>,
    out: &mut SublistResult<T>,
) {
    out.clear();
    stack.clear();
    qscratch.clear();
    stack.push((ROOT, 0));
    while let Some((mut level, mut pos)) = stack.pop() {
        loop {
            let n = &nodes[level as usize];
            let end = subject[pos..]
                .iter()
                .position(|&b| b == TSEP)
                .map_or(subject.len(), |i| pos + i);
            let last = end == subject.len();
            // `>` takes this token and everything after it.
            out.psubs.extend_from_slice(n.fwc_psubs.as_slice());
            if n.fwc != NONE {
                add_node(&nodes[n.fwc as usize], out, qscratch);
            }
            // `*` takes this token; the rest is matched below it later.
            if n.pwc != NONE {
                if last {
                    add_node(&nodes[n.pwc as usize], out, qscratch);
                } else {
                    stack.push((n.pwc, end + 1));
                }
            }
            match n.children.get(&subject[pos..end]) {
                Some(child) if last => {
                    add_node(&nodes[child as usize], out, qscratch);
                    break;
                }
                Some(child) => {
                    level = child;
                    pos = end + 1;
                }
                None => break,
            }
        }
    }
    // Members of one queue name form one group, whichever nodes they came
    // from: sort by id (no allocation, unlike a stable sort) and cut runs.
    qscratch.sort_unstable_by_key(|&(q, _)| q);
    for &(qid, value) in qscratch.iter() {
        out.qsubs.push(value);
        let end = out.qsubs.len();
        match out.qgroups.last_mut() {
            Some(group) if group.0 == qid => group.1 = end,
            _ => out.qgroups.push((qid, end)),
        }
    }
}

fn add_node<T: Copy>(n: &Node<T>, out: &mut SublistResult<T>, qscratch: &mut Vec<(QueueId, T)>) {
    out.psubs.extend_from_slice(n.psubs.as_slice());
    for (qid, members) in n.queue_groups() {
        qscratch.extend(members.iter().map(|&v| (*qid, v)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Memory per subscription is dominated by nodes: a device's
    /// `dev.7.s1.>` pays for one (the `s1`; its `>` is a field of it).
    #[test]
    fn nodes_stay_small() {
        assert_eq!(std::mem::size_of::<Node<usize>>(), 56);
        assert_eq!(std::mem::size_of::<Child>(), 16);
    }

    /// The cache's word-wise comparison is exact: every pair of subjects
    /// up to 20 bytes that differ in one byte, or in length, compares unequal.
    #[test]
    fn same_bytes_is_byte_equality() {
        for len in 0..20usize {
            let a: Vec<u8> = (0..len as u8).map(|i| b'a' + i).collect();
            assert!(same_bytes(&a, &a.clone()));
            assert!(!same_bytes(&a, &a[..len.saturating_sub(1)]) || len == 0);
            for at in 0..len {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert!(!same_bytes(&a, &b), "len {len}, byte {at}");
                if len < 8 && len > 0 {
                    assert_ne!(short_word(&a), short_word(&b), "len {len}, byte {at}");
                }
            }
        }
    }

    /// A result as comparable data: sorted psubs, and queue groups as a
    /// sorted list of sorted member lists.
    type Shape = (Vec<u32>, Vec<Vec<u32>>);

    /// The brute-force model: every stored `(pattern, queue, value)`.
    type Model = Vec<(Vec<u8>, Option<Vec<u8>>, u32)>;

    fn shape(r: &SublistResult<u32>) -> Shape {
        let mut p = r.psubs().to_vec();
        p.sort_unstable();
        let mut q: Vec<Vec<u32>> = r
            .queue_groups()
            .map(|g| {
                let mut g = g.to_vec();
                g.sort_unstable();
                g
            })
            .collect();
        q.sort();
        (p, q)
    }

    fn check_groups_well_formed(r: &SublistResult<u32>) {
        let mut prev = 0;
        let mut seen = Vec::new();
        for &(q, end) in &r.qgroups {
            assert!(end > prev, "empty queue group");
            assert!(!seen.contains(&q), "queue id split in two groups");
            seen.push(q);
            prev = end;
        }
        assert_eq!(prev, r.qsubs.len());
        assert_eq!(r.is_empty(), r.psubs.is_empty() && r.qsubs.is_empty());
    }

    /// What a match must return, computed by brute force.
    fn model_shape(model: &Model, literal: &[u8]) -> Shape {
        let mut p = Vec::new();
        let mut groups: Vec<(Vec<u8>, Vec<u32>)> = Vec::new();
        for (pattern, queue, value) in model {
            if !subject::matches(pattern, literal) {
                continue;
            }
            match queue {
                None => p.push(*value),
                Some(q) => match groups.iter_mut().find(|(name, _)| name == q) {
                    Some((_, members)) => members.push(*value),
                    None => groups.push((q.clone(), vec![*value])),
                },
            }
        }
        p.sort_unstable();
        let mut q: Vec<Vec<u32>> = groups
            .into_iter()
            .map(|(_, mut m)| {
                m.sort_unstable();
                m
            })
            .collect();
        q.sort();
        (p, q)
    }

    fn all_configs() -> Vec<Sublist<u32>> {
        vec![
            Sublist::new(),
            Sublist::with_cache(false),
            Sublist::with_cache_capacity(1),
            Sublist::with_cache_capacity(3),
        ]
    }

    fn psubs_of(sl: &mut Sublist<u32>, s: &[u8]) -> Vec<u32> {
        let mut v = sl.match_subject(s).psubs().to_vec();
        v.sort_unstable();
        v
    }

    #[test]
    fn literal_and_wildcard_table() {
        let subs: &[(&[u8], u32)] = &[
            (b"foo", 1),
            (b"foo.bar", 2),
            (b"foo.*", 3),
            (b"foo.>", 4),
            (b"*.bar", 5),
            (b">", 6),
            (b"*", 7),
            (b"foo.*.baz", 8),
            (b"*.*.baz", 9),
            (b"foo.bar.>", 10),
            (b"foo*", 11),
            (b"a>", 12),
        ];
        let cases: &[(&[u8], &[u32])] = &[
            (b"foo", &[1, 6, 7]),
            (b"foo.bar", &[2, 3, 4, 5, 6]),
            (b"foo.baz", &[3, 4, 6]),
            (b"x.bar", &[5, 6]),
            (b"foo.bar.baz", &[4, 6, 8, 9, 10]),
            (b"foo.x.baz", &[4, 6, 8, 9]),
            (b"foo.bar.baz.q", &[4, 6, 10]),
            (b"bar", &[6, 7]),
            (b"foo*", &[6, 7, 11]),
            (b"a>", &[6, 7, 12]),
            (b"foox", &[6, 7]),
            // Published wildcard tokens match only through wildcards.
            (b"*", &[6, 7]),
            (b">", &[6, 7]),
            (b"foo.*", &[3, 4, 6]),
            (b"foo.>", &[3, 4, 6]),
            (b"*.bar", &[5, 6]),
            // Malformed published subjects match nothing.
            (b"", &[]),
            (b".", &[]),
            (b"foo.", &[]),
            (b".foo", &[]),
            (b"foo..bar", &[]),
        ];
        for mut sl in all_configs() {
            for &(s, v) in subs {
                assert!(sl.insert(s, None, v));
            }
            assert_eq!(sl.count(), subs.len());
            // Twice, so cached answers are checked too.
            for _ in 0..2 {
                for &(s, want) in cases {
                    assert_eq!(psubs_of(&mut sl, s), want, "subject {:?}", s);
                    assert_eq!(sl.match_subject(s).queue_groups().count(), 0);
                }
            }
        }
    }

    #[test]
    fn invalid_inserts_are_refused() {
        for mut sl in all_configs() {
            for s in [&b""[..], b".", b"a..b", b".a", b"a.", b">.a", b"a.>.b"] {
                assert!(!sl.insert(s, None, 1), "{:?}", s);
                assert!(!sl.insert(s, Some(b"q"), 1), "{:?}", s);
                assert!(!sl.remove(s, None, 1), "{:?}", s);
            }
            assert_eq!(sl.count(), 0);
            assert_eq!(sl.node_count(), 1);
            assert!(sl.queues.ids.is_empty());
        }
    }

    #[test]
    fn queue_groups_span_patterns() {
        for mut sl in all_configs() {
            assert!(sl.insert(b"foo.bar", Some(b"workers"), 1));
            assert!(sl.insert(b"foo.*", Some(b"workers"), 2));
            assert!(sl.insert(b"foo.>", Some(b"workers"), 3));
            assert!(sl.insert(b">", Some(b"other"), 4));
            assert!(sl.insert(b"foo.*", Some(b"other"), 5));
            assert!(sl.insert(b"foo.bar", Some(b"solo"), 6));
            assert!(sl.insert(b"foo.bar", None, 7));
            assert!(sl.insert(b"foo.baz", Some(b"workers"), 8));
            for _ in 0..2 {
                let r = sl.match_subject(b"foo.bar");
                check_groups_well_formed(r);
                assert_eq!(
                    shape(r),
                    (vec![7], vec![vec![1, 2, 3], vec![4, 5], vec![6]])
                );
                let r = sl.match_subject(b"foo.baz");
                assert_eq!(shape(r), (vec![], vec![vec![2, 3, 8], vec![4, 5]]));
                let r = sl.match_subject(b"foo.bar.x");
                assert_eq!(shape(r), (vec![], vec![vec![3], vec![4]]));
                let r = sl.match_subject(b"zzz");
                assert_eq!(shape(r), (vec![], vec![vec![4]]));
            }
            // Removing from the middle of a group, and a whole group.
            assert!(sl.remove(b"foo.*", Some(b"workers"), 2));
            assert!(sl.remove(b"foo.bar", Some(b"solo"), 6));
            let r = sl.match_subject(b"foo.bar");
            check_groups_well_formed(r);
            assert_eq!(shape(r), (vec![7], vec![vec![1, 3], vec![4, 5]]));
            // Wrong queue, or plain instead of queue, is not found.
            assert!(!sl.remove(b"foo.bar", Some(b"other"), 1));
            assert!(!sl.remove(b"foo.bar", None, 1));
            assert!(!sl.remove(b"foo.bar", Some(b"nosuch"), 1));
            assert!(!sl.remove(b"foo.bar", Some(b"solo"), 6));
            assert_eq!(sl.count(), 6);
        }
    }

    #[test]
    fn remove_and_counts() {
        for mut sl in all_configs() {
            assert!(sl.insert(b"a.b.c", None, 1));
            assert!(sl.insert(b"a.b", None, 2));
            assert!(sl.insert(b"a.*.c", None, 3));
            assert!(sl.insert(b"a.>", None, 4));
            // root, a (holding `a.>`), a.b, a.b.c, a.*, a.*.c
            assert_eq!(sl.node_count(), 6);
            assert_eq!(psubs_of(&mut sl, b"a.b.c"), [1, 3, 4]);

            assert!(!sl.remove(b"a.b.c", None, 9), "value not there");
            assert!(!sl.remove(b"a.b.c.d", None, 1), "path not there");
            assert!(!sl.remove(b"a.x", None, 1), "path not there");
            assert!(!sl.remove(b"a", None, 1), "interior node, no subs");

            assert!(sl.remove(b"a.b.c", None, 1));
            assert!(!sl.remove(b"a.b.c", None, 1), "already removed");
            assert_eq!(sl.node_count(), 5, "leaf a.b.c pruned, a.b kept");
            assert_eq!(psubs_of(&mut sl, b"a.b.c"), [3, 4]);

            assert!(sl.remove(b"a.*.c", None, 3));
            assert_eq!(sl.node_count(), 3, "a.*.c and a.* pruned");
            assert!(sl.remove(b"a.b", None, 2));
            assert!(sl.remove(b"a.>", None, 4));
            assert_eq!(sl.count(), 0);
            assert_eq!(sl.node_count(), 1);
            assert!(sl.match_subject(b"a.b.c").is_empty());
        }
    }

    #[test]
    fn duplicates_are_a_multiset() {
        for mut sl in all_configs() {
            assert!(sl.insert(b"foo", None, 1));
            assert!(sl.match_subject(b"foo").psubs() == [1]);
            assert!(sl.insert(b"foo", None, 1));
            assert!(sl.insert(b"foo", Some(b"q"), 1));
            assert!(sl.insert(b"foo", Some(b"q"), 1));
            assert_eq!(sl.count(), 4);
            assert_eq!(
                shape(sl.match_subject(b"foo")),
                (vec![1, 1], vec![vec![1, 1]])
            );
            assert!(sl.remove(b"foo", None, 1));
            assert!(sl.remove(b"foo", Some(b"q"), 1));
            assert_eq!(shape(sl.match_subject(b"foo")), (vec![1], vec![vec![1]]));
            assert!(sl.remove(b"foo", None, 1));
            assert!(sl.remove(b"foo", Some(b"q"), 1));
            assert!(!sl.remove(b"foo", None, 1));
            assert!(sl.match_subject(b"foo").is_empty());
            assert_eq!(sl.node_count(), 1);
            assert!(sl.queues.ids.is_empty());
        }
    }

    #[test]
    fn wide_levels_switch_to_a_map_and_back() {
        for mut sl in all_configs() {
            let names: Vec<Vec<u8>> = (0..100u32).map(|i| format!("t{i}").into_bytes()).collect();
            for (i, n) in names.iter().enumerate() {
                let mut s = b"root.".to_vec();
                s.extend_from_slice(n);
                assert!(sl.insert(&s, None, i as u32));
            }
            let root = sl.child(ROOT, b"root").unwrap();
            assert!(matches!(
                sl.nodes[root as usize].children.0.as_deref(),
                Some(ChildTable::Large(_))
            ));
            for (i, n) in names.iter().enumerate() {
                let mut s = b"root.".to_vec();
                s.extend_from_slice(n);
                assert_eq!(sl.match_subject(&s).psubs(), [i as u32]);
            }
            for (i, n) in names.iter().enumerate().skip(5) {
                let mut s = b"root.".to_vec();
                s.extend_from_slice(n);
                assert!(sl.remove(&s, None, i as u32));
            }
            assert!(matches!(
                sl.nodes[root as usize].children.0.as_deref(),
                Some(ChildTable::Small(_))
            ));
            for (i, n) in names.iter().enumerate().take(5) {
                let mut s = b"root.".to_vec();
                s.extend_from_slice(n);
                assert_eq!(sl.match_subject(&s).psubs(), [i as u32]);
            }
            assert_eq!(sl.node_count(), 2 + 5);
        }
    }

    #[test]
    fn deep_subjects_do_not_recurse() {
        let depth = 20_000;
        let mut lit = Vec::new();
        let mut wild = Vec::new();
        for i in 0..depth {
            if i > 0 {
                lit.push(b'.');
                wild.push(b'.');
            }
            lit.push(b'a');
            wild.push(if i % 2 == 0 { b'*' } else { b'a' });
        }
        for mut sl in all_configs() {
            assert!(sl.insert(&lit, None, 1));
            assert!(sl.insert(&wild, Some(b"q"), 2));
            assert!(sl.insert(b"a.>", None, 3));
            let r = sl.match_subject(&lit);
            assert_eq!(shape(r), (vec![1, 3], vec![vec![2]]));
            assert!(sl.remove(&lit, None, 1));
            assert!(sl.remove(&wild, Some(b"q"), 2));
            assert!(sl.remove(b"a.>", None, 3));
            assert_eq!(sl.node_count(), 1);
        }
    }

    #[test]
    fn cache_is_bounded_and_patched() {
        let mut sl: Sublist<u32> = Sublist::with_cache_capacity(8);
        assert!(sl.insert(b"x.*", None, 1));
        for i in 0..100u32 {
            let s = format!("x.{i}");
            assert_eq!(sl.match_subject(s.as_bytes()).psubs(), [1]);
            assert!(sl.cache_len() <= 8);
            assert!(sl.cache.entries.len() <= 8);
        }
        assert!(sl.cache_len() > 0);
        // Patched, not flushed.
        let before = sl.cache_len();
        assert!(sl.insert(b"x.>", None, 2));
        assert_eq!(sl.cache_len(), before);
        assert!(sl.insert(b"x.99", None, 3));
        assert_eq!(psubs_of(&mut sl, b"x.99"), [1, 2, 3]);
        assert_eq!(psubs_of(&mut sl, b"x.98"), [1, 2]);
        assert!(sl.remove(b"x.*", None, 1));
        assert_eq!(psubs_of(&mut sl, b"x.99"), [2, 3]);
        // Malformed subjects are not cached.
        let before = sl.cache_len();
        assert!(sl.match_subject(b"x..y").is_empty());
        assert_eq!(sl.cache_len(), before);
        // Disabled cache stays empty.
        let mut off: Sublist<u32> = Sublist::with_cache(false);
        assert!(off.insert(b"x", None, 1));
        off.match_subject(b"x");
        assert_eq!(off.cache_len(), 0);
    }

    #[test]
    fn hot_paths_reuse_their_buffers() {
        let mut sl: Sublist<u32> = Sublist::with_cache(false);
        for v in 0..50 {
            assert!(sl.insert(b"a.*", None, v));
            assert!(sl.insert(b"a.>", Some(b"q"), v));
            assert!(sl.insert(b"*.b", Some(b"r"), v));
        }
        sl.match_subject(b"a.b");
        let grown = (
            sl.scratch.psubs.as_ptr(),
            sl.scratch.qsubs.as_ptr(),
            sl.scratch.qgroups.as_ptr(),
            sl.qscratch.as_ptr(),
            sl.stack.capacity(),
        );
        for _ in 0..10 {
            for s in [&b"a.b"[..], b"a.c", b"x.b", b"zz"] {
                sl.match_subject(s);
                let now = (
                    sl.scratch.psubs.as_ptr(),
                    sl.scratch.qsubs.as_ptr(),
                    sl.scratch.qgroups.as_ptr(),
                    sl.qscratch.as_ptr(),
                    sl.stack.capacity(),
                );
                assert_eq!(now, grown);
            }
        }

        // A cache hit touches nothing but the mark; a miss on a full cache
        // reuses an evicted entry.
        let mut sl: Sublist<u32> = Sublist::with_cache_capacity(4);
        assert!(sl.insert(b"a.*", None, 1));
        for i in 0..4 {
            sl.match_subject(format!("a.{i}").as_bytes());
        }
        let entries = sl.cache.entries.as_ptr();
        let keys: Vec<*const u8> = sl
            .cache
            .entries
            .iter()
            .map(|e| e.subject.as_ptr())
            .collect();
        for i in 0..40 {
            sl.match_subject(format!("a.{}", i % 8).as_bytes());
        }
        assert_eq!(sl.cache.entries.as_ptr(), entries);
        let mut after: Vec<*const u8> = sl
            .cache
            .entries
            .iter()
            .map(|e| e.subject.as_ptr())
            .collect();
        let mut keys = keys;
        keys.sort();
        after.sort();
        assert_eq!(keys, after, "key buffers are recycled");
    }

    /// xorshift64*: deterministic, no crates.
    struct Rng(u64);

    impl Rng {
        fn next_u64(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next_u64() % n as u64) as usize
        }
    }

    fn random_subject(rng: &mut Rng, alphabet: &[&[u8]], wildcards: bool) -> Vec<u8> {
        let len = 1 + rng.below(4);
        let mut s = Vec::new();
        for i in 0..len {
            if i > 0 {
                s.push(b'.');
            }
            let r = rng.below(10);
            if wildcards && r == 0 {
                s.push(b'*');
            } else if wildcards && r == 1 {
                s.push(b'>');
                break;
            } else {
                s.extend_from_slice(alphabet[rng.below(alphabet.len())]);
            }
        }
        s
    }

    /// Random interleaved inserts, removes and matches, every match checked
    /// against a brute-force model; after every change, every cached result
    /// is checked too. Returns the number of matches checked.
    fn run_model(mut sl: Sublist<u32>, seed: u64, ops: usize) -> usize {
        let alphabet: &[&[u8]] = &[b"a", b"b", b"c", b"foo*", b"a>"];
        let queues: &[Option<&[u8]>] = &[None, None, Some(b"q1"), Some(b"q2"), Some(b"")];
        let mut rng = Rng(seed);
        let mut model: Model = Vec::new();
        let mut next_value = 0u32;
        let mut checked = 0;
        for _ in 0..ops {
            let mut changed = false;
            let mut op = rng.below(10);
            if op <= 2 && model.len() >= 150 {
                // Keep the model small enough for brute force to stay fast.
                op = 3;
            }
            match op {
                0..=2 => {
                    let s = random_subject(&mut rng, alphabet, true);
                    let q = queues[rng.below(queues.len())];
                    // Now and then reuse a value, to exercise duplicates.
                    let v = if !model.is_empty() && rng.below(8) == 0 {
                        model[rng.below(model.len())].2
                    } else {
                        next_value += 1;
                        next_value
                    };
                    assert!(sl.insert(&s, q, v));
                    model.push((s, q.map(<[u8]>::to_vec), v));
                    changed = true;
                }
                3..=4 if !model.is_empty() => {
                    let (s, q, v) = model.swap_remove(rng.below(model.len()));
                    assert!(sl.remove(&s, q.as_deref(), v));
                    changed = true;
                }
                5 => {
                    // Probably absent: must agree with the model.
                    let s = random_subject(&mut rng, alphabet, true);
                    let q = queues[rng.below(queues.len())];
                    let v = 1 + rng.below(next_value as usize + 1) as u32;
                    let pos = model
                        .iter()
                        .position(|(ms, mq, mv)| *ms == s && mq.as_deref() == q && *mv == v);
                    assert_eq!(sl.remove(&s, q, v), pos.is_some());
                    if let Some(pos) = pos {
                        model.swap_remove(pos);
                        changed = true;
                    }
                }
                _ => {
                    let s = match rng.below(20) {
                        0 => b"a..b".to_vec(),
                        1 => b"a.".to_vec(),
                        2 => Vec::new(),
                        // Published subjects may carry wildcard tokens.
                        3..=6 => random_subject(&mut rng, alphabet, true),
                        _ => random_subject(&mut rng, alphabet, false),
                    };
                    let r = sl.match_subject(&s);
                    check_groups_well_formed(r);
                    assert_eq!(shape(r), model_shape(&model, &s), "subject {:?}", s);
                    checked += 1;
                }
            }
            assert_eq!(sl.count(), model.len());
            assert!(sl.cache_len() <= sl.cache.capacity);
            // Cached results must stay equal to fresh matches after every
            // change; checking all of a full cache each time is too slow, so
            // sample two entries here and check them all at the end.
            if changed && sl.cache.live > 0 {
                for _ in 0..2 {
                    let e = &sl.cache.entries[rng.below(sl.cache.live)];
                    check_groups_well_formed(&e.result);
                    assert_eq!(shape(&e.result), model_shape(&model, &e.subject));
                }
            }
        }
        for e in &sl.cache.entries[..sl.cache.live] {
            check_groups_well_formed(&e.result);
            assert_eq!(shape(&e.result), model_shape(&model, &e.subject));
        }
        // Drain, then check nothing is left behind.
        while let Some((s, q, v)) = model.pop() {
            assert!(sl.remove(&s, q.as_deref(), v));
        }
        assert_eq!(sl.count(), 0);
        assert_eq!(sl.node_count(), 1);
        assert!(sl.queues.ids.is_empty());
        assert_eq!(sl.queues.free.len(), sl.queues.refs.len());
        for e in &sl.cache.entries[..sl.cache.live] {
            assert!(e.result.is_empty());
        }
        checked
    }

    #[test]
    fn model_cache_on() {
        assert!(run_model(Sublist::new(), 0x9E37_79B9_7F4A_7C15, 4000) > 1000);
    }

    #[test]
    fn model_cache_off() {
        assert!(run_model(Sublist::with_cache(false), 0xD1B5_4A32_D192_ED03, 4000) > 1000);
    }

    #[test]
    fn model_tiny_cache() {
        for (cap, seed) in [(1, 7), (2, 11), (5, 13)] {
            assert!(run_model(Sublist::with_cache_capacity(cap), seed, 3000) > 700);
        }
    }

    #[test]
    fn free_list_is_reused() {
        let mut sl: Sublist<u32> = Sublist::new();
        let subjects: &[&[u8]] = &[b"a.b.c", b"a.*.c", b"a.>", b"x.y", b"*.*.*.*", b">"];
        let mut high_water = 0;
        for cycle in 0..5 {
            for (i, s) in subjects.iter().enumerate() {
                assert!(sl.insert(s, if i % 2 == 0 { None } else { Some(b"q") }, i as u32));
            }
            for (i, s) in subjects.iter().enumerate().rev() {
                assert!(sl.remove(s, if i % 2 == 0 { None } else { Some(b"q") }, i as u32));
            }
            assert_eq!(sl.count(), 0);
            assert_eq!(sl.node_count(), 1);
            if cycle == 0 {
                high_water = sl.nodes.len();
            }
            assert_eq!(sl.nodes.len(), high_water, "node vec grew in cycle {cycle}");
            assert_eq!(sl.free.len(), high_water - 1);
        }
    }

    #[test]
    fn a_bulk_removal_forgets_the_cache_and_matches_stay_right() {
        let mut sl: Sublist<u32> = Sublist::new();
        for n in 0..200 {
            assert!(sl.insert(format!("dev.{n}.>").as_bytes(), None, n));
        }
        assert!(sl.insert(b"dev.*.x", None, 1000));
        for n in 0..200 {
            assert_eq!(
                sl.match_subject(format!("dev.{n}.y").as_bytes()).psubs(),
                [n]
            );
        }
        sl.expect_removals(1);
        assert_eq!(sl.cache_len(), 200, "one removal patches");
        sl.expect_removals(10);
        assert_eq!(
            sl.cache_len(),
            0,
            "ten removals over 200 cached subjects forget them"
        );
        for n in 0..10 {
            assert!(sl.remove(format!("dev.{n}.>").as_bytes(), None, n));
        }
        assert!(sl.match_subject(b"dev.3.y").psubs().is_empty());
        assert_eq!(sl.match_subject(b"dev.30.x").psubs(), [30, 1000]);
    }

    #[test]
    fn plain_full_wildcards_live_in_the_parent_queues_in_a_node() {
        for mut sl in all_configs() {
            assert!(sl.insert(b">", None, 1));
            assert!(sl.insert(b"a.>", None, 2));
            assert!(sl.insert(b"a.>", Some(b"q"), 3));
            assert!(sl.insert(b"a.b.>", None, 4));
            // root (holding `>`), a (holding `a.>`), a.> (its queue), a.b
            assert_eq!(sl.node_count(), 4);
            assert_eq!(
                shape(sl.match_subject(b"a.b.c")),
                (vec![1, 2, 4], vec![vec![3]])
            );
            assert_eq!(shape(sl.match_subject(b"a.b")), (vec![1, 2], vec![vec![3]]));
            assert_eq!(shape(sl.match_subject(b"a")), (vec![1], vec![]));
            assert!(
                !sl.remove(b"a.>", None, 3),
                "a queue member is not a plain one"
            );
            assert!(!sl.remove(b"a.>", Some(b"q"), 2), "nor the other way round");
            assert!(sl.remove(b"a.>", Some(b"q"), 3));
            assert_eq!(sl.node_count(), 3);
            assert!(sl.remove(b"a.b.>", None, 4));
            assert_eq!(sl.node_count(), 2, "a.b pruned");
            assert!(sl.remove(b"a.>", None, 2));
            assert!(sl.remove(b">", None, 1));
            assert_eq!((sl.count(), sl.node_count()), (0, 1));
            assert!(sl.match_subject(b"a.b.c").is_empty());
        }
    }

    #[test]
    fn long_tokens_live_beside_inline_ones() {
        let mut sl: Sublist<u32> = Sublist::new();
        let long = b"a.exactly10.exactly_11.a_token_far_longer_than_inline";
        let short = b"a.exactly10.b";
        assert!(sl.insert(long, None, 1) && sl.insert(short, None, 2));
        assert!(sl.insert(b"a.exactly10.exactly_11", None, 3));
        assert_eq!(sl.match_subject(long).psubs(), [1]);
        assert_eq!(sl.match_subject(short).psubs(), [2]);
        assert_eq!(sl.match_subject(b"a.exactly10.exactly_11").psubs(), [3]);
        assert!(sl
            .match_subject(b"a.exactly10.exactly_12")
            .psubs()
            .is_empty());
        assert!(sl.remove(long, None, 1) && sl.remove(short, None, 2));
        assert!(sl.remove(b"a.exactly10.exactly_11", None, 3));
        assert_eq!(sl.node_count(), 1);
    }

    #[test]
    fn a_crowd_gone_gives_its_nodes_back_and_the_rest_still_match() {
        let mut sl: Sublist<u32> = Sublist::new();
        let subject = |n: u32| format!("dev.{n}.s{}.>", n % 7).into_bytes();
        for n in 0..3_000 {
            let queue = (n % 5 == 0).then_some(&b"q"[..]);
            assert!(sl.insert(&subject(n), queue, n));
            assert!(sl.insert(b"dev.*.s1.x", None, 10_000 + n));
        }
        let peak = sl.nodes.capacity();
        for n in (0..3_000).filter(|n| n % 100 != 0) {
            let queue = (n % 5 == 0).then_some(&b"q"[..]);
            assert!(sl.remove(&subject(n), queue, n));
            assert!(sl.remove(b"dev.*.s1.x", None, 10_000 + n));
        }
        assert!(
            sl.nodes.capacity() * 8 < peak,
            "{} of {peak}",
            sl.nodes.capacity()
        );
        for n in (0..3_000).step_by(100) {
            let hit = format!("dev.{n}.s{}.x", n % 7).into_bytes();
            let result = sl.match_subject(&hit);
            let found = result.psubs.contains(&n) || result.qsubs.contains(&n);
            assert!(found, "{n} still matches");
        }
        assert_eq!(sl.match_subject(b"dev.7.s1.x").psubs.len(), 30);
        for n in (0..3_000).step_by(100) {
            let queue = (n % 5 == 0).then_some(&b"q"[..]);
            assert!(sl.remove(&subject(n), queue, n));
            assert!(sl.remove(b"dev.*.s1.x", None, 10_000 + n));
        }
        assert_eq!((sl.count(), sl.node_count()), (0, 1));
    }
}
