"""Export and import scope: cluster labels, label selectors and the per-Service
export setting. Pure.

A cluster gets labels at registration (``federation cluster add --label k=v``);
a Service in its source cluster may opt in or out of federation
(``federation.mesh/export``) and name which clusters import it
(``federation.mesh/import-selector``: a Kubernetes label selector on cluster
labels, e.g. ``env=prod,tier in (gold,silver)``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from federation.errors import ValidationError
from federation.model.cluster import ClusterInfo
from federation.model.ids import ServiceKey
from federation.model.service import ClusterService
from federation.model.snapshot import Snapshot
from federation.model.validating import is_label_key, is_label_value

Labels = tuple[tuple[str, str], ...]  # sorted (key, value) pairs

IMPORT_SELECTOR_ANNOTATION = "federation.mesh/import-selector"

MAX_LABELS = 64


def check_cluster_labels(raw: Mapping[str, Any] | Iterable[tuple[str, Any]], where: str = "labels") -> Labels:
    """Cluster labels as sorted pairs; ValidationError naming the bad label."""
    pairs = list(raw.items()) if isinstance(raw, Mapping) else list(raw)
    if len(pairs) > MAX_LABELS:
        raise ValidationError(f"{where}: {len(pairs)} labels, at most {MAX_LABELS}")
    out: dict[str, str] = {}
    for key, value in pairs:
        if not is_label_key(key):
            raise ValidationError(f"{where}: {key!r} is not a valid label key (an optional DNS subdomain "
                                  f"and '/', then ≤ 63 of letters, digits, '-', '_', '.')")
        if not is_label_value(value):
            raise ValidationError(f"{where}.{key}: {value!r} is not a valid label value "
                                  f"(≤ 63 of letters, digits, '-', '_', '.', alphanumeric at both ends)")
        if key in out and out[key] != value:
            raise ValidationError(f"{where}.{key}: given twice ({out[key]!r} and {value!r})")
        out[key] = value
    return tuple(sorted(out.items()))


def parse_label_args(items: Iterable[str], flag: str = "--label") -> Labels:
    """``k=v`` arguments (``--label env=prod``) as sorted pairs; errors name the argument."""
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValidationError(f"{flag} {item!r}: expected KEY=VALUE")
        pairs.append((key, value))
    return check_cluster_labels(pairs, where=flag)


# -- selectors -----------------------------------------------------------------------

@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "!":
            return self.key not in labels
        present = self.key in labels and labels[self.key] in self.values
        return present if self.op in ("=", "in") else not present

    def __str__(self) -> str:
        if self.op == "exists":
            return self.key
        if self.op == "!":
            return f"!{self.key}"
        if self.op in ("=", "!="):
            return f"{self.key}{self.op}{self.values[0]}"
        return f"{self.key} {self.op} ({','.join(self.values)})"


@dataclass(frozen=True)
class Selector:
    """A Kubernetes label selector: every requirement must hold (empty: everything)."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | Labels) -> bool:
        labels = dict(labels)
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


_SET = re.compile(r"^(!?)\s*([^\s!=(),]+)\s+(in|notin)\s*\(([^()]*)\)$")
_EQ = re.compile(r"^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)$")
_EXISTS = re.compile(r"^(!?)\s*([^\s!=(),]+)$")


def _split(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def parse_selector(text: str, where: str = "selector") -> Selector:
    """Kubernetes label-selector syntax: ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``,
    ``k notin (a,b)``, ``k``, ``!k``, joined by commas. ValidationError naming
    the requirement that does not parse."""
    text = text.strip()
    if not text:
        return Selector()
    requirements = []
    for part in _split(text):
        part = part.strip()
        requirement = _requirement(part)
        if requirement is None:
            raise ValidationError(f"{where} {text!r}: cannot parse {part!r} (expected k=v, k!=v, "
                                  f"k in (a,b), k notin (a,b), k or !k)")
        if not is_label_key(requirement.key):
            raise ValidationError(f"{where} {text!r}: {requirement.key!r} is not a valid label key")
        for value in requirement.values:
            if not is_label_value(value):
                raise ValidationError(f"{where} {text!r}: {value!r} is not a valid label value")
        requirements.append(requirement)
    return Selector(tuple(requirements))


def _requirement(part: str) -> Requirement | None:
    match = _SET.match(part)
    if match:
        negated, key, op, values = match.groups()
        if negated:
            return None
        items = tuple(sorted({v.strip() for v in values.split(",")}))
        return Requirement(key, op, items) if items and "" not in items else None
    match = _EQ.match(part)
    if match:
        key, op, value = match.groups()
        return Requirement(key, "!=" if op == "!=" else "=", (value,))
    match = _EXISTS.match(part)
    if match:
        negated, key = match.groups()
        return Requirement(key, "!" if negated else "exists")
    return None


@lru_cache(maxsize=4096)  # few distinct selectors, asked once per (service, target) render
def import_selector(text: str) -> Selector | None:
    """The selector a Service's annotation names, or None when it does not parse
    (the watcher logs it; the Service is then imported nowhere: a scope that
    cannot be read must not widen to every cluster)."""
    try:
        return parse_selector(text, where=IMPORT_SELECTOR_ANNOTATION)
    except ValidationError:
        return None


def selects(service: ClusterService, target: ClusterInfo) -> bool:
    """Whether ``target`` imports ``service``'s endpoints: no selector, every cluster."""
    if not service.import_selector:
        return True
    selector = import_selector(service.import_selector)
    return selector is not None and selector.matches(target.labels)


def describe_selector(service: ClusterService) -> str:
    """``cluster: selector`` for people, saying when it does not parse."""
    broken = import_selector(service.import_selector) is None
    return f"{service.cluster}: {service.import_selector}" + (" (does not parse: imported nowhere)" if broken else "")


def scoped_services(snapshot: Snapshot) -> set[ServiceKey]:
    """The services some cluster exports with an import selector: what a change of
    a cluster's labels may bring to it or take from it."""
    return {key for key, per in snapshot.services.items() if any(s.import_selector for s in per.values())}


# -- export precedence ----------------------------------------------------------------

def export_setting(value: Any) -> bool | None:
    """A Service's or namespace's ``federation.mesh/export`` value: True, False, or
    None when absent or not ``"true"``/``"false"``."""
    if not isinstance(value, str):
        return None
    value = value.strip().lower()
    return True if value == "true" else False if value == "false" else None


def exported(service: bool | None, namespace: bool | None, mode_default: bool) -> bool:
    """Whether a Service is exported: its own ``federation.mesh/export`` label
    decides when set (``false`` opts out in every mode, even with a
    ServiceExport); else its namespace's label; else the hub's export mode."""
    if service is not None:
        return service
    if namespace is not None:
        return namespace
    return mode_default
