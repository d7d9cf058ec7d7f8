"""nats-py over TLS and WebSocket against a natsd binary.

Usage: python transports.py PATH_TO_NATSD [--only NAME[,NAME...]]

Makes a CA, a server certificate (127.0.0.1 and localhost) and a client
certificate with `trustme`, then starts the server once per scenario from
a configuration file and checks it with nats-py:

  tls          `tls {}`: tls:// and nats:// with an SSLContext (the server
               says tls_required, nats-py upgrades): pub/sub, headers,
               512 KiB, request/reply
  mtls         `tls { verify: true }`: in with the client certificate,
               refused without one
  mismatch     a TLS-first client against a plain server, a client that
               does not trust the server's CA, and plain text against a
               TLS server all fail, quickly
  ws           `websocket { no_tls: true }`: the same checks over ws://,
               between WebSocket clients and with a TCP client
  ws_compress  the same with `compression: true`; nats-py does not offer
               permessage-deflate, so an aiohttp client that does checks
               the server agrees and that compressed frames carry NATS
  wss          `websocket { tls {} }`: wss:// with an SSLContext

Scenarios are named by `--only` (`--only tls,mtls,mismatch` for a server
without WebSocket). One line per scenario, "ok NAME" or "FAIL NAME: why"
(with the server's log); the exit status is nonzero if any failed. The
script passes against the reference nats-server, so its expectations are
nats-server's.

Needs `pip install trustme aiohttp` (aiohttp is what nats-py's WebSocket
transport is built on; it is not a dependency of nats-py).
"""
import asyncio
import logging
import os
import ssl
import sys
import tempfile
import traceback
from urllib.parse import urlparse

import nats

try:
    import aiohttp
    import trustme
except ImportError:
    sys.exit("transports.py needs trustme and aiohttp: "
             "target/ref/bin/pip install trustme aiohttp")

import serve

# nats-py upgrades to TLS under asyncio's StreamReaderProtocol, which then
# does not know it is over TLS and has asyncio warn at every close.
logging.getLogger("asyncio").addFilter(
    lambda record: "eof_received() has no effect" not in record.getMessage())

BIG = os.urandom(512 * 1024)
# Every client a check opens, closed after it whether it passed or not.
CLIENTS = []


class Certs:
    """A CA, a server certificate and a client certificate, as files."""

    def __init__(self, scratch):
        self.ca = trustme.CA()
        self.server = self.ca.issue_cert("127.0.0.1", "localhost")
        self.client = self.ca.issue_cert("client@natsd.test")
        self.ca_file = os.path.join(scratch, "ca.pem")
        self.cert_file = os.path.join(scratch, "server.pem")
        self.key_file = os.path.join(scratch, "server-key.pem")
        self.ca.cert_pem.write_to_path(self.ca_file)
        self.server.cert_chain_pems[0].write_to_path(self.cert_file)
        self.server.private_key_pem.write_to_path(self.key_file)

    def tls_block(self, verify=False):
        block = f'cert_file: "{self.cert_file}", key_file: "{self.key_file}"'
        if verify:
            block += f', ca_file: "{self.ca_file}", verify: true'
        return f"tls {{ {block} }}"

    def context(self, client_cert=False):
        """What a client trusts: the test CA, and its certificate if asked."""
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        self.ca.configure_trust(ctx)
        if client_cert:
            self.client.configure_cert(ctx)
        return ctx


async def connect(url, **options):
    """nats-py, connected, or the error that kept it out.

    nats-py retries a server whose transport fails to open (a refused
    WebSocket upgrade, a wss:// handshake) max_reconnect_attempts times
    reconnect_time_wait apart even with allow_reconnect=False; the
    defaults (60, 2 s) would make every expected failure take two minutes.
    1 is the fewest (0 is no limit): two attempts.
    """
    errors = []

    async def keep(e):
        errors.append(e)

    nc = nats.NATS()
    try:
        await nc.connect(url, allow_reconnect=False, max_reconnect_attempts=1,
                         reconnect_time_wait=0.1, connect_timeout=5,
                         error_cb=keep, **options)
    except nats.errors.NoServersError:
        # What nats-py says when the transport did not open (a refused
        # WebSocket upgrade, a wss:// handshake); the cause went to error_cb.
        if errors:
            raise errors[-1]
        raise
    finally:
        # nats-py leaves a failed WebSocket's aiohttp session open
        # ("Unclosed client session" at exit).
        session = getattr(nc._transport, "_client", None)
        if session and not nc.is_connected:
            await session.close()
    if not nc.is_connected:
        # nats-py returns from connect() when the server closes instead of
        # answering its first PING (an EOF is no error to it).
        raise ConnectionError("the server closed the connection after CONNECT")
    CLIENTS.append(nc)
    return nc


async def refused(what, url, **options):
    """Connecting must fail, and not by a timeout; returns the error."""
    try:
        await connect(url, **options)
    except asyncio.TimeoutError as e:
        raise AssertionError(f"{what}: no answer within nats-py's connect_timeout") from e
    except Exception as e:
        return e
    raise AssertionError(f"{what}: nats-py connected")


def tls_version(nc):
    """The TLS version of nats-py's connection (TCP or WebSocket), or None."""
    transport = nc._transport
    carrier = transport._ws if hasattr(transport, "_ws") else transport._io_writer
    ssl_object = carrier.get_extra_info("ssl_object")
    return ssl_object.version() if ssl_object else None


async def exchange(a, b):
    """Messages both ways between a and b, then a request each way.

    Plain, with headers, and 512 KiB (more than one read, and on WebSocket
    more than one frame for nats-server); requests with headers.
    """
    async def echo(msg):
        headers = msg.headers or {}
        await msg.respond(b"echo:" + msg.data + b":" + headers.get("X-Id", "").encode())

    for to, by in ((a, b), (b, a)):
        sub = await to.subscribe("t.>")
        svc = await to.subscribe("svc", cb=echo)
        await serve.sync(to)
        await by.publish("t.plain", b"hello")
        await by.publish("t.headers", b"with", headers={"X-Id": "7", "X-Two": "b"})
        await by.publish("t.big", BIG)
        msg = await sub.next_msg(timeout=5)
        assert (msg.subject, msg.data, msg.headers) == ("t.plain", b"hello", None), msg
        msg = await sub.next_msg(timeout=5)
        assert (msg.data, msg.headers) == (b"with", {"X-Id": "7", "X-Two": "b"}), msg
        msg = await sub.next_msg(timeout=5)
        assert msg.subject == "t.big" and msg.data == BIG, (msg.subject, len(msg.data))
        reply = await by.request("svc", b"ping", timeout=5, headers={"X-Id": "9"})
        assert reply.data == b"echo:ping:9", reply.data
        reply = await by.request("svc", BIG, timeout=5)
        assert reply.data == b"echo:" + BIG + b":", len(reply.data)
        await sub.unsubscribe()
        await svc.unsubscribe()


async def check_tls(certs, listeners):
    port = urlparse("nats://" + listeners["client connections"]).port
    a = await connect(f"tls://127.0.0.1:{port}", tls=certs.context())
    # nats:// works too: nats-py follows the server's tls_required.
    b = await connect(f"nats://127.0.0.1:{port}", tls=certs.context())
    for nc in (a, b):
        assert nc._server_info.get("tls_required") is True, nc._server_info
        assert tls_version(nc) in ("TLSv1.2", "TLSv1.3"), tls_version(nc)
    await exchange(a, b)
    # A name in the certificate other than the address dialled.
    c = await connect(f"tls://127.0.0.1:{port}", tls=certs.context(), tls_hostname="localhost")
    await exchange(a, c)


async def check_mtls(certs, listeners):
    url = "tls://" + listeners["client connections"]
    a = await connect(url, tls=certs.context(client_cert=True))
    b = await connect(url, tls=certs.context(client_cert=True))
    assert a._server_info.get("tls_verify") is True, a._server_info
    await exchange(a, b)
    # Without a certificate the handshake itself can complete (in TLS 1.3
    # the server refuses after the client's Finished), so what fails is
    # nats-py's first read: an SSL alert, a reset or an EOF.
    e = await refused("mTLS without a client certificate", url, tls=certs.context())
    assert isinstance(e, (ssl.SSLError, ConnectionError)), repr(e)


async def check_mismatch(certs, plain, tls):
    # nats-py offers no plain text against a TLS server (it upgrades when
    # INFO says tls_required) and follows a plain server's INFO even for a
    # tls:// URL, so the TLS client here says TLS first: its ClientHello
    # meets the plain server's INFO.
    e = await refused("a TLS-first client against a plain server", "tls://" + plain,
                      tls=certs.context(), tls_handshake_first=True)
    assert isinstance(e, (ssl.SSLError, ConnectionError)), repr(e)

    # Without `tls=` nats-py upgrades with the system's CAs, which do not
    # include the test CA.
    e = await refused("a client not trusting the server's CA", "nats://" + tls)
    assert isinstance(e, ssl.SSLCertVerificationError), repr(e)

    # Plain text after INFO: the server takes it for a TLS record, fails
    # the handshake and closes; it must never answer the PING.
    host, port = tls.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    info = await asyncio.wait_for(reader.readline(), 5)
    assert info.startswith(b"INFO ") and b'"tls_required":true' in info, info
    writer.write(b'CONNECT {"verbose":false}\r\nPING\r\n')
    await writer.drain()
    try:
        rest = await asyncio.wait_for(reader.read(), 5)
    except ConnectionResetError:
        rest = b""
    assert b"PONG" not in rest, rest
    writer.close()


class RawNats:
    """The NATS protocol by hand over an aiohttp WebSocket."""

    def __init__(self, ws):
        self.ws = ws
        self.unread = b""

    async def expect(self, expected):
        """The server's next operation, however framed, must be `expected`.

        INFO is passed over: nats-server 2.15 sends a second one
        ("connect_info": true) right after CONNECT.
        """
        while True:
            if self.unread.startswith(b"INFO ") and b"\r\n" in self.unread:
                self.unread = self.unread.split(b"\r\n", 1)[1]
            elif len(self.unread) >= len(expected) and not self.unread.startswith(b"INFO"):
                break
            else:
                self.unread += await self.ws.receive_bytes(timeout=5)
        got, self.unread = self.unread[:len(expected)], self.unread[len(expected):]
        assert got == expected, (got[:80], len(got), len(expected))


async def deflate_client(ws_url, peer, expect_deflate):
    """An aiohttp client offering permessage-deflate speaks NATS by hand.

    nats-py calls aiohttp's ws_connect without `compress=`, so it never
    offers permessage-deflate; aiohttp does with compress=15 ("permessage-
    deflate; client_max_window_bits"). The server accepts the offer only
    with `compression: true`; either way 512 KiB go both ways with `peer`.
    nats-py sends one WebSocket message per operation; here one message
    holds three and one operation spans three messages.
    """
    text = b"compressible NATS text " * (512 * 1024 // 23)
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(ws_url, compress=15, max_msg_size=0, timeout=5) as ws:
            agreed = ws._response.headers.get("Sec-WebSocket-Extensions", "")
            assert ("permessage-deflate" in agreed) == expect_deflate, agreed
            assert bool(ws.compress) == expect_deflate, ws.compress
            raw = RawNats(ws)
            raw.unread = await ws.receive_bytes(timeout=5)
            assert raw.unread.startswith(b"INFO "), raw.unread
            await ws.send_bytes(b'CONNECT {"verbose":false,"protocol":1}\r\n'
                                b"SUB raw.in 1\r\nPING\r\n")
            await raw.expect(b"PONG\r\n")
            await peer.publish("raw.in", text)
            await raw.expect(b"MSG raw.in 1 %d\r\n%s\r\n" % (len(text), text))

            sub = await peer.subscribe("raw.out")
            await serve.sync(peer)
            pub = b"PUB raw.out %d\r\n%s\r\n" % (len(text), text)
            for piece in (pub[:7], pub[7:1000], pub[1000:]):
                await ws.send_bytes(piece)
            assert (await sub.next_msg(timeout=5)).data == text
            await sub.unsubscribe()


def ws_url(listeners, scheme):
    """Where the server says it listens for WebSocket, dialled on 127.0.0.1."""
    said = listeners.get("websocket clients")
    assert said, f"no websocket listener; the server listens for {list(listeners)}"
    assert said.startswith(scheme + "://"), said
    return f"{scheme}://127.0.0.1:{urlparse(said).port}"


async def check_ws(listeners, compression):
    url = ws_url(listeners, "ws")
    a = await connect(url)
    b = await connect(url)
    tcp = await connect("nats://" + listeners["client connections"])
    assert tls_version(a) is None
    await exchange(a, b)
    await exchange(a, tcp)
    await deflate_client(url, tcp, expect_deflate=compression)
    await deflate_client(url, a, expect_deflate=compression)


async def check_wss(certs, listeners):
    url = ws_url(listeners, "wss")
    a = await connect(url, tls=certs.context())
    b = await connect(url, tls=certs.context())
    tcp = await connect("nats://" + listeners["client connections"])
    assert tls_version(a) in ("TLSv1.2", "TLSv1.3"), tls_version(a)
    await exchange(a, b)
    await exchange(a, tcp)
    e = await refused("wss:// not trusting the server's CA", url)
    assert isinstance(e, ssl.SSLCertVerificationError), repr(e)


def scenarios(certs):
    """NAME: (server configurations, check(listeners of each))."""
    listen = 'listen: "127.0.0.1:-1"\n'
    websocket = 'websocket {{ host: "127.0.0.1", port: -1, {} }}\n'
    return {
        "tls": ([listen + certs.tls_block()],
                lambda tls: check_tls(certs, tls)),
        "mtls": ([listen + certs.tls_block(verify=True)],
                 lambda tls: check_mtls(certs, tls)),
        "mismatch": ([listen, listen + certs.tls_block()],
                     lambda plain, tls: check_mismatch(
                         certs, plain["client connections"], tls["client connections"])),
        "ws": ([listen + websocket.format("no_tls: true")],
               lambda ls: check_ws(ls, compression=False)),
        "ws_compress": ([listen + websocket.format("no_tls: true, compression: true")],
                        lambda ls: check_ws(ls, compression=True)),
        "wss": ([listen + websocket.format(certs.tls_block())],
                lambda ls: check_wss(certs, ls)),
    }


async def bounded(check):
    """At most 60 s for a check, then every client it opened closed."""
    try:
        await asyncio.wait_for(check, 60)
    finally:
        for nc in CLIENTS:
            await asyncio.wait_for(nc.close(), 5)
        CLIENTS.clear()


def run(binary, scratch, name, configs, check):
    """Start a server per configuration, run the check, stop them."""
    procs, listeners = [], []
    try:
        for i, config in enumerate(configs):
            conf = os.path.join(scratch, f"{name}-{i}.conf")
            with open(conf, "w") as f:
                f.write(config)
            proc, found = serve.start_listening(binary, ["-c", conf])
            procs.append(proc)
            listeners.append(found)
            if "client connections" not in found:
                raise AssertionError(f"the server did not start with:\n{config}")
        asyncio.run(bounded(check(*listeners)))
    except BaseException:
        for proc in procs:
            sys.stderr.write("".join(["--- the server's log\n", *proc.log[-40:]]))
        raise
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


def main():
    binary = sys.argv[1]
    only = None
    if sys.argv[2:3] == ["--only"]:
        only = sys.argv[3].split(",")
    with tempfile.TemporaryDirectory() as scratch:
        certs = Certs(scratch)
        chosen = scenarios(certs)
        unknown = set(only or []) - set(chosen)
        if unknown:
            sys.exit(f"no such scenario: {', '.join(sorted(unknown))}; "
                     f"there are {', '.join(chosen)}")
        passed, failed = [], []
        for name, (configs, check) in chosen.items():
            if only and name not in only:
                continue
            try:
                run(binary, scratch, name, configs, check)
            except Exception as e:
                failed.append(name)
                print(f"FAIL {name}: {e!r}", flush=True)
                traceback.print_exc()
                continue
            passed.append(name)
            print(f"ok {name}", flush=True)
    print(f"nats-py transports: {len(passed)} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
