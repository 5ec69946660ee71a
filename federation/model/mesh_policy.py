"""MeshPolicy: Istio security and traffic objects the hub writes into selected member clusters.

A hub resource, written by operators as YAML::

    apiVersion: federation.mesh/v1alpha1
    kind: MeshPolicy
    metadata: {name: strict-mtls, namespace: istio-system}
    spec:
      clusterSelector: {matchLabels: {env: prod}}   # and/or clusters: [cluster-2]; absent: every member
      objects:
      - apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: default, namespace: istio-system}
        spec: {mtls: {mode: STRICT}}

Only the kinds of ``MESH_POLICY_KINDS`` may be carried (PeerAuthentication,
AuthorizationPolicy, RequestAuthentication, Sidecar, Telemetry), in any version
their CRD serves; they are kept in the version the hub writes (``v1``: Istio's
versions of these kinds share one schema). An object's namespace defaults to
the MeshPolicy's own. A selector with both ``clusters`` and ``matchLabels``
selects the clusters that satisfy both, as Kubernetes ANDs selector terms.

The product carries no JSON Schema engine, so the objects get a structural
check here: the fields each kind's ``spec`` may have (``SPEC_FIELDS``), their
types, the workload selector's one field (``SELECTORS``) and the enums operators
most often mistype (``ENUMS``); a test holds these tables to the shared CRD
schemas, and rendered objects are validated against those schemas in tests.
One name (kind, namespace, name) may be carried by one MeshPolicy only
(``check_claims``, at apply time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from federation.errors import ValidationError
from federation.kube.resources import MESH_POLICY_KINDS
from federation.model.cluster import ClusterInfo
from federation.model.ids import MANAGED_BY_LABEL, is_dns_label, is_dns_subdomain
from federation.model.validating import check_header, check_labels, check_spec, check_unknown

API_VERSION = "federation.mesh/v1alpha1"
KIND = "MeshPolicy"
# On each written object: which MeshPolicy it comes from (namespace/name).
MESH_POLICY_ANNOTATION = "federation.mesh/mesh-policy"

_TOP_FIELDS = ("apiVersion", "kind", "metadata", "spec")
_SPEC_FIELDS = ("clusterSelector", "objects")
_SELECTOR_FIELDS = ("clusters", "matchLabels")
_OBJECT_FIELDS = ("apiVersion", "kind", "metadata", "spec")
_OBJECT_META_FIELDS = ("name", "namespace", "labels", "annotations")
_RESERVED_PREFIX = "federation.mesh/"  # the hub's own labels and annotations

_BY_KIND = {rtype.kind: rtype for rtype in MESH_POLICY_KINDS}
# The versions each kind's CRD serves (all of one schema); written as the ResourceType's.
SERVED_VERSIONS: dict[str, tuple[str, ...]] = {
    "PeerAuthentication": ("v1", "v1beta1"),
    "AuthorizationPolicy": ("v1", "v1beta1"),
    "RequestAuthentication": ("v1", "v1beta1"),
    "Sidecar": ("v1", "v1beta1", "v1alpha3"),
    "Telemetry": ("v1", "v1alpha1"),
}
# The fields of each kind's spec and their JSON types (from the CRDs' v1 schemas).
SPEC_FIELDS: dict[str, dict[str, type]] = {
    "PeerAuthentication": {"mtls": dict, "portLevelMtls": dict, "selector": dict},
    "AuthorizationPolicy": {"action": str, "provider": dict, "rules": list, "selector": dict,
                            "targetRef": dict, "targetRefs": list},
    "RequestAuthentication": {"jwtRules": list, "selector": dict, "targetRef": dict, "targetRefs": list},
    "Sidecar": {"egress": list, "inboundConnectionPool": dict, "ingress": list,
                "outboundTrafficPolicy": dict, "workloadSelector": dict},
    "Telemetry": {"accessLogging": list, "metrics": list, "selector": dict, "targetRef": dict,
                  "targetRefs": list, "tracing": list},
}
# Each kind's workload selector: (spec field, its one field of labels).
SELECTORS: dict[str, tuple[str, str]] = {
    kind: ("workloadSelector", "labels") if kind == "Sidecar" else ("selector", "matchLabels")
    for kind in SPEC_FIELDS}
_MTLS_MODES = ("UNSET", "DISABLE", "PERMISSIVE", "STRICT")
# (kind, dotted path under spec) -> allowed values
ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("PeerAuthentication", "mtls.mode"): _MTLS_MODES,
    ("AuthorizationPolicy", "action"): ("ALLOW", "DENY", "AUDIT", "CUSTOM"),
    ("Sidecar", "outboundTrafficPolicy.mode"): ("REGISTRY_ONLY", "ALLOW_ANY"),
}
_TYPE_NAMES = {dict: "a mapping", list: "a list", str: "a string"}

ObjectKey = tuple[str, str, str]  # (kind, namespace, name)


@dataclass(frozen=True)
class ClusterSelector:
    """Member clusters by name and/or registration labels; empty: every member."""

    clusters: tuple[str, ...] = ()  # sorted
    match_labels: tuple[tuple[str, str], ...] = ()  # sorted

    def selects(self, info: ClusterInfo) -> bool:
        if self.clusters and info.name not in self.clusters:
            return False
        have = dict(info.labels)
        return all(have.get(key) == value for key, value in self.match_labels)

    def to_dict(self) -> dict:
        out: dict[str, Any] = {}
        if self.clusters:
            out["clusters"] = list(self.clusters)
        if self.match_labels:
            out["matchLabels"] = dict(self.match_labels)
        return out


@dataclass(frozen=True)
class MeshPolicy:
    """``objects`` are validated documents in the hub's version; never changed after parsing."""

    name: str
    namespace: str
    selector: ClusterSelector
    objects: tuple[dict, ...]

    def __str__(self) -> str:
        return f"{KIND} {self.namespace}/{self.name}"

    def keys(self) -> list[ObjectKey]:
        return [object_key(obj) for obj in self.objects]

    def to_dict(self) -> dict:
        """The policy as a document; ``parse_mesh_policy(p.to_dict()) == p``."""
        spec: dict[str, Any] = {"objects": [dict(obj) for obj in self.objects]}
        selector = self.selector.to_dict()
        if selector:
            spec["clusterSelector"] = selector
        return {"apiVersion": API_VERSION, "kind": KIND,
                "metadata": {"name": self.name, "namespace": self.namespace}, "spec": spec}


def object_key(obj: Mapping) -> ObjectKey:
    meta = obj["metadata"]
    return obj["kind"], meta["namespace"], meta["name"]


def describe_key(key: ObjectKey) -> str:
    return f"{key[0]} {key[1]}/{key[2]}"


# --- parsing --------------------------------------------------------------------
def parse_mesh_policy(doc: Any) -> MeshPolicy:
    """Parse and validate a MeshPolicy document.

    Raises ValidationError naming every bad field, e.g.
    ``MeshPolicy istio-system/x: spec.objects[0].kind: 'Secret' cannot be carried ...``.
    """
    problems: list[str] = []
    namespace, name, where = check_header(doc, KIND, API_VERSION, _TOP_FIELDS, problems)
    spec = check_spec(doc, _SPEC_FIELDS, problems)
    selector = ClusterSelector()
    objects: list[dict] = []
    if spec is not None:
        selector = _selector(spec.get("clusterSelector"), problems)
        objects = _objects(spec.get("objects"), namespace or "default", problems)
    if problems:
        raise ValidationError(f"{where}: " + "; ".join(problems))
    return MeshPolicy(name=name, namespace=namespace, selector=selector, objects=tuple(objects))


def _selector(raw: Any, problems: list[str]) -> ClusterSelector:
    where = "spec.clusterSelector"
    if raw is None:
        return ClusterSelector()
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: must be a mapping with clusters and/or matchLabels")
        return ClusterSelector()
    check_unknown(raw, _SELECTOR_FIELDS, f"{where}.", problems)
    clusters: list[str] = []
    names = raw.get("clusters", [])
    if not isinstance(names, list):
        problems.append(f"{where}.clusters: must be a list of cluster names")
    else:
        for index, cluster in enumerate(names):
            if not is_dns_label(cluster):
                problems.append(f"{where}.clusters[{index}]: {cluster!r} is not a cluster name "
                                "(a DNS-1123 label)")
            elif cluster not in clusters:
                clusters.append(cluster)
    labels = check_labels(raw.get("matchLabels", {}), f"{where}.matchLabels", problems) or ()
    return ClusterSelector(clusters=tuple(sorted(clusters)), match_labels=labels)


def _objects(raw: Any, default_namespace: str, problems: list[str]) -> list[dict]:
    if not isinstance(raw, list) or not raw:
        problems.append("spec.objects: required: a non-empty list of Istio objects")
        return []
    out: list[dict] = []
    seen: dict[ObjectKey, int] = {}
    for index, item in enumerate(raw):
        where = f"spec.objects[{index}]"
        obj = _object(item, where, default_namespace, problems)
        if obj is None:
            continue
        key = object_key(obj)
        if key in seen:
            problems.append(f"{where}: {describe_key(key)} is already spec.objects[{seen[key]}]")
            continue
        seen[key] = index
        out.append(obj)
    return out


def _object(raw: Any, where: str, default_namespace: str, problems: list[str]) -> dict | None:
    """One carried object in the hub's version, or None (and problems)."""
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: must be a mapping (an Istio object)")
        return None
    before = len(problems)
    check_unknown(raw, _OBJECT_FIELDS, f"{where}.", problems)
    kind, api_version = raw.get("kind"), raw.get("apiVersion")
    rtype = _BY_KIND.get(kind) if isinstance(kind, str) else None
    if rtype is None:
        problems.append(f"{where}.kind: {kind!r} cannot be carried by a MeshPolicy "
                        f"(one of {', '.join(sorted(_BY_KIND))})")
        return None
    group, _, version = api_version.rpartition("/") if isinstance(api_version, str) else ("", "", "")
    if group != rtype.group or version not in SERVED_VERSIONS[kind]:
        served = ", ".join(f"{rtype.group}/{v}" for v in SERVED_VERSIONS[kind])
        problems.append(f"{where}.apiVersion: {api_version!r} does not serve {kind} (one of {served})")
    metadata = _metadata(raw.get("metadata"), f"{where}.metadata", default_namespace, problems)
    spec = raw.get("spec", {})
    if not isinstance(spec, Mapping):
        problems.append(f"{where}.spec: must be a mapping")
    else:
        _check_spec(kind, spec, f"{where}.spec", problems)
    if len(problems) > before or metadata is None:
        return None
    return {"apiVersion": rtype.api_version, "kind": kind, "metadata": metadata, "spec": dict(spec)}


def _metadata(raw: Any, where: str, default_namespace: str, problems: list[str]) -> dict | None:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: required: a mapping with name (and namespace)")
        return None
    check_unknown(raw, _OBJECT_META_FIELDS, f"{where}.", problems)
    name, namespace = raw.get("name"), raw.get("namespace", default_namespace)
    ok = True
    if not is_dns_subdomain(name):
        problems.append(f"{where}.name: {name!r} is not a DNS-1123 subdomain" if name
                        else f"{where}.name: required")
        ok = False
    if not is_dns_label(namespace):
        problems.append(f"{where}.namespace: {namespace!r} is not a DNS-1123 label")
        ok = False
    out: dict[str, Any] = {"name": name, "namespace": namespace}
    for field in ("labels", "annotations"):
        if field not in raw:
            continue
        pairs = _annotations(raw[field], f"{where}.{field}", problems) if field == "annotations" \
            else check_labels(raw[field], f"{where}.{field}", problems)
        if pairs is None:
            ok = False
            continue
        for key, _ in pairs:
            if key == MANAGED_BY_LABEL or key.startswith(_RESERVED_PREFIX):
                problems.append(f"{where}.{field}.{key}: reserved for the hub's own use")
                ok = False
        out[field] = dict(pairs)
    return out if ok else None


def _annotations(raw: Any, where: str, problems: list[str]) -> tuple[tuple[str, str], ...] | None:
    if not isinstance(raw, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                               for k, v in raw.items()):
        problems.append(f"{where}: must be a mapping of string to string")
        return None
    return tuple(sorted(raw.items()))


def _check_spec(kind: str, spec: Mapping, where: str, problems: list[str]) -> None:
    fields = SPEC_FIELDS[kind]
    check_unknown(spec, tuple(fields), f"{where}.", problems)
    for field, expected in fields.items():
        if field in spec and not isinstance(spec[field], expected):
            problems.append(f"{where}.{field}: must be {_TYPE_NAMES[expected]}")
    for (enum_kind, path), allowed in ENUMS.items():
        if enum_kind == kind:
            _check_enum(spec, path, allowed, where, problems)
    if kind == "PeerAuthentication" and isinstance(spec.get("portLevelMtls"), Mapping):
        for port, setting in spec["portLevelMtls"].items():
            if isinstance(setting, Mapping):
                _check_enum(setting, "mode", _MTLS_MODES, f"{where}.portLevelMtls.{port}", problems)
    field, labels = SELECTORS[kind]
    selector = spec.get(field)
    if isinstance(selector, Mapping):
        check_unknown(selector, (labels,), f"{where}.{field}.", problems)
        if labels in selector:
            check_labels(selector[labels], f"{where}.{field}.{labels}", problems)


def _check_enum(spec: Mapping, path: str, allowed: tuple[str, ...], where: str,
                problems: list[str]) -> None:
    value: Any = spec
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return
        value = value[part]
    if value not in allowed:
        problems.append(f"{where}.{path}: {value!r} is not one of {', '.join(allowed)}")


# --- across policies ------------------------------------------------------------
def check_claims(stored: Iterable[MeshPolicy], incoming: Iterable[MeshPolicy]) -> None:
    """Refuse ``incoming`` when an object name it carries is carried by another
    MeshPolicy (stored, or incoming beside it). A stored policy of the same
    namespace/name as an incoming one is being replaced and does not count."""
    incoming = list(incoming)
    replaced = {(p.namespace, p.name) for p in incoming}
    owners: dict[ObjectKey, MeshPolicy] = {}
    for policy in stored:
        if (policy.namespace, policy.name) not in replaced:
            for key in policy.keys():
                owners.setdefault(key, policy)
    problems = []
    for policy in incoming:
        for index, key in enumerate(policy.keys()):
            other = owners.setdefault(key, policy)
            if other is not policy:
                problems.append(f"{policy}: spec.objects[{index}]: {describe_key(key)} is already "
                                f"carried by {other}; one MeshPolicy per object")
    if problems:
        raise ValidationError("; ".join(problems))
