"""nats-py against a natsd binary with accounts and permissions.

Usage: python accounts.py PATH_TO_NATSD

Starts natsd with a configuration file of two accounts (A exports a
service and a stream, B imports both) and a user with permissions, then
checks with nats-py that a permission violation reaches the client's error
callback while the connection lives on, that accounts are apart, and that
B's requests reach A's service and its answers come back.
"""
import asyncio
import os
import sys
import tempfile

import nats

import serve

CONFIG = """
listen: "127.0.0.1:-1"
accounts {
  A: {
    users: [ {user: a, password: apw} ]
    exports: [ {stream: "events.>"}, {service: "svc.>", accounts: [B]} ]
  }
  B: {
    users: [ {user: b, password: bpw} ]
    imports: [
      {stream: {account: A, subject: "events.>"}, prefix: from_a}
      {service: {account: A, subject: "svc.echo"}, to: echo}
    ]
  }
}
authorization {
  users: [ {user: alice, password: alicepw, permissions: {publish: "ok.>", subscribe: {deny: "secret.>"}}} ]
}
"""


async def check(url):
    errors = []

    async def on_error(e):
        errors.append(str(e))

    alice = await nats.connect(url, user="alice", password="alicepw", error_cb=on_error)
    await alice.publish("not.ok", b"x")
    await alice.flush()
    for _ in range(200):
        if errors:
            break
        await asyncio.sleep(0.01)
    # nats-py reports the server's text in lower case.
    assert any('permissions violation for publish to "not.ok"' in e.lower() for e in errors), errors
    assert alice.is_connected
    sub = await alice.subscribe("ok.>")
    await alice.publish("ok.1", b"fine")
    msg = await sub.next_msg(timeout=2)
    assert msg.data == b"fine", msg
    await alice.drain()

    a = await nats.connect(url, user="a", password="apw")
    b = await nats.connect(url, user="b", password="bpw")

    apart = await b.subscribe("apart")
    events = await b.subscribe("from_a.events.>")
    await serve.sync(b)
    await a.publish("apart", b"no")
    await a.publish("events.order.1", b"hello")
    await a.flush()
    msg = await events.next_msg(timeout=2)
    assert (msg.subject, msg.data) == ("from_a.events.order.1", b"hello"), msg
    try:
        await apart.next_msg(timeout=0.2)
        raise AssertionError("a message crossed accounts without an import")
    except nats.errors.TimeoutError:
        pass

    async def responder(msg):
        assert msg.reply.startswith("_R_."), msg.reply
        await msg.respond(b"echo: " + msg.data)

    await a.subscribe("svc.echo", cb=responder)
    await serve.sync(a)
    reply = await b.request("echo", b"ping", timeout=2)
    assert reply.data == b"echo: ping", reply.data

    await a.drain()
    await b.drain()


def main():
    with tempfile.TemporaryDirectory() as scratch:
        conf = os.path.join(scratch, "accounts.conf")
        with open(conf, "w") as f:
            f.write(CONFIG)
        proc, url = serve.start(sys.argv[1], ["-c", conf])
        try:
            asyncio.run(asyncio.wait_for(check(url), 20))
            print("nats-py accounts: 1 passed, 0 failed")
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
