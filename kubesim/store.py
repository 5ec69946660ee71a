"""The object store of one simulated cluster: objects, resourceVersions and watch history.

One counter gives every write a new resourceVersion; a write that changes
nothing keeps the old one and emits no event. Each resource type keeps a
bounded event log; a watch that asks for history older than the log gets
``ResourceExpired`` (HTTP 410), as from a real API server's watch cache.

Objects are stored as dicts never mutated after storing, with their JSON
encoding cached, so lists and watch events are served without re-encoding.
The ``create/update/apply/patch/get/list/delete`` methods take and return
plain dicts for in-process use (tests, workload generation); the ``*_entry``
methods are what the HTTP layer calls.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import logging
import random
import secrets
import threading
import time
from typing import Any, Callable

from federation.errors import AlreadyExists, Conflict, NotFound, PermissionDenied, ResourceExpired, ValidationError
from kubesim import ownership, patching
from kubesim.admission import STRICT, Admission, invalid
from kubesim.copying import document_copy
from kubesim.entries import Entry, Event, EventLog, details_of, not_found, omit_empty, ordered_metadata
from kubesim.resources import Catalog, ServedType
from kubesim.schemas import SchemaSet, type_mismatch
from kubesim.selectors import FieldSelector, LabelSelector

MAIN, STATUS, ALL = "main", "status", "all"  # which part of an object a write may change
MERGE, JSON_PATCH, STRATEGIC = "merge", "json", "strategic"
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

log = logging.getLogger(__name__)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _key(rtype: ServedType, namespace: str | None, name: str) -> tuple[str, str]:
    return ((namespace or "") if rtype.namespaced else "", name)


def _strip_identity(obj: dict) -> dict:
    """The parts a generation bump looks at: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


class ObjectStore:
    """Thread-safe in-memory objects of one cluster, with watch history."""

    def __init__(self, catalog: Catalog | None = None, schemas: SchemaSet | None = None, history: int = 1000,
                 default_namespaces: bool = True, clock: Callable[[], str] = _now, namespace_controller: bool = True):
        self.catalog = catalog or Catalog()
        # Acting as kube-controller-manager's namespace controller: a deleted namespace's content
        # goes and the namespace is finalized at once. Without it a deleted namespace stays
        # Terminating until ``finalize_namespace``, as on an API server running alone.
        self.namespace_controller = namespace_controller
        self.admission = Admission(schemas)
        self.history = history
        self._clock = clock
        self._lock = threading.RLock()
        # One condition per type, all on the store's lock: a write wakes only the watches of
        # its own type, not every watch of the cluster (each one a thread contending for the GIL).
        self._arrivals = {t: threading.Condition(self._lock) for t in self.catalog.types}
        self._rv = 0
        self._objects: dict[ServedType, dict[tuple[str, str], Entry]] = {t: {} for t in self.catalog.types}
        self._logs: dict[ServedType, EventLog] = {t: EventLog(history) for t in self.catalog.types}
        self._observers: dict[ServedType, tuple[Callable[[Event], None], ...]] = {}
        if default_namespaces:
            for name in DEFAULT_NAMESPACES:
                self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    @property
    def resource_version(self) -> int:
        with self._lock:
            return self._rv

    def rtype(self, api_version: str, kind: str) -> ServedType:
        rtype = self.catalog.by_kind(api_version, kind)
        if rtype is None:
            raise NotFound(f"no resource serves kind {kind!r} in {api_version!r}")
        return rtype

    # --- in-process API (dicts in, dicts out) --------------------------------------
    def create(self, obj: dict, *, manager: str = "sim", dry_run: bool = False) -> dict:
        rtype = self.rtype(obj.get("apiVersion", ""), obj.get("kind", ""))
        namespace = (obj.get("metadata") or {}).get("namespace")
        return self.create_entry(rtype, namespace, obj, manager=manager, scope=ALL, dry_run=dry_run)[0].copy()

    def update(self, obj: dict, *, manager: str = "sim") -> dict:
        rtype = self.rtype(obj.get("apiVersion", ""), obj.get("kind", ""))
        meta = obj.get("metadata") or {}
        return self.replace_entry(rtype, meta.get("namespace"), meta.get("name", ""), obj, manager=manager,
                                  scope=ALL)[0].copy()

    def apply(self, obj: dict, *, manager: str = "sim", force: bool = True) -> dict:
        """Server-side apply ``obj`` (create it when absent)."""
        rtype = self.rtype(obj.get("apiVersion", ""), obj.get("kind", ""))
        meta = obj.get("metadata") or {}
        return self.apply_entry(rtype, meta.get("namespace"), meta.get("name", ""), obj, manager=manager,
                                force=force, scope=ALL)[0].copy()

    def patch(self, api_version: str, kind: str, name: str, patch: Any, *, namespace: str | None = None,
              patch_type: str = MERGE, manager: str = "sim") -> dict:
        return self.patch_entry(self.rtype(api_version, kind), namespace, name, patch, patch_type,
                                manager=manager, scope=ALL)[0].copy()

    def set_status(self, api_version: str, kind: str, name: str, status: dict, *,
                   namespace: str | None = None) -> dict:
        return self.patch_entry(self.rtype(api_version, kind), namespace, name, {"status": status}, MERGE,
                                manager="sim", scope=STATUS)[0].copy()

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict:
        return self.get_entry(self.rtype(api_version, kind), namespace, name).copy()

    def list(self, api_version: str, kind: str, namespace: str | None = None,
             label_selector: str | dict | None = None, field_selector: str | None = None) -> list[dict]:
        labels = (LabelSelector.from_labels(label_selector) if isinstance(label_selector, dict)
                  else LabelSelector.parse(label_selector))
        entries, _, _ = self.list_entries(self.rtype(api_version, kind), namespace, labels,
                                          FieldSelector.parse(field_selector))
        return [entry.copy() for entry in entries]

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict:
        return self.delete_entry(self.rtype(api_version, kind), namespace, name).copy()

    def count(self, api_version: str, kind: str, label_selector: str | None = None) -> int:
        """How many objects of a kind (matching ``label_selector``) are stored, copying none."""
        rtype = self.rtype(api_version, kind)
        labels = LabelSelector.parse(label_selector)
        with self._lock:
            if not labels:
                return len(self._objects[rtype])
            entries = list(self._objects[rtype].values())
        # Counted, not listed: no copies, no sorting (a benchmark counts every cluster often).
        return sum(1 for entry in entries if labels.matches(entry.obj["metadata"].get("labels")))

    def compact(self, keep: int = 0) -> None:
        """Forget watch history, keeping the newest ``keep`` events of each type."""
        with self._lock:
            for log in self._logs.values():
                log.drop(len(log.events) - keep)
                if keep == 0:
                    log.compacted = self._rv

    # --- reads ------------------------------------------------------------------
    def get_entry(self, rtype: ServedType, namespace: str | None, name: str) -> Entry:
        with self._lock:
            entry = self._objects[rtype].get(_key(rtype, namespace, name))
        if entry is None:
            raise not_found(rtype, name)
        return entry

    def list_entries(self, rtype: ServedType, namespace: str | None = None,
                     labels: LabelSelector | None = None, fields: FieldSelector | None = None,
                     limit: int = 0, continue_token: str = "",
                     exact: int | None = None) -> tuple[list[Entry], int, str]:
        """Matching entries sorted by (namespace, name), the list's resourceVersion and a continue token;
        ``exact`` lists the state at that resourceVersion (``resourceVersionMatch=Exact``)."""
        start: tuple[str, str] | None = None
        with self._lock:
            list_rv = self._rv
            if exact is not None:
                if exact > self._rv:
                    raise ResourceExpired(f"Too large resource version: {exact}, current: {self._rv}")
                if exact < self._logs[rtype].compacted:
                    raise ResourceExpired("The resourceVersion for the provided list is too old.")
                list_rv = exact
            if continue_token:
                list_rv, start = self._decode_continue(rtype, continue_token)
            objects = self._objects[rtype]
            if list_rv < self._rv:
                objects = self._objects_at(rtype, list_rv)
            name = fields.only_name() if fields else None
            if name is not None:
                found = objects.get(_key(rtype, namespace, name)) if namespace or not rtype.namespaced else None
                candidates = [found] if found else [e for k, e in objects.items() if k[1] == name]
            else:
                candidates = list(objects.values())
        out = []
        for entry in candidates:
            meta = entry.obj["metadata"]
            if namespace and rtype.namespaced and meta.get("namespace") != namespace:
                continue
            if labels and not labels.matches(meta.get("labels")):
                continue
            if fields and not fields.matches(entry.obj):
                continue
            out.append(entry)
        out.sort(key=lambda e: (e.obj["metadata"].get("namespace", ""), e.obj["metadata"]["name"]))
        if start is not None:
            out = [e for e in out if (e.obj["metadata"].get("namespace", ""), e.obj["metadata"]["name"]) > start]
        token = ""
        if limit and len(out) > limit:
            out = out[:limit]
            last = out[-1].obj["metadata"]
            raw = json.dumps({"rv": list_rv, "start": [last.get("namespace", ""), last["name"]]})
            token = base64.urlsafe_b64encode(raw.encode()).decode()
        return out, list_rv, token

    def _objects_at(self, rtype: ServedType, rv: int) -> dict[tuple[str, str], Entry]:
        """The objects of ``rtype`` as they were at ``rv``: later events undone, newest first.

        Continued lists are served from this snapshot, as the API server serves
        every page of a list at the first page's resourceVersion.
        """
        objects = dict(self._objects[rtype])
        for event in reversed(self._logs[rtype].since(rv)):
            meta = event.entry.obj["metadata"]
            key = _key(rtype, meta.get("namespace"), meta["name"])
            if event.prev is None:
                objects.pop(key, None)
            else:
                objects[key] = event.prev
        return objects

    def _decode_continue(self, rtype: ServedType, token: str) -> tuple[int, tuple[str, str]]:
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            list_rv, start = int(data["rv"]), (str(data["start"][0]), str(data["start"][1]))
        except (ValueError, KeyError, IndexError, TypeError, binascii.Error) as exc:
            raise ValidationError(f"invalid continue token: {exc}") from exc
        if list_rv < self._logs[rtype].compacted:
            raise ResourceExpired("The provided continue parameter is too old to display a consistent list "
                                  "result. You can start a new list without the continue parameter.")
        return list_rv, start

    # --- watch support --------------------------------------------------------------
    def watch_start(self, rtype: ServedType, resource_version: int | None) -> tuple[list[Entry], int]:
        """Where a watch starts: (synthetic ADDED entries, rv to stream after).

        ``None`` or 0 sends the current state first, like the API server; a
        positive rv streams what came after it, or raises ``ResourceExpired``.
        """
        with self._lock:
            if not resource_version:
                return list(self._objects[rtype].values()), self._rv
            self._logs[rtype].since(resource_version)
            return [], resource_version

    def wait_events(self, rtype: ServedType, after: int, timeout: float) -> tuple[list[Event], int]:
        """Events of ``rtype`` newer than ``after`` (waiting up to ``timeout``) and the current rv."""
        with self._lock:
            events = self._logs[rtype].since(after)
            if not events and timeout > 0:
                self._arrivals[rtype].wait(timeout)
                events = self._logs[rtype].since(after)
            return events, self._rv

    def observe(self, rtype: ServedType, observer: Callable[[Event], None]) -> None:
        """Call ``observer(event)`` with each committed event of ``rtype``, as it is committed
        (under the store's lock: it must be quick and must not call the store). For in-process
        measurement without a thread woken per event."""
        with self._lock:
            self._observers[rtype] = (*self._observers.get(rtype, ()), observer)

    def unobserve(self, rtype: ServedType, observer: Callable[[Event], None]) -> None:
        with self._lock:
            self._observers[rtype] = tuple(o for o in self._observers.get(rtype, ()) if o is not observer)

    def wake_watchers(self) -> None:
        with self._lock:
            for arrivals in self._arrivals.values():
                arrivals.notify_all()

    # --- writes ---------------------------------------------------------------------
    def create_entry(self, rtype: ServedType, namespace: str | None, obj: dict, *, manager: str,
                     scope: str = MAIN, dry_run: bool = False, validation: str = STRICT,
                     operation: str = "Update", lifecycle: bool = False) -> tuple[Entry, list[str]]:
        """Create ``obj``; with ``lifecycle`` (API requests), only in an existing, active namespace."""
        new = self._prepare_body(rtype, namespace, obj)
        meta = new["metadata"]
        for key in ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields",
                    "deletionTimestamp", "selfLink"):
            meta.pop(key, None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
        if scope == MAIN and rtype.has_status:
            new.pop("status", None)
        with self._lock:
            key = _key(rtype, meta.get("namespace"), meta.get("name", ""))
            if key in self._objects[rtype]:
                exc = AlreadyExists(f'{rtype.qualified_resource} "{key[1]}" already exists')
                exc.details = details_of(rtype, key[1])  # type: ignore[attr-defined]
                raise exc
            if lifecycle and rtype.namespaced:
                self._check_namespace(rtype, key[0], key[1])
            applied_paths = ownership.leaf_paths(new, include_status=scope != MAIN)  # before defaulting
            warnings = self.admission.admit(rtype, new, None, validation)
            omit_empty(rtype, new)
            now = self._clock()
            if operation == "Apply":
                managers = [ownership.Manager(manager, "Apply", rtype.api_version, now, applied_paths)]
            else:
                managers = ownership.record_update(None, new, [], manager, now)
            ownership.write_managers(new, ownership.restrict_to(managers, new))
            meta.update(uid=_new_uid(), creationTimestamp=now, generation=1)
            return self._commit(rtype, key, new, None, dry_run), warnings

    def replace_entry(self, rtype: ServedType, namespace: str | None, name: str, obj: dict, *, manager: str,
                      scope: str = MAIN, dry_run: bool = False, validation: str = STRICT) -> tuple[Entry, list[str]]:
        new = self._prepare_body(rtype, namespace, obj)
        if new["metadata"].get("name") != name:
            raise invalid(rtype, name, [f"metadata.name: Invalid value: {new['metadata'].get('name')!r}: "
                                        "must match the name in the request"], reason="BadRequest")
        with self._lock:
            old = self.get_entry(rtype, namespace, name)
            wanted = new["metadata"].get("resourceVersion")
            if wanted and str(wanted) != str(old.rv):
                raise Conflict(f'Operation cannot be fulfilled on {rtype.qualified_resource} "{name}": the object '
                               "has been modified; please apply your changes to the latest version and try again")
            return self._write(rtype, old, new, manager, scope, dry_run, validation)

    def patch_entry(self, rtype: ServedType, namespace: str | None, name: str, patch: Any, patch_type: str, *,
                    manager: str, scope: str = MAIN, dry_run: bool = False,
                    validation: str = STRICT) -> tuple[Entry, list[str]]:
        with self._lock:
            old = self.get_entry(rtype, namespace, name)
            current = old.copy()
            if patch_type == JSON_PATCH:
                new = patching.json_patch(current, patch)
            elif patch_type == STRATEGIC:
                new = patching.strategic_merge_patch(current, patch)
            else:
                new = patching.merge_patch(current, patch)
            if not isinstance(new, dict):
                raise invalid(rtype, name, ["the patch must produce an object"], reason="BadRequest")
            new_meta = new.get("metadata") if isinstance(new.get("metadata"), dict) else {}
            if str(new_meta.get("resourceVersion", old.rv)) != str(old.rv):
                raise Conflict(f'Operation cannot be fulfilled on {rtype.qualified_resource} "{name}": the object '
                               "has been modified; please apply your changes to the latest version and try again")
            new = self._prepare_body(rtype, namespace, new)
            new["metadata"]["name"] = name
            return self._write(rtype, old, new, manager, scope, dry_run, validation)

    def apply_entry(self, rtype: ServedType, namespace: str | None, name: str, applied: dict, *, manager: str,
                    force: bool = False, scope: str = MAIN, dry_run: bool = False,
                    validation: str = STRICT, lifecycle: bool = False) -> tuple[Entry, list[str], bool]:
        """Server-side apply; returns (entry, warnings, created)."""
        applied = self._prepare_body(rtype, namespace, applied)
        meta = applied["metadata"]
        if meta.get("name") != name:
            raise invalid(rtype, name, [f"metadata.name: Invalid value: {meta.get('name')!r}: "
                                        "must match the name in the request"], reason="BadRequest")
        if scope == MAIN and rtype.has_status:
            applied.pop("status", None)
        self._check_apply_types(rtype, namespace, name, applied)
        with self._lock:
            try:
                old = self.get_entry(rtype, namespace, name)
            except NotFound:
                entry, warnings = self.create_entry(rtype, namespace, applied, manager=manager, scope=scope,
                                                    dry_run=dry_run, validation=validation, operation="Apply",
                                                    lifecycle=lifecycle)
                return entry, warnings, True
            wanted = meta.get("resourceVersion")
            if wanted and str(wanted) != str(old.rv):
                raise Conflict(f'Operation cannot be fulfilled on {rtype.qualified_resource} "{name}": the object '
                               "has been modified; please apply your changes to the latest version and try again")
            now = self._clock()
            # apply_config reads the live object and merges into a copy of its own.
            merged, managers = ownership.apply_config(old.obj, applied, ownership.read_managers(old.obj),
                                                      manager, force, now, include_status=scope != MAIN,
                                                      defaulted=self.admission.defaulted(rtype, applied, old.obj))
            entry, warnings = self._write(rtype, old, merged, manager, scope, dry_run, validation, managers)
            return entry, warnings, False

    def delete_entry(self, rtype: ServedType, namespace: str | None, name: str, *, uid: str | None = None,
                     resource_version: str | None = None, dry_run: bool = False) -> Entry:
        """Delete an object; a Namespace with finalizers is marked Terminating instead (returned as such)."""
        with self._lock:
            old = self.get_entry(rtype, namespace, name)
            meta = old.obj["metadata"]
            for what, wanted, actual, hint in (
                    ("UID", uid, meta.get("uid"), "deleted and then recreated"),
                    ("ResourceVersion", resource_version, meta.get("resourceVersion"), "modified")):
                if wanted and str(wanted) != str(actual):
                    exc = Conflict(f'Operation cannot be fulfilled on {rtype.qualified_kind} "{name}": the {what} '
                                   f"in the precondition ({wanted}) does not match the {what} in record ({actual}). "
                                   f"The object might have been {hint}")
                    exc.details = {**details_of(rtype, name), "kind": rtype.kind}  # type: ignore[attr-defined]
                    raise exc
            if dry_run:
                return old
            if rtype.kind == "Namespace" and not rtype.group:
                return self._delete_namespace(rtype, old)
            return self._commit(rtype, _key(rtype, namespace, name), None, old, False)

    def finalize_namespace(self, name: str, finalizers: list[str]) -> Entry:
        """``PUT namespaces/<name>/finalize``: set ``spec.finalizers``; a Terminating namespace left
        with none is removed (what the namespace controller does once the content is gone)."""
        rtype = self.rtype("v1", "Namespace")
        with self._lock:
            old = self.get_entry(rtype, None, name)
            new = old.copy()
            new.setdefault("spec", {})["finalizers"] = list(finalizers)
            if not finalizers and new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
                return self._commit(rtype, _key(rtype, None, name), None, old, False)
            if new == old.obj:
                return old
            return self._commit(rtype, _key(rtype, None, name), new, old, False)

    def _delete_namespace(self, rtype: ServedType, old: Entry) -> Entry:
        name = old.obj["metadata"]["name"]
        if old.obj["metadata"].get("deletionTimestamp"):
            return old  # already Terminating: deleting again changes nothing
        if not (old.obj.get("spec") or {}).get("finalizers") and not old.obj["metadata"].get("finalizers"):
            return self._commit(rtype, _key(rtype, None, name), None, old, False)
        marked = old.copy()
        marked["metadata"].update(deletionTimestamp=self._clock(), deletionGracePeriodSeconds=0)
        marked.setdefault("status", {})["phase"] = "Terminating"
        terminating = self._commit(rtype, _key(rtype, None, name), marked, old, False)
        if self.namespace_controller:
            self._delete_namespace_contents(name)
            rest = [f for f in (marked.get("spec") or {}).get("finalizers") or [] if f != "kubernetes"]
            self.finalize_namespace(name, rest)
        return terminating

    def delete_collection(self, rtype: ServedType, namespace: str | None, labels: LabelSelector,
                          fields: FieldSelector) -> list[Entry]:
        with self._lock:
            entries, _, _ = self.list_entries(rtype, namespace, labels, fields)
            return [self.delete_entry(rtype, e.obj["metadata"].get("namespace"), e.obj["metadata"]["name"])
                    for e in entries]

    def _delete_namespace_contents(self, namespace: str) -> None:
        for rtype, objects in self._objects.items():
            if rtype.namespaced:
                for key in [k for k in objects if k[0] == namespace]:
                    self._commit(rtype, key, None, objects[key], False)

    # --- internals --------------------------------------------------------------------
    def _check_apply_types(self, rtype: ServedType, namespace: str | None, name: str, applied: dict) -> None:
        """Server-side apply builds a typed object first: a wrongly typed field fails it with a 500."""
        schemas = self.admission.schemas
        crd_version = schemas.lookup(rtype.api_version, rtype.kind) if schemas else None
        if crd_version is None:
            return
        body = {k: v for k, v in applied.items() if k not in ("apiVersion", "kind", "metadata")}
        mismatch = type_mismatch(body, crd_version.schema)
        if mismatch:
            where = f"{namespace}/{name}" if rtype.namespaced else name
            exc = ValidationError(f"failed to create typed patch object ({where}; {rtype.api_version}, "
                                  f"Kind={rtype.kind}): {mismatch}")
            exc.reason = "InternalError"  # type: ignore[attr-defined]
            raise exc

    def _check_namespace(self, rtype: ServedType, namespace: str, name: str) -> None:
        """The API server's NamespaceLifecycle admission: no new objects outside a live namespace."""
        ns_type = self.catalog.by_kind("v1", "Namespace")
        if ns_type is None:
            return
        entry = self._objects[ns_type].get(("", namespace))
        if entry is None:
            raise not_found(ns_type, namespace)
        if entry.obj["metadata"].get("deletionTimestamp"):
            exc = PermissionDenied(f'{rtype.qualified_resource} "{name}" is forbidden: unable to create new '
                                   f"content in namespace {namespace} because it is being terminated")
            cause = {"reason": "NamespaceTerminating", "message": f"namespace {namespace} is being terminated",
                     "field": "metadata.namespace"}
            exc.details = {**details_of(rtype, name), "causes": [cause]}  # type: ignore[attr-defined]
            raise exc
    def _prepare_body(self, rtype: ServedType, namespace: str | None, obj: Any) -> dict:
        if not isinstance(obj, dict):
            raise invalid(rtype, "", ["the request body must be a JSON object"], reason="BadRequest")
        new = document_copy(obj)
        if new.get("apiVersion", rtype.api_version) != rtype.api_version or new.get("kind", rtype.kind) != rtype.kind:
            raise invalid(rtype, "", [f"the body's apiVersion/kind {new.get('apiVersion')}/{new.get('kind')} "
                                      f"does not match {rtype.api_version}/{rtype.kind}"], reason="BadRequest")
        new["apiVersion"], new["kind"] = rtype.api_version, rtype.kind
        meta = new.get("metadata")
        if meta is None:
            meta = new["metadata"] = {}
        if not isinstance(meta, dict):
            raise invalid(rtype, "", ["metadata: Invalid value: must be an object"], reason="BadRequest")
        if rtype.namespaced:
            body_ns = meta.get("namespace")
            if namespace and body_ns and body_ns != namespace:
                raise invalid(rtype, meta.get("name", ""), ["metadata.namespace: the namespace of the provided "
                                                            "object does not match the namespace sent on the "
                                                            "request"], reason="BadRequest")
            meta["namespace"] = namespace or body_ns or "default"
        else:
            meta.pop("namespace", None)
        return new

    def _write(self, rtype: ServedType, old: Entry, new: dict, manager: str, scope: str, dry_run: bool,
               validation: str, managers: list[ownership.Manager] | None = None) -> tuple[Entry, list[str]]:
        """Finish an update of ``old`` to ``new``: scope, admission, ownership, generation, no-op check."""
        previous = old.obj
        if scope == STATUS:
            status = new.get("status")
            new = old.copy()
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
        elif scope == MAIN and rtype.has_status:
            new.pop("status", None)
            if "status" in previous:
                new["status"] = copy.deepcopy(previous["status"])
        meta = new["metadata"]
        for key in ("uid", "creationTimestamp", "generation"):
            if key in previous["metadata"]:
                meta[key] = previous["metadata"][key]
        meta["resourceVersion"] = previous["metadata"]["resourceVersion"]
        warnings = self.admission.admit(rtype, new, previous, validation)
        omit_empty(rtype, new)
        now = self._clock()
        if managers is None:
            managers = ownership.record_update(previous, new, ownership.read_managers(previous), manager, now,
                                               subresource="status" if scope == STATUS else "")
        ownership.write_managers(new, ownership.restrict_to(managers, new))
        if _strip_identity(new) != _strip_identity(previous):
            meta["generation"] = int(previous["metadata"].get("generation", 1)) + 1
        if new == previous:
            return old, warnings  # no-op: same resourceVersion, no event
        return self._commit(rtype, _key(rtype, meta.get("namespace"), meta["name"]), new, old, dry_run), warnings

    def _commit(self, rtype: ServedType, key: tuple[str, str], new: dict | None, old: Entry | None,
                dry_run: bool) -> Entry:
        """Store ``new`` (or delete when None) under a fresh resourceVersion; record the event."""
        rv = self._rv + 1
        if new is None:
            assert old is not None
            gone = old.copy()
            gone["metadata"]["resourceVersion"] = str(rv)
            entry = Entry(gone)
            kind = "DELETED"
        else:
            new["metadata"]["resourceVersion"] = str(rv)
            new["metadata"] = ordered_metadata(new["metadata"])
            entry = Entry(new)
            kind = "ADDED" if old is None else "MODIFIED"
        if dry_run:
            return entry
        self._rv = rv
        if new is None:
            del self._objects[rtype][key]
        else:
            self._objects[rtype][key] = entry
        event = Event(rv, kind, entry, old)
        self._logs[rtype].append(event)
        self._arrivals[rtype].notify_all()
        for observer in self._observers.get(rtype, ()):
            try:
                observer(event)
            except Exception:  # noqa: BLE001 - an observer's fault is not the write's
                log.exception("store observer raised", extra={"fields": {"kind": rtype.kind}})
        return entry


_UIDS = random.Random()  # seeded from the system's entropy once


def _new_uid() -> str:
    """A random version-4 UUID, as the API server gives every object. ``uuid.uuid4``
    reads the system's entropy on every call (a system call per created object):
    a simulator's uids need to be unique, not unpredictable."""
    bits = _UIDS.getrandbits(128) & ~(0xF000 << 64) & ~(0xC000 << 48) | (0x4000 << 64) | (0x8000 << 48)
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
