"""A ProxyCommand for ssh: relay stdin/stdout to a TCP address, run inside a lab namespace.

``ip netns exec <lab>-router python3 ssh_relay.py 127.0.0.1 2222`` lets the ssh client on the
test host reach an sshd that listens only on the router namespace's own loopback, so no
traffic leaves the lab. Standard library only: it runs with the system python3.
"""

from __future__ import annotations

import os
import socket
import sys
import threading

CHUNK = 65536


def main() -> int:
    host, port = sys.argv[1], int(sys.argv[2])
    try:
        connection = socket.create_connection((host, port), timeout=10)
    except OSError as err:
        print(f"ssh_relay: cannot connect to {host}:{port}: {err.strerror or err}",
              file=sys.stderr)
        return 1
    connection.settimeout(None)

    def upstream() -> None:
        while data := os.read(0, CHUNK):
            connection.sendall(data)
        connection.shutdown(socket.SHUT_WR)

    threading.Thread(target=upstream, daemon=True).start()
    while data := connection.recv(CHUNK):
        os.write(1, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
