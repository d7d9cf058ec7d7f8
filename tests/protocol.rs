//! The core client protocol over real TCP, byte for byte as nats-server.

mod common;

use common::{server, server_with, Raw};

#[test]
fn info_carries_the_keys_clients_read() {
    let srv = server();
    let raw = Raw::connect(&srv);
    let info = &raw.info;
    for key in [
        "server_id",
        "server_name",
        "version",
        "go",
        "host",
        "client_ip",
    ] {
        assert!(info[key].is_string(), "{key} in {info}");
    }
    assert_eq!(info["proto"], 1);
    assert_eq!(info["port"], srv.addr().port());
    assert_eq!(info["headers"], true);
    assert_eq!(info["max_payload"], 1024 * 1024);
    assert!(info["client_id"].as_u64().unwrap() > 0);
    assert_eq!(info["client_ip"], "127.0.0.1");
    assert!(info.get("auth_required").is_none());
    let id = info["server_id"].as_str().unwrap();
    assert!(id.starts_with('N') && id.len() == 56);
}

#[test]
fn info_line_ends_with_space_crlf_and_keeps_go_key_order() {
    let srv = server();
    let mut sock = std::net::TcpStream::connect(srv.addr()).unwrap();
    let mut buf = vec![0u8; 4096];
    let n = std::io::Read::read(&mut sock, &mut buf).unwrap();
    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(line.starts_with("INFO {\"server_id\":"), "{line}");
    assert!(line.ends_with("} \r\n"), "{line:?}");
    let order = [
        "server_id",
        "server_name",
        "version",
        "proto",
        "go",
        "host",
        "port",
        "headers",
        "max_payload",
        "client_id",
        "client_ip",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|k| line.find(&format!("\"{k}\"")).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{line}");
}

#[test]
fn without_connect_a_client_is_verbose_and_pedantic() {
    let srv = server();
    let mut c = Raw::connect(&srv);
    c.send(b"SUB foo 1\r\nPUB foo 2\r\nhi\r\nPING\r\n");
    c.expect(b"+OK\r\n+OK\r\nMSG foo 1 2\r\nhi\r\nPONG\r\n");
    c.send(b"PUB foo.* 0\r\n\r\n");
    c.expect(b"-ERR 'Invalid Publish Subject'\r\n+OK\r\n");
}

#[test]
fn verbose_acknowledges_connect_sub_unsub_and_pub_but_not_ping() {
    let srv = server();
    let mut c = Raw::connect(&srv);
    c.send(b"CONNECT {\"verbose\":true}\r\nSUB a 1\r\nUNSUB 1\r\nPUB a 0\r\n\r\nPING\r\n");
    c.expect(b"+OK\r\n+OK\r\n+OK\r\n+OK\r\nPONG\r\n");
}

#[test]
fn publish_reaches_matching_subscribers_with_exact_frames() {
    let srv = server();
    let mut sub = Raw::quiet(&srv);
    sub.send(b"SUB foo 1\r\nSUB foo.* 2\r\nSUB foo.> 3\r\nSUB > 4\r\nSUB bar.* 5\r\nPING\r\n");
    sub.expect(b"PONG\r\n");
    let mut publ = Raw::quiet(&srv);
    publ.send(b"PUB foo.bar reply.to 5\r\nhello\r\nPING\r\n");
    publ.expect(b"PONG\r\n");
    let mut got = sub.read_msgs(3);
    got.sort();
    assert_eq!(
        got,
        [
            ("MSG foo.bar 2 reply.to 5", "hello"),
            ("MSG foo.bar 3 reply.to 5", "hello"),
            ("MSG foo.bar 4 reply.to 5", "hello"),
        ]
        .map(|(h, p)| (h.to_string(), p.to_string()))
    );
    publ.send(b"PUB foo.bar.baz 0\r\n\r\nPUB foo 2\r\nhi\r\nPING\r\n");
    publ.expect(b"PONG\r\n");
    let mut got = sub.read_msgs(4);
    got.sort();
    let got: Vec<&str> = got.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(
        got,
        [
            "MSG foo 1 2",
            "MSG foo 4 2",
            "MSG foo.bar.baz 3 0",
            "MSG foo.bar.baz 4 0"
        ]
    );
    sub.expect_nothing_more();
}

#[test]
fn size_tokens_are_passed_through_verbatim() {
    let srv = server();
    let mut c = Raw::quiet(&srv);
    c.send(b"SUB foo 1\r\nPUB foo 002\r\nhi\r\n");
    c.expect(b"MSG foo 1 002\r\nhi\r\n");
}

#[test]
fn names_are_case_insensitive_and_arguments_split_on_tabs_and_spaces() {
    let srv = server();
    let mut c = Raw::quiet(&srv);
    c.send(b"sub\tfoo  q\t 9\r\npub foo\t\t3\r\nabc\r\nPiNg whatever\r\n");
    c.expect(b"MSG foo 9 3\r\nabc\r\nPONG\r\n");
}

/// Found by fuzzing: nats-server takes the first byte after an operation
/// name and its spaces as an argument byte, even a line feed, so the line
/// goes on to the next one.
#[test]
fn a_line_feed_right_after_the_name_is_part_of_the_arguments() {
    let srv = server();
    let mut c = Raw::quiet(&srv);
    c.send(b"SUB \nfoo 1\r\nPUB \nbar 1\r\nx\r\nPUB foo 2\r\nhi\r\nPING\r\n");
    c.expect(b"MSG foo 1 2\r\nhi\r\nPONG\r\n");
}

#[test]
fn queue_group_members_share_the_messages() {
    let srv = server();
    let mut members: Vec<Raw> = (0..2).map(|_| Raw::quiet(&srv)).collect();
    for m in &mut members {
        m.send(b"SUB work q 1\r\nPING\r\n");
        m.expect(b"PONG\r\n");
    }
    let mut plain = Raw::quiet(&srv);
    plain.send(b"SUB work 7\r\nPING\r\n");
    plain.expect(b"PONG\r\n");
    let mut publ = Raw::quiet(&srv);
    for _ in 0..100 {
        publ.send(b"PUB work 1\r\nx\r\n");
    }
    publ.expect_nothing_more();
    assert_eq!(plain.read_msgs(100).len(), 100);
    // Each member reports how many it got, behind a PING barrier.
    let counts: Vec<usize> = members
        .iter_mut()
        .map(|m| {
            m.send(b"PING\r\n");
            let mut n = 0;
            loop {
                let line = m.read_line();
                if line == "PONG" {
                    return n;
                }
                assert_eq!(line, "MSG work 1 1");
                assert_eq!(m.read_line(), "x");
                n += 1;
            }
        })
        .collect();
    assert_eq!(counts.iter().sum::<usize>(), 100, "{counts:?}");
    assert!(counts.iter().all(|&n| n > 10), "spread: {counts:?}");
}

#[test]
fn unsubscribe_now_and_after_max_messages() {
    let srv = server();
    let mut c = Raw::quiet(&srv);
    c.send(b"SUB a 1\r\nSUB b 2\r\nUNSUB 1\r\nUNSUB 2 2\r\n");
    c.send(b"PUB a 0\r\n\r\nPUB b 0\r\n\r\nPUB b 0\r\n\r\nPUB b 0\r\n\r\n");
    c.expect(b"MSG b 2 0\r\n\r\nMSG b 2 0\r\n\r\n");
    c.expect_nothing_more();
    // Unknown sids and a max already reached are not errors.
    c.send(b"UNSUB 99\r\nSUB c 3\r\nPUB c 0\r\n\r\nUNSUB 3 1\r\nPUB c 0\r\n\r\n");
    c.expect(b"MSG c 3 0\r\n\r\n");
    c.expect_nothing_more();
}

/// A client with many subscriptions (past the point where natsd indexes
/// them by sid) still unsubscribes exactly the ones it names.
#[test]
fn many_subscriptions_on_one_connection_unsubscribe_by_sid() {
    let srv = server();
    let mut c = Raw::quiet(&srv);
    let subs: String = (1..=40)
        .map(|sid| format!("SUB s.{sid} {sid}\r\n"))
        .collect();
    let odd: String = (1..=40)
        .step_by(2)
        .map(|sid| format!("UNSUB {sid}\r\n"))
        .collect();
    let pubs: String = (1..=40)
        .map(|sid| format!("PUB s.{sid} 0\r\n\r\n"))
        .collect();
    c.send(format!("{subs}{odd}SUB s.1 1\r\n{pubs}").as_bytes());
    let want: String = (1..=40)
        .filter(|sid| sid % 2 == 0 || *sid == 1)
        .map(|sid| format!("MSG s.{sid} {sid} 0\r\n\r\n"))
        .collect();
    c.expect(want.as_bytes());
    c.expect_nothing_more();
}

#[test]
fn duplicate_sid_keeps_the_first_subscription() {
    let srv = server();
    let mut c = Raw::quiet(&srv);
    c.send(b"SUB a 1\r\nSUB b 1\r\nPUB b 0\r\n\r\nPUB a 0\r\n\r\n");
    c.expect(b"MSG a 1 0\r\n\r\n");
    c.expect_nothing_more();
}

#[test]
fn echo_off_skips_own_subscriptions() {
    let srv = server();
    let mut me = Raw::connect_with(&srv, r#"{"verbose":false,"echo":false}"#);
    me.send(b"SUB a 1\r\nPUB a 2\r\nme\r\n");
    me.expect_nothing_more();
    let mut other = Raw::quiet(&srv);
    other.send(b"PUB a 2\r\nyo\r\nPING\r\n");
    other.expect(b"PONG\r\n");
    me.expect(b"MSG a 1 2\r\nyo\r\n");
}

#[test]
fn headers_go_as_hmsg_or_are_stripped_for_clients_without_them() {
    let srv = server();
    let mut with = Raw::connect_with(&srv, r#"{"verbose":false,"headers":true}"#);
    let mut without = Raw::quiet(&srv);
    with.send(b"SUB h 1\r\nPING\r\n");
    with.expect(b"PONG\r\n");
    without.send(b"SUB h 2\r\nPING\r\n");
    without.expect(b"PONG\r\n");
    let mut publ = Raw::connect_with(&srv, r#"{"verbose":false,"headers":true}"#);
    publ.send(b"HPUB h r 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\nPING\r\n");
    publ.expect(b"PONG\r\n");
    with.expect(b"HMSG h 1 r 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\n");
    without.expect(b"MSG h 2 r 2\r\nhi\r\n");
}

#[test]
fn hpub_without_headers_in_connect_closes_silently() {
    let srv = server();
    let mut c = Raw::quiet(&srv);
    c.send(b"HPUB h 12 12\r\nNATS/1.0\r\n\r\n\r\n");
    c.expect_closed();
}

#[test]
fn no_responders_status_for_a_request_nobody_hears() {
    let srv = server();
    let mut c = Raw::connect_with(
        &srv,
        r#"{"verbose":false,"headers":true,"no_responders":true}"#,
    );
    c.send(b"SUB _INBOX.x 5\r\nPUB svc _INBOX.x 2\r\nhi\r\n");
    c.expect(b"HMSG _INBOX.x 5 35 35\r\nNATS/1.0 503\r\nNats-Subject: svc\r\n\r\n\r\n");
    // No reply subscription of its own: nothing to deliver the status to.
    c.send(b"PUB svc _INBOX.y 2\r\nhi\r\n");
    c.expect_nothing_more();
}

#[test]
fn no_status_without_no_responders() {
    let srv = server();
    let mut c = Raw::connect_with(&srv, r#"{"verbose":false,"headers":true}"#);
    c.send(b"SUB _INBOX.x 5\r\nPUB svc _INBOX.x 2\r\nhi\r\n");
    c.expect_nothing_more();
}

#[test]
fn no_responders_requires_headers() {
    let srv = server();
    let mut c = Raw::connect(&srv);
    c.send(b"CONNECT {\"no_responders\":true}\r\n");
    c.expect_err_and_close("no responders requires headers support");
}

#[test]
fn request_reply_passes_the_reply_subject() {
    let srv = server();
    let mut responder = Raw::quiet(&srv);
    responder.send(b"SUB svc 1\r\nPING\r\n");
    responder.expect(b"PONG\r\n");
    let mut requester = Raw::quiet(&srv);
    requester.send(b"SUB _INBOX.r 1\r\nPUB svc _INBOX.r 3\r\nask\r\n");
    responder.expect(b"MSG svc 1 _INBOX.r 3\r\nask\r\n");
    responder.send(b"PUB _INBOX.r 6\r\nanswer\r\n");
    requester.expect(b"MSG _INBOX.r 1 6\r\nanswer\r\n");
}

#[test]
fn invalid_subscription_subjects_are_refused_without_closing() {
    let srv = server();
    let mut c = Raw::quiet(&srv);
    for bad in ["foo..bar", ".foo", "foo.", "foo.>.bar", ">.a"] {
        c.send(format!("SUB {bad} 1\r\n").as_bytes());
        c.expect(b"-ERR 'Invalid Subject'\r\n");
    }
    // Wildcard characters inside a token are literal.
    c.send(b"SUB foo* 1\r\nPUB foo* 0\r\n\r\n");
    c.expect(b"MSG foo* 1 0\r\n\r\n");
}

#[test]
fn pedantic_publish_to_a_wildcard_is_told_but_still_delivered() {
    let srv = server();
    let mut c = Raw::connect_with(&srv, r#"{"verbose":false,"pedantic":true}"#);
    c.send(b"SUB > 1\r\nPUB foo.* 0\r\n\r\n");
    c.expect(b"-ERR 'Invalid Publish Subject'\r\nMSG foo.* 1 0\r\n\r\n");
}

#[test]
fn unknown_operation_is_refused_and_closed() {
    let srv = server();
    for bad in [
        &b"FOO\r\n"[..],
        b"PUBX\r\n",
        b"MSG a 1 0\r\n",
        b"\r\n",
        b"\x00\xff\x01\r\n",
    ] {
        let mut c = Raw::quiet(&srv);
        c.send(bad);
        c.expect_err_and_close("Unknown Protocol Operation");
    }
}

#[test]
fn payload_not_followed_by_crlf_is_an_unknown_operation() {
    let srv = server();
    let mut c = Raw::quiet(&srv);
    c.send(b"PUB foo 2\r\nhello\r\n");
    c.expect_err_and_close("Unknown Protocol Operation");
}

#[test]
fn malformed_arguments_close_without_a_word() {
    let srv = server();
    for bad in [
        &b"PUB foo\r\n"[..],
        b"PUB a b c d\r\n",
        b"PUB foo abc\r\n",
        b"PUB foo -1\r\n",
        b"SUB foo\r\n",
        b"SUB a b c d\r\n",
        b"UNSUB\t\r\n",
    ] {
        let mut c = Raw::quiet(&srv);
        c.send(bad);
        c.expect_closed();
    }
}

#[test]
fn bad_connect_json_closes_without_a_word() {
    let srv = server();
    for bad in ["{bad", "", "[]", r#"{"verbose":"yes"}"#] {
        let mut c = Raw::connect(&srv);
        c.send(format!("CONNECT {bad}\r\n").as_bytes());
        c.expect_closed();
    }
}

#[test]
fn unsupported_client_protocol_is_refused() {
    let srv = server();
    let mut c = Raw::connect(&srv);
    c.send(b"CONNECT {\"protocol\":2}\r\n");
    c.expect_err_and_close("invalid client protocol");
}

#[test]
fn client_err_closes_the_connection() {
    let srv = server();
    let mut c = Raw::quiet(&srv);
    c.send(b"-ERR 'oops'\r\n");
    c.expect_closed();
}

#[test]
fn a_bad_client_does_not_disturb_the_others() {
    let srv = server();
    let mut good = Raw::quiet(&srv);
    good.send(b"SUB a 1\r\nPING\r\n");
    good.expect(b"PONG\r\n");
    let mut bad = Raw::quiet(&srv);
    bad.send(b"\x16\x03\x01garbage\r\n");
    bad.expect_err_and_close("Unknown Protocol Operation");
    let mut publ = Raw::quiet(&srv);
    publ.send(b"PUB a 2\r\nok\r\n");
    good.expect(b"MSG a 1 2\r\nok\r\n");
}

#[test]
fn user_and_password_are_required_when_set() {
    let srv = server_with(|o| {
        o.username = Some("u".into());
        o.password = Some("p".into());
    });
    let mut c = Raw::connect(&srv);
    assert_eq!(c.info["auth_required"], true);
    c.send(b"CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"p\"}\r\nPING\r\n");
    c.expect(b"PONG\r\n");
    let mut wrong = Raw::connect(&srv);
    wrong.send(b"CONNECT {\"user\":\"u\",\"pass\":\"x\"}\r\n");
    wrong.expect_err_and_close("Authorization Violation");
    let mut skipped = Raw::connect(&srv);
    skipped.send(b"PING\r\n");
    skipped.expect_err_and_close("Authorization Violation");
}

#[test]
fn token_is_required_when_set() {
    let srv = server_with(|o| o.authorization = Some("s3cret".into()));
    let mut c = Raw::connect(&srv);
    c.send(b"CONNECT {\"verbose\":false,\"auth_token\":\"s3cret\"}\r\nPING\r\n");
    c.expect(b"PONG\r\n");
    let mut wrong = Raw::connect(&srv);
    wrong.send(b"CONNECT {\"auth_token\":\"nope\"}\r\n");
    wrong.expect_err_and_close("Authorization Violation");
}

#[test]
fn silent_client_times_out_when_credentials_are_required() {
    let srv = server_with(|o| {
        o.authorization = Some("t".into());
        o.auth_timeout = std::time::Duration::from_millis(100);
    });
    let mut c = Raw::connect(&srv);
    c.expect_err_and_close("Authentication Timeout");
}

#[test]
fn a_second_connect_drops_the_subscriptions() {
    let srv = server();
    let mut c = Raw::quiet(&srv);
    c.send(b"SUB foo 1\r\nCONNECT {\"verbose\":false}\r\nPUB foo 0\r\n\r\n");
    c.expect_nothing_more();
    // The sid is free again.
    c.send(b"SUB foo 1\r\nPUB foo 0\r\n\r\n");
    c.expect(b"MSG foo 1 0\r\n\r\n");
}

#[test]
fn first_pong_after_connect_is_followed_by_info_for_protocol_1() {
    let srv = server();
    let mut c = Raw::connect(&srv);
    c.send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n");
    c.expect(b"PONG\r\n");
    let info = c.read_line();
    let json: serde_json::Value =
        serde_json::from_str(info.strip_prefix("INFO ").unwrap()).unwrap();
    assert_eq!(json["connect_info"], true);
    assert_eq!(json["remote_account"], "$G");
    assert_eq!(json["client_id"], c.info["client_id"]);
    // Only once.
    c.expect_nothing_more();
    let mut c0 = Raw::connect(&srv);
    c0.send(b"CONNECT {\"verbose\":false,\"protocol\":0}\r\nPING\r\n");
    c0.expect(b"PONG\r\n");
    c0.expect_nothing_more();
}

#[test]
fn hpub_with_header_size_zero_is_delivered_as_a_plain_msg() {
    // nats-server only treats a message as carrying headers when the header
    // size is above 0; the size token goes out as sent.
    let srv = server();
    let mut with = Raw::connect_with(&srv, r#"{"verbose":false,"headers":true}"#);
    with.send(b"SUB h 1\r\nPING\r\n");
    with.expect(b"PONG\r\n");
    let mut without = Raw::quiet(&srv);
    without.send(b"SUB h 2\r\nPING\r\n");
    without.expect(b"PONG\r\n");
    let mut publ = Raw::connect_with(&srv, r#"{"verbose":false,"headers":true}"#);
    publ.send(b"HPUB h r 0 02\r\nhi\r\nPING\r\n");
    publ.expect(b"PONG\r\n");
    with.expect(b"MSG h 1 r 02\r\nhi\r\n");
    without.expect(b"MSG h 2 r 02\r\nhi\r\n");
}

#[test]
fn connect_json_with_invalid_utf8_or_lone_surrogates_is_accepted() {
    // Go's decoder puts U+FFFD in their place instead of failing.
    let srv = server();
    let mut c = Raw::connect(&srv);
    c.send(b"CONNECT {\"verbose\":true,\"name\":\"\xff\xfe\",\"lang\":\"\\ud800\"}\r\n");
    c.expect(b"+OK\r\n");
    c.expect_nothing_more();
}

#[test]
fn connect_json_unknown_keys_may_nest_deeply() {
    // Go's decoder skips unknown values of any depth (the control line
    // limit allows about 2000 levels).
    let srv = server();
    let mut c = Raw::connect(&srv);
    let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
    c.send(format!("CONNECT {{\"verbose\":true,\"x\":{deep}}}\r\n").as_bytes());
    c.expect(b"+OK\r\n");
    c.expect_nothing_more();
}

#[test]
fn connect_keys_fold_as_go_folds_them() {
    // U+017F (long s) folds to s under Unicode simple case folding.
    let srv = server();
    let mut c = Raw::connect(&srv);
    c.send("CONNECT {\"verbo\u{17F}e\":false}\r\nSUB a 1\r\nPING\r\n".as_bytes());
    c.expect(b"PONG\r\n");
}

#[test]
fn connect_import_and_export_must_be_subject_permissions() {
    let srv = server();
    let mut good = Raw::connect(&srv);
    good.send(b"CONNECT {\"verbose\":true,\"import\":{\"allow\":[\"a\"],\"deny\":null}}\r\n");
    good.expect(b"+OK\r\n");
    let mut bad = Raw::connect(&srv);
    bad.send(b"CONNECT {\"verbose\":true,\"export\":{\"allow\":\"a\"}}\r\n");
    bad.expect_closed();
}
