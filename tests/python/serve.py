"""Start a natsd binary for a nats-py test and find where it listens."""
import re
import subprocess
import threading


def start(binary, args):
    """Run `binary` with `args` and wait for "Server is ready" on stderr.

    Returns the process and the `nats://host:port` clients connect to.
    """
    proc, listeners = start_listening(binary, args)
    if "client connections" not in listeners:
        proc.terminate()
        raise AssertionError("natsd did not report its port")
    return proc, "nats://" + listeners["client connections"]


def start_listening(binary, args):
    """Run `binary` with `args` and wait for "Server is ready" on stderr.

    Returns the process and what it listens on, from its "Listening for
    WHAT on ADDRESS" lines: {WHAT: ADDRESS}, e.g. {"client connections":
    "127.0.0.1:4222", "websocket clients": "ws://0.0.0.0:8080"}. The rest of
    stderr goes on being read into `proc.log` (a list of lines), so a
    chatty server never blocks on a full pipe and a failing test can show
    what the server said.
    """
    proc = subprocess.Popen([binary, *args], stderr=subprocess.PIPE, text=True)
    proc.log = []
    listeners = {}
    for line in proc.stderr:
        proc.log.append(line)
        found = re.search(r"Listening for (.+) on (\S+)\s*$", line)
        if found:
            listeners[found[1]] = found[2]
        if "Server is ready" in line:
            break
    threading.Thread(target=keep_reading, args=(proc,), daemon=True).start()
    return proc, listeners


def keep_reading(proc):
    for line in proc.stderr:
        proc.log.append(line)


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
