"""The official Python client (nats-py) against a natsd binary.

Usage: python smoke.py PATH_TO_NATSD

Starts natsd as the README says (`-p` with a free port here), waits for
"Server is ready" on stderr, then checks pub/sub, wildcards, queue groups,
request/reply, headers and no-responders with nats-py.
"""
import asyncio
import sys

import nats
from nats.errors import NoRespondersError

import serve


async def check(url):
    nc = await nats.connect(url)
    assert nc.max_payload == 1024 * 1024

    sub = await nc.subscribe("greet.*")
    await nc.publish("other", b"no")
    await nc.publish("greet.joe", b"hello")
    msg = await sub.next_msg(timeout=2)
    assert (msg.subject, msg.data) == ("greet.joe", b"hello"), msg
    await sub.unsubscribe()

    counts = [0, 0]

    def member(i):
        async def cb(msg):
            counts[i] += 1
        return cb

    await nc.subscribe("work", queue="q", cb=member(0))
    await nc.subscribe("work", queue="q", cb=member(1))
    for _ in range(100):
        await nc.publish("work", b"x")
    await nc.flush()
    for _ in range(100):
        if sum(counts) == 100:
            break
        await asyncio.sleep(0.01)
    assert sum(counts) == 100 and min(counts) > 0, counts

    async def responder(msg):
        await msg.respond(b"pong:" + msg.data + b":" + msg.headers.get("X-Id", "").encode())

    await nc.subscribe("svc", cb=responder)
    reply = await nc.request("svc", b"ping", timeout=2, headers={"X-Id": "7"})
    assert reply.data == b"pong:ping:7", reply.data

    try:
        await nc.request("nobody.home", b"?", timeout=2)
        raise AssertionError("expected no responders")
    except NoRespondersError:
        pass

    await nc.drain()


def main():
    proc, url = serve.start(sys.argv[1], ["-a", "127.0.0.1", "-p", "-1"])
    try:
        asyncio.run(asyncio.wait_for(check(url), 20))
        print("nats-py smoke: 1 passed, 0 failed")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
