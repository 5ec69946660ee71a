"""Label and field selectors in the API server's query syntax.

Label selectors: ``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x,y)``,
``a`` (exists), ``!a`` (does not exist), ``a>1``/``a<1``, joined by commas.
Field selectors: ``path=value``, ``path==value``, ``path!=value`` on dotted paths
such as ``metadata.name`` or ``spec.nodeName``; as on the API server, only the
paths a kind supports (``metadata.name`` and ``metadata.namespace`` everywhere,
a few more on some built-in kinds) are accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from federation.errors import ValidationError

_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                  r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_SET_REQ = re.compile(r"^\s*(\S+)\s+(in|notin)\s*\((.*)\)\s*$")
_BINARY_REQ = re.compile(r"^\s*([^=!<>\s]+)\s*(==|=|!=|<|>)\s*(\S*)\s*$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!exists", "<", ">"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        try:  # "<" and ">" compare integers; non-integer labels never match
            left, right = int(value or ""), int(self.values[0])
        except ValueError:
            return False
        return left < right if self.op == "<" else left > right


class LabelSelector:
    """A parsed label selector; the empty selector matches everything."""

    def __init__(self, requirements: tuple[Requirement, ...] = ()):
        self.requirements = requirements

    @classmethod
    def parse(cls, text: str | None) -> "LabelSelector":
        """Parse query syntax; a malformed selector is a ``ValidationError``."""
        if not text or not text.strip():
            return cls()
        return cls(tuple(_parse_requirement(part) for part in _split_top_level(text)))

    @classmethod
    def from_labels(cls, labels: Mapping[str, str]) -> "LabelSelector":
        return cls(tuple(Requirement(k, "=", (v,)) for k, v in labels.items()))

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(req.matches(labels) for req in self.requirements)

    def __bool__(self) -> bool:
        return bool(self.requirements)


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    if depth != 0:
        raise ValidationError(f"unable to parse requirement: unbalanced parentheses in {text!r}")
    return [part for part in parts if part.strip()] or [text]


def _check_key(key: str, text: str) -> str:
    if len(key) > 316 or not _KEY.match(key):
        raise ValidationError(f"unable to parse requirement: invalid label key {key!r} in {text!r}")
    return key


def _parse_requirement(text: str) -> Requirement:
    stripped = text.strip()
    match = _SET_REQ.match(stripped)
    if match:
        values = tuple(v.strip() for v in match.group(3).split(",") if v.strip())
        return Requirement(_check_key(match.group(1), text), match.group(2), values)
    if stripped.startswith("!") and not any(c in stripped for c in "=<>"):
        return Requirement(_check_key(stripped[1:].strip(), text), "!exists")
    match = _BINARY_REQ.match(stripped)
    if match:
        key, op, value = match.groups()
        op = "=" if op == "==" else op
        if op in ("<", ">") and not re.fullmatch(r"-?\d+", value):
            raise ValidationError(f"unable to parse requirement: {value!r} is not an integer in {text!r}")
        return Requirement(_check_key(key, text), op, (value,))
    if stripped and not any(c in stripped for c in " =!<>()"):
        return Requirement(_check_key(stripped, text), "exists")
    raise ValidationError(f"unable to parse requirement: {text!r}")


# --- field selectors ----------------------------------------------------------
@dataclass(frozen=True)
class FieldRequirement:
    path: tuple[str, ...]
    equal: bool
    value: str

    def matches(self, obj: Mapping[str, Any]) -> bool:
        current: Any = obj
        for part in self.path:
            current = current.get(part) if isinstance(current, Mapping) else None
        text = "" if current is None else (str(current).lower() if isinstance(current, bool) else str(current))
        return (text == self.value) == self.equal


_COMMON_FIELDS = frozenset({"metadata.name", "metadata.namespace"})
# Built-in kinds' extra field labels (custom kinds have only the common ones).
_KIND_FIELDS = {
    ("", "Pod"): frozenset({"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                            "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"}),
    ("", "Secret"): frozenset({"type"}),
    ("", "Namespace"): frozenset({"status.phase"}),
    ("", "Node"): frozenset({"spec.unschedulable"}),
    ("", "Service"): frozenset({"spec.clusterIP", "spec.type"}),
}


class FieldSelector:
    def __init__(self, requirements: tuple[FieldRequirement, ...] = ()):
        self.requirements = requirements

    @classmethod
    def parse(cls, text: str | None) -> "FieldSelector":
        if not text or not text.strip():
            return cls()
        out = []
        for part in text.split(","):
            match = re.fullmatch(r"\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*", part)
            if not match:
                raise ValidationError(f"invalid field selector: {part!r}")
            path, op, value = match.groups()
            out.append(FieldRequirement(tuple(path.split(".")), op != "!=", value))
        return cls(tuple(out))

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all(req.matches(obj) for req in self.requirements)

    def __bool__(self) -> bool:
        return bool(self.requirements)

    def check_supported(self, group: str, kind: str) -> None:
        """Reject paths the kind has no field label for, as the API server does (400)."""
        allowed = _COMMON_FIELDS | _KIND_FIELDS.get((group, kind), frozenset())
        for req in self.requirements:
            path = ".".join(req.path)
            if path not in allowed:
                raise ValidationError(f"field label not supported: {path}")

    def only_name(self) -> str | None:
        """The name when the selector is exactly ``metadata.name=X`` (a direct lookup)."""
        if len(self.requirements) == 1:
            req = self.requirements[0]
            if req.path == ("metadata", "name") and req.equal:
                return req.value
        return None
