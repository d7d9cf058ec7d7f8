//! Throughput: publishers pipelining `PUB`s, subscribers counting `MSG`s,
//! every message accounted for.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Barrier, OnceLock};
use std::thread::{self, ScopedJoinHandle};
use std::time::{Duration, Instant};

use crate::client::{Batch, Conn, Event, Res, LARGE_READS, PATIENCE, SMALL_READS};
use crate::leaf::interest_crossed;
use crate::proc::{on_cpu, Window};
use crate::report::{Better, Figure, Outcome};
use crate::server::RunningServer;
use crate::transport::Transport;
use crate::users::{Users, PUBLISHER, SUBSCRIBER};

/// Payload size wherever a scenario does not say otherwise.
pub const PAYLOAD: usize = 16;
/// Publishers write at least this much per `write_all`.
const BATCH_BYTES: usize = 64 * 1024;
/// How often a subscriber that waits on the others looks up from its
/// socket.
pub const POLL: Duration = Duration::from_millis(20);

/// Publishers and subscribers moving messages.
pub struct Flow {
    publishers: usize,
    subscribers: usize,
    /// Messages per publisher in a full run, rounded up to whole batches.
    pub messages: u64,
    /// The subscribers are the members of one queue group.
    queue: bool,
    payload: usize,
    /// The figure is MB/s of payload rather than msgs/s.
    per_megabyte: bool,
    subjects: Subjects,
    /// The server is configured with these and the clients log in:
    /// publishers as [`PUBLISHER`], subscribers as [`SUBSCRIBER`].
    pub users: Option<Users>,
    /// How every client reaches the server.
    pub transport: Transport,
    /// The server under test is a leaf of a Go hub, its clients the
    /// publishers; the subscribers are the hub's (see `compare/leaf.rs`).
    pub leaf: bool,
    /// Two servers under test in a cluster: the publishers are clients of
    /// one, the subscribers of the other (see `compare/cluster.rs`).
    pub cluster: bool,
}

enum Subjects {
    /// Everything on one subject, each subscriber holding one subscription.
    One,
    /// The many-subjects routing space, see [`many_published`].
    Many,
}

/// `publishers` sending `messages` each on one subject with a 16-byte
/// payload to `subscribers` (none: publish only), figured in msgs/s.
pub fn flow(publishers: usize, subscribers: usize, messages: u64) -> Flow {
    Flow {
        publishers,
        subscribers,
        messages,
        queue: false,
        payload: PAYLOAD,
        per_megabyte: false,
        subjects: Subjects::One,
        users: None,
        transport: Transport::Tcp,
        leaf: false,
        cluster: false,
    }
}

impl Flow {
    /// The subscribers form one queue group.
    pub fn queue(self) -> Flow {
        Flow {
            queue: true,
            ..self
        }
    }

    /// Another payload size; the figure becomes MB/s of payload.
    pub fn payload(self, payload: usize) -> Flow {
        Flow {
            payload,
            per_megabyte: true,
            ..self
        }
    }

    /// Publish over 10,000 subjects to subscribers holding 1,000
    /// subscriptions each, literal and wildcard.
    pub fn many_subjects(self) -> Flow {
        Flow {
            subjects: Subjects::Many,
            ..self
        }
    }

    /// The server has `users` and the clients log in as them.
    pub fn users(self, users: Users) -> Flow {
        Flow {
            users: Some(users),
            ..self
        }
    }

    /// Every client connects over `transport` (the server is configured
    /// for it; see `ServerWork::config`).
    pub fn over(self, transport: Transport) -> Flow {
        Flow { transport, ..self }
    }

    /// Publish on the server under test as a leaf of a Go hub, to
    /// subscribers on the hub (the scenario starts both; see
    /// `Scenario::run`).
    pub fn across_leaf(self) -> Flow {
        Flow { leaf: true, ..self }
    }

    /// Publish on one server of a cluster of two (the server under test,
    /// twice), to subscribers on the other (the scenario starts both; see
    /// `Scenario::run`).
    pub fn across_cluster(self) -> Flow {
        Flow {
            cluster: true,
            ..self
        }
    }
}

/// What all subscribers together have received, and when they had all of
/// it; and how many publishers are still at work.
struct Tally {
    delivered: AtomicU64,
    goal: u64,
    reached_at: OnceLock<Instant>,
    publishing: AtomicUsize,
}

impl Tally {
    fn add(&self, n: u64) {
        let total = self.delivered.fetch_add(n, Ordering::Relaxed) + n;
        if total >= self.goal {
            self.reached_at.get_or_init(Instant::now);
        }
    }

    fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    fn reached(&self) -> bool {
        self.reached_at.get().is_some()
    }

    fn publisher_done(&self) {
        self.publishing.fetch_sub(1, Ordering::Release);
    }

    fn publishing(&self) -> bool {
        self.publishing.load(Ordering::Acquire) > 0
    }
}

/// One run of `flow`, scaled to `messages` per publisher. With a `hub`
/// (`server` is its leaf, or in a cluster its peer) the subscribers are
/// the hub's clients, and the run begins once their interest has reached
/// `server`. A cluster's CPU figures are both servers'.
pub fn run_flow(
    title: &str,
    flow: &Flow,
    messages: u64,
    server: &RunningServer,
    hub: Option<&RunningServer>,
) -> Res<Outcome> {
    let subscriptions = flow.subjects.subscriptions();
    let batch = Batch::new(&flow.subjects.published(), None, flow.payload, BATCH_BYTES);
    let batches = messages.div_ceil(batch.frames);
    let published = batches * batch.frames * flow.publishers as u64;
    // Exactly what must arrive: every subscriber holds the same
    // subscriptions and gets one MSG per matching subscription; a queue
    // group shares one such stream among its members.
    let per_subscriber =
        batches * flow.publishers as u64 * batch.cycles * flow.subjects.deliveries_per_cycle();
    let (goal, each) = match flow.queue {
        true => (per_subscriber, None),
        false => (
            per_subscriber * flow.subscribers as u64,
            Some(per_subscriber),
        ),
    };

    let queue = flow.queue.then_some("workers");
    let login = |who| flow.users.map(|_| who);
    let subscribed_to = hub.unwrap_or(server);
    let mut subscribers = (0..flow.subscribers)
        .map(|_| {
            let mut conn = Conn::open_over(
                flow.transport,
                subscribed_to,
                LARGE_READS,
                login(SUBSCRIBER),
            )?;
            conn.subscribe(&subscriptions, queue)?;
            Ok(conn)
        })
        .collect::<Res<Vec<_>>>()?;
    let mut publishers = (0..flow.publishers)
        .map(|_| Conn::open_over(flow.transport, server, SMALL_READS, login(PUBLISHER)))
        .collect::<Res<Vec<_>>>()?;
    if let (Some(_), Some(publisher)) = (hub, publishers.first_mut()) {
        for subscriber in &mut subscribers {
            interest_crossed(subscriber, publisher)?;
        }
    }

    let tally = Tally {
        delivered: AtomicU64::new(0),
        goal,
        reached_at: OnceLock::new(),
        publishing: AtomicUsize::new(flow.publishers),
    };
    let (window, received, finished) = {
        let (tally, batch) = (&tally, &batch);
        // Everyone is connected and subscribed; all start at once.
        let start = &Barrier::new(flow.subscribers + flow.publishers + 1);
        thread::scope(|s| {
            let counting: Vec<_> = subscribers
                .iter_mut()
                .map(|conn| {
                    s.spawn(move || {
                        start.wait();
                        on_cpu(|| count_messages(conn, tally))
                    })
                })
                .collect();
            let sending: Vec<_> = publishers
                .iter_mut()
                .map(|conn| {
                    s.spawn(move || {
                        start.wait();
                        let sent = on_cpu(|| conn.publish(batch, batches).map(|()| Instant::now()));
                        tally.publisher_done();
                        sent
                    })
                })
                .collect();
            // The clock starts before anyone may move, never after.
            let peer = hub.filter(|_| flow.cluster);
            let window = Window::open_with_peer(server, peer);
            start.wait();
            let finished = join_all(sending, "publisher");
            let received = join_all(counting, "subscriber");
            (window, received, finished)
        })
    };
    let (window, received, finished) = (window?, received?, finished?);
    let (received, mut thread_cpu): (Vec<u64>, Vec<f64>) = received.into_iter().unzip();
    let (finished, publisher_cpu): (Vec<Instant>, Vec<f64>) = finished.into_iter().unzip();
    thread_cpu.extend(publisher_cpu);
    check_counts(&received, goal, each)?;

    // Publishing alone ends with the last publisher's PONG; otherwise the
    // clock stops at the last delivery.
    let (end, messages) = match flow.subscribers {
        0 => (finished.into_iter().max(), published),
        _ => (tally.reached_at.get().copied(), goal),
    };
    let secs = end
        .ok_or("nothing was measured")?
        .duration_since(window.start)
        .as_secs_f64();
    let figure = match flow.per_megabyte {
        false => Figure::new(title, "msgs/s", messages as f64 / secs, Better::Higher),
        true => {
            let megabytes = (messages * flow.payload as u64) as f64 / 1e6;
            Figure::new(title, "MB/s", megabytes / secs, Better::Higher)
        }
    };
    Ok(Outcome {
        figures: vec![figure],
        cpu: window.cpu(&thread_cpu)?,
    })
}

/// Every thread's result, or the first failure.
pub fn join_all<T>(handles: Vec<ScopedJoinHandle<'_, Res<T>>>, role: &str) -> Res<Vec<T>> {
    handles
        .into_iter()
        .map(|h| {
            h.join()
                .unwrap_or_else(|_| Err(format!("a {role} thread panicked")))
        })
        .collect()
}

/// A subscriber: counts `MSG`s until all subscribers together have the
/// goal and every publisher has its `PONG` (so the server has routed every
/// message), then sends a `PING` of its own: whatever arrives before the
/// `PONG` is in its count too, so a message too many (a duplicate, a wrong
/// match) cannot hide.
fn count_messages(conn: &mut Conn, tally: &Tally) -> Res<u64> {
    conn.poll_every(POLL)?;
    let mut mine = 0;
    let mut last_progress = (tally.delivered(), Instant::now());
    while !tally.reached() || tally.publishing() {
        let mut got = 0;
        conn.pump(&mut |ev| {
            if let Event::Msg(_) = ev {
                got += 1;
            }
        })?;
        mine += got;
        tally.add(got);
        let total = tally.delivered();
        if total != last_progress.0 {
            last_progress = (total, Instant::now());
        } else if !tally.reached() && last_progress.1.elapsed() > PATIENCE {
            return Err(format!(
                "lost messages: {total} of {} delivered, then nothing for {PATIENCE:?}",
                tally.goal
            ));
        }
    }
    conn.poll_every(PATIENCE)?;
    Ok(mine + conn.send_and_sync(b"")?)
}

fn check_counts(received: &[u64], goal: u64, each: Option<u64>) -> Res<()> {
    let total: u64 = received.iter().sum();
    if total != goal {
        return Err(format!(
            "{total} messages delivered, expected exactly {goal}"
        ));
    }
    if let Some(each) = each {
        if let Some((i, n)) = received.iter().enumerate().find(|(_, &n)| n != each) {
            return Err(format!("subscriber {i} got {n} messages, expected {each}"));
        }
    }
    Ok(())
}

impl Subjects {
    fn subscriptions(&self) -> Vec<String> {
        match self {
            Subjects::One => vec!["bench".into()],
            Subjects::Many => many_subscriptions(),
        }
    }

    fn published(&self) -> Vec<String> {
        match self {
            Subjects::One => vec!["bench".into()],
            Subjects::Many => many_published(),
        }
    }

    /// How many `MSG`s one subscriber holding [`Self::subscriptions`] gets
    /// when [`Self::published`] is published once.
    fn deliveries_per_cycle(&self) -> u64 {
        match self {
            Subjects::One => 1,
            Subjects::Many => {
                // Ten million naive matches: worth doing once per process.
                static MANY: OnceLock<u64> = OnceLock::new();
                *MANY.get_or_init(|| deliveries(&many_subscriptions(), &many_published()))
            }
        }
    }
}

/// The routing space: `route.<a>.<b>.<c>`, a and b in 0..10, c in 0..100.
const SPACE: u32 = 10_000;

fn route_subject(k: u32) -> String {
    format!("route.{}.{}.{}", k / 1000, k / 100 % 10, k % 100)
}

/// All 10,000 subjects once, in a stride order (7919 is prime to 10,000) so
/// that consecutive messages take different paths through the trie and no
/// small cache of recent subjects holds them.
fn many_published() -> Vec<String> {
    (0..SPACE)
        .map(|i| route_subject(i * 7919 % SPACE))
        .collect()
}

/// 1,000 subscriptions: 700 literal subjects, 250 with one `*` (matching 10
/// or 100 subjects each), 50 ending in `>` (100 subjects each). Picked by a
/// fixed pseudo-random sequence, so every run routes the same way.
fn many_subscriptions() -> Vec<String> {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut below = |n: u64| {
        // xorshift64: plenty for spreading subscriptions.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    (0..1000)
        .map(|i| {
            let (a, b, c) = (below(10), below(10), below(100));
            match i % 20 {
                0 => format!("route.{a}.{b}.>"),
                1 | 4 => format!("route.*.{b}.{c}"),
                2 => format!("route.{a}.*.{c}"),
                3 | 5 => format!("route.{a}.{b}.*"),
                _ => format!("route.{a}.{b}.{c}"),
            }
        })
        .collect()
}

/// How many `MSG`s one subscriber holding `subscriptions` gets when each of
/// `published` is published once: one per matching subscription.
fn deliveries(subscriptions: &[String], published: &[String]) -> u64 {
    published
        .iter()
        .map(|subject| {
            subscriptions
                .iter()
                .filter(|filter| subject_matches(filter, subject))
                .count() as u64
        })
        .sum()
}

/// NATS subject matching, the naive way: `*` is one token, `>` the rest.
fn subject_matches(filter: &str, subject: &str) -> bool {
    let mut tokens = subject.split('.');
    for want in filter.split('.') {
        match (want, tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (want, Some(got)) if want == got => {}
            _ => return false,
        }
    }
    tokens.next().is_none()
}
