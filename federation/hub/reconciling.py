"""Reconciling: each published snapshot → the desired objects of every target
cluster this replica pushes into → the differences, handed to its pusher.

``Reconciler.render`` is the one entry point that renders a target cluster:
the pipeline renders through it the parts a delta touched (a ``Scope``), and
``federation render`` and ``federation diff`` take everything. It is the pure
``render_target`` plus the objects that ``ClusterObjectSource``s declared to
the reconciler add to every cluster (the trust keeper's ``cacerts``).

All the targets of one pass render through one ``SharedRendering``: a service
is rendered once per distinct view of it, not once per target, and packed once.

The pipeline keeps each target's desired objects in buckets (``DesiredState``):
a service key, ``(NAMESPACE_BUCKET, name)`` for a namespace the hub creates, or
``CLUSTER_BUCKET`` (gateway, cacerts). Replacing a bucket yields only the
differences, so a change to one service costs O(that service's objects), not
O(mesh). The reconciler runs on the registry thread, which alone touches the
desired state; what it should do beyond the delta comes as a ``RenderRequest``.
"""

from __future__ import annotations

from typing import Callable, Hashable, Iterable, Protocol

from federation import errors
from federation.model import Snapshot
from federation.model.ids import Ref, ServiceKey, ref_of
from federation.model.policies import PolicySet
from federation.model.scope import scoped_services
from federation.model.snapshot import Delta
from federation.push.packing import Packed, pack
from federation.registry import RenderRequest
from federation.render import EVERYTHING, Rendered, Scope, render_target
from federation.render.sharing import SharedRendering

CLUSTER_BUCKET = "__cluster__"
NAMESPACE_BUCKET = "namespace"  # buckets ("namespace", name): namespaces the hub creates
Desired = Packed | dict


class ClusterObjectSource(Protocol):
    """Objects a feature adds to every target cluster, beside the gateway (the
    trust keeper's ``cacerts``). Called on the render thread: no more than a
    lookup, but for a target it has nothing for yet. When its objects change
    the source asks the hub to render again (``Hub.refresh_cluster_objects``)."""

    def cluster_objects(self, target: str) -> list[dict]: ...


class DesiredState:
    """Per target cluster, the objects rendered for it, grouped in buckets, each held
    packed (``push.packing``: a fifth of the dicts' memory); they are handed to the
    pusher in that form. No I/O."""

    def __init__(self) -> None:
        self._buckets: dict[str, dict[Hashable, dict[Ref, Desired]]] = {}
        # One pass's packings, by the rendered object's identity: targets that share
        # a rendered object (``render.sharing``) share its packing too. Each entry
        # holds its object, so no id is reused while the pass lasts.
        self._packings: dict[int, tuple[dict, Ref, Desired]] = {}
        # Every held packing by content, with how many bucket entries hold it: targets
        # rendered in different passes (one joining, say) hold one copy of each object.
        self._pool: dict[Packed, list] = {}

    def end_pass(self) -> None:
        """Forget the pass's packings (the objects they were made from go with them)."""
        self._packings.clear()

    def targets(self) -> list[str]:
        return list(self._buckets)

    def set_bucket(self, target: str, bucket: Hashable, objects: Iterable[dict]) -> dict[Ref, Desired | None]:
        """Replace one bucket; returns {ref: new object, or None if no longer desired}."""
        buckets = self._buckets.setdefault(target, {})
        old = buckets.get(bucket, {})
        new: dict[Ref, Desired] = {}
        changes: dict[Ref, Desired | None] = {}
        for obj in objects:
            ref, packed = self._packing(obj)
            before = old.get(ref)
            if before == packed:
                packed = before  # the one the pusher holds: one copy of each object
            else:
                packed = changes[ref] = self._hold(packed)
                if before is not None:
                    self._release(before)
            new[ref] = packed
        for ref, before in old.items():
            if ref not in new:
                changes[ref] = None
                self._release(before)
        if new:
            buckets[bucket] = new
        else:
            buckets.pop(bucket, None)
        return changes

    def _packing(self, obj: dict) -> tuple[Ref, Desired]:
        done = self._packings.get(id(obj))
        if done is None or done[0] is not obj:
            done = self._packings[id(obj)] = (obj, ref_of(obj), _packed(obj))
        return done[1], done[2]

    def _hold(self, packed: Desired) -> Desired:
        if not isinstance(packed, Packed):
            return packed  # not JSON: the pusher reports it
        entry = self._pool.get(packed)
        if entry is None:
            self._pool[packed] = [packed, 1]
            return packed
        entry[1] += 1
        return entry[0]

    def _release(self, packed: Desired) -> None:
        entry = self._pool.get(packed) if isinstance(packed, Packed) else None
        if entry is not None:
            entry[1] -= 1
            if not entry[1]:
                del self._pool[packed]

    @property
    def distinct(self) -> int:
        """Distinct packed objects held (for tests)."""
        return len(self._pool)

    def buckets(self, target: str) -> list[Hashable]:
        return list(self._buckets.get(target, {}))

    def all(self, target: str) -> dict[Ref, Desired]:
        out: dict[Ref, Desired] = {}
        for objects in self._buckets.get(target, {}).values():
            out.update(objects)
        return out

    def count(self, target: str) -> int:
        return sum(len(objs) for objs in self._buckets.get(target, {}).values())

    def drop(self, target: str) -> None:
        for objects in self._buckets.pop(target, {}).values():
            for packed in objects.values():
                self._release(packed)


def _packed(obj: dict) -> Desired:
    """Packed; an object that cannot be (not JSON) stays a dict, for the pusher to
    report as invalid."""
    try:
        return pack(obj)
    except errors.ValidationError:
        return obj


class Reconciler:
    """Renders and hands to the pushers (see the module doc). ``policies`` returns
    the hub resources in force; ``tracer`` gets one ``render`` span per target."""

    def __init__(self, domain: str, policies: Callable[[], PolicySet], tracer):
        self._domain = domain
        self._policies = policies
        self._tracer = tracer
        self._desired = DesiredState()
        self._sources: list[ClusterObjectSource] = []

    def add_source(self, source: ClusterObjectSource) -> None:
        self._sources.append(source)

    def render(self, snapshot: Snapshot, target: str, scope: Scope = EVERYTHING,
               policies: PolicySet | None = None, shared: SharedRendering | None = None) -> Rendered:
        """The one rendering of a target cluster: what ``scope`` names of it
        (``shared``: see ``render_target``)."""
        rendered = render_target(snapshot, self._policies() if policies is None else policies,
                                 target, self._domain, scope, shared)
        if scope.cluster:
            rendered = rendered.with_cluster_objects(
                obj for source in self._sources for obj in source.cluster_objects(target))
        return rendered

    def reconcile(self, snapshot: Snapshot, delta: Delta, observed: float, request: RenderRequest,
                  members: dict, complete: bool) -> None:
        """Render what ``delta`` and ``request`` call for into every member this
        replica pushes into, and hand the differences to its pusher. Pruning
        (a member's first complete desired set) waits for ``complete``."""
        for target in request.forget:
            self._desired.drop(target)
        affected = set(delta.services)
        if delta.clusters:
            affected.update(k for k, per in snapshot.services.items()
                            if not delta.clusters.isdisjoint(per))
        policies = self._policies()
        shared = SharedRendering(snapshot, policies, self._domain)  # one render per distinct view
        try:
            for target, member in members.items():
                if member.pusher is None:
                    continue  # another replica pushes into this cluster
                with self._tracer.start_as_current_span("render", attributes={"cluster": target}):
                    self._reconcile_target(snapshot, policies, shared, target, member, affected, delta,
                                           observed, request.renders_whole(target), complete)
        finally:
            self._desired.end_pass()

    def _reconcile_target(self, snapshot, policies, shared, target, member, affected, delta, observed,
                          full, complete) -> None:
        whole = full or not member.rendered  # else only what the delta touched
        known = target in snapshot.clusters  # an unknown target is given nothing
        if whole and not known:
            keys = sorted(self._desired_keys(target))  # what it held goes
        elif whole:
            keys = sorted(set(snapshot.service_keys()) | set(self._desired_keys(target)))
        elif target in delta.clusters:  # its labels may bring or take what an import selector scopes
            keys = sorted(affected | scoped_services(snapshot))
        else:
            keys = sorted(affected)
        # Namespaces the hub creates for stub Services: redone for the namespaces of
        # what changed, and all of them when the target's own namespaces changed.
        namespaces = {key.namespace for key in keys}
        if target in delta.clusters:
            namespaces.update(key.namespace for key in snapshot.service_keys())
            namespaces.update(b[1] for b in self._desired.buckets(target) if isinstance(b, tuple))
        scope = Scope(services=tuple(keys), namespaces=tuple(sorted(namespaces)),
                      cluster=whole or bool(delta.clusters))
        rendered = self.render(snapshot, target, scope, policies, shared)
        changes: dict = {}
        for key, objs in rendered.services:
            changes.update(self._desired.set_bucket(target, key, objs))
        for namespace, objs in rendered.namespaces:
            changes.update(self._desired.set_bucket(target, (NAMESPACE_BUCKET, namespace), objs))
        if rendered.cluster is not None:
            changes.update(self._desired.set_bucket(target, CLUSTER_BUCKET, rendered.cluster))
        if whole:
            member.rendered = known  # rendered whole again once the snapshot knows it
        if complete and member.state.known and not member.full_pushed:
            member.pusher.replace_all(self._desired.all(target), observed or None)
            member.full_pushed = True
        elif changes:
            member.pusher.update(changes, observed or None)

    def _desired_keys(self, target: str) -> list[ServiceKey]:
        return [b for b in self._desired.buckets(target) if isinstance(b, ServiceKey)]
