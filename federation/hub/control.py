"""The admin operations: the hub's answers to the Admin API (the ``Control`` protocol).

Writes go to the store; the hub reacts to the stored records through its store
watch, so every replica sees the same change the same way. Reads go through
``HubView``, the narrow face of the hub: member clusters as ``MemberView``s,
push statuses as ``PushView``s, renders through the pipeline's own entry point;
never a pusher, watcher or client.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Protocol

import yaml

from federation import __version__, errors
from federation.api import control
from federation.catalog import ClusterRecord, dump_cluster_record, load_cluster_record
from federation.hub.cluster_identity import read_identity, register_once
from federation.hub.members import MemberView
from federation.hub.removing import Removals
from federation.hub.summaries import PushView
from federation.kube.client import KubeClient
from federation.kube.kubeconfigs import parse_kubeconfig
from federation.model import ClusterState
from federation.model.ids import check_cluster_name, ref_of
from federation.model.mesh_policy import KIND as MESH_POLICY, check_claims, parse_mesh_policy
from federation.model.policy import parse_policy
from federation.model.scope import check_cluster_labels, describe_selector
from federation.model.validating import is_label_key
from federation.push.diffing import differences
from federation.render import Rendered, conflicts
from federation.render.view import imported_to
from federation.settings import HubSettings
from federation.store import Store
from federation.store.keys import Keys
from federation.trust.signer_probe import check_address

log = logging.getLogger(__name__)

RESOURCE_API = "federation.mesh/v1alpha1"
MAX_DOCUMENTS = 500
LABEL_ATTEMPTS = 5  # compare-and-swap rounds against concurrent record writes


def parse_documents(yaml_text: str) -> list[dict]:
    """Split a YAML stream into resource documents, with clear errors."""
    try:
        docs = [d for d in yaml.safe_load_all(yaml_text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise errors.ValidationError(f"not valid YAML{where}: {getattr(exc, 'problem', exc)}") from exc
    if len(docs) > MAX_DOCUMENTS:
        raise errors.LimitExceeded(f"{len(docs)} documents: at most {MAX_DOCUMENTS} per request")
    for i, doc in enumerate(docs):
        if not isinstance(doc, dict):
            raise errors.ValidationError(f"document {i + 1}: expected a mapping")
        if doc.get("apiVersion") != RESOURCE_API:
            raise errors.ValidationError(
                f"document {i + 1}: apiVersion {doc.get('apiVersion')!r}: expected {RESOURCE_API}")
    return docs


def _redact(obj: dict) -> dict:
    if obj.get("kind") == "Secret":
        obj = dict(obj)
        obj["data"] = {k: "<redacted>" for k in obj.get("data", {})}
    return obj


def _yaml(obj: dict | None) -> str:
    return yaml.safe_dump(obj, sort_keys=True) if obj is not None else ""


class HubView(Protocol):
    """What the admin operations read of a hub (``federation.hub.app.Hub``)."""

    settings: HubSettings
    store: Store
    kek: bytes
    hub_id: str
    removals: Removals

    @property
    def snapshot(self): ...
    @property
    def refused(self) -> dict[str, str]: ...
    @property
    def policies(self): ...  # PolicySet: every hub resource render reads
    def clusters(self) -> dict[str, MemberView]: ...
    def push_view(self, cluster: str) -> PushView: ...
    def render(self, cluster: str) -> Rendered: ...
    def live_inventory(self, cluster: str): ...
    def store_health(self) -> str: ...
    def owned_summary(self, name: str) -> list[str]: ...
    def remove_member_now(self, name: str) -> list[str]: ...
    def resource_kinds(self) -> dict: ...


class HubControl(control.Control):
    def __init__(self, hub: HubView, gateways=None):
        self.hub = hub
        # () -> ({cluster: GatewayReport}, hub-wide note): the gateway prober's, when it runs
        self._gateways = gateways

    # -- clusters -------------------------------------------------------------
    def add_cluster(self, name, kubeconfig, network="", region="", istiod_ca="", labels=None):
        check_cluster_name(name)
        istiod_ca = check_address(istiod_ca)
        pairs = check_cluster_labels(labels or {})
        source = f"kubeconfig for cluster {name!r}"
        allow = self.hub.settings.kubeconfig_options
        data = parse_kubeconfig(kubeconfig, source, allow)
        if self.hub.store.get(Keys.cluster(name)) is not None:  # before calling anyone
            raise errors.AlreadyExists(f"cluster {name!r} is already registered (change its labels with "
                                       f"`federation cluster label {name} KEY=VALUE`)")
        kube = KubeClient(name, data, timeout=self.hub.settings.cluster_timeout, allow=allow)
        try:
            kube.request("GET", "/version")
            identity = read_identity(kube, data)
        except errors.PermissionDenied:
            raise
        except errors.AuthError as exc:
            raise errors.AuthError(f"cluster {name!r} at {kube.server} refused the kubeconfig's credentials") from exc
        finally:
            kube.close()
        record = ClusterRecord(name=name, kubeconfig=kubeconfig, server=kube.server,
                               network=network, region=region, uid=identity.uid,
                               ca_sha256=identity.ca_sha256, istiod_ca=istiod_ca, labels=pairs)
        register_once(self.hub.store, self.hub.kek, record)
        log.info("cluster registered", extra={"fields": {"cluster": name, "server": kube.server,
                                                         "uid": identity.uid}})
        return control.RegisteredCluster(name=name, network=network, region=region,
                                         server=kube.server, state="registered", istiod_ca=istiod_ca,
                                         labels=dict(pairs))

    def label_cluster(self, name, labels, remove=()):
        """Change a registered cluster's labels in its stored record; every replica
        then hands them to the running watcher (``Members.relabel``), no restart."""
        check_cluster_name(name)
        changes = check_cluster_labels(labels)
        for key in remove:
            if not is_label_key(key):
                raise errors.ValidationError(f"remove: {key!r} is not a valid label key")
        key = Keys.cluster(name)
        for _ in range(LABEL_ATTEMPTS):
            kv = self.hub.store.get(key)
            if kv is None:
                raise errors.NotFound(f"cluster {name!r} is not registered")
            record = load_cluster_record(kv.value, self.hub.kek)
            merged = {k: v for k, v in record.labels if k not in remove} | dict(changes)
            updated = replace(record, labels=check_cluster_labels(merged))
            if updated == record or self.hub.store.compare_and_swap(
                    key, dump_cluster_record(updated, self.hub.kek), kv.mod_revision):
                log.info("cluster labels changed", extra={"fields": {"cluster": name,
                                                                     "labels": dict(updated.labels)}})
                return control.RegisteredCluster(name=name, network=record.network, region=record.region,
                                                 server=record.server, state="registered",
                                                 istiod_ca=record.istiod_ca, labels=dict(updated.labels))
        raise errors.Conflict(f"cluster {name!r}: its record kept changing; try again")

    def _records(self) -> list[ClusterRecord]:
        items, _ = self.hub.store.range(Keys.CLUSTERS)
        return [load_cluster_record(kv.value, self.hub.kek) for kv in items]

    def list_clusters(self):
        members = self.hub.clusters()
        snapshot = self.hub.snapshot
        out = []
        for record in self._records():
            info = snapshot.clusters.get(record.name)
            member = members.get(record.name)
            out.append(control.RegisteredCluster(
                name=record.name, network=(info.network if info else record.network),
                region=(info.region if info else record.region), server=record.server,
                state=member.state.value if member else (
                    "refused" if record.name in self.hub.refused else "pending"),
                gateways=info.gateways if info else (), istiod_ca=record.istiod_ca,
                labels=dict(record.labels)))
        return out

    def remove_cluster(self, name, force=False):
        """Stop serving a cluster and delete what this hub wrote there. One that
        does not answer stays "removing" (retried with back-off) unless ``force``,
        which gives up and names what is left behind."""
        check_cluster_name(name)
        removals = self.hub.removals
        if removals.get(name) is None:
            removals.begin(name, self.hub.owned_summary(name))  # NotFound when unknown
            self.hub.remove_member_now(name)
        outcome = removals.attempt(name)
        if outcome.state == "removing" and force:
            outcome = removals.force(name)
        log.info("cluster removal", extra={"fields": {
            "cluster": name, "state": outcome.state, "objects_deleted": outcome.deleted}})
        return control.RemovalResult(name=name, state=outcome.state, deleted=outcome.deleted,
                                     error=outcome.error, left_behind=outcome.left_behind)

    # -- views ----------------------------------------------------------------
    def list_services(self):
        snapshot = self.hub.snapshot
        rows = []
        for key in sorted(snapshot.services):
            per = snapshot.services[key]
            clusters = []
            for cluster in sorted(per):
                svc = per[cluster]
                info = snapshot.clusters.get(cluster)
                clusters.append(control.ClusterEndpoints(
                    cluster=cluster, network=info.network if info else "",
                    ready_endpoints=svc.ready,
                    localities={str(loc): n for loc, n in svc.endpoints},
                    stale=bool(info and info.stale)))
            rows.append(control.ServiceRow(
                key.namespace, key.name, tuple(clusters), exported_from=tuple(sorted(per)),
                imported_to=imported_to(snapshot, key, self.hub.settings.domain),
                import_selectors=tuple(describe_selector(per[c]) for c in sorted(per) if per[c].import_selector)))
        return rows

    def status(self):
        snapshot = self.hub.snapshot
        gateways, gateway_note = self._gateways() if self._gateways else ({}, "")
        statuses = []
        for name, member in sorted(self.hub.clusters().items()):
            view = self.hub.push_view(name)
            push, owner, state = view.record, view.owner, view.state
            info = snapshot.clusters.get(name)
            statuses.append(control.ClusterStatus(
                name=name, network=info.network if info else member.record.network,
                region=info.region if info else member.record.region,
                state=state or member.state.value,
                synced=bool(push["synced"] and member.state == ClusterState.SYNCED and not state),
                last_push=push["lastPush"], objects=push["objects"],
                error="; ".join(push["errors"] + ([member.watch_error] if member.watch_error else [])),
                stale=bool(info and info.stale),
                conflicts=tuple(conflicts(snapshot, name, self.hub.settings.domain, self.hub.policies))
                + tuple(push["conflicts"]),
                fights=tuple(push.get("fights") or ()), owner=owner,
                gateway=gateways[name].state if name in gateways else "",
                gateway_since=gateways[name].since if name in gateways else None))
        health = self.hub.store_health()
        try:
            removals = self.hub.removals.pending()
        except errors.StoreError as exc:
            removals = []
            health = health if health != "ok" else f"unavailable: {str(exc)[:200]}"
        for removal in removals:
            statuses.append(control.ClusterStatus(
                name=removal.name, state="removing", objects=len(removal.left),
                error=(f"cleanup not done after {removal.attempts} attempt(s): {removal.error or 'pending'}; "
                       f"retrying with back-off (cluster remove {removal.name} --force gives up)")))
        for name, reason in sorted(self.hub.refused.items()):  # stored, but not loaded
            statuses.append(control.ClusterStatus(name=name, state="refused", error=reason))
        backend = "etcd" if type(self.hub.store).__name__.lower().startswith("etcd") else "memory"
        return control.HubStatus(version=__version__, store_backend=backend,
                                 clusters=tuple(statuses), store_health=health, hub_id=self.hub.hub_id,
                                 federated_services=len(snapshot.services),
                                 snapshot_version=snapshot.version, gateway_note=gateway_note)

    def render(self, cluster):
        if cluster not in self.hub.clusters() and cluster not in self.hub.snapshot.clusters:
            raise errors.NotFound(f"cluster {cluster!r} is not registered")
        objs = self.hub.render(cluster).objects()
        return yaml.safe_dump_all([_redact(o) for o in objs], sort_keys=False)

    def diff(self, cluster):
        """Desired (as ``render``) against live, read with the hub's own credentials."""
        if cluster not in self.hub.clusters():
            raise errors.NotFound(f"cluster {cluster!r} is not registered")
        desired = {ref_of(o): o for o in self.hub.render(cluster).objects()}
        inventory = self.hub.live_inventory(cluster)
        live = dict(inventory.raw) if inventory is not None else {}
        return [control.ObjectDiff(api_version=d.ref[0], kind=d.ref[1], namespace=d.ref[2], name=d.ref[3],
                                   action=d.action, live_yaml=_yaml(d.live), desired_yaml=_yaml(d.desired))
                for d in differences(desired, live, set(inventory.foreign) if inventory else set())]

    # -- hub resources ----------------------------------------------------------
    def apply_resources(self, yaml_text):
        docs = parse_documents(yaml_text)
        parsed = []
        for doc in docs:  # validate everything before storing anything
            kind = doc.get("kind")
            handler = self.hub.resource_kinds().get(kind)
            if handler is None:
                raise errors.ValidationError(
                    f"kind {kind!r}: unknown; expected one of {', '.join(sorted(self.hub.resource_kinds()))}")
            parsed.append((kind, handler.parse(doc)))
        self._check_mesh_claims([resource for kind, resource in parsed if kind == MESH_POLICY])
        results = []
        for kind, resource in parsed:
            key = Keys.policy(kind, resource.namespace, resource.name)
            value = json.dumps(resource.to_dict(), sort_keys=True).encode()
            current = self.hub.store.get(key)
            if current is not None and current.value == value:
                results.append(f"{kind} {resource.namespace}/{resource.name} unchanged")
                continue
            self.hub.store.put(key, value)
            verb = "configured" if current is not None else "created"
            results.append(f"{kind} {resource.namespace}/{resource.name} {verb}")
        return results

    def _check_mesh_claims(self, incoming: list) -> None:
        """No object name carried by two MeshPolicies (the stored ones and these)."""
        if not incoming:
            return
        stored = []
        for kv in self.hub.store.range(Keys.policies(MESH_POLICY))[0]:
            try:
                stored.append(parse_mesh_policy(json.loads(kv.value)))
            except (errors.ValidationError, ValueError):
                continue  # not loaded by the hub either (it logs it), so it claims nothing
        check_claims(stored, incoming)

    def delete_resources(self, yaml_text):
        results = []
        for doc in parse_documents(yaml_text):
            kind = doc.get("kind")
            meta = doc.get("metadata") or {}
            ns, name = meta.get("namespace", "default"), meta.get("name")
            if kind not in self.hub.resource_kinds() or not name:
                raise errors.ValidationError(f"cannot delete {kind!r} {ns}/{name}: kind and metadata.name required")
            existed = self.hub.store.delete(Keys.policy(kind, ns, name))
            results.append(f"{kind} {ns}/{name} {'deleted' if existed else 'not found'}")
        return results

    def list_resources(self, kind=""):
        kinds = self.hub.resource_kinds()
        if kind and kind not in kinds:
            raise errors.ValidationError(f"kind {kind!r}: unknown; expected one of {', '.join(sorted(kinds))}")
        items, _ = self.hub.store.range(Keys.POLICIES + (f"{kind}/" if kind else ""))
        return yaml.safe_dump_all([json.loads(kv.value) for kv in items], sort_keys=False)


__all__ = ["HubControl", "parse_documents", "parse_policy"]
