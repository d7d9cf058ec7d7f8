#!/usr/bin/env python3
"""Write the seed corpus: real protocol traffic laid out as each target reads
its input (see fuzz/src/*.rs). Run from anywhere; rewrites fuzz/seeds/."""

import pathlib
import shutil
import struct

SEEDS = pathlib.Path(__file__).resolve().parent / "seeds"

# Every client operation, with and without headers, as real clients send them.
TRAFFIC = [
    b'CONNECT {"verbose":false,"pedantic":false,"tls_required":false,"name":"py","lang":"python3","version":"2.9.0","protocol":1,"echo":true,"headers":true,"no_responders":true}\r\n',
    b'CONNECT {"verbose":true,"pedantic":true,"user":"u","pass":"p"}\r\n',
    b"PING\r\n",
    b"PONG\r\n",
    b"SUB foo 1\r\n",
    b"SUB foo.* workers 2\r\n",
    b"SUB foo.> 3\r\n",
    b"PUB foo 5\r\nhello\r\n",
    b"PUB foo _INBOX.abc 0\r\n\r\n",
    b"HPUB foo 22 27\r\nNATS/1.0\r\nA: 1\r\n\r\n\r\nhello\r\n",
    b"HPUB foo _INBOX.r 12 12\r\nNATS/1.0\r\n\r\n\r\n",
    b"UNSUB 1\r\n",
    b"UNSUB 2 10\r\n",
    b"+OK\r\n",
    b"-ERR 'Unknown Protocol Operation'\r\n",
    b'INFO {"server_id":"x"}\r\n',
    b"pub foo 3\r\nabc\r\n",
    b"PUB foo 3\r\nabcd\r\n",
    b"PUB foo -1\r\n",
    b"SUB\r\n",
    b"HMSG foo 1 2 3\r\n\r\n",
    b"PING\n",
]


def write(target, name, data):
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def parser_seeds():
    stream = b"".join(TRAFFIC)
    for i, op in enumerate(TRAFFIC):
        # config 0x10: headers on; no splits, then two splits mid-op.
        write("parser", f"op-{i:02}-whole", bytes([0x10, 0]) + op)
        mid = len(op) // 2
        write("parser", f"op-{i:02}-split", bytes([0x10, 2]) + struct.pack("<HH", 1, mid) + op)
    write("parser", "all-ops", bytes([0x10, 3]) + struct.pack("<HHH", 7, 100, 300) + stream)
    write("parser", "all-ops-small-limits", bytes([0x14, 0]) + stream)
    write("parser", "awaiting-connect", bytes([0x30, 0]) + stream)


def roundtrip_seeds():
    for kind in range(10):
        head = bytes([kind]) + b"subject" + b"\x00" * 8
        write("roundtrip", f"kind-{kind}", head + b"".join(TRAFFIC))


def sublist_seeds():
    write("sublist", "insert-match-remove", bytes([2] + [0, 0, 3, 0, 1, 1, 3, 0, 2, 1, 0, 0] * 8))
    write("sublist", "tiny-cache", bytes([1] + list(range(256))))
    write("sublist", "no-cache", bytes([0] + list(range(255, -1, -1))))


def session_seeds():
    def send(client, data):
        out = b""
        for at in range(0, len(data), 95):
            chunk = data[at:at + 95]
            out += bytes([1, client, len(chunk)]) + chunk
        return out

    accept = bytes([0])
    connect = b'CONNECT {"verbose":false,"headers":true,"no_responders":true,"protocol":1}\r\n'
    pubsub = (accept + accept
              + send(0, connect + b"SUB foo.* 1\r\nSUB foo.> q 2\r\nPING\r\n")
              + send(1, connect + b"PUB foo.bar 5\r\nhello\r\nHPUB foo.x 12 14\r\nNATS/1.0\r\n\r\nhi\r\n")
              + send(1, b"PUB nobody _INBOX.r 0\r\n\r\n"))
    write("session", "pubsub", struct.pack("<H", 0) + pubsub)
    write("session", "user-pass", struct.pack("<H", 1) + accept
          + send(0, b'CONNECT {"user":"u","pass":"p"}\r\nSUB a 1\r\nPUB a 1\r\nx\r\n'))
    write("session", "token-wrong", struct.pack("<H", 2) + accept
          + send(0, b'CONNECT {"auth_token":"no"}\r\nPING\r\n'))
    write("session", "small-limits", struct.pack("<H", 0b1111100) + accept + accept + accept
          + send(0, connect + b"SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n")
          + bytes([7, 0])
          + send(1, b"PUB a 10\r\n0123456789\r\n" * 3))
    write("session", "keepalive", struct.pack("<H", 0) + accept + send(0, connect)
          + bytes([6, 0, 3]) + bytes([6, 0, 3]) + bytes([6, 0, 3]))
    write("session", "templates", struct.pack("<H", 0) + accept + accept + bytes(range(3, 255)))

    # Leaf node peers (bit 8): after the first, each step on a client or a
    # leaf takes one byte more, 0 for a leaf.
    def leaf_send(leaf, data):
        out = b""
        for at in range(0, len(data), 95):
            chunk = data[at:at + 95]
            out += bytes([1, 0, leaf, len(chunk)]) + chunk
        return out

    def client_send(client, data):
        out = b""
        for at in range(0, len(data), 95):
            chunk = data[at:at + 95]
            out += bytes([1, 1, client, len(chunk)]) + chunk
        return out

    accept_client, accept_leaf = bytes([0, 0]), bytes([0, 1])
    leaf_connect = b'CONNECT {"server_id":"NLEAF0","name":"L0","cluster":"C0","headers":true}\r\n'
    hub_connect = b'CONNECT {"server_id":"NLEAF1","name":"L1","cluster":"C1","headers":true,"is_hub":true}\r\n'
    write("session", "leafs", struct.pack("<H", 1 << 8) + accept_client + accept_leaf
          + leaf_send(0, leaf_connect + b"LS+ foo.*\r\nLS+ bar q1 2\r\n")
          + client_send(0, connect + b"SUB foo.x 1\r\nSUB bar q1 2\r\nPING\r\n")
          + accept_leaf
          + leaf_send(1, hub_connect + b"LS+ baz\r\nLS+ bar q1 1\r\n")
          + leaf_send(0, b"LMSG foo.x 5\r\nL0.1x\r\nLMSG bar | q1 5\r\nL0.2x\r\nLS+ bar q1 3\r\n")
          + client_send(0, b"PUB bar 2\r\nhi\r\nPUB baz 2\r\nhi\r\nUNSUB 2\r\n")
          + leaf_send(1, b"HMSG foo.x + _INBOX.r q1 12 17\r\nNATS/1.0\r\n\r\nL1.1x\r\nLS- baz\r\n")
          + leaf_send(0, b"LS- bar q1\r\nLS- foo.*\r\n"))


    # Route peers (bit 9): after the first, each step on a client (or a
    # leaf) takes one byte more, 0 for a route; accepting one is the
    # accept step's first byte, 0.
    def route_send(route, data):
        out = b""
        for at in range(0, len(data), 95):
            chunk = data[at:at + 95]
            out += bytes([1, 0, route, len(chunk)]) + chunk
        return out

    def client_after_routes(client, data, leafs=False):
        out = b""
        for at in range(0, len(data), 95):
            chunk = data[at:at + 95]
            pick = [1, 1] if leafs else [1]
            out += bytes([1] + pick + [client, len(chunk)]) + chunk
        return out

    def leaf_after_routes(leaf, data):
        out = b""
        for at in range(0, len(data), 95):
            chunk = data[at:at + 95]
            out += bytes([1, 1, 0, leaf, len(chunk)]) + chunk
        return out

    def route_handshake(n, headers=b"true"):
        return (b'CONNECT {"echo":true,"verbose":false,"pedantic":false,"tls_required":false,"headers":'
                + headers + b',"name":"NROUTE%d","cluster":"fz"}\r\n' % n
                + b'INFO {"server_id":"NROUTE%d","server_name":"r%d","version":"2.11.0","proto":1,'
                b'"host":"127.0.0.1","port":6222,"cluster":"fz","headers":' % (n, n) + headers + b'}\r\n')

    accept_route = bytes([0, 0])
    write("session", "routes", struct.pack("<H", 1 << 9) + bytes([0, 1]) + accept_route
          + route_send(0, route_handshake(0) + b"RS+ $G foo.*\r\nRS+ $G bar q1 2\r\n")
          + client_after_routes(0, connect + b"SUB foo.x 1\r\nSUB bar q1 2\r\nSUB bar q1 3\r\nPING\r\n")
          + accept_route
          + route_send(1, route_handshake(1, b"false") + b"RS+ $G baz\r\nRS+ nope x\r\nRS+ $G bar q0 1\r\n")
          + route_send(0, b"RMSG $G foo.x 5\r\nR0.1x\r\nRMSG $G bar | q1 5\r\nR0.2x\r\nRS+ $G bar q1 3\r\n")
          + client_after_routes(0, b"PUB bar 2\r\nC1\r\nPUB foo.x 2\r\nC2\r\nPUB baz 2\r\nC3\r\nUNSUB 2\r\n")
          + route_send(1, b"HMSG $G foo.x + _INBOX.r q1 12 17\r\nNATS/1.0\r\n\r\nR1.1x\r\nRS- $G baz\r\n")
          + client_after_routes(0, b"HPUB bar 12 14\r\nNATS/1.0\r\n\r\nC4\r\nUNSUB 3\r\n")
          + route_send(0, b"RS- $G bar q1\r\nRS- $G foo.*\r\nRMSG nope foo.x 1\r\nx\r\n"))
    write("session", "routes-accounts", struct.pack("<H", (1 << 9) | 3) + bytes([0, 1, 0, 1]) + accept_route
          + route_send(0, route_handshake(0) + b"RS+ A a.>\r\nRS+ B x.a.b\r\nRS+ B b\r\n")
          + client_after_routes(0, b'CONNECT {"user":"a","pass":"pa","headers":true}\r\nSUB b 1\r\nSUB a.> q0 2\r\nPUB a.b 2\r\nC1\r\n')
          + client_after_routes(1, b'CONNECT {"user":"b","pass":"pb"}\r\nSUB x.a.> 1\r\nPUB b _INBOX.r 2\r\nC2\r\n')
          + route_send(0, b"RMSG A a.b | q0 2\r\nR0\r\nRMSG B b _INBOX.x 2\r\nR1\r\nRS- A a.>\r\n"))
    write("session", "routes-leafs", struct.pack("<H", (1 << 9) | (1 << 8)) + bytes([0, 1, 0]) + accept_route
          + bytes([0, 1, 1])
          + route_send(0, route_handshake(0) + b"RS+ $G foo.*\r\n")
          + leaf_after_routes(0, leaf_connect + b"LS+ foo.x\r\nLS+ b q0 2\r\n")
          + client_after_routes(0, connect + b"SUB b q0 1\r\nPUB foo.x 2\r\nC1\r\nPUB b 2\r\nC2\r\n", leafs=True)
          + leaf_after_routes(0, b"LMSG foo.x 5\r\nL0.1x\r\nPING\r\n")
          + route_send(0, b"RMSG $G foo.x 5\r\nR0.1x\r\nRMSG $G b | q0 5\r\nR0.2x\r\n"))


def leaf_seeds():
    # A config byte and split points (see fuzz/src/parser.rs), then what
    # another server sends on a leaf connection.
    write("leaf", "errors", b'\x01\x01\x03\x00-ERR \'Loop detected for leafnode account="$G". Delaying attempt to reconnect for 30s\'\r\nLMSG foo x q 1\r\n')
    write("leaf", "handshake", b'\x00\x00INFO {"server_id":"N","client_id":5,"nonce":"abc","leafnode_urls":["127.0.0.1:7422"],"info_on_connect":true} \r\nCONNECT {"name":"LEAF","cluster":"LEAF","headers":true}\r\nPING\r\nPONG\r\n')
    write("leaf", "interest", b'\x00\x03\x05\x00\x11\x00@\x00LS+ foo\r\nLS+ bar q1 2\r\nLS- bar q1\r\nLS- foo\r\nLS+ $LDS.abc\r\n')
    write("leaf", "limits", b'\x04\x00LMSG foo 9\r\n123456789\r\nLS+ aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n')
    write("leaf", "messages", b'\x10\x02\x07\x000\x00LMSG foo _INBOX.abc 5\r\nhello\r\nHMSG bar | q1 q2 12 14\r\nNATS/1.0\r\n\r\nhi\r\nLMSG baz + r q 1\r\nx\r\nLMSG a 0\r\n\r\n')


def route_seeds():
    # A config byte and split points (see fuzz/src/parser.rs), then what
    # another server of the cluster sends on a route (the interest and
    # messages as nats-server 2.15.1 wrote them).
    write("route", "handshake", b'\x00\x00INFO {"server_id":"NCIF5H","server_name":"A","version":"2.15.1","proto":3,"headers":true,"max_payload":1048576,"cluster":"c1","connect_urls":["127.0.0.1:4222"],"lnoc":true,"lnocu":true}\r\n'
          b'CONNECT {"echo":false,"verbose":false,"pedantic":false,"tls_required":false,"headers":true,"name":"NCIF5H","cluster":"c1","dynamic":false,"lnoc":true,"lnocu":true}\r\nPING\r\nPONG\r\n+OK\r\n')
    write("route", "interest", b'\x00\x03\x05\x00\x11\x00@\x00RS+ $G foo\r\nRS+ $G bar q1 2\r\nRS+ $G bar q2 1\r\nRS+ $SYS $SYS.REQ.SERVER.PING.VARZ\r\nRS- $G bar q1\r\nRS- $G foo\r\nRS+ ACC baz q 0\r\n')
    write("route", "messages", b'\x10\x02\x07\x000\x00RMSG $G baz 5\r\nhello\r\nRMSG $G qq + _INBOX.r g1 g2 2\r\nhi\r\nHMSG $G baz 12 14\r\nNATS/1.0\r\n\r\nhi\r\nRMSG $G baz 2\r\nhi\r\n'
          b'RMSG A qq | g2 2\r\nzz\r\nHMSG A foo + r q1 q2 q3 12 12\r\nNATS/1.0\r\n\r\n\r\nRMSG A x r 0\r\n\r\n')
    write("route", "errors", b'\x01\x01\x03\x00-ERR \'Unknown Protocol Operation\'\r\nRMSG $G foo x q 1\r\n')
    write("route", "bad-args", b'\x00\x00RS+ $G foo q\r\n')
    write("route", "bad-header-size", b'\x00\x00HMSG $G foo x y\r\n')
    write("route", "leaf-origin", b'\x00\x00RS+ $G a\r\nLS+ c1 $G foo\r\nLMSG c1 $G foo 0 2\r\nhi\r\n')
    write("route", "limits", b'\x04\x00RMSG A foo 9\r\n123456789\r\nRS+ A aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n')
    write("route", "payload-limit", b'\x06\x00RMSG A foo 8\r\n12345678\r\nHMSG A foo 2 9\r\n')
    write("route", "long-ping", b'\x01\x00PING' + b'x' * 40 + b'\r\n')
    many = b" ".join(b"q%d" % i for i in range(100))
    write("route", "many-queues", b'\x00\x00RMSG A foo | ' + many + b' 1\r\nx\r\n')


# Configuration files as operators write them for nats-server; the config
# target reads a seed as the main file (fuzz/src/config.rs names the files
# and variables it can include and refer to).
CONFIGS = {
    "basic": b"""# A single server at the edge.
host: 0.0.0.0
port: 4222
server_name: edge-1

max_payload: 1MB
max_pending: 64MB
max_control_line: 4KB
max_connections: 64K
max_subscriptions: 0
ping_interval: "2m"
ping_max: 2
write_deadline: "10s"

debug: false
trace: false
logtime: true
log_file: "/var/log/nats/nats.log"
pid_file: "/var/run/nats/nats.pid"
ports_file_dir: "/var/run/nats"

http: 8222
http_base_path: /monitor
lame_duck_duration: "2m"
lame_duck_grace_period: "10s"
""",
    "auth-users": b"""listen: 127.0.0.1:4222
authorization {
  users: [
    {user: alice, password: "wonderland"}
    {username: bob, pass: 'builder'}
    {user: guest, allowed_connection_types: ["STANDARD", "WEBSOCKET"]}
  ]
  timeout: 2.5
}
no_auth_user: guest
""",
    "auth-token": b"""authorization {
  token: $2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG
  timeout: "3s"
}
monitor_port: 8222
""",
    "json-like": b"""{
  "listen": "[::1]:4222",
  "http": "127.0.0.1:8222",
  "debug": true,
  "max_payload": 65536
}
""",
    "variables-includes": b"""SIZE_LIMIT = 2MB
max_payload: $SIZE_LIMIT
max_pending: $SIZE
include inc.conf
authorization {
  include sub/auth.conf
}
server_tags: $LIST
""",
    "everything": b"""// Every construct of the format at least once.
a = 1; b: 2, c 3
floats: [1.5, -0.25, 3.0 ]
sizes: [1k, 1KB, 1KiB, 2mb, 1G, 1T, 1P, 1E ]
strings: ["tab\\tnewline\\nquote\\"hex\\x41", 'single \\n', unquoted, nats://h:4222, 127.0.0.1:4222]
bools: [true, FALSE, yes, No, on, OFF ]
when: 2024-02-29T12:00:00Z
text: (
  a block string
  with (parentheses)
)
nested {
  inner = x
  deeper: { list: [ { k: v }, [1, 2 ] ] }
  ref: $inner
}
cluster {
  name: c1
  listen: 0.0.0.0:6222
  routes: [nats-route://a:6222, nats-route://b:6222]
}
jetstream { store_dir: /data, max_mem: 1G }
websocket { port: 8080, no_tls: true }
tls { cert_file: "./server.pem", key_file: "./key.pem" }
accounts {
  A: { users: [ {user: a, password: a} ], exports: [ {stream: "a.>"} ] }
}
""",
    "lexer-quirks": b"""{ port: 4222 }, weird: 1}
x: 1kx
y: 10s
z: [ 1 ]
w: 1'q
v: abc'
u: -1.2.3
t: a / b
}
""",
    "unterminated-string": b'port: 4222\nserver_name: "open\n',
    "unclosed-map": b"authorization {\n  user: a\n",
    "env-cycle": b"port: $SELF\nx: $BROKEN\n",
    "include-loop": b"include loop.conf\ninclude bad.conf\n",
    "deep": b"a: " + b"[" * 70 + b"]" * 70 + b"\n",
    "accounts": b'accounts {\n  A: {\n    users: [ {user: a, password: "$2a$04$abcdefghijklmnopqrstuu", permissions: {publish: {allow: ["a.>"], deny: "a.x"}, subscribe: ["b.*", "q g"], allow_responses: {max: 2, expires: "5s"}}} ]\n    default_permissions: { pub: "d.>" }\n    exports: [ {stream: "events.>"}, {service: "svc.>", response_type: stream, response_threshold: "2s", accounts: [B]} ]\n  }\n  B {\n    users: [ {user: b, password: b} ]\n    imports: [\n      {stream: {account: A, subject: "events.>"}, prefix: from_a}\n      {stream: {account: A, subject: "events.*"}, to: "mapped.$1"}\n      {service: {account: A, subject: "svc.echo"}, to: echo}\n    ]\n  }\n  SYS: {}\n}\nsystem_account: SYS\nauthorization { default_permissions: {subscribe: {deny: ">"}}, users: [{user: g, password: g, permissions: {allow_responses: true}}] }\nno_auth_user: g\n',
    "accounts-list": b'accounts: [X, Y ]\nauthorization { timeout: 1, users: [ {user: x, password: y} ] }\n',
    "operator": b"operator: eyJhbGciOiJlZDI1NTE5In0.e30.e30\nresolver: MEMORY\n"
    b"resolver_preload { ACATS5YOVB6ROX2WUNKGNQ2MP3GMXDMKSG2O4N5CLX3A6W4PZGZZIL2R: x.y.z }\n"
    b"trusted_keys: [OABC]\nsystem_account: ACATS5YOVB6ROX2WUNKGNQ2MP3GMXDMKSG2O4N5CLX3A6W4PZGZZIL2R\n",
    "nkey-users": b"authorization { users: [ {nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4, "
    b"permissions: {publish: a}} ] }\nno_auth_user: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4\n",
    "tls-websocket": b'tls { cert_file: c.pem, key_file: k.pem, ca_file: ca.pem, verify_and_map: true, timeout: "1.5s",\n'
    b'  handshake_first: "300ms", pinned_certs: [ab], min_version: "1.3", cipher_suites: [TLS_AES_128_GCM_SHA256] }\n'
    b"allow_non_tls: true\nhttps: \"127.0.0.1:8443\"\n"
    b'websocket { listen: "127.0.0.1:8080", no_tls: true, compression: true, same_origin: true,\n'
    b'  allowed_origins: ["http://a.com", "https://b.org:8443"], handshake_timeout: "2s",\n'
    b"  authorization { token: t, timeout: 2 }, jwt_cookie: jwt, headers { X-A: b }, ping_interval: 30 }\n"
    b"authorization { users: [ {user: w, password: p, allowed_connection_types: [WEBSOCKET]} ] }\n",
    "leafnodes": b'accounts { A: { users: [ {user: a, password: a} ] } }\n'
    b'leafnodes { listen: "127.0.0.1:7422", advertise: "hub.example:7422", no_advertise: false,\n'
    b'  reconnect: "2s", compression: off,\n'
    b'  authorization { users: [ {user: lu, password: lp, account: A} ], timeout: 3 }\n'
    b'  tls { cert_file: c.pem, key_file: k.pem, timeout: 2 }\n'
    b'  remotes: [\n'
    b'    { urls: ["nats-leaf://u:p@hub:7422", "tls://hub2"], account: A, deny_imports: [x.>], deny_exports: y,\n'
    b'      no_randomize: true, first_info_timeout: "2s", tls { ca_file: ca.pem } }\n'
    b'    { url: "wss://hub:443/path", ws_compression: true, ws_no_masking: true, hub: true, disabled: true }\n'
    b'    { url: nats-leaf://hub3, ignore_discovered_servers: true, dial_timeout: "1s" }\n'
    b'  ]\n}\n',
}


def config_seeds():
    for name, text in CONFIGS.items():
        write("config", name, text)


# A user JWT signed by the fuzz world's account (fuzz/src/jwt.rs: the keys
# from seeds of 2s and 4s), with the user's seed and public key.
USER_JWT = (
    b"eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ."
    b"eyJqdGkiOiJYIiwiaWF0IjoxNzk5OTk5OTkwLCJpc3MiOiJBQ0FUUzVZT1ZCNlJPWDJXVU5LR05RMk1QM0dNWERNS1NH"
    b"Mk80TjVDTFgzQTZXNFBaR1paSUwyUiIsIm5hbWUiOiJ1Iiwic3ViIjoiVURGSkhMQVhBVU1IQTRPV1BPQjRQN1lPNzJB"
    b"UVIySE1JVVlGT1hMWEUyRFpHTTYzM0s3SFlSRVYiLCJuYXRzIjp7InR5cGUiOiJ1c2VyIiwidmVyc2lvbiI6MiwicHVi"
    b"Ijp7ImFsbG93IjpbImEuPiJdfSwic3VicyI6LTEsImRhdGEiOi0xLCJwYXlsb2FkIjotMX19."
    b"B4Px1dEwSJh8ZW_XIqV9nHULwxbjHOTZj2SkYcbQMzFaI1QqLQwRVmn0OSGvkt11Hf3GcD4bGHKd0AnpqVHnAA"
)
USER_SEED = b"SUAAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBH4FY"
USER_KEY = b"UDFJHLAXAUMHA4OWPOB4P7YO72AQR2HMIUYFOXLXE2DZGM633K7HYREV"
ACCOUNT_KEY = b"ACATS5YOVB6ROX2WUNKGNQ2MP3GMXDMKSG2O4N5CLX3A6W4PZGZZIL2R"

# User claims as nsc writes them, and the fields the login checks read.
USER_CLAIMS = [
    b'{"name":"u","nats":{"type":"user","version":2,"pub":{},"sub":{},"subs":-1,"data":-1,"payload":-1}}',
    b'{"name":"bob","nats":{"type":"user","version":2,"bearer_token":true,"subs":1,"payload":8}}',
    b'{"nats":{"type":"user","version":2,"pub":{"allow":["a.>"],"deny":["a.b"]},"sub":{"allow":["q g"]},'
    b'"resp":{"max":2,"ttl":1000000000},"src":["127.0.0.0/8","::1/128"],'
    b'"times":[{"start":"00:00:00","end":"23:59:59"}],"times_location":"UTC",'
    b'"allowed_connection_types":["STANDARD","WEBSOCKET"],"tags":["t:x"]}}',
    b'{"name":"kim","tags":["t:a","t:b"],"nats":{"type":"user","version":2,"issuer_account":"'
    + ACCOUNT_KEY + b'","tags":["t:a","t:b"]}}',
    b'{"exp":1,"nbf":99999999999,"nats":{"type":"user","version":2,"src":"10.0.0.0/8, 1.2.3.4/32"}}',
    b'{"type":"user","issuer_account":"' + ACCOUNT_KEY + b'","nats":{"pub":{"allow":["x"]}}}',
    b'{"nats":{"type":"account","version":2,"limits":{"conn":1},"signing_keys":["' + ACCOUNT_KEY + b'"]}}',
    b'{"nats":{"type":"activation","version":2,"subject":"svc.>","kind":"service"}}',
]


def jwt_seeds():
    write("jwt", "token-user", b"\x00" + USER_JWT)
    write("jwt", "token-truncated", b"\x00" + USER_JWT[:-10])
    write("jwt", "nkey-public", b"\x01" + USER_KEY)
    write("jwt", "nkey-seed", b"\x01" + USER_SEED)
    write("jwt", "nkey-account", b"\x01" + ACCOUNT_KEY)
    creds = (
        b"-----BEGIN NATS USER JWT-----\n" + USER_JWT + b"\n------END NATS USER JWT------\n\n"
        b"************************* IMPORTANT *************************\n"
        b"NKEY Seed printed below can be used to sign and prove identity.\n\n"
        b"-----BEGIN USER NKEY SEED-----\n" + USER_SEED + b"\n------END USER NKEY SEED------\n"
    )
    write("jwt", "creds", b"\x02" + creds)
    write("jwt", "creds-undecorated", b"\x02" + USER_JWT + b"\n" + USER_SEED + b"\n")
    for i, claims in enumerate(USER_CLAIMS):
        write("jwt", f"login-{i}", b"\x03" + claims + b"\xff" + b"c2ln")
        write("jwt", f"tamper-{i}", b"\x04" + claims + b"\xff" + bytes([65 + i]) * (i * 7 + 3))


def websocket_seeds():
    import struct, zlib

    def frame(payload, op=2, fin=True, rsv1=False, mask=b"\x01\x02\x03\x04"):
        b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | op
        n = len(payload)
        if n < 126:
            head = bytes([b0, (0x80 if mask else 0) | n])
        elif n < 65536:
            head = bytes([b0, (0x80 if mask else 0) | 126]) + struct.pack(">H", n)
        else:
            head = bytes([b0, (0x80 if mask else 0) | 127]) + struct.pack(">Q", n)
        if not mask:
            return head + payload
        return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

    def deflate(data):
        c = zlib.compressobj(1, zlib.DEFLATED, -15)
        return (c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]

    request = (b"GET / HTTP/1.1\r\nHost: localhost:8080\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               b"Sec-WebSocket-Version: 13\r\n")
    write("websocket", "upgrade", b"\x00" + request + b"\r\n")
    write("websocket", "upgrade-deflate", b"\x00" + request
          + b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
          + b"Origin: http://example.com\r\nCookie: jwt=abc; x=y\r\n"
          + b"User-Agent: Mozilla/5.0 Version/17 Safari/605\r\nNats-No-Masking: true\r\n\r\n")
    write("websocket", "upgrade-bad-key", b"\x00" + request.replace(b"dGhlIHNhbXBsZSBub25jZQ==", b"c2hvcnQ=") + b"\r\n")
    write("websocket", "upgrade-mqtt", b"\x00" + request.replace(b"GET /", b"GET /mqtt") + b"\r\n")

    ops = b"CONNECT {}\r\nSUB foo 1\r\nPUB foo 5\r\nhello\r\nPING\r\n"
    write("websocket", "frames", b"\x01\x01\x10" + frame(ops[:20], fin=False)
          + frame(b"hi", op=9) + frame(ops[20:], op=0) + frame(b"", op=10))
    write("websocket", "frames-unmasked", b"\x01\x00\x10" + frame(ops, mask=b""))
    write("websocket", "frames-16bit", b"\x01\x01\x10" + frame(b"x" * 300))
    write("websocket", "close", b"\x01\x01\x10" + frame(b"\x03\xe8bye", op=8) + frame(ops))
    write("websocket", "close-bad", b"\x01\x01\x10" + frame(b"\x03\xed", op=8))
    write("websocket", "length-top-bit", b"\x01\x01\x10\x82\xff\x80\x00\x00\x00\x00\x00\x00\x01\x01\x02\x03\x04x")
    z = deflate(ops * 4)
    write("websocket", "compressed", b"\x01\x03\x10" + frame(z, rsv1=True) + frame(b"PING\r\n"))
    write("websocket", "compressed-fragments", b"\x01\x03\x10" + frame(z[:5], fin=False, rsv1=True)
          + frame(b"p", op=9) + frame(z[5:], op=0))
    write("websocket", "compressed-bomb", b"\x01\x03\x01" + frame(deflate(b"\x00" * 100000), rsv1=True))
    write("websocket", "compressed-garbage", b"\x01\x03\x10" + frame(b"\xff" * 40, rsv1=True))


def tls_seeds():
    # mode (0 INFO then TLS, 1 allow_non_tls, 2 handshake_first; +0x80 raw
    # bytes only), step (which client flight the bytes replace; odd: follow),
    # then the bytes.
    hello = b"\x16\x03\x01\x00\x05hello"
    write("tls", "handshake-clean", b"\x00\x7f")
    write("tls", "client-hello-garbage", b"\x00\x00" + hello)
    write("tls", "after-client-hello", b"\x00\x01" + b"\x17\x03\x03\x00\x10" + b"x" * 16)
    write("tls", "finished-cut", b"\x00\x02")
    write("tls", "session-garbage", b"\x00\x09CONNECT {}\r\nPING\r\n\xff\xfe")
    write("tls", "non-tls-plain", b"\x81\x05CONNECT {}\r\nPING\r\n")
    write("tls", "non-tls-hello", b"\x01\x00" + hello)
    write("tls", "first-garbage", b"\x02\x00" + b"GET / HTTP/1.1\r\n\r\n")
    write("tls", "first-clean", b"\x02\x7f")
    write("tls", "raw-record-huge", b"\x80\x03\x16\x03\x03\xff\xff" + b"\x00" * 40)


if __name__ == "__main__":
    shutil.rmtree(SEEDS, ignore_errors=True)
    parser_seeds()
    roundtrip_seeds()
    sublist_seeds()
    session_seeds()
    leaf_seeds()
    route_seeds()
    config_seeds()
    jwt_seeds()
    websocket_seeds()
    tls_seeds()
    print("seeds written to", SEEDS)
