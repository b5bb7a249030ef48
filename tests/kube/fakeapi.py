"""A tiny stand-in for an API server: discovery answers set per test (to show how version
detection reacts to clusters the embedded lab does not emulate, e.g. Cilium 1.17 or no Cilium)
and just enough in-memory CRUD for the library's calls. Not a Kubernetes emulation."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

CILIUM_KINDS = {
    "ciliumloadbalancerippools": "CiliumLoadBalancerIPPool",
    "ciliumbgpclusterconfigs": "CiliumBGPClusterConfig",
    "ciliumbgppeerconfigs": "CiliumBGPPeerConfig",
    "ciliumbgpadvertisements": "CiliumBGPAdvertisement",
    "ciliumbgpnodeconfigs": "CiliumBGPNodeConfig",
}


@dataclass
class FakeApi:
    """Serves ``cilium`` (version → plurals) in discovery; records ``requests``."""

    cilium: Mapping[str, Sequence[str]] = field(default_factory=dict)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server_side_apply: bool = True

    def answer(self, method: str, url: str, content_type: str, body: Any) -> tuple[int, Any]:
        parts = urlsplit(url)
        path = parts.path.rstrip("/")
        self.requests.append((method, path, content_type))
        if path == "/apis":
            versions = [{"groupVersion": f"cilium.io/{v}", "version": v} for v in self.cilium]
            groups = [{"name": "cilium.io", "versions": versions}] if versions else []
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
        segments = path.split("/")
        if path.startswith("/apis/cilium.io/") and len(segments) == 4:
            plurals = self.cilium.get(segments[3])
            if plurals is None:
                return _status(404, "NotFound", f"the server could not find {path}")
            resources = [{"name": p, "kind": CILIUM_KINDS[p], "namespaced": False} for p in plurals]
            resources += [{"name": f"{p}/status", "kind": CILIUM_KINDS[p]} for p in plurals]
            return 200, {"kind": "APIResourceList", "resources": resources}
        return self._crud(method, segments, parse_qs(parts.query), content_type, body)

    def _crud(
        self,
        method: str,
        segments: list[str],
        query: dict[str, list[str]],
        content_type: str,
        body: Any,
    ) -> tuple[int, Any]:
        # /api/v1[/namespaces/ns]/plural[/name] or /apis/group/version[/namespaces/ns]/plural[/name]
        rest = segments[3:] if segments[1] == "api" else segments[4:]
        namespace = rest[1] if rest[:1] == ["namespaces"] and len(rest) > 2 else None
        rest = rest[2:] if namespace else rest
        plural, name = rest[0], (rest[1] if len(rest) > 1 else None)
        prefix = f"{plural}/{namespace or ''}/"
        with self.lock:
            if name is None and method == "GET":
                wanted = dict(
                    term.split("=", 1)
                    for term in query.get("labelSelector", [""])[0].split(",")
                    if term
                )
                items = [
                    obj
                    for key, obj in self.objects.items()
                    if key.startswith(f"{plural}/")
                    and (not namespace or key.startswith(prefix))
                    and wanted.items() <= obj["metadata"].get("labels", {}).items()
                ]
                return 200, {"kind": "List", "metadata": {}, "items": items}
            key = prefix + str(name or body["metadata"]["name"])
            found = self.objects.get(key)
            if method == "POST":
                if found:
                    return _status(409, "AlreadyExists", f'{plural} "{key}" already exists')
                self.objects[key] = body
                return 201, body
            if content_type == "application/apply-patch+yaml" and not self.server_side_apply:
                return _status(415, "UnsupportedMediaType", f"{content_type} is not supported")
            if method == "PATCH" and content_type == "application/apply-patch+yaml" and not found:
                self.objects[key] = body
                return 201, body
            if found is None:
                return _status(404, "NotFound", f'{plural} "{name}" not found')
            if method == "GET":
                return 200, found
            if method == "PATCH":
                self.objects[key] = _merged(found, body)
                return 200, self.objects[key]
            if method == "DELETE":
                return 200, self.objects.pop(key)
        return _status(405, "MethodNotAllowed", f"{method} is not supported")


def _merged(old: Any, patch: Any) -> Any:
    if not isinstance(old, dict) or not isinstance(patch, dict):
        return patch
    merged = dict(old)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merged(old.get(key), value)
    return merged


def _status(code: int, reason: str, message: str) -> tuple[int, Any]:
    return code, {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "reason": reason,
        "message": message,
        "code": code,
    }


class FakeApiServer:
    """``FakeApi`` on 127.0.0.1 (a free port) with a kubeconfig for it."""

    def __init__(self, api: FakeApi) -> None:
        self.api = api

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                content_type = (self.headers.get("Content-Type") or "").split(";")[0]
                code, answer = api.answer(self.command, self.path, content_type, body)
                data = json.dumps(answer).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def kubeconfig(self, directory: Path) -> Path:
        return write_kubeconfig(directory / "fake.kubeconfig", self.url, "fake-token")

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def write_kubeconfig(path: Path, server: str, token: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "lab", "cluster": {"server": server}}],
        "users": [{"name": "lab", "user": {"token": token}}],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "lab"}}],
        "current-context": "lab",
    }
    path.write_text(yaml.safe_dump(config))
    return path
