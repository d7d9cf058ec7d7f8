"""nats-py's own credential handling against a natsd binary.

Usage: python credentials.py PATH_TO_NATSD

Makes an operator, its accounts and users as `nsc` would (keys with the
`nkeys` package, JWTs signed with them, `.creds` files), starts the server
twice, in operator mode (operator JWT inline, `resolver: MEMORY`,
`resolver_preload`) and with NKey users in `authorization`, and checks that
nats-py logs in with `user_credentials` (a `.creds` path, a JWT and seed
file pair, raw `.creds` text), `nkeys_seed` and `nkeys_seed_str`, that
messages then flow, and that revoked, unknown or wrong credentials are
refused with an authorization violation. The same script passes against
the reference nats-server, so its expectations are nats-server's.

nats-py needs `pip install nkeys` for all of this (it is an extra of
nats-py, not a dependency).
"""
import asyncio
import base64
import hashlib
import json
import os
import sys
import tempfile
import time

import nats
from nats.aio.client import RawCredentials

try:
    import nkeys
except ImportError:
    sys.exit("credentials.py needs the nkeys package (nats-py's nkeys extra): "
             "target/ref/bin/pip install nkeys")

import serve

NO_LIMITS = {"subs": -1, "data": -1, "payload": -1, "imports": -1,
             "exports": -1, "wildcards": True, "conn": -1, "leaf": -1}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Key:
    """A new NKey of one kind (nkeys.PREFIX_BYTE_*)."""

    def __init__(self, prefix):
        self.seed = nkeys.encode_seed(os.urandom(32), prefix).decode()
        self.pair = nkeys.from_seed(bytearray(self.seed.encode()))
        self.public = self.pair.public_key.decode()

    def sign(self, data):
        return self.pair.sign(data)


def jwt(subject, signer, name, nats_claims, issued_at=None, **top):
    """A JWT about `subject` (a public key) signed by `signer` (a Key)."""
    claims = {"iat": int(time.time()) - 60 if issued_at is None else issued_at,
              "iss": signer.public, "name": name, "sub": subject,
              "nats": {"version": 2, **nats_claims}, **top}
    digest = hashlib.sha256(json.dumps(claims, sort_keys=True).encode()).digest()
    claims["jti"] = base64.b32encode(digest).decode().rstrip("=")
    header = b64url(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
    payload = b64url(json.dumps(claims).encode())
    signed = f"{header}.{payload}"
    return f"{signed}.{b64url(signer.sign(signed.encode()))}"


def user_jwt(user, signer, issued_at=None, **nats_claims):
    body = {"type": "user", "pub": {}, "sub": {}, "subs": -1, "data": -1,
            "payload": -1, **nats_claims}
    return jwt(user.public, signer, "u", body, issued_at)


def account_jwt(account, name, operator, **nats_claims):
    body = {"type": "account", "limits": NO_LIMITS,
            "default_permissions": {"pub": {}, "sub": {}}, **nats_claims}
    return jwt(account.public, operator, name, body)


def creds(user_jwt_text, user):
    """A `.creds` file as nsc writes it."""
    return (f"-----BEGIN NATS USER JWT-----\n{user_jwt_text}\n------END NATS USER JWT------\n\n"
            "************************* IMPORTANT *************************\n"
            "NKEY Seed printed below can be used to sign and prove identity.\n"
            "NKEYs are sensitive and should be treated as secrets.\n\n"
            f"-----BEGIN USER NKEY SEED-----\n{user.seed}\n------END USER NKEY SEED------\n\n"
            "*************************************************************\n")


async def connect(url, **auth):
    async def on_error(e):
        pass

    return await nats.connect(url, allow_reconnect=False, connect_timeout=5,
                              error_cb=on_error, **auth)


async def refused(url, what, **auth):
    """The login must fail with the server's Authorization Violation."""
    try:
        nc = await connect(url, **auth)
    except nats.errors.Error as e:
        assert "authorization violation" in str(e).lower(), f"{what}: {e!r}"
        return
    await nc.close()
    raise AssertionError(f"{what}: the server let the client in")


async def messages_flow(a, b):
    """Publish/subscribe both ways, and a request from b answered by a."""
    on_a = await a.subscribe("greet.a")
    on_b = await b.subscribe("greet.b")
    await serve.sync(a)
    await serve.sync(b)
    await a.publish("greet.b", b"hello b")
    await b.publish("greet.a", b"hello a")
    assert (await on_b.next_msg(timeout=2)).data == b"hello b"
    assert (await on_a.next_msg(timeout=2)).data == b"hello a"

    async def responder(msg):
        await msg.respond(b"echo: " + msg.data)

    service = await a.subscribe("svc.echo", cb=responder)
    await serve.sync(a)
    reply = await b.request("svc.echo", b"ping", timeout=2)
    assert reply.data == b"echo: ping", reply.data
    # Nothing left unread (a drain would wait for it).
    for sub in (on_a, on_b, service):
        await sub.unsubscribe()


async def check_operator(url, app, other, revoked, revoked_at, scratch):
    def write(name, text):
        path = os.path.join(scratch, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    alice, bob, carol = Key(nkeys.PREFIX_BYTE_USER), Key(nkeys.PREFIX_BYTE_USER), Key(nkeys.PREFIX_BYTE_USER)
    alice_creds = write("alice.creds", creds(user_jwt(alice, app), alice))
    a = await connect(url, user_credentials=alice_creds)
    assert len(a._server_info["nonce"]) == 15, a._server_info
    # A JWT file and a seed file (nats-py reads each whole: no newline).
    bob_pair = (write("bob.jwt", user_jwt(bob, app)), write("bob.nk", bob.seed))
    b = await connect(url, user_credentials=bob_pair)
    c = await connect(url, user_credentials=RawCredentials(creds(user_jwt(carol, app), carol)))
    await messages_flow(a, b)
    await messages_flow(c, a)

    # A user of another account: in, but apart.
    dave = Key(nkeys.PREFIX_BYTE_USER)
    d = await connect(url, user_credentials=write("dave.creds", creds(user_jwt(dave, other), dave)))
    apart = await d.subscribe("greet.a")
    await serve.sync(d)
    await b.publish("greet.a", b"not for OTHER")
    await serve.sync(b)
    await d.publish("greet.a", b"within OTHER")
    assert (await apart.next_msg(timeout=2)).data == b"within OTHER"

    # Revoked: issued at or before the revocation; after it, let in.
    at_revocation = user_jwt(revoked, app, issued_at=revoked_at)
    await refused(url, "a revoked user JWT",
                  user_credentials=write("revoked.creds", creds(at_revocation, revoked)))
    reissued = user_jwt(revoked, app, issued_at=revoked_at + 1)
    r = await connect(url, user_credentials=write("reissued.creds", creds(reissued, revoked)))
    await r.close()

    # Signed by keys the server does not know.
    user, stranger = Key(nkeys.PREFIX_BYTE_USER), Key(nkeys.PREFIX_BYTE_ACCOUNT)
    claiming_app = user_jwt(user, stranger, issuer_account=app.public)
    await refused(url, "a user JWT signed by a key APP does not list",
                  user_credentials=write("claiming.creds", creds(claiming_app, user)))
    await refused(url, "a user JWT of an unknown account",
                  user_credentials=write("unknown.creds", creds(user_jwt(user, stranger), user)))
    # A good JWT with another user's seed: the nonce signature is wrong.
    await refused(url, "a nonce signed by the wrong key",
                  user_credentials=write("mixed.creds", creds(user_jwt(user, app), alice)))
    # An NKey alone is no login in operator mode.
    await refused(url, "an NKey without a JWT", nkeys_seed_str=user.seed)

    for nc in (a, b, c, d):
        await nc.drain()


async def check_nkeys(url, alice, bob, scratch):
    seed_file = os.path.join(scratch, "alice.nk")
    with open(seed_file, "w") as f:
        f.write(alice.seed + "\n")
    a = await connect(url, nkeys_seed=seed_file)
    assert len(a._server_info["nonce"]) == 15, a._server_info
    b = await connect(url, nkeys_seed_str=bob.seed)
    await messages_flow(a, b)

    await refused(url, "an NKey not among the users",
                  nkeys_seed_str=Key(nkeys.PREFIX_BYTE_USER).seed)
    await refused(url, "no credentials")
    await a.drain()
    await b.drain()


def run(binary, config, scratch, check):
    conf = os.path.join(scratch, "server.conf")
    with open(conf, "w") as f:
        f.write(config)
    proc, url = serve.start(binary, ["-c", conf])
    try:
        asyncio.run(asyncio.wait_for(check(url), 30))
    finally:
        proc.terminate()
        proc.wait(10)


def main():
    binary = sys.argv[1]
    operator = Key(nkeys.PREFIX_BYTE_OPERATOR)
    system, app, other = (Key(nkeys.PREFIX_BYTE_ACCOUNT) for _ in range(3))
    revoked = Key(nkeys.PREFIX_BYTE_USER)
    revoked_at = int(time.time()) - 30
    operator_jwt = jwt(operator.public, operator, "OP",
                       {"type": "operator", "system_account": system.public})
    accounts = [
        (system, account_jwt(system, "SYS", operator)),
        (app, account_jwt(app, "APP", operator, revocations={revoked.public: revoked_at})),
        (other, account_jwt(other, "OTHER", operator)),
    ]
    preload = "".join(f"  {key.public}: {token}\n" for key, token in accounts)
    operator_config = (f'listen: "127.0.0.1:-1"\noperator: {operator_jwt}\n'
                       f"system_account: {system.public}\nresolver: MEMORY\n"
                       f"resolver_preload: {{\n{preload}}}\n")

    alice, bob = Key(nkeys.PREFIX_BYTE_USER), Key(nkeys.PREFIX_BYTE_USER)
    nkeys_config = (f'listen: "127.0.0.1:-1"\nauthorization {{ users: [\n'
                    f"  {{nkey: {alice.public}}}\n  {{nkey: {bob.public}}}\n] }}\n")

    with tempfile.TemporaryDirectory() as scratch:
        run(binary, operator_config, scratch,
            lambda url: check_operator(url, app, other, revoked, revoked_at, scratch))
        run(binary, nkeys_config, scratch,
            lambda url: check_nkeys(url, alice, bob, scratch))
    print("nats-py credentials: 2 passed, 0 failed")


if __name__ == "__main__":
    main()
