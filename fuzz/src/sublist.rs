//! The sublist against a naive model: random inserts, removes and matches,
//! with the match cache off, tiny or at its default size.
//!
//! Invariants: every match gives the model's plain members and queue groups;
//! insert and remove report what the model does; the count agrees; and the
//! trie holds exactly the nodes its live subscriptions need (no leaks after
//! removals).

use std::collections::BTreeSet;

use natsd::sublist::Sublist;

use super::input::Input;
use super::model;

/// Tokens from a small alphabet, so that subjects collide and overlap.
const TOKENS: &[&[u8]] = &[
    b"a",
    b"b",
    b"c",
    b"*",
    b">",
    b"",
    b"long-token-beyond-inline",
];
const QUEUES: &[Option<&[u8]>] = &[None, None, Some(b"q1"), Some(b"q2"), Some(b"")];

struct Sub {
    subject: Vec<u8>,
    queue: Option<&'static [u8]>,
    value: u8,
}

pub fn check(data: &[u8]) {
    let mut input = Input::new(data);
    let mut sublist = match input.below(3) {
        0 => Sublist::with_cache(false),
        1 => Sublist::with_cache_capacity(2),
        _ => Sublist::new(),
    };
    let mut live: Vec<Sub> = Vec::new();
    let mut steps = 0;
    while !input.is_empty() && steps < 2000 {
        steps += 1;
        match input.below(4) {
            0 | 1 => {
                let sub = Sub {
                    subject: subject(&mut input),
                    queue: QUEUES[input.below(QUEUES.len())],
                    value: input.below(8) as u8,
                };
                let stored = sublist.insert(&sub.subject, sub.queue, sub.value);
                assert_eq!(stored, model::is_valid_pattern(&sub.subject));
                if stored {
                    live.push(sub);
                }
            }
            2 => {
                // Remove a live one (by position) or a made-up one.
                let (subject, queue, value) = match live.len() {
                    n if n > 0 && input.bool() => {
                        let s = &live[input.below(n)];
                        (s.subject.clone(), s.queue, s.value)
                    }
                    _ => (
                        subject(&mut input),
                        QUEUES[input.below(QUEUES.len())],
                        input.below(8) as u8,
                    ),
                };
                let at = live
                    .iter()
                    .position(|s| s.subject == subject && s.queue == queue && s.value == value);
                assert_eq!(sublist.remove(&subject, queue, value), at.is_some());
                if let Some(at) = at {
                    live.swap_remove(at);
                }
            }
            _ => {
                let subject = subject(&mut input);
                let result = sublist.match_subject(&subject);
                let mut psubs = result.psubs().to_vec();
                psubs.sort_unstable();
                let mut groups: Vec<Vec<u8>> = result
                    .queue_groups()
                    .map(|g| {
                        let mut g = g.to_vec();
                        g.sort_unstable();
                        g
                    })
                    .collect();
                groups.sort_unstable();
                let (want_psubs, want_groups) = expected(&live, &subject);
                assert_eq!(psubs, want_psubs, "plain matches of {subject:?}");
                assert_eq!(groups, want_groups, "queue matches of {subject:?}");
            }
        }
        assert_eq!(sublist.count(), live.len());
        assert_eq!(sublist.node_count(), nodes_needed(&live));
    }
}

fn subject(input: &mut Input) -> Vec<u8> {
    let n = 1 + input.below(4);
    let tokens: Vec<&[u8]> = (0..n).map(|_| TOKENS[input.below(TOKENS.len())]).collect();
    tokens.join(&b'.')
}

/// Go returns nothing for a subject with an empty token.
fn matchable(subject: &[u8]) -> bool {
    subject.split(|&b| b == b'.').all(|t| !t.is_empty())
}

fn expected(live: &[Sub], subject: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let matching = live
        .iter()
        .filter(|s| matchable(subject) && model::matches(&s.subject, subject));
    let mut psubs = Vec::new();
    let mut by_queue: Vec<(&[u8], Vec<u8>)> = Vec::new();
    for s in matching {
        match s.queue {
            None => psubs.push(s.value),
            Some(q) => match by_queue.iter_mut().find(|(name, _)| *name == q) {
                Some((_, members)) => members.push(s.value),
                None => by_queue.push((q, vec![s.value])),
            },
        }
    }
    psubs.sort_unstable();
    let mut groups: Vec<Vec<u8>> = by_queue
        .into_iter()
        .map(|(_, mut g)| {
            g.sort_unstable();
            g
        })
        .collect();
    groups.sort_unstable();
    (psubs, groups)
}

/// The root plus one node per distinct token path of a live subscription;
/// a plain subscription on `X.>` is kept in `X`'s node, so its path ends
/// before the `>`.
fn nodes_needed(live: &[Sub]) -> usize {
    let mut prefixes: BTreeSet<Vec<&[u8]>> = BTreeSet::new();
    for s in live {
        let mut tokens: Vec<&[u8]> = s.subject.split(|&b| b == b'.').collect();
        if s.queue.is_none() && tokens.last() == Some(&&b">"[..]) {
            tokens.pop();
        }
        for end in 1..=tokens.len() {
            prefixes.insert(tokens[..end].to_vec());
        }
    }
    1 + prefixes.len()
}
