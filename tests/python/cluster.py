"""nats-py against a cluster of three servers, shut down one after another.

Usage: python cluster.py SERVER [SERVER SERVER]

SERVER is a natsd or nats-server binary: one for all three, or one each
(`cluster.py natsd nats-server natsd`). The scenario of nats.py's
`test_cluster_reconnect_sequential_shutdown` (nats-io/nats.py, the new
client's tests), with nats-py 2.x: the three servers in a full mesh
(`cluster { routes }`), the client given only the first one's URL (the
others come in INFO's `connect_urls`), reconnecting at once in server
order; the server the client is on is shut down (SIGTERM), the client
must reconnect to another within 10 s and its subscription work there,
twice, the last server left running. It must have reconnected twice.
Another client, on the server left last, receives what the first
publishes after each reconnection: the routes carry the interest.
"""
import asyncio
import os
import signal
import socket
import sys
import tempfile

import nats

import serve

CLUSTER = "py_cluster"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config(name, ports, i):
    routes = ", ".join(
        f'"nats-route://127.0.0.1:{p["cluster"]}"' for j, p in enumerate(ports) if j != i
    )
    return (
        f"server_name: {name}\nhost: 127.0.0.1\nport: {ports[i]['client']}\n"
        f"cluster {{\n  name: {CLUSTER}\n  host: 127.0.0.1\n  port: {ports[i]['cluster']}\n"
        f"  routes [ {routes} ]\n}}\n"
    )


async def wait_for(what, check, timeout=10):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not within {timeout}s")
        await asyncio.sleep(0.05)


async def scenario(procs, urls):
    reconnected = asyncio.Event()
    count = 0

    async def on_reconnect():
        nonlocal count
        count += 1
        reconnected.set()

    nc = await nats.connect(
        urls[0],
        connect_timeout=0.5,
        allow_reconnect=True,
        max_reconnect_attempts=60,
        reconnect_time_wait=0.0,
        dont_randomize=True,
        reconnected_cb=on_reconnect,
    )
    # The two others, told in INFO's connect_urls once the mesh is up.
    await wait_for(
        "the other servers in connect_urls",
        lambda: len({(s.uri.hostname, s.uri.port) for s in nc._server_pool}) == 3,
    )
    subject = "test.cluster.sequential"
    sub = await nc.subscribe(subject)
    await serve.sync(nc)
    await nc.publish(subject, b"initial message")
    assert (await sub.next_msg(timeout=1)).data == b"initial message"

    ports = [int(u.rsplit(":", 1)[1]) for u in urls]
    down = set()
    for i in range(len(procs) - 1):
        on = nc.connected_url.port
        assert on in ports and ports.index(on) not in down, (on, ports, down)
        victim = ports.index(on)
        reconnected.clear()
        procs[victim].send_signal(signal.SIGTERM)
        procs[victim].wait(timeout=10)
        down.add(victim)
        try:
            await asyncio.wait_for(reconnected.wait(), timeout=10)
        except asyncio.TimeoutError:
            raise AssertionError(f"no reconnection after shutting down server {victim}")
        await serve.sync(nc)
        payload = f"message after shutdown {i}".encode()
        await nc.publish(subject, payload)
        assert (await sub.next_msg(timeout=5)).data == payload
        print(f"shut down server {victim}, reconnected to port {nc.connected_url.port}")
    assert count == len(procs) - 1, f"{count} reconnections, not {len(procs) - 1}"
    await nc.close()


async def across(urls, procs):
    """A publisher and a subscriber on two different servers."""
    sub_nc = await nats.connect(urls[2])
    pub_nc = await nats.connect(urls[0])
    sub = await sub_nc.subscribe("test.cluster.across")
    await serve.sync(sub_nc)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while True:
        # Until the interest has crossed the route.
        await pub_nc.publish("test.cluster.across", b"hello")
        try:
            msg = await sub.next_msg(timeout=0.2)
            break
        except nats.errors.TimeoutError:
            if loop.time() > deadline:
                raise AssertionError("nothing crossed from server 0 to server 2 within 10s")
    assert msg.data == b"hello"
    await pub_nc.close()
    await sub_nc.close()


def main():
    binaries = sys.argv[1:]
    if len(binaries) == 1:
        binaries *= 3
    assert len(binaries) == 3, __doc__
    ports = [{"client": free_port(), "cluster": free_port()} for _ in binaries]
    procs = []
    with tempfile.TemporaryDirectory() as dir:
        try:
            urls = []
            for i, binary in enumerate(binaries):
                conf = os.path.join(dir, f"s{i}.conf")
                with open(conf, "w") as f:
                    f.write(config(f"S{i}", ports, i))
                proc, url = serve.start(binary, ["-c", conf])
                procs.append(proc)
                urls.append(url)
            asyncio.run(across(urls, procs))
            asyncio.run(scenario(procs, urls))
        except BaseException:
            for i, proc in enumerate(procs):
                print(f"---- server {i} ({binaries[i]}) ----", file=sys.stderr)
                sys.stderr.writelines(proc.log[-40:])
            raise
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    print("ok: cluster, sequential shutdown")


if __name__ == "__main__":
    main()
