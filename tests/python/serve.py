"""Start a natsd binary for a nats-py test and find where it listens."""
import subprocess


def start(binary, args):
    """Run `binary` with `args` and wait for "Server is ready" on stderr.

    Returns the process and the `nats://host:port` clients connect to.
    """
    proc = subprocess.Popen([binary, *args], stderr=subprocess.PIPE, text=True)
    url = None
    for line in proc.stderr:
        if "Listening for client connections on" in line:
            url = "nats://" + line.rsplit(" ", 1)[1].strip()
        if "Server is ready" in line:
            break
    if not url:
        proc.terminate()
        raise AssertionError("natsd did not report its port")
    return proc, url


async def sync(nc):
    """A round trip through the server, after everything `nc` sent before.

    Not `flush()`: nats-py 2.16 writes flush's PING straight to the socket,
    ahead of commands still pending (a SUB just made), so its PONG does not
    mean the server has seen them. A message to the client's own inbox
    queues behind them.
    """
    inbox = nc.new_inbox()
    sentinel = await nc.subscribe(inbox)
    await nc.publish(inbox, b"sync")
    assert (await sentinel.next_msg(timeout=2)).data == b"sync"
    await sentinel.unsubscribe()
