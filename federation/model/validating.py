"""Checks shared by the hub's resource kinds (FailoverPolicy, WorkloadGroup). Pure.

Each check appends ``"<field path>: <problem>"`` to a list, so a document's
every problem is reported at once.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from federation.errors import ValidationError
from federation.model.ids import is_dns_label, is_dns_subdomain


def check_metadata(meta: Any, problems: list[str], name_is_label: bool = False) -> tuple[str, str]:
    """``metadata.name`` and ``metadata.namespace`` (default ``default``); returns
    (namespace, name), with "" for a missing or invalid one."""
    if not isinstance(meta, Mapping):
        problems.append("metadata: required")
        return "", ""
    name, namespace = meta.get("name"), meta.get("namespace", "default")
    valid_name = is_dns_label if name_is_label else is_dns_subdomain
    if not name:
        problems.append("metadata.name: required")
        name = ""
    elif not valid_name(name):
        kind = "label" if name_is_label else "subdomain"
        problems.append(f"metadata.name: {name!r} is not a DNS-1123 {kind}")
        name = ""
    if not is_dns_label(namespace):
        problems.append(f"metadata.namespace: {namespace!r} is not a DNS-1123 label")
        namespace = ""
    return namespace, name


def check_unknown(mapping: Mapping, known: tuple[str, ...], prefix: str, problems: list[str]) -> None:
    for key in mapping:
        if key not in known:
            problems.append(f"{prefix}{key}: unknown field (expected one of {', '.join(known)})")


def check_header(doc: Any, kind: str, api_version: str, top_fields: tuple[str, ...],
                 problems: list[str], name_is_label: bool = False) -> tuple[str, str, str]:
    """apiVersion, kind, metadata and unknown top-level fields of a hub resource;
    returns (namespace, name, where) with ``where`` naming the document in errors."""
    if not isinstance(doc, Mapping):
        raise ValidationError(f"{kind}: document must be a mapping, not {type(doc).__name__}")
    meta = doc.get("metadata")
    namespace, name = check_metadata(meta, problems, name_is_label)
    where = kind
    if isinstance(meta, Mapping) and isinstance(meta.get("name"), str) and meta["name"]:
        where = f"{kind} {meta.get('namespace', 'default')}/{meta['name']}"
    check_unknown(doc, top_fields, "", problems)
    if doc.get("apiVersion") != api_version:
        problems.append(f"apiVersion: must be {api_version!r}, not {doc.get('apiVersion')!r}")
    if doc.get("kind") != kind:
        problems.append(f"kind: must be {kind!r}, not {doc.get('kind')!r}")
    return namespace, name, where


def check_spec(doc: Mapping, known: tuple[str, ...], problems: list[str]) -> Mapping | None:
    """A resource's ``spec``: a mapping of ``known`` fields, else None (and a problem)."""
    spec = doc.get("spec")
    if spec is None:
        problems.append("spec: required")
        return None
    if not isinstance(spec, Mapping):
        problems.append("spec: must be a mapping")
        return None
    check_unknown(spec, known, "spec.", problems)
    return spec


LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def is_label_key(key: Any) -> bool:
    """A Kubernetes label key: optional DNS-subdomain prefix, then a name of ≤ 63 characters."""
    if not isinstance(key, str) or not key:
        return False
    prefix, _, name = key.rpartition("/")
    if prefix and not is_dns_subdomain(prefix):
        return False
    return len(name) <= 63 and bool(LABEL_NAME.match(name))


def is_label_value(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 63 and bool(LABEL_VALUE.match(value))


def check_labels(raw: Any, where: str, problems: list[str]) -> tuple[tuple[str, str], ...] | None:
    """A label-to-value mapping as sorted pairs; None (and a problem) when not a mapping."""
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: must be a mapping of label to value")
        return None
    pairs = []
    for key, value in raw.items():
        if not is_label_key(key):
            problems.append(f"{where}: {key!r} is not a valid label name")
        elif not is_label_value(value):
            problems.append(f"{where}.{key}: {value!r} is not a valid label value")
        else:
            pairs.append((key, value))
    return tuple(sorted(pairs))
