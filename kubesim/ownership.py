"""Field ownership for server-side apply (``metadata.managedFields``).

Each manager owns a set of *leaf paths*: maps are followed key by key, lists
and scalars are atomic leaves (the API server treats most lists as atomic;
associative lists are simplified to atomic here). Ownership is stored in the
object as the API server does, ``fieldsType: FieldsV1`` with ``f:<key>`` trees.

Rules (as in structured-merge-diff):
- apply: the applier owns exactly what it applied; a field another manager owns
  with a different value is a conflict unless forced (forcing takes it over);
  fields the applier owned before and no longer applies are removed unless
  someone else still owns them.
- update (create/PUT/PATCH): the writer takes the fields whose values it
  changed; removed fields leave every owner.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from federation.errors import Conflict
from kubesim.copying import document_copy

Path = tuple[str, ...]
_MISSING = object()
# Fields the server owns; never part of any manager's set.
_SYSTEM_METADATA = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                    "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds",
                    "generateName"}


@dataclass
class Manager:
    manager: str
    operation: str  # "Apply" or "Update"
    api_version: str
    time: str
    paths: set[Path] = field(default_factory=set)
    subresource: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.manager, self.operation, self.subresource)

    def copy(self) -> "Manager":
        """A copy whose paths (a set of tuples) can change apart from this one's."""
        return dataclasses.replace(self, paths=set(self.paths))


# --- paths ------------------------------------------------------------------------
def leaf_paths(obj: dict, include_status: bool = True) -> set[Path]:
    """The ownable leaf paths of an object (system metadata excluded)."""
    out: set[Path] = set()
    for key, value in obj.items():
        if key in ("apiVersion", "kind") or (key == "status" and not include_status):
            continue
        if key == "metadata" and isinstance(value, dict):
            for meta_key, meta_value in value.items():
                if meta_key not in _SYSTEM_METADATA:
                    _collect(meta_value, ("metadata", meta_key), out)
        else:
            _collect(value, (key,), out)
    return out


def _collect(value: Any, prefix: Path, out: set[Path]) -> None:
    if isinstance(value, dict) and value:
        for key, sub in value.items():
            _collect(sub, prefix + (key,), out)
    elif not isinstance(value, dict):
        out.add(prefix)  # empty maps are not owned: they carry no value


def get_path(obj: Any, path: Path) -> Any:
    for part in path:
        if not isinstance(obj, dict) or part not in obj:
            return _MISSING
        obj = obj[part]
    return obj


def has_path(obj: Any, path: Path) -> bool:
    return get_path(obj, path) is not _MISSING


def set_path(obj: dict, path: Path, value: Any) -> None:
    for part in path[:-1]:
        nxt = obj.get(part)
        if not isinstance(nxt, dict):
            nxt = obj[part] = {}
        obj = nxt
    obj[path[-1]] = value


def delete_path(obj: dict, path: Path) -> None:
    """Remove a leaf and then the maps it leaves empty (top-level fields stay)."""
    parents = []
    current = obj
    for part in path[:-1]:
        if not isinstance(current, dict) or part not in current:
            return
        parents.append((current, part))
        current = current[part]
    if isinstance(current, dict):
        current.pop(path[-1], None)
    for parent, part in reversed(parents[1:]):
        if parent[part] == {}:
            del parent[part]


def _overlaps(a: Path, b: Path) -> bool:
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


# --- FieldsV1 encoding --------------------------------------------------------------
def to_fields_v1(paths: set[Path]) -> dict:
    tree: dict = {}
    for path in sorted(paths):
        node = tree
        for part in path:
            node = node.setdefault(f"f:{part}", {})
    return tree


def from_fields_v1(tree: dict, prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for key, sub in (tree or {}).items():
        if not key.startswith("f:"):
            continue  # k:/v:/i: (associative list members) and "." are not tracked here
        path = prefix + (key[2:],)
        children = {k: v for k, v in (sub or {}).items() if k.startswith("f:")}
        if children:
            out |= from_fields_v1(children, path)
        else:
            out.add(path)
    return out


def read_managers(obj: dict | None) -> list[Manager]:
    if not obj:
        return []
    out = []
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        if not isinstance(entry, dict) or not entry.get("manager"):
            continue
        out.append(Manager(entry["manager"], entry.get("operation", "Update"), entry.get("apiVersion", ""),
                           entry.get("time", ""), from_fields_v1(entry.get("fieldsV1") or {}),
                           entry.get("subresource", "")))
    return out


def write_managers(obj: dict, managers: list[Manager]) -> None:
    entries = []
    for m in managers:
        if not m.paths:
            continue
        entry = {"manager": m.manager, "operation": m.operation, "apiVersion": m.api_version, "time": m.time,
                 "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(m.paths)}
        if m.subresource:
            entry["subresource"] = m.subresource
        entries.append(entry)
    meta = obj.setdefault("metadata", {})
    if entries:
        meta["managedFields"] = entries
    else:
        meta.pop("managedFields", None)


# --- operations ---------------------------------------------------------------------
def _find(managers: list[Manager], key: tuple[str, str, str]) -> Manager | None:
    return next((m for m in managers if m.key == key), None)


def apply_config(live: dict | None, applied: dict, managers: list[Manager], manager: str, force: bool,
                 now: str, include_status: bool = False, defaulted: dict | None = None) -> tuple[dict, list[Manager]]:
    """Merge an applied configuration into ``live``; return (object, managers).

    ``live`` is only read (the result is a new document). Raises ``Conflict``
    listing the contested fields when another manager owns
    one of them with a different value and ``force`` is false; values are
    compared as the server would store them (``defaulted``: the applied
    configuration with the server's defaults filled in).
    """
    compared = defaulted if defaulted is not None else applied
    managers = [m.copy() for m in managers]
    applied_paths = leaf_paths(applied, include_status=include_status)
    base = live or {}
    me_key = (manager, "Apply", "")
    conflicts: list[tuple[Manager, Path]] = []
    for other in managers:
        if other.key == me_key:
            continue
        contested = set()
        for owned in other.paths:
            for path in applied_paths:
                if _overlaps(owned, path):
                    shorter = owned if len(owned) <= len(path) else path
                    if get_path(base, shorter) != get_path(compared, shorter):
                        contested.add(owned)
        if contested and not force:
            conflicts += [(other, p) for p in sorted(contested)]
        other.paths -= contested
    if conflicts:
        raise conflict_error(conflicts)
    merged = document_copy(base)
    for key in ("apiVersion", "kind"):
        merged[key] = applied.get(key, merged.get(key))
    for path in applied_paths:
        set_path(merged, path, document_copy(get_path(applied, path)))
    mine = _find(managers, me_key)
    previous = mine.paths if mine else set()
    for path in previous - applied_paths:
        still_owned = any(_overlaps(path, p) for m in managers if m.key != me_key for p in m.paths)
        if not still_owned and not any(_overlaps(path, p) for p in applied_paths):
            delete_path(merged, path)
    if mine is None:
        mine = Manager(manager, "Apply", applied.get("apiVersion", ""), now)
        managers.append(mine)
    if mine.paths != applied_paths:
        mine.time = now
    mine.paths = set(applied_paths)
    mine.api_version = applied.get("apiVersion", mine.api_version)
    return merged, managers


def _who(manager: Manager) -> str:
    """How the API server names a manager in a conflict: updaters with their apiVersion."""
    if manager.operation == "Apply":
        return f'"{manager.manager}"'
    return f'"{manager.manager}" using {manager.api_version}'


def conflict_error(conflicts: list[tuple[Manager, Path]]) -> Conflict:
    """The API server's 409 for an apply: its message format and one cause per contested field."""
    fields = [(_who(m), "." + ".".join(path)) for m, path in conflicts]
    if len(fields) == 1:
        listed = f"conflict with {fields[0][0]}: {fields[0][1]}"
    else:
        lines = []
        for who in sorted({who for who, _ in fields}):
            lines.append(f"conflicts with {who}:")
            lines += [f"- {field_path}" for other, field_path in fields if other == who]
        listed = "\n".join(lines)
    plural = "s" if len(fields) > 1 else ""
    exc = Conflict(f"Apply failed with {len(fields)} conflict{plural}: {listed}")
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {who}", "field": field_path}
              for who, field_path in fields]
    exc.details = {"causes": causes}  # type: ignore[attr-defined]
    return exc


def record_update(old: dict | None, new: dict, managers: list[Manager], manager: str, now: str,
                  subresource: str = "") -> list[Manager]:
    """Give ``manager`` the fields an update changed; drop removed fields from every owner."""
    managers = [m.copy() for m in managers]
    old = old or {}
    old_paths, new_paths = leaf_paths(old), leaf_paths(new)
    changed = {p for p in new_paths if get_path(old, p) != get_path(new, p)}
    removed = old_paths - new_paths
    key = (manager, "Update", subresource)
    for m in managers:
        before = set(m.paths)
        m.paths -= removed
        if m.key != key:
            m.paths = {p for p in m.paths if not any(_overlaps(p, c) for c in changed)}
        if m.paths != before:
            m.time = now
    if changed:
        mine = _find(managers, key)
        if mine is None:
            mine = Manager(manager, "Update", new.get("apiVersion", ""), now, set(), subresource)
            managers.append(mine)
        mine.paths |= changed
        mine.time = now
    return managers


def restrict_to(managers: list[Manager], obj: dict) -> list[Manager]:
    """Drop owned paths the final object no longer has (pruned, replaced by a type change)."""
    for m in managers:
        m.paths = {p for p in m.paths if has_path(obj, p)}
    return [m for m in managers if m.paths]
