"""Applying PATCH bodies: JSON merge patch, JSON patch and strategic merge patch.

Strategic merge patch is a merge patch that merges lists of objects by a
merge key (``name`` for containers, ``port`` for Service ports, ...) and
understands the ``$patch``/``$setElementOrder``/``$retainKeys`` directives;
the key table covers the built-in fields this project's kinds use.
"""

from __future__ import annotations

import copy
from typing import Any

from federation.errors import ValidationError

# Field name → merge key of the list of objects it holds (built-in kinds).
_MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "volumeMounts": "mountPath", "imagePullSecrets": "name",
    "conditions": "type", "addresses": "type", "ownerReferences": "uid", "tolerations": "key",
}
_PRIMITIVE_MERGE_LISTS = {"finalizers"}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- JSON patch (RFC 6902) --------------------------------------------------------
def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValidationError(f"invalid JSON pointer {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _walk(doc: Any, parts: list[str], path: str) -> Any:
    for part in parts:
        if isinstance(doc, dict) and part in doc:
            doc = doc[part]
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            raise ValidationError(f"JSON patch path {path!r} does not exist")
    return doc


def _container(doc: Any, path: str) -> tuple[Any, str]:
    parts = _pointer(path)
    if not parts:
        raise ValidationError("JSON patch may not replace the whole document")
    return _walk(doc, parts[:-1], path), parts[-1]


def _list_index(container: list, key: str, path: str, allow_end: bool) -> int:
    if key == "-" and allow_end:
        return len(container)
    if not key.isdigit() or int(key) > len(container) - (0 if allow_end else 1):
        raise ValidationError(f"JSON patch index {key!r} out of range at {path!r}")
    return int(key)


def _add(doc: Any, path: str, value: Any) -> None:
    container, key = _container(doc, path)
    if isinstance(container, dict):
        container[key] = value
    elif isinstance(container, list):
        container.insert(_list_index(container, key, path, allow_end=True), value)
    else:
        raise ValidationError(f"JSON patch path {path!r} does not exist")


def _remove(doc: Any, path: str) -> Any:
    container, key = _container(doc, path)
    if isinstance(container, dict) and key in container:
        return container.pop(key)
    if isinstance(container, list):
        return container.pop(_list_index(container, key, path, allow_end=False))
    raise ValidationError(f"JSON patch path {path!r} does not exist")


def json_patch(target: Any, operations: Any) -> Any:
    """Apply RFC 6902 operations to a copy of ``target``."""
    if not isinstance(operations, list):
        raise ValidationError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ValidationError(f"invalid JSON patch operation {op!r}")
        if op["op"] not in _JSON_PATCH_OPS:
            raise ValidationError(f"unknown JSON patch operation {op['op']!r}")
        try:
            _apply_operation(doc, op)
        except ValidationError as exc:
            # A well-formed patch that cannot be applied: 422, as from the API server.
            failed = ValidationError("the server rejected our request due to an error in our request")
            failed.reason = "Invalid"  # type: ignore[attr-defined]
            raise failed from exc
    return doc


_JSON_PATCH_OPS = ("add", "remove", "replace", "move", "copy", "test")


def _apply_operation(doc: Any, op: dict) -> None:
    kind, path = op["op"], op["path"]
    if kind == "add":
        _add(doc, path, copy.deepcopy(op.get("value")))
    elif kind == "remove":
        _remove(doc, path)
    elif kind == "replace":
        _remove(doc, path)
        _add(doc, path, copy.deepcopy(op.get("value")))
    elif kind == "move":
        _add(doc, path, _remove(doc, op.get("from", "")))
    elif kind == "copy":
        _add(doc, path, copy.deepcopy(_walk(doc, _pointer(op.get("from", "")), op.get("from", ""))))
    elif _walk(doc, _pointer(path), path) != op.get("value"):  # "test"
        raise ValidationError(f"JSON patch test failed at {path!r}")


# --- strategic merge patch ----------------------------------------------------------
def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Merge ``patch`` into a copy of ``target`` with strategic-merge rules."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if not k.startswith("$")}
    if patch.get("$patch") == "delete":
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            if isinstance(result.get(name), list):
                result[name] = [item for item in result[name] if item not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = _merge_list(key, result[key], value)
        else:
            merged = strategic_merge_patch(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_key(field: str, items: list) -> str | None:
    if field == "ports":
        return "containerPort" if any(isinstance(i, dict) and "containerPort" in i for i in items) else "port"
    return _MERGE_KEYS.get(field)


def _merge_list(field: str, live: list, patch: list) -> list:
    if field in _PRIMITIVE_MERGE_LISTS:
        return live + [item for item in patch if item not in live]
    key = _merge_key(field, live + patch)
    if key is None or not all(isinstance(i, dict) for i in live + patch):
        return [item for item in copy.deepcopy(patch) if not (isinstance(item, dict) and "$patch" in item)]
    result = copy.deepcopy(live)
    for item in patch:
        index = next((n for n, cur in enumerate(result) if cur.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if index is not None:
                result.pop(index)
        elif index is None:
            result.append({k: v for k, v in copy.deepcopy(item).items() if not k.startswith("$")})
        else:
            result[index] = strategic_merge_patch(result[index], item)
    return result
