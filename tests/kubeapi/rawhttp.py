"""Requests the official client cannot make (malformed bodies, wrong media types, no token)."""

from __future__ import annotations

import json
from typing import Any

import requests

from .conftest import Api


def call(api: Api, method: str, path: str, body: bytes | str | None = None,
         content_type: str = "application/json", token: str | None = "default",
         ) -> tuple[int, Any]:
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {api.token if token == 'default' else token}"
    certificate = api.server.certificate
    assert certificate is not None
    response = requests.request(method, api.server.url + path, data=body, headers=headers,
                                verify=str(certificate.certificate), timeout=10)
    try:
        return response.status_code, response.json()
    except json.JSONDecodeError:
        return response.status_code, response.text
