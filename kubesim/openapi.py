"""A minimal OpenAPI v3 surface: enough for clients to see server-side field validation.

kubectl validates by default (``--validate=strict``): it looks in
``/openapi/v3`` for a PATCH operation of the object's kind that accepts the
``fieldValidation`` query parameter and, finding one, leaves validation to the
server. Without any OpenAPI document it refuses to apply. So the index lists
every served group-version, and each group-version document describes the
item paths' operations (no component schemas; ``/openapi/v2`` stays 404).
"""

from __future__ import annotations

import hashlib
import json

from kubesim.resources import Catalog, ServedType

_WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation", "force")


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _query_params(names: tuple[str, ...]) -> list[dict]:
    return [{"name": name, "in": "query", "schema": {"type": "string"}, "uniqueItems": True} for name in names]


def _operations(rtype: ServedType) -> dict:
    gvk = {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}
    ok = {"200": {"description": "OK"}}

    def op(action: str, verb: str, params: tuple[str, ...] = ()) -> dict:
        return {"operationId": f"{verb}{rtype.kind}", "parameters": _query_params(params), "responses": ok,
                "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk}

    return {"get": op("get", "read"), "put": op("put", "replace", _WRITE_PARAMS[:3]),
            "patch": op("patch", "patch", _WRITE_PARAMS), "delete": op("delete", "delete", ("dryRun",))}


def group_version_document(catalog: Catalog, group: str, version: str) -> dict:
    paths = {}
    prefix = "/" + _gv_path(group, version)
    for rtype in catalog.types:
        if rtype.group != group or rtype.version != version:
            continue
        scope = "/namespaces/{namespace}" if rtype.namespaced else ""
        paths[f"{prefix}{scope}/{rtype.plural}/{{name}}"] = _operations(rtype)
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0-sim"}, "paths": paths,
            "components": {"schemas": {}}}


def _group_versions(catalog: Catalog) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for rtype in catalog.types:
        if (rtype.group, rtype.version) not in out:
            out.append((rtype.group, rtype.version))
    return out


def index_document(catalog: Catalog) -> dict:
    """``/openapi/v3``: where each group-version's document is."""
    paths = {}
    for group, version in _group_versions(catalog):
        doc = json.dumps(group_version_document(catalog, group, version), sort_keys=True).encode()
        digest = hashlib.sha256(doc).hexdigest()[:32].upper()
        paths[_gv_path(group, version)] = {"serverRelativeURL": f"/openapi/v3/{_gv_path(group, version)}"
                                                                f"?hash={digest}"}
    return {"paths": paths}


def lookup(catalog: Catalog, path: str) -> dict | None:
    """The document for a request path under ``/openapi/v3``, or None."""
    rest = path[len("/openapi/v3"):].strip("/")
    if not rest:
        return index_document(catalog)
    for group, version in _group_versions(catalog):
        if rest == _gv_path(group, version):
            return group_version_document(catalog, group, version)
    return None
