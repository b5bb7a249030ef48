"""The REST verbs on resources: what each method on a resource URL does to the store and what
it answers (lists with ``limit``/``continue``, the Deployment ``scale`` subresource, delete
options, request body decoding). Watches are streamed by ``server.py``."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from . import cilium_validation, patching
from .cilium_schemas import Specs
from .conversion import convert
from .errors import ApiError
from .resources import CILIUM_GROUP
from .routing import Route
from .selectors import object_filter, parse_field_selector, parse_label_selector
from .store import Store
from .tables import table, wants_table

# An absent Content-Type means JSON upstream too (the first serializer the server offers).
_BODY_TYPES = ("application/json", "application/yaml", "")


@dataclass
class Request:
    method: str
    query: dict[str, str]
    content_type: str
    accept: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Reply:
    code: int
    body: dict[str, Any]


def method_not_allowed(method: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed", f"the server does not allow this method on the "
                                             f"requested resource ({method})")


def decode_body(request: Request) -> dict[str, Any]:
    """The JSON (or YAML) object in a POST/PUT body; 415 for another media type, 400 if bad."""
    if request.content_type not in _BODY_TYPES:
        raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown "
                       "format - accepted media types include: application/json, "
                       "application/yaml, application/vnd.kubernetes.protobuf")
    try:
        decoded = (yaml.safe_load(request.body) if request.content_type == "application/yaml"
                   else json.loads(request.body))
    except (ValueError, yaml.YAMLError) as error:
        raise ApiError(400, "BadRequest", f"couldn't get version/kind; json parse error: {error}",
                       ) from error
    if not isinstance(decoded, dict):
        raise ApiError(400, "BadRequest", "the object provided is unrecognized (must be a JSON "
                                          "object)")
    return decoded


def _encode_continue(revision: int, last_key: str) -> str:
    token = json.dumps({"rv": revision, "start": last_key}).encode()
    return base64.urlsafe_b64encode(token).decode()


def _decode_continue(token: str) -> str:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
        return str(decoded["start"])
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise ApiError(400, "BadRequest", "continue key is not valid: illegal base64 data",
                       ) from error


def _object_key(obj: dict[str, Any]) -> str:
    return f'{obj["metadata"].get("namespace", "")}/{obj["metadata"]["name"]}'


class Resources:
    """Verb handlers over one store; every method returns a ``Reply`` or raises ``ApiError``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def render(self, route: Route, obj: dict[str, Any]) -> dict[str, Any]:
        return convert(obj, route.rt, route.version)

    def handle(self, route: Route, request: Request) -> Reply:
        verb = self._verb(route, request.method)
        if verb not in route.rt.verbs:
            raise method_not_allowed(request.method)
        if request.query.get("dryRun") and request.method != "GET":
            # Refused rather than ignored: ignoring it would make a dry run write.
            raise ApiError(400, "BadRequest", "dryRun is not supported by this server")
        if route.subresource == "scale":
            return self._scale(route, request)
        handler = getattr(self, f"_{verb}")
        reply: Reply = handler(route, request)
        return reply

    def _verb(self, route: Route, method: str) -> str:
        collection = route.name is None
        verbs = {
            "GET": "list" if collection else "get",
            "POST": "create" if collection else "",
            "PUT": "" if collection else "update",
            "PATCH": "" if collection else "patch",
            "DELETE": "deletecollection" if collection else "delete",
        }
        verb = verbs.get(method, "")
        if not verb or (verb == "create" and route.rt.namespaced and route.namespace is None):
            raise method_not_allowed(method)
        return verb

    def _get(self, route: Route, request: Request) -> Reply:
        assert route.name is not None
        obj = self.store.get(route.rt, route.name, route.namespace)
        if wants_table(request.accept):
            return Reply(200, table(route, [self.render(route, obj)], self.store.resource_version))
        return Reply(200, self.render(route, obj))

    def _list(self, route: Route, request: Request) -> Reply:
        accepts = object_filter(
            parse_label_selector(request.query.get("labelSelector")),
            parse_field_selector(request.query.get("fieldSelector"), route.rt.kind),
        )
        items, revision = self.store.snapshot(route.rt, route.namespace, accepts)
        metadata: dict[str, Any] = {"resourceVersion": str(revision)}
        if token := request.query.get("continue"):
            start = _decode_continue(token)
            items = [item for item in items if _object_key(item) > start]
        limit = int(request.query.get("limit") or 0)
        if 0 < limit < len(items):
            metadata["continue"] = _encode_continue(revision, _object_key(items[limit - 1]))
            metadata["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        rendered = [self.render(route, item) for item in items]
        if wants_table(request.accept):
            listing = table(route, rendered, revision)
            listing["metadata"].update(metadata)
            return Reply(200, listing)
        return Reply(200, {"kind": route.rt.list_kind, "apiVersion": route.api_version,
                           "metadata": metadata, "items": rendered})

    def _create(self, route: Route, request: Request) -> Reply:
        obj = decode_body(request)
        if obj.get("apiVersion") not in (None, route.api_version):
            raise ApiError(400, "BadRequest", f"the API version in the data ({obj['apiVersion']})"
                           f" does not match the expected API version ({route.api_version})")
        obj["apiVersion"] = route.api_version
        _check_strict_fields(route, request, obj, self.store.cilium.specs)
        created = self.store.create(route.rt, obj, route.namespace)
        return Reply(201, self.render(route, created))

    def _checked_name(self, route: Route, obj: dict[str, Any]) -> dict[str, Any]:
        metadata = obj.setdefault("metadata", {})
        if metadata.get("name") not in (None, route.name):
            raise ApiError(400, "BadRequest", f"the name of the object ({metadata['name']}) does "
                           f"not match the name on the URL ({route.name})")
        metadata["name"] = route.name
        obj["apiVersion"] = route.api_version
        return obj

    def _update(self, route: Route, request: Request) -> Reply:
        obj = self._checked_name(route, decode_body(request))
        if route.subresource == "status":
            updated = self.store.update_status(route.rt, obj, route.namespace)
        else:
            _check_strict_fields(route, request, obj, self.store.cilium.specs)
            updated = self.store.update(route.rt, obj, route.namespace)
        return Reply(200, self.render(route, updated))

    def _patch_body(self, route: Route, request: Request) -> tuple[str, Any]:
        patch_type = request.content_type
        if patch_type not in patching.PATCH_TYPES:
            raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an "
                           f"unknown format - accepted media types include: "
                           f"{', '.join(patching.PATCH_TYPES)}")
        return patch_type, patching.parse_patch(request.body, patch_type)

    def _patch(self, route: Route, request: Request) -> Reply:
        assert route.name is not None
        patch_type, patch = self._patch_body(route, request)
        exists = patch_type != patching.APPLY_PATCH or self.store.find(
            route.rt, route.name, route.namespace) is not None
        patched = self.store.patch(
            route.rt, route.name, patch, route.namespace, patch_type=patch_type,
            status=route.subresource == "status", version=route.version,
            field_manager=request.query.get("fieldManager"),
        )
        return Reply(200 if exists else 201, self.render(route, patched))

    def _delete_options(self, request: Request) -> dict[str, Any]:
        """DeleteOptions from the body (kubectl sends one) with query parameters over it."""
        options: dict[str, Any] = {}
        if request.body.strip():
            options = decode_body(Request("DELETE", {}, "application/json", "", request.body))
        if "propagationPolicy" in request.query:
            options["propagationPolicy"] = request.query["propagationPolicy"]
        if "gracePeriodSeconds" in request.query:
            options["gracePeriodSeconds"] = request.query["gracePeriodSeconds"]
        return options

    def _delete(self, route: Route, request: Request) -> Reply:
        assert route.name is not None
        options = self._delete_options(request)
        preconditions = options.get("preconditions") or {}
        obj, removed = self.store.delete(
            route.rt, route.name, route.namespace, uid=preconditions.get("uid"),
            resource_version=preconditions.get("resourceVersion"),
            orphan=options.get("propagationPolicy") == "Orphan",
            grace_period_seconds=_grace_period(options),
        )
        # A Pod given time to stop is answered 200 like one removed; 202 says finalizers hold it.
        terminating = bool(obj["metadata"].get("deletionGracePeriodSeconds"))
        return Reply(200 if removed or terminating else 202, self.render(route, obj))

    def _deletecollection(self, route: Route, request: Request) -> Reply:
        accepts = object_filter(
            parse_label_selector(request.query.get("labelSelector")),
            parse_field_selector(request.query.get("fieldSelector"), route.rt.kind),
        )
        items, _ = self.store.snapshot(route.rt, route.namespace, accepts)
        grace = _grace_period(self._delete_options(request))
        deleted = self.store.delete_all(route.rt, items, grace_period_seconds=grace)
        return Reply(200, {"kind": route.rt.list_kind, "apiVersion": route.api_version,
                           "metadata": {"resourceVersion": str(self.store.resource_version)},
                           "items": [self.render(route, obj) for obj in deleted]})

    def _scale_of(self, obj: dict[str, Any]) -> dict[str, Any]:
        metadata = obj["metadata"]
        match_labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        return {
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: metadata[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                                  "creationTimestamp") if k in metadata},
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                       "selector": ",".join(f"{k}={v}" for k, v in match_labels.items())},
        }

    def _scale(self, route: Route, request: Request) -> Reply:
        assert route.name is not None
        current = self.store.get(route.rt, route.name, route.namespace)
        scale = self._scale_of(current)
        if request.method == "GET":
            return Reply(200, scale)
        if request.method == "PUT":
            wanted = decode_body(request)
        elif request.method == "PATCH":
            patch_type, patch = self._patch_body(route, request)
            wanted = (patching.json_patch(scale, patch) if patch_type == patching.JSON_PATCH
                      else patching.merge_patch(scale, patch))
        else:
            raise method_not_allowed(request.method)
        replicas = (wanted.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise ApiError(422, "Invalid", f'Scale.autoscaling "{route.name}" is invalid: '
                           "spec.replicas: Invalid value: must be greater than or equal to 0")
        given = str((wanted.get("metadata") or {}).get("resourceVersion") or "")
        expected = given or current["metadata"]["resourceVersion"]
        patch_body = {"spec": {"replicas": replicas}, "metadata": {"resourceVersion": expected}}
        updated = self.store.patch(route.rt, route.name, patch_body, route.namespace)
        return Reply(200, self._scale_of(updated))


def _grace_period(options: dict[str, Any]) -> int | None:
    given = options.get("gracePeriodSeconds")
    if given is None:
        return None
    try:
        if isinstance(given, bool):
            raise ValueError(given)
        return int(given)
    except (TypeError, ValueError) as error:
        raise ApiError(400, "BadRequest", f"gracePeriodSeconds: invalid value {given!r}: must be "
                                          "an integer") from error


def _check_strict_fields(route: Route, request: Request, obj: dict[str, Any],
                         specs: Specs) -> None:
    """``fieldValidation=Strict`` (kubectl's default): unknown cilium.io fields are a 400, as
    the real server answers, instead of being pruned silently."""
    if request.query.get("fieldValidation") != "Strict" or route.rt.group != CILIUM_GROUP:
        return
    unknown = cilium_validation.unknown_fields(route.version, route.rt.kind, obj, specs)
    if unknown:
        message = cilium_validation.strict_decoding_message(route.rt.kind, route.version, unknown)
        raise ApiError(400, "BadRequest", message)
