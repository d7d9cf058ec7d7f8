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
