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


if __name__ == "__main__":
    shutil.rmtree(SEEDS, ignore_errors=True)
    parser_seeds()
    roundtrip_seeds()
    sublist_seeds()
    session_seeds()
    print("seeds written to", SEEDS)
