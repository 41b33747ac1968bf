#!/usr/bin/env python3
"""bench/idle_clients.py HOST PORT COUNT: holds COUNT idle keep-alive connections to an
HTTP server (row 6e of bench/run.sh).

Each connection sends one `GET /health/live`, reads its answer and then stays open, idle,
as a keep-alive client between requests does. Prints `ready N` (the connections that got an
answer) once all are open, then waits; on SIGTERM prints `held N`, the connections the
server has not closed meanwhile, and exits.
"""

import select
import signal
import socket
import sys

REQUEST = b"GET /health/live HTTP/1.1\r\nHost: localhost\r\n\r\n"


def open_idle(host, port):
    """One connection that has been answered once and is now idle, or None."""
    try:
        sock = socket.create_connection((host, port), timeout=5)
        sock.sendall(REQUEST)
        answer = b""
        while not answer.endswith(b"}"):
            chunk = sock.recv(4096)
            if not chunk:
                sock.close()
                return None
            answer += chunk
        return sock
    except OSError:
        return None


def still_open(socks):
    """The connections the server has not closed: nothing to read on an idle one."""
    poller = select.poll()
    for sock in socks:
        poller.register(sock, select.POLLIN)
    return len(socks) - len(poller.poll(0))


def main():
    host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    socks = [s for s in (open_idle(host, port) for _ in range(count)) if s is not None]

    def stop(_signum, _frame):
        print(f"held {still_open(socks)}", flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"ready {len(socks)}", flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
