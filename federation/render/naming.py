"""Names, labels and identity of rendered objects.

Names are readable (``fed-reviews-cluster-a-us-east-1a``) and valid DNS-1123
labels of at most 63 characters. When a readable name would have to be
truncated or altered to be valid (or, decided by the caller, would be shared by
two objects), a short hash of the exact identity is appended, so distinct
inputs never share a name and equal inputs always get the same one.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Iterable

from federation.model.ids import (
    MANAGED_BY, MANAGED_BY_LABEL, PortSpec, SERVICE_NAME_LABEL, SERVICE_NAMESPACE_LABEL, ServiceKey, is_dns_label,
)
from federation.model.validating import is_label_value

COMPONENT_LABEL = "federation.mesh/component"
VM_LABEL = "federation.mesh/vm"
POLICY_ANNOTATION = "federation.mesh/policy"
VM_SOURCE = "vm"  # federation.mesh/source-cluster of VM WorkloadEntries

MAX_NAME = 63
_HASH_LEN = 8
_PORT_NAME = re.compile(r"^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$")


def digest(*parts: str) -> str:
    """A short, stable hash of ``parts`` (separated, so ("a-b", "c") != ("a", "b-c"))."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:_HASH_LEN]


def dns_name(parts: Iterable[str], identity: Iterable[str] | None = None, force_hash: bool = False) -> str:
    """A DNS-1123 label from ``parts`` joined by '-'; hashed over ``identity`` (default: the
    parts) when it had to be altered or truncated, or when ``force_hash``."""
    parts = [p for p in parts if p]
    raw = "-".join(parts)
    clean = re.sub(r"[^a-z0-9-]+", "-", raw.lower()).strip("-")
    if not force_hash and clean == raw and is_dns_label(clean):
        return clean
    suffix = digest(*(identity if identity is not None else parts))
    head = clean[: MAX_NAME - _HASH_LEN - 1].strip("-")
    return f"{head}-{suffix}" if head else f"x{suffix}"


def label_value(text: str) -> str:
    """``text`` if it is a valid label value, else a valid one with a hash of it."""
    if is_label_value(text):
        return text
    clean = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)
    head = clean[: MAX_NAME - _HASH_LEN - 1].strip("-_.")
    suffix = digest(text)
    return f"{head}-{suffix}" if head else suffix


def port_name(port: PortSpec) -> str:
    """The port's name; unnamed (or unusable) ones get ``<protocol>-<number>``."""
    if port.name and len(port.name) < MAX_NAME and _PORT_NAME.match(port.name):
        return port.name
    protocol = re.sub(r"[^a-z0-9]+", "-", (port.protocol or "tcp").lower()).strip("-") or "tcp"
    return f"{protocol}-{port.number}"


def managed_labels() -> dict[str, str]:
    return {MANAGED_BY_LABEL: MANAGED_BY}


def service_labels(key: ServiceKey) -> dict[str, str]:
    """Labels of every per-service object: ownership plus the service it belongs to."""
    return {
        MANAGED_BY_LABEL: MANAGED_BY,
        SERVICE_NAMESPACE_LABEL: label_value(key.namespace),
        SERVICE_NAME_LABEL: label_value(key.name),
    }


def object_hash(obj: dict) -> str:
    """sha256 (hex) of the object's canonical JSON: equal content, equal hash."""
    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
