//! natsd driven by the official Rust client, `async-nats`.
//!
//! Every test starts its own server on a free loopback port. Waiting is done
//! with round trips through the server ([`support::sync`]), never with fixed
//! sleeps, and every await that could hang is bounded by
//! [`support::TIMEOUT`].

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use async_nats::connection::State;
use async_nats::{
    ConnectErrorKind, ConnectOptions, Event, HeaderMap, PublishErrorKind, RequestErrorKind,
};
use bytes::Bytes;
use futures::StreamExt;
use natsd::Options;

use support::*;

mod support {
    use std::future::Future;
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use async_nats::{Client, ConnectOptions, Event, Message, Subscriber};
    use futures::channel::mpsc::UnboundedReceiver;
    use futures::{FutureExt, StreamExt};
    use natsd::{Options, RunningServer, Server};

    /// Bound on any single wait; generous, since a passing test never waits it out.
    pub const TIMEOUT: Duration = Duration::from_secs(5);

    /// A server with default options on a free loopback port.
    pub fn start() -> RunningServer {
        start_with(Options::ephemeral())
    }

    pub fn start_with(opts: Options) -> RunningServer {
        Server::spawn(opts).expect("start natsd")
    }

    pub async fn connect(server: &RunningServer) -> Client {
        connect_with(server, ConnectOptions::new()).await
    }

    pub async fn connect_with(server: &RunningServer, opts: ConnectOptions) -> Client {
        within(opts.connect(server.url()))
            .await
            .expect("connect to natsd")
    }

    /// Await `fut`, failing the test if it takes longer than [`TIMEOUT`].
    pub async fn within<F: Future>(fut: F) -> F::Output {
        tokio::time::timeout(TIMEOUT, fut)
            .await
            .expect("timed out waiting")
    }

    /// A round trip through the server on `client`'s connection: a message
    /// to a fresh inbox of the client's own comes back only after the server
    /// has processed everything the client sent before it, and after the
    /// client has read everything the server sent it before. (async-nats'
    /// `flush` only flushes the socket, it sends no PING.) Adds one to
    /// [`messages_in`]; it needs echo, so not for `no_echo` clients.
    pub async fn sync(client: &Client) {
        let inbox = client.new_inbox();
        let mut sentinel = subscribe(client, &inbox).await;
        publish(client, &inbox, "sync").await;
        next(&mut sentinel).await;
    }

    pub async fn publish(client: &Client, subject: &str, payload: &str) {
        within(client.publish(subject.to_string(), payload.to_string().into()))
            .await
            .expect("publish");
    }

    pub async fn subscribe(client: &Client, subject: &str) -> Subscriber {
        within(client.subscribe(subject.to_string()))
            .await
            .expect("subscribe")
    }

    /// The next message; fails if the subscription ends or nothing comes.
    pub async fn next(sub: &mut Subscriber) -> Message {
        within(sub.next()).await.expect("subscription ended")
    }

    /// Every message until the subscription ends.
    pub async fn until_end(sub: &mut Subscriber) -> Vec<Message> {
        within(sub.collect()).await
    }

    /// The messages already handed to `sub`, without waiting for more. After
    /// a [`sync`] of its client these are all the server has sent it.
    pub fn ready(sub: &mut Subscriber) -> Vec<Message> {
        let mut messages = Vec::new();
        // Unconstrained: tokio's cooperative budget would otherwise report
        // Pending after 128 polls in a row, with messages still queued.
        while let Some(Some(message)) = tokio::task::unconstrained(sub.next()).now_or_never() {
            messages.push(message);
        }
        messages
    }

    pub fn text(message: &Message) -> &str {
        std::str::from_utf8(&message.payload).expect("utf-8 payload")
    }

    pub fn texts(messages: &[Message]) -> Vec<&str> {
        messages.iter().map(text).collect()
    }

    /// Wait for `wanted` among the connection events a client's
    /// `event_callback` forwards, skipping the others.
    pub async fn wait_for(events: &mut UnboundedReceiver<Event>, wanted: Event) {
        within(async {
            loop {
                match events.next().await {
                    Some(event) if event == wanted => return,
                    Some(_) => continue,
                    None => panic!("event stream ended before {wanted}"),
                }
            }
        })
        .await
    }

    /// MSG frames the client has read from the server, whichever
    /// subscription (live or not) they were for.
    pub fn messages_in(client: &Client) -> u64 {
        client.statistics().in_messages.load(Ordering::Relaxed)
    }
}

#[tokio::test]
async fn publish_reaches_subscriber() {
    let server = start();
    let subscriber = connect(&server).await;
    let publisher = connect(&server).await;
    let mut sub = subscribe(&subscriber, "greet.world").await;
    sync(&subscriber).await;

    publish(&publisher, "greet.world", "hello").await;

    let message = next(&mut sub).await;
    assert_eq!(message.subject.as_str(), "greet.world");
    assert_eq!(text(&message), "hello");
    assert_eq!(message.reply, None);
    assert_eq!(message.headers, None);
}

#[tokio::test]
async fn server_info_describes_server_and_connection() {
    let server = start_with(Options {
        server_name: Some("edge-1".into()),
        ..Options::ephemeral()
    });
    let first = connect(&server).await;
    let second = connect(&server).await;

    let info = first.server_info();
    assert_eq!(info.server_name, "edge-1");
    assert!(!info.server_id.is_empty());
    assert_eq!(info.version, natsd::NATS_SERVER_VERSION);
    assert_eq!(info.proto, 1);
    assert_eq!(info.port, server.addr().port());
    assert!(info.headers);
    assert!(!info.auth_required);
    assert!(!info.tls_required);
    assert_eq!(info.max_payload, 1024 * 1024);
    assert_eq!(info.client_ip, "127.0.0.1");
    assert!(info.client_id > 0);
    assert_ne!(info.client_id, second.server_info().client_id);
}

#[tokio::test]
async fn each_subject_reaches_only_its_subscribers() {
    let server = start();
    let client = connect(&server).await;
    let mut a = subscribe(&client, "a").await;
    let mut b = subscribe(&client, "b").await;
    let mut c = subscribe(&client, "c").await;
    let mut a_too = subscribe(&client, "a").await;

    for (subject, payload) in [("a", "1"), ("b", "2"), ("a", "3"), ("d", "4"), ("c", "5")] {
        publish(&client, subject, payload).await;
    }
    sync(&client).await;

    assert_eq!(texts(&ready(&mut a)), ["1", "3"]);
    assert_eq!(texts(&ready(&mut a_too)), ["1", "3"]);
    assert_eq!(texts(&ready(&mut b)), ["2"]);
    assert_eq!(texts(&ready(&mut c)), ["5"]);
}

#[tokio::test]
async fn wildcards_match_one_token_or_the_rest() {
    let server = start();
    let client = connect(&server).await;
    let mut star = subscribe(&client, "foo.*").await;
    let mut middle_star = subscribe(&client, "foo.*.baz").await;
    let mut gt = subscribe(&client, "foo.>").await;
    let mut literal = subscribe(&client, "foo.bar").await;
    let mut everything = subscribe(&client, ">").await;

    let subjects = [
        "foo",
        "foo.bar",
        "foo.baz",
        "foo.bar.baz",
        "foo.bar.qux",
        "foo.x.baz.y",
        "bar.foo",
        "foobar.x",
    ];
    for subject in subjects {
        publish(&client, subject, subject).await;
    }
    sync(&client).await;

    assert_eq!(texts(&ready(&mut star)), ["foo.bar", "foo.baz"]);
    assert_eq!(texts(&ready(&mut middle_star)), ["foo.bar.baz"]);
    assert_eq!(
        texts(&ready(&mut gt)),
        [
            "foo.bar",
            "foo.baz",
            "foo.bar.baz",
            "foo.bar.qux",
            "foo.x.baz.y"
        ]
    );
    assert_eq!(texts(&ready(&mut literal)), ["foo.bar"]);
    let everything = ready(&mut everything);
    let everything: Vec<&str> = texts(&everything)
        .into_iter()
        .filter(|subject| *subject != "sync") // the sentinel of `sync`
        .collect();
    assert_eq!(everything, subjects);
}

#[tokio::test]
async fn wildcard_delivery_carries_the_published_subject() {
    let server = start();
    let client = connect(&server).await;
    let mut sub = subscribe(&client, "orders.*.created").await;

    publish(&client, "orders.42.created", "x").await;

    assert_eq!(next(&mut sub).await.subject.as_str(), "orders.42.created");
}

#[tokio::test]
async fn queue_group_delivers_each_message_to_one_member() {
    const N: usize = 300;
    let server = start();
    let subscriber = connect(&server).await;
    let publisher = connect(&server).await;
    let mut plain = subscribe(&subscriber, "work").await;
    let mut members = Vec::new();
    for _ in 0..3 {
        members.push(
            within(subscriber.queue_subscribe("work", "workers".into()))
                .await
                .expect("queue subscribe"),
        );
    }
    sync(&subscriber).await;
    let before = messages_in(&subscriber);

    for i in 0..N {
        publish(&publisher, "work", &i.to_string()).await;
    }
    sync(&publisher).await;
    // Everything the server routed to the subscriber has now been read.
    sync(&subscriber).await;

    let all: Vec<usize> = ready(&mut plain)
        .iter()
        .map(|m| text(m).parse().unwrap())
        .collect();
    assert_eq!(all, (0..N).collect::<Vec<_>>(), "plain subscriber gets all");

    let mut seen = BTreeSet::new();
    let mut per_member = Vec::new();
    for member in &mut members {
        let got = ready(member);
        per_member.push(got.len());
        for message in &got {
            let i: usize = text(message).parse().unwrap();
            assert!(seen.insert(i), "message {i} delivered to two members");
        }
    }
    assert_eq!(seen.len(), N, "group members together get every message");
    assert_eq!(per_member.iter().sum::<usize>(), N);
    assert!(
        per_member.iter().all(|&n| n > 0),
        "messages not spread over the group: {per_member:?}"
    );
    assert_eq!(
        messages_in(&subscriber) - before,
        2 * N as u64 + 1, // and the sync
        "no extra MSG frames"
    );
}

#[tokio::test]
async fn request_gets_reply_from_responder() {
    let server = start();
    let responder = connect(&server).await;
    let requester = connect(&server).await;
    let mut service = subscribe(&responder, "svc.upper").await;
    sync(&responder).await;

    let task = tokio::spawn(async move {
        while let Some(request) = service.next().await {
            let reply = request.reply.expect("request has a reply subject");
            let answer = String::from_utf8_lossy(&request.payload).to_uppercase();
            responder.publish(reply, answer.into()).await.unwrap();
        }
    });

    for word in ["hello", "nats", "edge"] {
        let response = within(requester.request("svc.upper", word.to_string().into()))
            .await
            .expect("request");
        assert_eq!(text(&response), word.to_uppercase());
    }
    task.abort();
}

#[tokio::test]
async fn concurrent_requests_get_their_own_replies() {
    const N: usize = 50;
    let server = start();
    let responder = connect(&server).await;
    let requester = connect(&server).await;
    let mut service = subscribe(&responder, "svc.echo").await;
    sync(&responder).await;

    let task = tokio::spawn(async move {
        while let Some(request) = service.next().await {
            let reply = request.reply.expect("request has a reply subject");
            responder.publish(reply, request.payload).await.unwrap();
        }
    });

    let requests = (0..N).map(|i| requester.request("svc.echo", i.to_string().into()));
    let responses = within(futures::future::join_all(requests)).await;
    for (i, response) in responses.into_iter().enumerate() {
        assert_eq!(text(&response.expect("request")), i.to_string());
    }
    task.abort();
}

#[tokio::test]
async fn request_and_reply_carry_headers() {
    let server = start();
    let responder = connect(&server).await;
    let requester = connect(&server).await;
    let mut service = subscribe(&responder, "svc.headers").await;
    sync(&responder).await;

    let task = tokio::spawn(async move {
        while let Some(request) = service.next().await {
            let asked = request.headers.expect("request has headers");
            let mut headers = HeaderMap::new();
            headers.insert("Answer-To", asked.get("Question").unwrap().as_str());
            let reply = request.reply.expect("request has a reply subject");
            responder
                .publish_with_headers(reply, headers, "done".into())
                .await
                .unwrap();
        }
    });

    let mut headers = HeaderMap::new();
    headers.insert("Question", "why");
    let response = within(requester.request_with_headers("svc.headers", headers, "?".into()))
        .await
        .expect("request with headers");
    assert_eq!(text(&response), "done");
    let headers = response.headers.expect("reply has headers");
    assert_eq!(headers.get("Answer-To").unwrap().as_str(), "why");
    task.abort();
}

#[tokio::test]
async fn headers_reach_subscriber() {
    let server = start();
    let subscriber = connect(&server).await;
    let publisher = connect(&server).await;
    let mut sub = subscribe(&subscriber, "with.headers").await;
    sync(&subscriber).await;

    let mut headers = HeaderMap::new();
    headers.insert("X-Trace", "abc-123");
    headers.append("X-Multi", "one");
    headers.append("X-Multi", "two");
    within(publisher.publish_with_headers("with.headers", headers, "body".into()))
        .await
        .expect("publish with headers");

    let message = next(&mut sub).await;
    assert_eq!(text(&message), "body");
    assert_eq!(message.status, None);
    let headers = message.headers.expect("message has headers");
    assert_eq!(headers.get("X-Trace").unwrap().as_str(), "abc-123");
    let multi: Vec<&str> = headers.get_all("X-Multi").map(|v| v.as_str()).collect();
    assert_eq!(multi, ["one", "two"]);
}

#[tokio::test]
async fn headers_with_empty_payload_reach_subscriber() {
    let server = start();
    let client = connect(&server).await;
    let mut sub = subscribe(&client, "only.headers").await;

    let mut headers = HeaderMap::new();
    headers.insert("Key", "value");
    within(client.publish_with_headers("only.headers", headers, Bytes::new()))
        .await
        .expect("publish with headers");

    let message = next(&mut sub).await;
    assert!(message.payload.is_empty());
    assert_eq!(
        message.headers.unwrap().get("Key").unwrap().as_str(),
        "value"
    );
}

#[tokio::test]
async fn request_without_responders_fails_fast() {
    let server = start();
    let client = connect_with(
        &server,
        ConnectOptions::new().request_timeout(Some(Duration::from_secs(4))),
    )
    .await;

    let started = Instant::now();
    let error = within(client.request("nobody.home", "ping".into()))
        .await
        .expect_err("request without responders must fail");
    assert_eq!(error.kind(), RequestErrorKind::NoResponders, "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "no-responders took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn unsubscribed_subscription_gets_no_more_messages() {
    let server = start();
    let client = connect(&server).await;
    let publisher = connect(&server).await;
    let mut gone = subscribe(&client, "updates").await;
    let mut witness = subscribe(&client, "updates").await;
    sync(&client).await;

    publish(&publisher, "updates", "before").await;
    assert_eq!(text(&next(&mut gone).await), "before");
    assert_eq!(text(&next(&mut witness).await), "before");

    within(gone.unsubscribe()).await.expect("unsubscribe");
    sync(&client).await; // the server has the UNSUB
    let before = messages_in(&client);
    publish(&publisher, "updates", "after").await;
    assert_eq!(text(&next(&mut witness).await), "after");
    sync(&client).await;

    assert_eq!(
        messages_in(&client) - before,
        2, // the witness and the sync
        "the server still sends to the unsubscribed sid"
    );
    assert!(within(gone.next()).await.is_none(), "stream ends");
}

#[tokio::test]
async fn unsubscribe_after_delivers_exactly_n_then_ends() {
    let server = start();
    let client = connect(&server).await;
    let publisher = connect(&server).await;
    let mut sub = subscribe(&client, "limited").await;
    within(sub.unsubscribe_after(3))
        .await
        .expect("unsubscribe after");
    sync(&client).await;
    let before = messages_in(&client);

    for i in 0..5 {
        publish(&publisher, "limited", &i.to_string()).await;
    }
    sync(&publisher).await;

    assert_eq!(texts(&until_end(&mut sub).await), ["0", "1", "2"]);
    sync(&client).await;
    assert_eq!(
        messages_in(&client) - before,
        3 + 1, // and the sync
        "the server sent past the max"
    );
}

/// A subscriber on "limited" that has received "0" and "1", and the
/// publisher that sent them (the server must outlive both).
async fn two_delivered() -> (
    natsd::RunningServer,
    async_nats::Client,
    async_nats::Client,
    async_nats::Subscriber,
) {
    let server = start();
    let client = connect(&server).await;
    let publisher = connect(&server).await;
    let mut sub = subscribe(&client, "limited").await;
    sync(&client).await;
    publish(&publisher, "limited", "0").await;
    publish(&publisher, "limited", "1").await;
    assert_eq!(text(&next(&mut sub).await), "0");
    assert_eq!(text(&next(&mut sub).await), "1");
    (server, client, publisher, sub)
}

#[tokio::test]
async fn unsubscribe_after_counts_messages_already_delivered() {
    let (_server, client, publisher, mut sub) = two_delivered().await;

    // UNSUB <sid> 3 after two deliveries: one more, as nats-server does.
    within(sub.unsubscribe_after(3))
        .await
        .expect("unsubscribe after");
    sync(&client).await;
    let before = messages_in(&client);
    for i in 2..6 {
        publish(&publisher, "limited", &i.to_string()).await;
    }
    sync(&publisher).await;

    assert_eq!(texts(&until_end(&mut sub).await), ["2"]);
    sync(&client).await;
    assert_eq!(
        messages_in(&client) - before,
        1 + 1, // and the sync
        "the server sent past the max"
    );
}

#[tokio::test]
async fn unsubscribe_after_a_count_already_reached_ends_at_once() {
    let (_server, client, publisher, mut sub) = two_delivered().await;

    // UNSUB <sid> 2 after two deliveries: gone now, as nats-server does.
    within(sub.unsubscribe_after(2))
        .await
        .expect("unsubscribe after");
    sync(&client).await;
    let before = messages_in(&client);
    publish(&publisher, "limited", "2").await;
    sync(&publisher).await;

    assert!(until_end(&mut sub).await.is_empty());
    sync(&client).await;
    assert_eq!(
        messages_in(&client) - before,
        1, // the sync
        "the server sent past the max"
    );
}

#[tokio::test]
async fn subscriber_drain_delivers_published_messages_then_ends() {
    let server = start();
    let client = connect(&server).await;
    let publisher = connect(&server).await;
    let mut sub = subscribe(&client, "drained").await;
    sync(&client).await;
    let before = messages_in(&client);

    for i in 0..5 {
        publish(&publisher, "drained", &i.to_string()).await;
    }
    sync(&publisher).await;
    within(sub.drain()).await.expect("drain");

    assert_eq!(texts(&until_end(&mut sub).await), ["0", "1", "2", "3", "4"]);

    // The subscription is gone on the server too.
    publish(&publisher, "drained", "late").await;
    sync(&publisher).await;
    sync(&client).await;
    assert_eq!(
        messages_in(&client) - before,
        5 + 1, // and the sync
        "the server still sends to the drained sid"
    );
}

#[tokio::test]
async fn client_drain_delivers_published_messages_then_ends_all() {
    let server = start();
    let client = connect(&server).await;
    let publisher = connect(&server).await;
    let mut first = subscribe(&client, "drain.one").await;
    let mut second = subscribe(&client, "drain.two").await;
    sync(&client).await;

    for i in 0..5 {
        publish(&publisher, "drain.one", &format!("one-{i}")).await;
        publish(&publisher, "drain.two", &format!("two-{i}")).await;
    }
    sync(&publisher).await;
    within(client.drain()).await.expect("drain");

    let one = until_end(&mut first).await;
    let two = until_end(&mut second).await;
    assert_eq!(texts(&one), ["one-0", "one-1", "one-2", "one-3", "one-4"]);
    assert_eq!(texts(&two), ["two-0", "two-1", "two-2", "two-3", "two-4"]);
    assert!(
        within(client.subscribe("drain.three")).await.is_err(),
        "a drained client takes no new subscriptions"
    );
}

#[tokio::test]
async fn no_echo_hides_own_messages_only() {
    let server = start();
    let quiet = connect_with(&server, ConnectOptions::new().no_echo()).await;
    let other = connect(&server).await;
    let mut quiet_sub = subscribe(&quiet, "chat").await;
    let mut other_sub = subscribe(&other, "chat").await;
    sync(&other).await;
    // (`sync` needs echo.) `other` seeing "mine" shows the server has
    // processed quiet's SUB and PUB: an echo would now be queued to `quiet`.
    publish(&quiet, "chat", "mine").await;
    assert_eq!(text(&next(&mut other_sub).await), "mine");

    publish(&other, "chat", "theirs").await;

    // An echoed "mine" would reach `quiet` ahead of "theirs".
    assert_eq!(text(&next(&mut quiet_sub).await), "theirs");
    assert_eq!(text(&next(&mut other_sub).await), "theirs");
}

#[tokio::test]
async fn echo_is_on_by_default() {
    let server = start();
    let client = connect(&server).await;
    let mut sub = subscribe(&client, "chat").await;

    publish(&client, "chat", "mine").await;

    assert_eq!(text(&next(&mut sub).await), "mine");
}

#[tokio::test]
async fn max_payload_is_advertised_and_enforced_by_the_client() {
    let server = start_with(Options {
        max_payload: 1024,
        ..Options::ephemeral()
    });
    let client = connect(&server).await;
    assert_eq!(client.server_info().max_payload, 1024);
    assert_eq!(client.max_payload(), 1024);
    let mut sub = subscribe(&client, "big").await;

    within(client.publish("big", vec![b'x'; 1024].into()))
        .await
        .expect("a payload of exactly max_payload is allowed");
    assert_eq!(next(&mut sub).await.payload.len(), 1024);

    let error = within(client.publish("big", vec![b'x'; 1025].into()))
        .await
        .expect_err("a payload over max_payload is refused");
    assert_eq!(error.kind(), PublishErrorKind::MaxPayloadExceeded);

    let error = within(client.request("big", vec![b'x'; 1025].into()))
        .await
        .expect_err("a request over max_payload is refused");
    assert_eq!(error.kind(), RequestErrorKind::MaxPayloadExceeded);

    // The connection is still good: nothing oversized reached the server.
    publish(&client, "big", "small").await;
    assert_eq!(text(&next(&mut sub).await), "small");
    assert_eq!(client.connection_state(), State::Connected);
}

#[tokio::test]
async fn headers_count_toward_max_payload() {
    const MAX: usize = 1024;
    let server = start_with(Options {
        max_payload: MAX as u32,
        ..Options::ephemeral()
    });
    let client = connect(&server).await;
    let mut sub = subscribe(&client, "big").await;
    let mut headers = HeaderMap::new();
    headers.insert("X-K", "v");
    // "NATS/1.0\r\n" + "X-K: v\r\n" + "\r\n"
    let header_len = 10 + 8 + 2;

    // Headers and payload together exactly at the limit: the server takes it.
    let payload = vec![b'x'; MAX - header_len];
    within(client.publish_with_headers("big", headers.clone(), payload.into()))
        .await
        .expect("headers + payload == max_payload is allowed");
    let message = next(&mut sub).await;
    assert_eq!(message.payload.len(), MAX - header_len);
    assert_eq!(message.headers.unwrap().get("X-K").unwrap().as_str(), "v");

    let payload = vec![b'x'; MAX - header_len + 1];
    let error = within(client.publish_with_headers("big", headers, payload.into()))
        .await
        .expect_err("headers + payload over max_payload is refused");
    assert_eq!(error.kind(), PublishErrorKind::MaxPayloadExceeded);
    publish(&client, "big", "still connected").await;
    assert_eq!(text(&next(&mut sub).await), "still connected");
}

#[tokio::test]
async fn user_and_password_are_checked() {
    let server = start_with(Options {
        username: Some("alice".into()),
        password: Some("s3cret".into()),
        ..Options::ephemeral()
    });

    let good = connect_with(
        &server,
        ConnectOptions::with_user_and_password("alice".into(), "s3cret".into()),
    )
    .await;
    assert!(good.server_info().auth_required);
    let mut sub = subscribe(&good, "authed").await;
    publish(&good, "authed", "in").await;
    assert_eq!(text(&next(&mut sub).await), "in");

    for (user, pass) in [("alice", "wrong"), ("bob", "s3cret"), ("", "")] {
        let error = within(
            ConnectOptions::with_user_and_password(user.into(), pass.into()).connect(server.url()),
        )
        .await
        .expect_err("wrong credentials must be refused");
        assert_eq!(
            error.kind(),
            ConnectErrorKind::AuthorizationViolation,
            "user {user:?} pass {pass:?}: {error}"
        );
    }
    let error = within(ConnectOptions::new().connect(server.url()))
        .await
        .expect_err("no credentials must be refused");
    assert_eq!(error.kind(), ConnectErrorKind::AuthorizationViolation);
}

#[tokio::test]
async fn token_is_checked() {
    let server = start_with(Options {
        authorization: Some("t0ken".into()),
        ..Options::ephemeral()
    });

    let good = connect_with(&server, ConnectOptions::with_token("t0ken".into())).await;
    assert!(good.server_info().auth_required);
    let mut sub = subscribe(&good, "authed").await;
    publish(&good, "authed", "in").await;
    assert_eq!(text(&next(&mut sub).await), "in");

    let error = within(ConnectOptions::with_token("nope".into()).connect(server.url()))
        .await
        .expect_err("a wrong token must be refused");
    assert_eq!(
        error.kind(),
        ConnectErrorKind::AuthorizationViolation,
        "{error}"
    );
    let error = within(ConnectOptions::new().connect(server.url()))
        .await
        .expect_err("no token must be refused");
    assert_eq!(error.kind(), ConnectErrorKind::AuthorizationViolation);
}

#[tokio::test]
async fn client_reconnects_after_restart_and_resubscribes() {
    let first = start();
    let port = first.addr().port();
    let (events_tx, mut events) = futures::channel::mpsc::unbounded();
    let client = connect_with(
        &first,
        ConnectOptions::new()
            .reconnect_delay_callback(|_| Duration::from_millis(50))
            .event_callback(move |event| {
                let _ = events_tx.unbounded_send(event);
                async {}
            }),
    )
    .await;
    let mut sub = subscribe(&client, "survives").await;
    publish(&client, "survives", "before").await;
    assert_eq!(text(&next(&mut sub).await), "before");

    first.shutdown().expect("stop the first server");
    wait_for(&mut events, Event::Disconnected).await;
    let second = start_with(Options {
        port: i32::from(port),
        ..Options::ephemeral()
    });
    wait_for(&mut events, Event::Connected).await;

    // Published on the new server, by this client (its SUB was resent
    // ahead of this PUB) and by a newcomer.
    publish(&client, "survives", "after").await;
    assert_eq!(text(&next(&mut sub).await), "after");
    let newcomer = connect(&second).await;
    publish(&newcomer, "survives", "from newcomer").await;
    assert_eq!(text(&next(&mut sub).await), "from newcomer");
}

#[tokio::test]
async fn ten_thousand_messages_arrive_in_order() {
    const N: u32 = 10_000;
    const SIZE: usize = 128;
    let server = start();
    let subscriber = connect(&server).await;
    let publisher = connect(&server).await;
    let mut sub = subscribe(&subscriber, "stream").await;
    sync(&subscriber).await;
    let before = messages_in(&subscriber);

    let send = async {
        for i in 0..N {
            let mut payload = vec![b'.'; SIZE];
            payload[..4].copy_from_slice(&i.to_be_bytes());
            publisher
                .publish("stream", payload.into())
                .await
                .expect("publish");
        }
        publisher.flush().await.expect("flush");
    };
    let receive = async {
        for i in 0..N {
            let message = sub.next().await.expect("subscription ended");
            assert_eq!(message.payload.len(), SIZE);
            let seq = u32::from_be_bytes(message.payload[..4].try_into().unwrap());
            assert_eq!(seq, i, "out of order or lost");
        }
    };
    within(futures::future::join(send, receive)).await;
    sync(&subscriber).await;
    assert_eq!(
        messages_in(&subscriber) - before,
        u64::from(N) + 1, // and the sync
        "extra messages"
    );
}

#[tokio::test]
async fn one_mebibyte_message_arrives_intact() {
    let server = start();
    let subscriber = connect(&server).await;
    let publisher = connect(&server).await;
    assert_eq!(publisher.server_info().max_payload, 1024 * 1024);
    let mut sub = subscribe(&subscriber, "large").await;
    sync(&subscriber).await;

    let payload: Bytes = (0..1024 * 1024u32)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into();
    within(publisher.publish("large", payload.clone()))
        .await
        .expect("publish 1 MiB");
    sync(&publisher).await;

    let message = next(&mut sub).await;
    assert_eq!(message.payload.len(), payload.len());
    assert!(message.payload == payload, "payload corrupted");
}

/// The options of a server whose users live in accounts: `a` in `A`, which
/// exports the stream `events.>` and the service `svc.>`; `b` in `B`,
/// which imports the stream under `from_a` and the service `svc.echo` as
/// `echo`; `alice` in `$G`, who may publish only to `ok.>` and may not
/// subscribe to `secret.>`.
fn accounts_options() -> Options {
    use natsd::options::{
        AccountConfig, Export, Import, ImportKind, Permissions, ServiceExport, SubjectPermission,
        User,
    };
    let user = |name: &str, account: Option<&str>| User {
        username: name.into(),
        password: format!("{name}-pw"),
        permissions: None,
        account: account.map(Into::into),
        nkey: None,
        connection_types: None,
    };
    let mut alice = user("alice", None);
    alice.permissions = Some(Permissions {
        publish: Some(SubjectPermission {
            allow: Some(vec!["ok.>".into()]),
            deny: Vec::new(),
        }),
        subscribe: Some(SubjectPermission {
            allow: None,
            deny: vec!["secret.>".into()],
        }),
        response: None,
    });
    let mut opts = Options::ephemeral();
    opts.users = Some(vec![user("a", Some("A")), user("b", Some("B")), alice]);
    opts.accounts = vec![
        AccountConfig {
            name: "A".into(),
            exports: vec![
                Export {
                    subject: "events.>".into(),
                    service: None,
                    accounts: None,
                },
                Export {
                    subject: "svc.>".into(),
                    service: Some(ServiceExport::default()),
                    accounts: Some(vec!["B".into()]),
                },
            ],
            imports: Vec::new(),
        },
        AccountConfig {
            name: "B".into(),
            exports: Vec::new(),
            imports: vec![
                Import {
                    account: "A".into(),
                    subject: "events.>".into(),
                    kind: ImportKind::Stream {
                        prefix: Some("from_a".into()),
                        to: None,
                    },
                },
                Import {
                    account: "A".into(),
                    subject: "svc.echo".into(),
                    kind: ImportKind::Service { to: "echo".into() },
                },
            ],
        },
    ];
    opts
}

async fn login(server: &natsd::RunningServer, user: &str) -> async_nats::Client {
    connect_with(
        server,
        ConnectOptions::with_user_and_password(user.into(), format!("{user}-pw")),
    )
    .await
}

#[tokio::test]
async fn a_permission_violation_reaches_the_error_callback_and_the_connection_lives_on() {
    let server = start_with(accounts_options());
    let (events_tx, mut events) = futures::channel::mpsc::unbounded();
    let alice = connect_with(
        &server,
        ConnectOptions::with_user_and_password("alice".into(), "alice-pw".into()).event_callback(
            move |event| {
                let tx = events_tx.clone();
                async move {
                    let _ = tx.unbounded_send(event);
                }
            },
        ),
    )
    .await;
    publish(&alice, "not.ok", "x").await;
    wait_for(
        &mut events,
        Event::ServerError(async_nats::ServerError::Other(
            "Permissions Violation for Publish to \"not.ok\"".into(),
        )),
    )
    .await;
    let _denied = subscribe(&alice, "secret.x").await;
    wait_for(
        &mut events,
        Event::ServerError(async_nats::ServerError::Other(
            "Permissions Violation for Subscription to \"secret.x\"".into(),
        )),
    )
    .await;
    // Still connected, and what is allowed works.
    let mut sub = subscribe(&alice, "ok.>").await;
    publish(&alice, "ok.1", "fine").await;
    assert_eq!(text(&next(&mut sub).await), "fine");
    assert_eq!(alice.connection_state(), State::Connected);
}

#[tokio::test]
async fn accounts_keep_clients_apart_and_imports_join_them() {
    let server = start_with(accounts_options());
    let a = login(&server, "a").await;
    let b = login(&server, "b").await;

    // Nothing crosses without an import.
    let mut b_apart = subscribe(&b, "apart").await;
    sync(&b).await;
    publish(&a, "apart", "no").await;
    sync(&a).await;
    sync(&b).await;
    assert!(ready(&mut b_apart).is_empty());

    // A's stream reaches B under B's prefix.
    let mut b_events = subscribe(&b, "from_a.events.>").await;
    sync(&b).await;
    publish(&a, "events.order.1", "hello").await;
    let msg = next(&mut b_events).await;
    assert_eq!(
        (msg.subject.as_str(), text(&msg)),
        ("from_a.events.order.1", "hello")
    );

    // B's requests on `echo` reach A's service on `svc.echo` and return.
    let mut service = subscribe(&a, "svc.echo").await;
    sync(&a).await;
    let responder = a.clone();
    tokio::spawn(async move {
        while let Some(request) = service.next().await {
            let answer = format!("echo: {}", text(&request));
            let reply = request.reply.expect("a reply subject");
            assert!(reply.starts_with("_R_."), "{reply}");
            responder
                .publish(reply, answer.into())
                .await
                .expect("respond");
        }
    });
    let answer = within(b.request("echo", "ping".into()))
        .await
        .expect("request across accounts");
    assert_eq!(text(&answer), "echo: ping");
}
