#!/usr/bin/env python3
"""startup.py: microseconds from spawning a server to its first 200 on /health.

Usage: startup.py PORT COMMAND [ARGS...]   (the server listens on 127.0.0.1:PORT)

Polls /health on a plain socket every 200 µs from the moment the process is spawned, so
the figure is spawn-to-first-200 with the polling step as its resolution; then sends
SIGTERM and waits. Prints the microseconds on stdout; exits 1 if no 200 came in 60 s.
"""

import signal
import socket
import subprocess
import sys
import time


def health(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"GET /health HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            return conn.recv(16).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def main():
    port = int(sys.argv[1])
    started = time.monotonic_ns()
    child = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not health(port):
            if child.poll() is not None or time.monotonic_ns() - started > 60e9:
                return 1
            time.sleep(0.0002)
        print((time.monotonic_ns() - started) // 1000)
        return 0
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait()


sys.exit(main())
