"""A pod's HTTP server, answering like traefik/whoami whatever image the pod names.

Served in-process: the listening sockets are made inside the pod's network namespace, one
thread accepts on all of them and each connection gets a short-lived thread, so a pod costs a
few sockets and one idle thread rather than a process.

    GET /anything  ->  Hostname: <pod>            GET /health   -> the current health code
                       IP: 127.0.0.1              POST /health  -> body "500" sets it
                       IP: <pod ip>
                       RemoteAddr: <ip>:<port>
                       GET /anything HTTP/1.1
                       <request headers as received>
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import socketserver
import threading
from collections.abc import Iterable
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any, cast

from ..netns import socket_in

log = logging.getLogger(__name__)

HEALTH_PATH = "/health"
# Idle keep-alive connections are dropped after this, so their threads end.
IDLE_TIMEOUT = 30.0


class WhoamiServer:
    """One pod's whoami on ``ports`` (bound to 0.0.0.0 in ``namespace``); health starts at 200."""

    def __init__(self, hostname: str, pod_ip: str, namespace: str, ports: Iterable[int]) -> None:
        self.hostname = hostname
        self.pod_ip = pod_ip
        self.namespace = namespace
        self.ports = tuple(sorted(set(ports)))
        self.health = int(HTTPStatus.OK)
        self._listeners: list[socket.socket] = []
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def start(self) -> None:
        try:
            for port in self.ports:
                listener = socket_in(self.namespace)
                self._listeners.append(listener)
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind(("0.0.0.0", port))  # noqa: S104 - the pod's own namespace
                listener.listen(64)
        except OSError:
            self._stopping = True
            self._close_sockets()
            raise
        self._thread = threading.Thread(target=self._accept_loop, daemon=True,
                                        name=f"whoami-{self.hostname}")
        self._thread.start()

    def stop(self) -> None:
        """Close the listeners and every open connection; returns once the server is down."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            connections = list(self._connections)
        self._wake_writer.send(b"x")
        if self._thread is not None:
            self._thread.join()
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by its client
                connection.shutdown(socket.SHUT_RDWR)
        self._close_sockets()

    def _close_sockets(self) -> None:
        for listener in self._listeners:
            listener.close()
        self._listeners.clear()
        self._wake_reader.close()
        self._wake_writer.close()

    def _accept_loop(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._wake_reader, selectors.EVENT_READ)
            for listener in self._listeners:
                selector.register(listener, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fileobj is self._wake_reader:
                        return
                    self._accept(cast(socket.socket, key.fileobj))

    def _accept(self, listener: socket.socket) -> None:
        try:
            connection, address = listener.accept()
        except OSError:
            return
        with self._lock:
            if self._stopping:
                connection.close()
                return
            self._connections.add(connection)
        threading.Thread(target=self._serve, args=(connection, address), daemon=True,
                         name=f"whoami-{self.hostname}-conn").start()

    def _serve(self, connection: socket.socket, address: tuple[str, int]) -> None:
        try:
            # The handler wants a server only to keep a reference to it: ours is the pod.
            _Exchange(connection, address, cast(socketserver.BaseServer, self))
        except OSError:
            pass  # the client went away or the pod stopped
        except Exception:
            log.exception("whoami %s: request failed", self.hostname)
        finally:
            with self._lock:
                self._connections.discard(connection)
            connection.close()


class _Exchange(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT

    @property
    def pod(self) -> WhoamiServer:
        return cast(WhoamiServer, self.server)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("whoami %s: %s", self.pod.hostname, format % args)

    def send_response(self, code: int, message: str | None = None) -> None:
        # As the Go server: a Date header but no Server header.
        self.send_response_only(code, message)
        self.send_header("Date", formatdate(usegmt=True))

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _answer(self, code: int, body: bytes = b"") -> None:
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _whoami(self) -> None:
        body = self._body()
        if self.path.split("?", 1)[0] == HEALTH_PATH:
            self._health(body)
            return
        host, port = self.client_address[:2]
        # Go's Println for the pod's lines, then the request as http.Request.Write puts it.
        about = [f"Hostname: {self.pod.hostname}", "IP: 127.0.0.1", f"IP: {self.pod.pod_ip}",
                 f"RemoteAddr: {host}:{port}"]
        request = [self.requestline,
                   *(f"{name}: {value}" for name, value in self.headers.items()), "", ""]
        text = "".join(f"{line}\n" for line in about) + "\r\n".join(request)
        self._answer(HTTPStatus.OK, text.encode() + body)

    def _health(self, body: bytes) -> None:
        if self.command != "POST":
            self._answer(self.pod.health)
            return
        try:
            code = int(body.decode().strip())
        except ValueError:
            code = 0
        if not 100 <= code <= 999:
            self._answer(HTTPStatus.BAD_REQUEST, b"invalid status code\n")
            return
        self.pod.health = code
        self._answer(HTTPStatus.OK)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _whoami
