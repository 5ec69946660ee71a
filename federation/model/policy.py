"""FailoverPolicy: which services fail over where, and when an endpoint counts as unhealthy.

A hub resource, written by operators as YAML::

    apiVersion: federation.mesh/v1alpha1
    kind: FailoverPolicy
    metadata: {name: reviews, namespace: default}
    spec:
      selector: {namespace: default, name: reviews}      # or {namespace?, matchLabels: {...}}
      failover: [{from: us-east, to: us-west}]           # or (never both) failoverPriority: [label, ...]
      outlierDetection: {consecutive5xxErrors: 5, interval: 5s, baseEjectionTime: 30s,
                         maxEjectionPercent: 100}

Durations are Istio duration strings (``500ms``, ``10s``, ``1m30s``); they are
kept with millisecond precision (Istio's own limit) and written back in seconds
form (``90s``, ``0.5s``), which every Istio version and the CRD's CEL
``duration()`` accept.

Outlier detection fields left out of a policy stay unset here and take the
defaults of ``DEFAULT_OUTLIER`` when rendered, so a policy stored today follows
a later change of defaults. The defaults: 5 consecutive 5xx (Envoy's own; a
remote locality is one aggregated endpoint, so a short burst should not eject a
whole cluster), checked every 5s, ejected for 30s, up to 100% of endpoints (a
locality must be able to empty completely, or failover never happens).

Precedence when several policies select one service (``select_policy``): a
name selector beats a label selector; a label selector bound to a namespace
beats a cluster-wide one; among label selectors more ``matchLabels`` win; ties
go to the policy first in (namespace, name) order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from federation.errors import ValidationError
from federation.model.ids import CLUSTER_LABEL, NETWORK_LABEL, ServiceKey, is_dns_label
from federation.model.service import ClusterService
from federation.model.validating import (
    check_header, check_labels, check_spec, check_unknown, is_label_key, is_label_value,
)

API_VERSION = "federation.mesh/v1alpha1"
KIND = "FailoverPolicy"

_UINT32_MAX = 4294967295
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:h|m|s|ms|us|µs|ns))+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")
_UNIT_NS = {"h": 3_600_000_000_000, "m": 60_000_000_000, "s": 1_000_000_000,
            "ms": 1_000_000, "us": 1_000, "µs": 1_000, "ns": 1}

_TOP_FIELDS = ("apiVersion", "kind", "metadata", "spec")
_SPEC_FIELDS = ("selector", "failover", "failoverPriority", "outlierDetection")
_SELECTOR_FIELDS = ("namespace", "name", "matchLabels")
_OUTLIER_FIELDS = ("consecutive5xxErrors", "consecutiveGatewayErrors", "interval",
                   "baseEjectionTime", "maxEjectionPercent")


@dataclass(frozen=True)
class PolicySelector:
    """Either one service (``namespace`` + ``name``) or services by their labels."""

    namespace: str = ""  # "" with match_labels: every namespace
    name: str = ""
    match_labels: tuple[tuple[str, str], ...] = ()  # sorted

    @property
    def by_name(self) -> bool:
        return bool(self.name)


@dataclass(frozen=True)
class OutlierDetection:
    """Istio outlier detection; ``None`` fields take ``DEFAULT_OUTLIER``'s value."""

    consecutive_5xx_errors: int | None = None
    consecutive_gateway_errors: int | None = None
    interval_ms: int | None = None
    base_ejection_time_ms: int | None = None
    max_ejection_percent: int | None = None

    def merged(self, defaults: "OutlierDetection") -> "OutlierDetection":
        """This one with unset fields filled from ``defaults``."""
        return OutlierDetection(*(
            mine if mine is not None else theirs
            for mine, theirs in zip(self._values(), defaults._values())
        ))

    def _values(self) -> tuple:
        return (self.consecutive_5xx_errors, self.consecutive_gateway_errors, self.interval_ms,
                self.base_ejection_time_ms, self.max_ejection_percent)

    def to_dict(self) -> dict:
        """Istio's ``outlierDetection`` shape, set fields only."""
        out: dict[str, Any] = {}
        if self.consecutive_5xx_errors is not None:
            out["consecutive5xxErrors"] = self.consecutive_5xx_errors
        if self.consecutive_gateway_errors is not None:
            out["consecutiveGatewayErrors"] = self.consecutive_gateway_errors
        if self.interval_ms is not None:
            out["interval"] = format_duration(self.interval_ms)
        if self.base_ejection_time_ms is not None:
            out["baseEjectionTime"] = format_duration(self.base_ejection_time_ms)
        if self.max_ejection_percent is not None:
            out["maxEjectionPercent"] = self.max_ejection_percent
        return out


DEFAULT_OUTLIER = OutlierDetection(
    consecutive_5xx_errors=5,
    interval_ms=5_000,
    base_ejection_time_ms=30_000,
    max_ejection_percent=100,
)


@dataclass(frozen=True)
class FailoverPolicy:
    name: str
    namespace: str
    selector: PolicySelector
    failover: tuple[tuple[str, str], ...] = ()  # (from region, to region), in the given order
    failover_priority: tuple[str, ...] = ()  # labels, optionally "label=value"
    outlier_detection: OutlierDetection = OutlierDetection()

    def __str__(self) -> str:
        return f"{KIND} {self.namespace}/{self.name}"

    def effective_outlier(self) -> OutlierDetection:
        return self.outlier_detection.merged(DEFAULT_OUTLIER)

    def to_dict(self) -> dict:
        """The policy as a document; ``parse_policy(p.to_dict()) == p``."""
        selector: dict[str, Any] = {}
        if self.selector.namespace:
            selector["namespace"] = self.selector.namespace
        if self.selector.name:
            selector["name"] = self.selector.name
        if self.selector.match_labels:
            selector["matchLabels"] = dict(self.selector.match_labels)
        spec: dict[str, Any] = {"selector": selector}
        if self.failover:
            spec["failover"] = [{"from": src, "to": dst} for src, dst in self.failover]
        if self.failover_priority:
            spec["failoverPriority"] = list(self.failover_priority)
        outlier = self.outlier_detection.to_dict()
        if outlier:
            spec["outlierDetection"] = outlier
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": spec,
        }


# --- matching -------------------------------------------------------------------
def matches(policy: FailoverPolicy, service: ClusterService | ServiceKey,
            labels: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> bool:
    """Whether ``policy`` selects a service, given as a ClusterService or a key plus its labels."""
    if isinstance(service, ClusterService):
        key, have = service.key, dict(service.labels)
    else:
        key, have = service, dict(labels)
    sel = policy.selector
    if sel.namespace and sel.namespace != key.namespace:
        return False
    if sel.by_name:
        return sel.name == key.name
    return all(have.get(label) == value for label, value in sel.match_labels)


def precedence(policy: FailoverPolicy) -> tuple:
    """Sort key: the first policy in this order wins (see the module docstring)."""
    sel = policy.selector
    rank = 0 if sel.by_name else (1 if sel.namespace else 2)
    return (rank, -len(sel.match_labels), policy.namespace, policy.name)


def select_policy(policies: Iterable[FailoverPolicy], key: ServiceKey,
                  label_sets: Iterable[Mapping[str, str] | Iterable[tuple[str, str]]] = ()
                  ) -> FailoverPolicy | None:
    """The winning policy for ``key``; a label selector matches if any of the
    service's label sets (one per cluster it lives in) carries its labels."""
    sets = [dict(labels) for labels in label_sets] or [{}]
    candidates = [p for p in policies if any(matches(p, key, labels) for labels in sets)]
    return min(candidates, key=precedence) if candidates else None


# --- parsing --------------------------------------------------------------------
def parse_policy(doc: Any) -> FailoverPolicy:
    """Parse and validate a FailoverPolicy document.

    Raises ValidationError naming every bad field, e.g.
    ``FailoverPolicy default/x: spec.failover[0].to: required``.
    ``metadata.namespace`` defaults to ``default``; other metadata is ignored.
    """
    problems: list[str] = []
    namespace, name, where = check_header(doc, KIND, API_VERSION, _TOP_FIELDS, problems)
    spec = check_spec(doc, _SPEC_FIELDS, problems)
    selector = PolicySelector()
    failover: tuple[tuple[str, str], ...] = ()
    priority: tuple[str, ...] = ()
    outlier = OutlierDetection()
    if spec is not None:
        selector = _selector(spec.get("selector"), problems)
        has_failover = bool(spec.get("failover"))
        has_priority = bool(spec.get("failoverPriority"))
        if has_failover and has_priority:
            problems.append("spec: failover and failoverPriority are mutually exclusive; set one")
        elif not has_failover and not has_priority:
            problems.append("spec: one of failover or failoverPriority is required")
        if "failover" in spec:
            failover = _failover(spec["failover"], problems)
        if "failoverPriority" in spec:
            priority = _priority(spec["failoverPriority"], problems)
        if spec.get("outlierDetection") is not None:
            outlier = _outlier(spec["outlierDetection"], problems)
    if problems:
        raise ValidationError(f"{where}: " + "; ".join(problems))
    return FailoverPolicy(name=name, namespace=namespace, selector=selector, failover=failover,
                          failover_priority=priority, outlier_detection=outlier)


def _selector(raw: Any, problems: list[str]) -> PolicySelector:
    where = "spec.selector"
    if raw is None:
        problems.append(f"{where}: required")
        return PolicySelector()
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: must be a mapping")
        return PolicySelector()
    check_unknown(raw, _SELECTOR_FIELDS, f"{where}.", problems)
    namespace = raw.get("namespace") or ""
    if namespace and not is_dns_label(namespace):
        problems.append(f"{where}.namespace: {namespace!r} is not a DNS-1123 label")
    if "name" in raw and "matchLabels" in raw:
        problems.append(f"{where}: name and matchLabels are mutually exclusive")
        return PolicySelector()
    if "name" in raw:
        name = raw["name"]
        if not name:
            problems.append(f"{where}.name: required")
        elif not is_dns_label(name):
            problems.append(f"{where}.name: {name!r} is not a DNS-1123 label")
        if not namespace:
            problems.append(f"{where}.namespace: required with {where}.name")
        return PolicySelector(namespace=namespace, name=name or "")
    if "matchLabels" not in raw:
        problems.append(f"{where}: one of name or matchLabels is required")
        return PolicySelector()
    labels = raw["matchLabels"]
    if not isinstance(labels, Mapping) or not labels:
        problems.append(f"{where}.matchLabels: must be a non-empty mapping of label to value")
        return PolicySelector()
    pairs = check_labels(labels, f"{where}.matchLabels", problems) or ()
    return PolicySelector(namespace=namespace, match_labels=pairs)


def _failover(raw: Any, problems: list[str]) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, list):
        problems.append("spec.failover: must be a list of {from, to}")
        return ()
    out: list[tuple[str, str]] = []
    sources: set[str] = set()
    for index, item in enumerate(raw):
        where = f"spec.failover[{index}]"
        if not isinstance(item, Mapping):
            problems.append(f"{where}: must be a mapping with from and to")
            continue
        check_unknown(item, ("from", "to"), f"{where}.", problems)
        ends = []
        for end in ("from", "to"):
            value = item.get(end)
            if value is None or value == "":
                problems.append(f"{where}.{end}: required")
            elif not _valid_region(value):
                problems.append(f"{where}.{end}: {value!r} is not a region name "
                                "(a label value; no '/' or '*')")
            else:
                ends.append(value)
        if len(ends) != 2:
            continue
        src, dst = ends
        if src == dst:
            problems.append(f"{where}.to: must differ from from ({src!r})")
        elif src in sources:
            problems.append(f"{where}.from: region {src!r} already has a failover entry")
        else:
            sources.add(src)
            out.append((src, dst))
    return tuple(out)


def _priority(raw: Any, problems: list[str]) -> tuple[str, ...]:
    if not isinstance(raw, list):
        problems.append("spec.failoverPriority: must be a list of labels")
        return ()
    out: list[str] = []
    for index, item in enumerate(raw):
        where = f"spec.failoverPriority[{index}]"
        label, sep, value = item.partition("=") if isinstance(item, str) else ("", "", "")
        if not isinstance(item, str) or not is_label_key(label):
            problems.append(f"{where}: {item!r} is not a label name (optionally label=value)")
        elif sep and (not value or not is_label_value(value)):
            problems.append(f"{where}: {value!r} is not a valid label value")
        elif label in {entry.partition("=")[0] for entry in out}:
            problems.append(f"{where}: label {label!r} listed twice")
        elif label == CLUSTER_LABEL:
            # istiod sets this label on every WorkloadEntry endpoint to its own cluster,
            # so the hub's entries would all look local.
            problems.append(f"{where}: {CLUSTER_LABEL} cannot order cross-cluster endpoints (istiod "
                            f"overwrites it on WorkloadEntries); use {NETWORK_LABEL}, "
                            "topology.kubernetes.io/region or topology.kubernetes.io/zone")
        else:
            out.append(item)
    return tuple(out)


def _outlier(raw: Any, problems: list[str]) -> OutlierDetection:
    prefix = "spec.outlierDetection"
    if not isinstance(raw, Mapping):
        problems.append(f"{prefix}: must be a mapping")
        return OutlierDetection()
    check_unknown(raw, _OUTLIER_FIELDS, f"{prefix}.", problems)

    def count(field: str, maximum: int, minimum: int = 0) -> int | None:
        value = raw.get(field)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            problems.append(f"{prefix}.{field}: must be an integer from {minimum} to {maximum}, "
                            f"not {value!r}")
            return None
        return value

    def duration(field: str) -> int | None:
        value = raw.get(field)
        if value is None:
            return None
        try:
            return parse_duration(value)
        except ValueError as exc:
            problems.append(f"{prefix}.{field}: {exc}")
            return None

    result = OutlierDetection(
        consecutive_5xx_errors=count("consecutive5xxErrors", _UINT32_MAX),
        consecutive_gateway_errors=count("consecutiveGatewayErrors", _UINT32_MAX),
        interval_ms=duration("interval"),
        base_ejection_time_ms=duration("baseEjectionTime"),
        # 0 would never eject, so no locality would ever empty and fail over.
        max_ejection_percent=count("maxEjectionPercent", 100, minimum=1),
    )
    effective = result.merged(DEFAULT_OUTLIER)
    if not effective.consecutive_5xx_errors and not effective.consecutive_gateway_errors:
        problems.append(f"{prefix}.consecutive5xxErrors: 0 disables ejection and with it failover; "
                        "set it or consecutiveGatewayErrors above 0")
    return result


# --- small syntaxes -----------------------------------------------------------
def parse_duration(text: Any) -> int:
    """An Istio duration string (``10s``, ``1m30s``, ``250ms``) in whole milliseconds (≥ 1)."""
    if not isinstance(text, str) or not _DURATION.match(text):
        raise ValueError(f"{text!r} is not a duration like \"10s\", \"500ms\" or \"1m30s\"")
    nanos = 0
    for number, unit in _DURATION_PART.findall(text):
        whole, _, frac = number.partition(".")
        scale = _UNIT_NS[unit]
        nanos += int(whole) * scale + (int(frac) * scale // 10 ** len(frac) if frac else 0)
    if nanos % 1_000_000:
        raise ValueError(f"{text!r}: only millisecond precision is supported")
    if nanos < 1_000_000:
        raise ValueError(f"{text!r}: must be at least 1ms")
    return nanos // 1_000_000


def format_duration(millis: int) -> str:
    """Milliseconds in seconds form: ``30s``, ``0.5s``, ``90.125s``."""
    seconds, rest = divmod(millis, 1000)
    return f"{seconds}s" if not rest else f"{seconds}.{rest:03d}".rstrip("0") + "s"


def _valid_region(value: Any) -> bool:
    return is_label_value(value)
