"""TrafficSplit: weighted shares of one service's traffic by cluster, network or region.

A hub resource, written by operators as YAML::

    apiVersion: federation.mesh/v1alpha1
    kind: TrafficSplit
    metadata: {name: reviews-canary, namespace: bookinfo}
    spec:
      service: {name: reviews}          # namespace: metadata.namespace unless given
      shares:
      - {cluster: cluster-3, weight: 10}  # or network: N, or region: R; name: optional
      - {weight: 90}                      # no selector: every cluster no other share takes

Weights are whole percentages summing to 100. A cluster (or VM) belongs to the
first share whose selector matches it; a share without a selector (at most one,
named ``rest`` unless named) takes everything the others do not. Clusters no
share takes get none of the service's traffic. Migrating a service is one share
of 100 (``[{cluster: cluster-2, weight: 100}]``).

When several TrafficSplits name one service, the first in (namespace, name)
order is in force; the others are reported (``winning_split``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from federation.errors import ValidationError
from federation.model.ids import ServiceKey, is_dns_label
from federation.model.validating import check_header, check_spec, check_unknown, is_label_value

API_VERSION = "federation.mesh/v1alpha1"
KIND = "TrafficSplit"
REST = "rest"  # the default name of the share without a selector

_TOP_FIELDS = ("apiVersion", "kind", "metadata", "spec")
_SPEC_FIELDS = ("service", "shares")
_SERVICE_FIELDS = ("namespace", "name")
_SELECTORS = ("cluster", "network", "region")
_SHARE_FIELDS = ("name", "weight", *_SELECTORS)


@dataclass(frozen=True)
class Share:
    """One share: ``by`` is "cluster", "network", "region" or "" (the rest)."""

    name: str
    weight: int
    by: str = ""
    value: str = ""

    @property
    def rest(self) -> bool:
        return not self.by

    def matches(self, cluster: str, network: str, region: str) -> bool:
        """Whether a cluster (or a VM: ``cluster`` "") with that network and region is this share's."""
        if self.rest:
            return True
        have = {"cluster": cluster, "network": network, "region": region}[self.by]
        return bool(have) and have == self.value

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"name": self.name}
        if self.by:
            out[self.by] = self.value
        out["weight"] = self.weight
        return out


@dataclass(frozen=True)
class TrafficSplit:
    name: str
    namespace: str
    service: ServiceKey
    shares: tuple[Share, ...]

    def __str__(self) -> str:
        return f"{KIND} {self.namespace}/{self.name}"

    def share_of(self, cluster: str, network: str, region: str) -> Share | None:
        """The share a cluster (or a VM, ``cluster`` "") belongs to: the first that matches."""
        return next((s for s in self.shares if s.matches(cluster, network, region)), None)

    def to_dict(self) -> dict:
        """The split as a document; ``parse_traffic_split(s.to_dict()) == s``."""
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {"service": {"namespace": self.service.namespace, "name": self.service.name},
                     "shares": [share.to_dict() for share in self.shares]},
        }


def winning_split(splits: Iterable[TrafficSplit], key: ServiceKey) -> TrafficSplit | None:
    """The split in force for ``key``: the first naming it in (namespace, name) order."""
    candidates = [s for s in splits if s.service == key]
    return min(candidates, key=lambda s: (s.namespace, s.name)) if candidates else None


def shadowed_splits(splits: Iterable[TrafficSplit]) -> list[tuple[TrafficSplit, TrafficSplit]]:
    """(split, the split in force instead) for every split that another one overrides."""
    splits = list(splits)
    out = []
    for split in sorted(splits, key=lambda s: (s.namespace, s.name)):
        winner = winning_split(splits, split.service)
        if winner is not None and winner != split:
            out.append((split, winner))
    return out


# --- parsing --------------------------------------------------------------------
def parse_traffic_split(doc: Any) -> TrafficSplit:
    """Parse and validate a TrafficSplit document.

    Raises ValidationError naming every bad field, e.g.
    ``TrafficSplit bookinfo/x: spec.shares: weights sum to 90, not 100``.
    """
    problems: list[str] = []
    namespace, name, where = check_header(doc, KIND, API_VERSION, _TOP_FIELDS, problems)
    spec = check_spec(doc, _SPEC_FIELDS, problems)
    service = ServiceKey("", "")
    shares: tuple[Share, ...] = ()
    if spec is not None:
        service = _service(spec.get("service"), namespace, problems)
        shares = _shares(spec.get("shares"), problems)
    if problems:
        raise ValidationError(f"{where}: " + "; ".join(problems))
    return TrafficSplit(name=name, namespace=namespace, service=service, shares=shares)


def _service(raw: Any, namespace: str, problems: list[str]) -> ServiceKey:
    where = "spec.service"
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: required, a mapping with name (and namespace)")
        return ServiceKey("", "")
    check_unknown(raw, _SERVICE_FIELDS, f"{where}.", problems)
    ns = raw.get("namespace") or namespace
    name = raw.get("name")
    if not is_dns_label(ns):
        problems.append(f"{where}.namespace: {ns!r} is not a DNS-1123 label")
    if not name:
        problems.append(f"{where}.name: required")
    elif not is_dns_label(name):
        problems.append(f"{where}.name: {name!r} is not a DNS-1123 label")
    return ServiceKey(ns or "", name or "")


def _shares(raw: Any, problems: list[str]) -> tuple[Share, ...]:
    if not isinstance(raw, list) or not raw:
        problems.append("spec.shares: required, a non-empty list of {cluster|network|region, weight}")
        return ()
    out: list[Share] = []
    for index, item in enumerate(raw):
        share = _share(item, f"spec.shares[{index}]", problems)
        if share is None:
            continue
        if share.rest and any(s.rest for s in out):
            problems.append(f"spec.shares[{index}]: only one share may go without cluster, network or region")
        elif share.by and (share.by, share.value) in {(s.by, s.value) for s in out}:
            problems.append(f"spec.shares[{index}].{share.by}: {share.value!r} is an earlier share's")
        elif share.name in {s.name for s in out}:
            problems.append(f"spec.shares[{index}].name: {share.name!r} is used by an earlier share")
        else:
            out.append(share)
    if len(out) == len(raw):
        total = sum(s.weight for s in out)
        if total != 100:
            problems.append(f"spec.shares: weights sum to {total}, not 100")
    return tuple(out)


def _share(item: Any, where: str, problems: list[str]) -> Share | None:
    if not isinstance(item, Mapping):
        problems.append(f"{where}: must be a mapping with weight and one of cluster, network or region")
        return None
    check_unknown(item, _SHARE_FIELDS, f"{where}.", problems)
    ok = True
    weight = item.get("weight")
    if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
        problems.append(f"{where}.weight: must be an integer from 0 to 100, not {weight!r}")
        ok = False
    chosen = [field for field in _SELECTORS if field in item]
    by = value = ""
    if len(chosen) > 1:
        problems.append(f"{where}: {' and '.join(chosen)} are mutually exclusive; set one")
        ok = False
    elif chosen:
        by, value = chosen[0], item[chosen[0]]
        valid = is_dns_label(value) if by == "cluster" else (is_label_value(value) and bool(value))
        if not valid:
            what = "a cluster name (DNS-1123 label)" if by == "cluster" else "a label value"
            problems.append(f"{where}.{by}: {value!r} is not {what}")
            ok = False
    name = item.get("name")
    if name is None:
        name = value.lower().replace("_", "-").replace(".", "-") if by else REST
    if not is_dns_label(name):
        problems.append(f"{where}.name: {name!r} is not a DNS-1123 label (it names the subset)")
        ok = False
    return Share(name=name, weight=weight, by=by, value=value) if ok else None
