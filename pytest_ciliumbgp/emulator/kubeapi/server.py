"""The HTTP side: ``ApiServer`` serves a ``Store`` on 127.0.0.1 with bearer-token auth, the
discovery documents, the resource verbs and chunked watch streams.

    server = ApiServer(Store(), token="s3cret")
    server.start()            # background thread; server.url is http://127.0.0.1:<port>
    ...
    server.stop()
"""

from __future__ import annotations

import json
import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import discovery, openapi
from .conversion import convert
from .errors import ApiError
from .handlers import Request, Resources
from .replay import parse_resource_version
from .routing import Route, parse_resource_path
from .store import Store
from .tables import table, wants_table
from .tls import ServingCertificate
from .watch import Subscription

log = logging.getLogger(__name__)
_HEALTH = ("healthz", "livez", "readyz")


class _Listener(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    tls: ssl.SSLContext | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s failed", client_address, exc_info=True)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        # Without it the client's small writes wait for delayed ACKs: ~40 ms per request.
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address


class ApiServer:
    """A Kubernetes-compatible API over ``store``; requests must carry ``Bearer <token>``.
    ``bookmark_interval`` is how often a quiet watch that asked for bookmarks gets one. With
    ``certificate`` it serves HTTPS (kubectl sends tokens only over TLS), else plain HTTP."""

    def __init__(self, store: Store, token: str, host: str = "127.0.0.1", port: int = 0,
                 bookmark_interval: float = 5.0,
                 certificate: ServingCertificate | None = None) -> None:
        self.store = store
        self.token = token
        self.host = host
        self.bookmark_interval = bookmark_interval
        self.resources = Resources(store)
        self.certificate = certificate
        self.stopping = threading.Event()
        self._requested_port = port
        self._listener: _Listener | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("the API server is not started")
        return int(self._listener.server_address[1])

    @property
    def url(self) -> str:
        scheme = "https" if self.certificate else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def start(self) -> None:
        api = self

        class Handler(_Handler):
            server_api = api

        self._listener = _Listener((self.host, self._requested_port), Handler)
        if self.certificate is not None:
            self._listener.tls = self.certificate.context()
        self._thread = threading.Thread(target=self._listener.serve_forever, args=(0.05,),
                                        name="kubeapi", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self._listener is not None:
            self._listener.shutdown()
            self._listener.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ApiServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_api: ApiServer

    def setup(self) -> None:
        # The TLS handshake runs here, in the connection's thread, not in the accept loop.
        tls = getattr(self.server, "tls", None)
        if tls is not None:
            self.request = tls.wrap_socket(self.request, server_side=True)
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, code: int, body: bytes, content_type: str = "application/json") -> None:
        head = (f"HTTP/1.1 {code} {self.responses.get(code, ('',))[0]}\r\n"
                f"Content-Type: {content_type}\r\nCache-Control: no-cache, private\r\n"
                f"Content-Length: {len(body)}\r\n\r\n")
        self.wfile.write(head.encode() + body)

    def _send_json(self, code: int, body: dict[str, Any]) -> None:
        self._send(code, json.dumps(body, separators=(",", ":")).encode())

    def _serve(self) -> None:
        api = self.server_api
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        segments = [s for s in parts.path.split("/") if s]
        try:
            body = self._read_body()
            if self.headers.get("Authorization") != f"Bearer {api.token}":
                raise ApiError(401, "Unauthorized", "Unauthorized")
            media_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            request = Request(self.command, query, media_type, self.headers.get("Accept") or "",
                              body)
            route = parse_resource_path(segments, api.store.types)
            if route is None:
                self._discovery(segments)
            elif self.command == "GET" and route.name is None and (
                    route.watch or query.get("watch") in ("true", "1")):
                self._watch(route, request)
            elif self.command == "GET" and route.watch:
                self._watch(route, request, only=route.name)
            else:
                reply = api.resources.handle(route, request)
                self._send_json(reply.code, reply.body)
        except ApiError as error:
            self._send_json(error.code, error.status())
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as error:
            log.exception("internal error serving %s %s", self.command, self.path)
            self._send_json(500, ApiError(500, "InternalError", str(error)).status())

    def _discovery(self, segments: list[str]) -> None:
        if self.command != "GET":
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on "
                                                    "the requested resource")
        if len(segments) == 1 and segments[0] in _HEALTH:
            self._send(200, b"ok", "text/plain")
            return
        catalog = self.server_api.store.types
        documents: dict[tuple[str, ...], Callable[[], dict[str, Any]]] = {
            ("version",): lambda: discovery.KUBERNETES_VERSION,
            ("api",): discovery.core_versions,
            ("api", "v1"): lambda: discovery.resource_list(catalog, "", "v1"),
            ("apis",): lambda: discovery.group_list(catalog),
        }
        key = tuple(segments)
        if key in documents:
            self._send_json(200, documents[key]())
        elif segments[:1] == ["openapi"]:
            self._send_json(200, openapi.document(catalog, segments))
        elif len(segments) == 2 and segments[0] == "apis":
            self._send_json(200, discovery.group(catalog, segments[1]))
        elif len(segments) == 3 and segments[0] == "apis":
            self._send_json(200, discovery.resource_list(catalog, segments[1], segments[2]))
        else:
            raise discovery.not_found()

    def _write_chunk(self, event: dict[str, Any]) -> None:
        data = json.dumps(event, separators=(",", ":")).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def _client_gone(self) -> bool:
        readable, _, _ = select.select([self.connection], [], [], 0)
        if not readable:
            return False
        # Peek at the TCP stream itself: TLS sockets refuse MSG_PEEK.
        with socket.fromfd(self.connection.fileno(), socket.AF_INET, socket.SOCK_STREAM) as raw:
            try:
                return not raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except BlockingIOError:
                return False
            except OSError:
                return True

    def _watch(self, route: Route, request: Request, only: str | None = None) -> None:
        api = self.server_api
        query = request.query
        fields = query.get("fieldSelector", "")
        if only:
            fields = ",".join(f for f in (fields, f"metadata.name={only}") if f)
        timeout = float(query["timeoutSeconds"]) if query.get("timeoutSeconds") else None
        parse_resource_version(query.get("resourceVersion"))
        expired: ApiError | None = None
        try:
            subscription = api.store.watch(
                route.rt, route.namespace, resource_version=query.get("resourceVersion"),
                label_selector=query.get("labelSelector", ""), field_selector=fields,
            )
        except ApiError as error:
            if error.code != 410:
                raise
            expired, subscription = error, None
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Cache-Control: no-cache, private\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            if expired is not None or subscription is None:
                self._write_chunk({"type": "ERROR", "object": (expired or ApiError(
                    500, "InternalError", "no subscription")).status()})
            else:
                self._stream(route, request, subscription, timeout)
            self.wfile.write(b"0\r\n\r\n")
        finally:
            if subscription is not None:
                subscription.close()

    def _stream(self, route: Route, request: Request, subscription: Subscription,
                timeout: float | None) -> None:
        api = self.server_api
        deadline = time.monotonic() + timeout if timeout is not None else None
        bookmarks = request.query.get("allowWatchBookmarks") in ("true", "1")
        as_table = wants_table(request.accept)
        last_write = time.monotonic()
        while not api.stopping.is_set():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return
            wait = min(1.0, api.bookmark_interval, (deadline - now) if deadline else 1.0)
            event = subscription.next(timeout=wait)
            if event is not None:
                obj = convert(event.object, route.rt, route.version)
                payload = table(route, [obj], event.resource_version) if as_table else obj
                self._write_chunk({"type": event.type, "object": payload})
                last_write = time.monotonic()
                continue
            if self._client_gone():
                return
            if bookmarks and time.monotonic() - last_write >= api.bookmark_interval:
                with api.store.lock:
                    revision = api.store.resource_version if subscription.empty() else None
                if revision is not None:
                    self._write_chunk({"type": "BOOKMARK", "object": {
                        "kind": route.rt.kind, "apiVersion": route.api_version,
                        "metadata": {"resourceVersion": str(revision)}}})
                    last_write = time.monotonic()
