"""Asking one member cluster, with the hub's own credentials, whether it is set up
for federation: reachable, the hub's RBAC, Istio and its version, istiod on the
hub's ``cacerts``, ``ISTIO_MULTIROOT_MESH``, the east-west gateway, the network
label, and the mesh ID and trust domain its mesh config names.

Each probe returns ``Finding``s; a probe that cannot read what it needs says so
as a warning rather than guessing. Every call is bounded by the client's timeout.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import yaml

from federation import errors
from federation.check.findings import FAIL, OK, WARN, Finding
from federation.kube.client import CONFIG_MAP, NAMESPACE, POD, SECRET, SERVICE, KubeClient
from federation.model.ids import EASTWEST_LABEL, EASTWEST_PORT
from federation.sources.deriving import gateway_addresses, gateway_port
from federation.trust.gating import ROOTS_CONFIGMAP, published_fingerprints

ISTIO_NS = "istio-system"
NETWORK_LABEL = "topology.istio.io/network"
MESH_CONFIGMAP = "istio"
SSAR_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
APPLY_MEMBER = "kubectl --context CONTEXT apply -k deploy/member (in this cluster)"
RESTART_ISTIOD = ("restart istiod so it loads the hub's cacerts: "
                  "kubectl -n istio-system rollout restart deployment/istiod, then the gateways")
INSTALL_GATEWAY = ("install the east-west gateway with port 15443 and an external address "
                   "(deploy/README.md, \"East-west gateway\")")

# (verb, group, resource, namespace, name): what the hub does in a member (deploy/member).
NEEDS: tuple[tuple[str, str, str, str, str], ...] = (
    *((verb, "", "services", "", "") for verb in ("list", "watch", "create", "patch", "delete")),
    *((verb, "", "namespaces", "", "") for verb in ("list", "watch", "create", "delete")),
    ("get", "", "namespaces", "", "kube-system"),
    *((verb, "", resource, "", "") for resource in ("nodes", "pods") for verb in ("list", "watch")),
    *((verb, "discovery.k8s.io", "endpointslices", "", "") for verb in ("list", "watch")),
    *((verb, "networking.istio.io", resource, "", "")
      for resource in ("workloadentries", "destinationrules", "gateways")
      for verb in ("list", "watch", "patch", "delete")),
    ("create", "", "secrets", ISTIO_NS, ""),
    *((verb, "", "secrets", ISTIO_NS, "cacerts") for verb in ("get", "patch", "delete")),
    ("get", "", "configmaps", ISTIO_NS, ROOTS_CONFIGMAP),
    ("get", "", "configmaps", ISTIO_NS, MESH_CONFIGMAP),
)


@dataclass
class MemberReport:
    """A member's findings, and what the mesh-wide agreement compares (empty: unreadable)."""

    cluster: str
    findings: list[Finding] = field(default_factory=list)
    mesh_id: str = ""
    trust_domain: str = ""

    def add(self, check: str, outcome: str, detail: str = "", fix: str = "") -> None:
        self.findings.append(Finding(self.cluster, check, outcome, detail, fix))


def forbidden(exc: errors.FederationError) -> bool:
    """A 403: authenticated, but RBAC refuses it (``federation.kube.errors``)."""
    return isinstance(exc, errors.PermissionDenied)


def describe_need(need: tuple[str, str, str, str, str]) -> str:
    verb, group, resource, namespace, name = need
    what = f"{resource}.{group}" if group else resource
    where = f" in {namespace}" if namespace else ""
    return f"{verb} {what}{'/' + name if name else ''}{where}"


def probe_member(kube: KubeClient, *, hub_roots: Iterable[str] = (), has_root: bool = True,
                 network: str = "", trust_domain: str = "") -> MemberReport:
    """Every check of one member. ``hub_roots``: SHA-256 fingerprints of the roots
    the hub's cacerts carry now; ``network``: the one it was registered with."""
    report = MemberReport(kube.cluster)
    if not _reachable(kube, report):
        return report
    _rbac(kube, report)
    _istio_kinds(kube, report)
    _istiod(kube, report)
    _cacerts(kube, report, set(hub_roots), has_root)
    _gateway(kube, report)
    _network(kube, report, network)
    _mesh_config(kube, report, trust_domain)
    return report


def _reachable(kube: KubeClient, report: MemberReport) -> bool:
    check = "API server reachable with the hub's credentials"
    try:
        version = kube.request("GET", "/version")
    except errors.ClusterUnreachable as exc:
        report.add(check, FAIL, str(exc), f"make {kube.server} reachable from the hub (address, "
                   "firewall, the kubeconfig's certificate-authority-data)")
        return False
    except errors.AuthError as exc:
        if forbidden(exc):
            report.add(check, FAIL, f"forbidden: {exc}", APPLY_MEMBER)
            return False
        report.add(check, FAIL, f"credentials refused: {exc}",
                   "issue a new kubeconfig (federation cluster kubeconfig --context CONTEXT), then "
                   "federation cluster remove NAME and cluster add NAME --kubeconfig FILE")
        return False
    except errors.FederationError as exc:
        report.add(check, FAIL, f"{type(exc).__name__}: {exc}", f"check the API server at {kube.server}")
        return False
    report.add(check, OK, f"{kube.server}, Kubernetes {version.get('gitVersion', '?')}")
    return True


def _allowed(kube: KubeClient, need: tuple[str, str, str, str, str]) -> bool:
    verb, group, resource, namespace, name = need
    attributes = {"verb": verb, "group": group, "resource": resource}
    if namespace:
        attributes["namespace"] = namespace
    if name:
        attributes["name"] = name
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attributes}}
    answer = kube.request("POST", SSAR_PATH, body=body)
    return bool((answer.get("status") or {}).get("allowed"))


def _rbac(kube: KubeClient, report: MemberReport) -> None:
    check = "the hub's RBAC allows what it does"
    try:
        denied = [describe_need(need) for need in NEEDS if not _allowed(kube, need)]
    except errors.NotFound:
        report.add(check, WARN, "this API server answers no SelfSubjectAccessReview",
                   "check the grants by hand against deploy/member")
        return
    except errors.FederationError as exc:
        report.add(check, WARN, f"could not ask ({type(exc).__name__}: {exc})",
                   "check the grants by hand against deploy/member")
        return
    if denied:
        report.add(check, FAIL, f"denied: {', '.join(denied)}", APPLY_MEMBER)
    else:
        report.add(check, OK, f"{len(NEEDS)} verbs allowed")


def _istio_kinds(kube: KubeClient, report: MemberReport) -> None:
    check = "Istio CRDs installed"
    try:
        group = kube.request("GET", "/apis/networking.istio.io")
        version = (group.get("preferredVersion") or {}).get("groupVersion", "networking.istio.io/v1")
        served = {r.get("name") for r in kube.request("GET", f"/apis/{version}").get("resources", [])}
    except errors.NotFound:
        report.add(check, FAIL, "networking.istio.io is not served",
                   "install Istio in this cluster (deploy/README.md, \"Istio in each member\")")
        return
    except errors.FederationError as exc:
        report.add(check, WARN, f"could not read API discovery: {exc}")
        return
    missing = [k for k in ("workloadentries", "destinationrules", "gateways") if k not in served]
    if missing:
        report.add(check, FAIL, f"{version} lacks {', '.join(missing)}", "install Istio's CRDs")
    else:
        report.add(check, OK, f"{version}: workloadentries, destinationrules, gateways")
    try:
        kube.request("GET", "/apis/gateway.networking.k8s.io")
        report.add("Gateway API CRDs installed", OK, "gateway.networking.k8s.io served")
    except errors.NotFound:
        report.add("Gateway API CRDs installed", WARN, "gateway.networking.k8s.io is not served",
                   "optional: the hub writes no Gateway API objects; install the CRDs if "
                   "Istio's ingress or waypoints need them")
    except errors.FederationError as exc:
        report.add("Gateway API CRDs installed", WARN, f"could not read API discovery: {exc}")


def _image_version(pod: dict) -> str:
    for container in (pod.get("spec") or {}).get("containers") or []:
        image = container.get("image") or ""
        if "pilot" in image or container.get("name") == "discovery":
            return image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else "latest"
    return "?"


def _env_of(pod: dict, name: str) -> str | None:
    for container in (pod.get("spec") or {}).get("containers") or []:
        for env in container.get("env") or []:
            if env.get("name") == name:
                return str(env.get("value", ""))
    return None


def _istiod(kube: KubeClient, report: MemberReport) -> None:
    check, multiroot = "istiod running", "istiod has ISTIO_MULTIROOT_MESH=true"
    try:
        pods = kube.list(POD, ISTIO_NS, label_selector="app=istiod").get("items", [])
    except errors.FederationError as exc:
        report.add(check, WARN, f"pods in {ISTIO_NS} not readable: {exc}", APPLY_MEMBER)
        return
    if not pods:
        report.add(check, WARN, f"no pod labelled app=istiod in {ISTIO_NS} (istiod runs outside "
                   "this cluster's pods?); version unknown",
                   "install Istio in this cluster if it has none (deploy/README.md)")
        report.add(multiroot, WARN, "istiod's environment is not readable here",
                   "set ISTIO_MULTIROOT_MESH=true in istiod's environment (deploy/README.md)")
        return
    versions = sorted({_image_version(p) for p in pods})
    ready = sum(1 for p in pods if any(c.get("type") == "Ready" and c.get("status") == "True"
                                       for c in (p.get("status") or {}).get("conditions") or []))
    outcome = OK if ready else FAIL
    report.add(check, outcome, f"Istio {', '.join(versions)}; {ready}/{len(pods)} istiod pod(s) ready",
               "" if ready else "see kubectl -n istio-system describe pods -l app=istiod")
    values = {_env_of(p, "ISTIO_MULTIROOT_MESH") for p in pods}
    if values == {"true"}:
        report.add(multiroot, OK, "set on every istiod pod")
    else:
        shown = ", ".join(sorted("not set" if v is None else repr(v) for v in values))
        report.add(multiroot, FAIL, f"{shown}: istiod will not take a "
                   "root rotation", "install Istio with --set values.pilot.env.ISTIO_MULTIROOT_MESH=true")


def _cacerts(kube: KubeClient, report: MemberReport, hub_roots: set[str], has_root: bool) -> None:
    check = "istiod uses the hub's cacerts"
    if not has_root:
        report.add(check, WARN, "the hub has no mesh root yet", "federation trust init")
        return
    try:
        secret = kube.get(SECRET, ISTIO_NS, "cacerts")
        configmap = kube.get(CONFIG_MAP, ISTIO_NS, ROOTS_CONFIGMAP)
    except errors.FederationError as exc:
        report.add(check, FAIL if forbidden(exc) else WARN, f"could not read: {exc}",
                   APPLY_MEMBER if forbidden(exc) else "")
        return
    if secret is None:
        report.add(check, FAIL, f"{ISTIO_NS}/cacerts is not written yet",
                   "see federation status for this cluster's push error")
        return
    published = published_fingerprints(configmap)
    if published is None:
        report.add(check, FAIL, f"istiod publishes no {ISTIO_NS}/{ROOTS_CONFIGMAP}",
                   "start istiod in this cluster (it writes that ConfigMap)")
    elif set(published) == hub_roots:
        report.add(check, OK, f"istiod publishes the hub's root(s) ({len(hub_roots)})")
    elif hub_roots & set(published):
        report.add(check, WARN, "istiod publishes the hub's root among others (a rotation step "
                   "not yet taken?)", "federation trust status shows what the rotation waits for")
    else:
        report.add(check, FAIL, f"istiod publishes {len(published)} other root(s), not the hub's",
                   RESTART_ISTIOD)


def _gateway(kube: KubeClient, report: MemberReport) -> None:
    check = "east-west gateway with an address and port 15443"
    key, value = EASTWEST_LABEL
    try:
        services = kube.list(SERVICE, None, label_selector=f"{key}={value}").get("items", [])
    except errors.FederationError as exc:
        report.add(check, WARN, f"services not readable: {exc}", APPLY_MEMBER)
        return
    if not services:
        report.add(check, FAIL, f"no Service labelled {key}={value}", INSTALL_GATEWAY)
        return
    good, problems = [], []
    for svc in services:
        meta = svc.get("metadata") or {}
        name = f"{meta.get('namespace')}/{meta.get('name')}"
        addresses, port = gateway_addresses(svc), gateway_port(svc)
        if not addresses:
            problems.append(f"{name} has no external address (LoadBalancer pending? set externalIPs)")
        elif port is None:
            problems.append(f"{name} has no port {EASTWEST_PORT}")
        else:
            good.append(f"{name} at {', '.join(addresses)}:{port}")
            ports = {p.get("port") for p in (svc.get("spec") or {}).get("ports") or []}
            if 15012 not in ports:
                report.add("east-west gateway serves 15012 for VMs", WARN, f"{name} has no port 15012",
                           "needed only for VMs: expose istiod's 15012 on the gateway")
    if good:
        report.add(check, OK, "; ".join(good + problems))
    else:
        report.add(check, FAIL, "; ".join(problems), INSTALL_GATEWAY)


def _network(kube: KubeClient, report: MemberReport, registered: str) -> None:
    check = f"{ISTIO_NS} labelled {NETWORK_LABEL}"
    try:
        namespace = kube.get(NAMESPACE, None, ISTIO_NS)
    except errors.FederationError as exc:
        report.add(check, WARN, f"namespace not readable: {exc}", APPLY_MEMBER)
        return
    if namespace is None:
        report.add(check, FAIL, f"no namespace {ISTIO_NS}", "install Istio in this cluster")
        return
    label = ((namespace.get("metadata") or {}).get("labels") or {}).get(NETWORK_LABEL, "")
    fix = f"kubectl label namespace {ISTIO_NS} {NETWORK_LABEL}={registered or 'NETWORK'} --overwrite"
    if not label:
        report.add(check, FAIL, "the label is missing: istiod puts this cluster on no network", fix)
    elif registered and label != registered:
        report.add(check, FAIL, f"{label!r}, but the cluster was registered with --network {registered!r}", fix)
    else:
        report.add(check, OK, label)


def _mesh_config(kube: KubeClient, report: MemberReport, hub_trust_domain: str) -> None:
    check = "mesh ID and trust domain in the istio ConfigMap"
    try:
        configmap = kube.get(CONFIG_MAP, ISTIO_NS, MESH_CONFIGMAP)
    except errors.FederationError as exc:
        if forbidden(exc):
            report.add(check, WARN, f"{ISTIO_NS}/{MESH_CONFIGMAP} is not readable with the hub's RBAC",
                       f"grant get on configmaps/{MESH_CONFIGMAP} in {ISTIO_NS}: {APPLY_MEMBER}")
        else:
            report.add(check, WARN, f"could not read: {exc}")
        return
    if configmap is None:
        report.add(check, WARN, f"no {ISTIO_NS}/{MESH_CONFIGMAP} ConfigMap (istiod configured otherwise?)")
        return
    try:
        mesh = yaml.safe_load((configmap.get("data") or {}).get("mesh") or "") or {}
    except yaml.YAMLError as exc:
        report.add(check, FAIL, f"its mesh key is not YAML: {exc}", "fix Istio's install values")
        return
    if not isinstance(mesh, dict):
        report.add(check, FAIL, "its mesh key is not a mapping", "fix Istio's install values")
        return
    report.mesh_id = str(mesh.get("meshId") or (mesh.get("defaultConfig") or {}).get("meshId") or "")
    report.trust_domain = str(mesh.get("trustDomain") or "cluster.local")
    detail = f"meshID {report.mesh_id or '(unset)'}, trust domain {report.trust_domain}"
    if hub_trust_domain and report.trust_domain != hub_trust_domain:
        report.add(check, FAIL, f"{detail}; the hub's is {hub_trust_domain}",
                   f"install Istio with --set meshConfig.trustDomain={hub_trust_domain}, "
                   "or run the hub with the members' trust domain")
    elif not report.mesh_id:
        report.add(check, WARN, detail, "install Istio with --set values.global.meshID=MESH")
    else:
        report.add(check, OK, detail)
