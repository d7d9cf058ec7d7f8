"""Wait until HOST PORT accepts TCP connections (at most 10 s)."""
import socket
import sys
import time

host, port = sys.argv[1], int(sys.argv[2])
deadline = time.time() + 10
while True:
    try:
        socket.create_connection((host, port), timeout=1).close()
        break
    except OSError:
        if time.time() > deadline:
            sys.exit(f"{host}:{port} not listening after 10 s")
        time.sleep(0.05)
