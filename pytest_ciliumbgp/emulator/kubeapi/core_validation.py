"""Defaulting and validation of the built-in kinds a user writes (metadata, Pods, Namespaces,
EndpointSlices), with kube-apiserver's field paths and messages so a manifest a real cluster
rejects is rejected here with the same words. Services live in ``services.py``, the apps/v1
workloads in ``apps_validation.py``."""

from __future__ import annotations

import re
from typing import Any

from .errors import FieldError

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035_MESSAGE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)


def quoted(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


def required(field: str, detail: str = "") -> FieldError:
    suffix = f": {detail}" if detail else ""
    return FieldError(field, "FieldValueRequired", f"Required value{suffix}")


def invalid_value(field: str, value: Any, detail: str) -> FieldError:
    return FieldError(field, "FieldValueInvalid", f"Invalid value: {quoted(value)}: {detail}")


def not_supported(field: str, value: Any, supported: tuple[str, ...]) -> FieldError:
    listed = ", ".join(f'"{s}"' for s in supported)
    return FieldError(field, "FieldValueNotSupported",
                      f"Unsupported value: {quoted(value)}: supported values: {listed}")


def not_an_object(field: str) -> FieldError:
    return FieldError(field, "FieldValueTypeInvalid", "Invalid value: must be an object")


def forbidden(field: str, detail: str) -> FieldError:
    return FieldError(field, "FieldValueForbidden", f"Forbidden: {detail}")


def duplicate(field: str, value: Any) -> FieldError:
    return FieldError(field, "FieldValueDuplicate", f"Duplicate value: {quoted(value)}")


def check_name(name: str, pattern: re.Pattern[str], message: str, limit: int) -> list[FieldError]:
    if len(name) > limit:
        return [invalid_value("metadata.name", name, f"must be no more than {limit} characters")]
    return [] if pattern.match(name) else [invalid_value("metadata.name", name, message)]


def _check_key_map(field: str, entries: Any, values_too: bool) -> list[FieldError]:
    if entries is None:
        return []
    if not isinstance(entries, dict):
        return [FieldError(field, "FieldValueTypeInvalid", "Invalid value: must be a map")]
    errors = []
    for key, value in entries.items():
        prefix, _, name = key.rpartition("/")
        if (prefix and not DNS1123_SUBDOMAIN.match(prefix)) or not name or len(name) > 63 or \
                not _QUALIFIED_NAME.match(name):
            errors.append(invalid_value(field, key, "name part must consist of alphanumeric "
                                        "characters, '-', '_' or '.', and must start and end "
                                        "with an alphanumeric character"))
        elif not isinstance(value, str):
            errors.append(FieldError(f"{field}[{key}]", "FieldValueTypeInvalid",
                                     "Invalid value: must be a string"))
        elif values_too and (len(value) > 63 or not _LABEL_VALUE.match(value)):
            errors.append(invalid_value(field, value, "a valid label must be an empty string or "
                                        "consist of alphanumeric characters, '-', '_' or '.', "
                                        "and must start and end with an alphanumeric character"))
    return errors


def validate_metadata(obj: dict[str, Any], name_rule: str) -> list[FieldError]:
    """Name (by ``name_rule``: subdomain, label or dns1035), labels and annotations."""
    metadata = obj.get("metadata") or {}
    name = metadata.get("name") or ""
    errors = _check_key_map("metadata.labels", metadata.get("labels"), values_too=True)
    errors += _check_key_map("metadata.annotations", metadata.get("annotations"), values_too=False)
    if not name:
        return [required("metadata.name", "name or generateName is required"), *errors]
    if name_rule == "label":
        errors += check_name(name, DNS1123_LABEL, LABEL_MESSAGE, 63)
    elif name_rule == "dns1035":
        errors += check_name(name, DNS1035_LABEL, DNS1035_MESSAGE, 63)
    else:
        errors += check_name(name, DNS1123_SUBDOMAIN, SUBDOMAIN_MESSAGE, 253)
    return errors


def default_pod_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    for container in spec.get("containers") or []:
        if not isinstance(container, dict):
            continue
        image = str(container.get("image") or "")
        untagged = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
        container.setdefault("imagePullPolicy", "Always" if untagged else "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
        for port in container.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")


def validate_pod_spec(spec: Any, path: str) -> list[FieldError]:
    if not isinstance(spec, dict):
        return [required(path)]
    containers = spec.get("containers")
    if not containers or not isinstance(containers, list):
        return [required(f"{path}.containers")]
    errors: list[FieldError] = []
    seen: set[str] = set()
    for index, container in enumerate(containers):
        where = f"{path}.containers[{index}]"
        if not isinstance(container, dict):
            errors.append(not_an_object(where))
            continue
        name = container.get("name")
        if not name:
            errors.append(required(f"{where}.name"))
        elif not DNS1123_LABEL.match(str(name)):
            errors.append(invalid_value(f"{where}.name", name, LABEL_MESSAGE))
        elif name in seen:
            errors.append(duplicate(f"{where}.name", name))
        seen.add(str(name))
        if not container.get("image"):
            errors.append(required(f"{where}.image"))
    restart = spec.get("restartPolicy")
    if restart not in (None, "Always", "OnFailure", "Never"):
        errors.append(not_supported(f"{path}.restartPolicy", restart,
                                    ("Always", "OnFailure", "Never")))
    return errors


def prepare_pod(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    spec = obj.setdefault("spec", {})
    if isinstance(spec, dict):
        default_pod_spec(spec)
    if old is None:
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
    errors = validate_metadata(obj, "subdomain") + validate_pod_spec(spec, "spec")
    if old is not None and not errors:
        errors += _pod_update_errors(old.get("spec") or {}, spec)
    return errors


def _pod_update_errors(old: dict[str, Any], new: dict[str, Any]) -> list[FieldError]:
    # Only images may change on a running Pod; nodeName may be set once (the lab's scheduler).
    def comparable(spec: dict[str, Any]) -> dict[str, Any]:
        stripped = {k: v for k, v in spec.items() if k not in ("nodeName", "containers")}
        stripped["containers"] = [{k: v for k, v in c.items() if k != "image"}
                                  for c in spec.get("containers") or []]
        return stripped

    if old.get("nodeName") and new.get("nodeName") != old.get("nodeName"):
        return [forbidden("spec.nodeName", "field is immutable once set")]
    if comparable(old) != comparable(new):
        return [forbidden("spec", "pod updates may not change fields other than "
                                  "`spec.containers[*].image`, `spec.activeDeadlineSeconds`, "
                                  "`spec.tolerations` (only additions to existing tolerations)")]
    return []


def prepare_namespace(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    if old is None:
        obj["status"] = {"phase": "Active"}
    return validate_metadata(obj, "label")


def prepare_endpointslice(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    errors = validate_metadata(obj, "subdomain")
    address_type = obj.get("addressType")
    if not address_type:
        errors.append(required("addressType"))
    elif address_type not in ("IPv4", "IPv6", "FQDN"):
        errors.append(not_supported("addressType", address_type, ("IPv4", "IPv6", "FQDN")))
    for index, endpoint in enumerate(obj.get("endpoints") or []):
        if not isinstance(endpoint, dict) or not endpoint.get("addresses"):
            errors.append(required(f"endpoints[{index}].addresses"))
    if old is not None and address_type != old.get("addressType"):
        errors.append(invalid_value("addressType", address_type, "field is immutable"))
    return errors
