"""CRD schemas: load CustomResourceDefinitions and validate objects against them.

A CRD's ``openAPIV3Schema`` is a *structural* schema (OpenAPI 3.0 plus the
``x-kubernetes-*`` extensions). The API server prunes unknown fields, applies
``default`` values and then validates; this module does the same: pruning and
defaulting walk the structural schema, validation converts it to JSON Schema
(draft 4, whose boolean ``exclusiveMaximum`` matches OpenAPI 3.0) and runs
``jsonschema``. CEL rules (``x-kubernetes-validations``) are not evaluated.

Errors are ``"<field path>: <message>"`` strings, e.g.
``spec.ports[0].number: 70000 is greater than the maximum of 65535``.
"""

from __future__ import annotations

import collections
import copy
import json
import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import jsonschema
import yaml

from federation.errors import ConfigError
from federation.model.ids import is_dns_label, is_dns_subdomain
from federation.model.validating import is_label_key, is_label_value
from kubesim.copying import document_copy

log = logging.getLogger(__name__)

# The CRD files under ../shared this project serves and validates against.
CRD_FILES = (
    "istio/crds.gen.yaml",
    "gateway-api/gateways.yaml",
    "gateway-api/gatewayclasses.yaml",
    "mcs-api/serviceexports.yaml",
    "mcs-api/serviceimports.yaml",
)

_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# Kinds whose names must be DNS labels (no dots) rather than DNS subdomains.
_LABEL_NAMED_KINDS = {"Namespace"}
_DNS_1035_NAMED_KINDS = {"Service"}
_ROOT_KEYS = ("apiVersion", "kind", "metadata")
_DROPPED_KEYWORDS = {"description", "nullable", "default", "example", "externalDocs", "format"}
# Validation results kept by document: the hub writes one rendering to many clusters, and
# an endpoint flipping back and forth writes the same documents again.
_MEMO_SIZE = 8192


@dataclass
class CRDVersion:
    """One served version of a CustomResourceDefinition."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...]
    categories: tuple[str, ...]
    has_status: bool
    schema: dict
    _validator: Any = field(default=None, repr=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


def format_path(parts: Iterable[Any]) -> str:
    """Render a JSON path as Kubernetes prints field paths: ``spec.ports[0].number``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class SchemaSet:
    """The structural schemas of a set of CRDs, by (apiVersion, kind)."""

    def __init__(self, versions: Iterable[CRDVersion] = ()):
        self._versions: dict[tuple[str, str], CRDVersion] = {}
        self._groups: set[str] = set()
        self._lock = threading.Lock()
        self._memo: collections.OrderedDict[tuple[int, str], list[str]] = collections.OrderedDict()
        for crd_version in versions:
            self._versions[(crd_version.api_version, crd_version.kind)] = crd_version
            self._groups.add(crd_version.group)

    def __len__(self) -> int:
        return len(self._versions)

    def versions(self) -> list[CRDVersion]:
        return list(self._versions.values())

    def lookup(self, api_version: str, kind: str) -> CRDVersion | None:
        return self._versions.get((api_version, kind))

    def knows(self, api_version: str, kind: str) -> bool:
        return (api_version, kind) in self._versions

    def covers_group(self, group: str) -> bool:
        return group in self._groups

    def validate(self, obj: Any, strict: bool = True) -> list[str]:
        """Validate ``obj`` as the API server would; return errors with field paths.

        Kinds served by a loaded CRD are checked against its schema (after
        defaulting); with ``strict`` unknown fields are errors, as with
        ``fieldValidation=Strict``. An apiVersion in a group the set covers
        but not served by any CRD is an error; other kinds (built-in ones such
        as Secret) get the metadata checks only.
        """
        if not isinstance(obj, dict):
            return [f"object must be a mapping, not {type(obj).__name__}"]
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if not isinstance(api_version, str) or not api_version:
            return ["apiVersion: Required value"]
        if not isinstance(kind, str) or not kind:
            return ["kind: Required value"]
        errors = validate_metadata(obj)
        crd_version = self.lookup(api_version, kind)
        if crd_version is None:
            group = api_version.rpartition("/")[0]
            if group and self.covers_group(group):
                errors.append(f"kind: no CustomResourceDefinition serves {kind} in {api_version}")
            return errors
        candidate = document_copy(obj)
        unknown = prune(candidate, crd_version.schema)
        if strict:
            errors += [f"{path}: unknown field" for path in unknown]
        apply_defaults(candidate, crd_version.schema)
        errors += self.schema_errors(crd_version, candidate)
        return errors

    def schema_errors(self, crd_version: CRDVersion, obj: dict) -> list[str]:
        """Schema errors of an already pruned and defaulted object.

        The result is a function of the document alone (metadata is checked only to be
        a mapping), so it is kept, by the document's JSON, for the next write of the same one.
        """
        key = _memo_key(crd_version, obj)
        if key is not None:
            with self._lock:
                known = self._memo.get(key)
                if known is not None:
                    self._memo.move_to_end(key)
                    return list(known)
        validator = self._validator(crd_version)
        errors = sorted({_describe(err) for err in validator.iter_errors(obj)})
        if key is not None:
            with self._lock:
                self._memo[key] = errors
                if len(self._memo) > _MEMO_SIZE:
                    self._memo.popitem(last=False)
        return list(errors)

    def _validator(self, crd_version: CRDVersion):
        with self._lock:
            if crd_version._validator is None:
                converted = to_json_schema(crd_version.schema)
                converted.setdefault("type", "object")
                props = converted.setdefault("properties", {})
                props.setdefault("apiVersion", {"type": "string"})
                props.setdefault("kind", {"type": "string"})
                props["metadata"] = {"type": "object"}
                crd_version._validator = jsonschema.Draft4Validator(converted)
            return crd_version._validator


def _memo_key(crd_version: CRDVersion, obj: dict) -> tuple[int, str] | None:
    """What a validation result depends on: the schema and the document but its metadata
    (validated only as a mapping). None for documents not worth keeping (no mapping there)."""
    if not isinstance(obj.get("metadata"), dict):
        return None
    try:
        text = json.dumps({k: v for k, v in obj.items() if k != "metadata"}, separators=(",", ":"))
    except (TypeError, ValueError):
        return None
    return id(crd_version), text


# --- loading ----------------------------------------------------------------
def load_crd_schemas(shared_dir: str | Path) -> SchemaSet:
    """Load the CRDs this project serves from ``shared_dir`` (the ``../shared`` tree).

    Missing files are skipped; a directory with none of them, or a file that
    is not valid YAML, is a ``ConfigError``.
    """
    root = Path(shared_dir)
    versions: list[CRDVersion] = []
    found = 0
    for rel in CRD_FILES:
        path = root / rel
        if not path.is_file():
            continue
        found += 1
        versions += crd_versions_from_file(path)
    if not found:
        raise ConfigError(f"no CRD files under {root} (looked for {', '.join(CRD_FILES)})")
    log.debug("crd schemas loaded", extra={"fields": {"dir": str(root), "versions": len(versions)}})
    return SchemaSet(versions)


def crd_versions_from_file(path: str | Path) -> list[CRDVersion]:
    """Every served version of every CustomResourceDefinition in a YAML file."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        with open(path, encoding="utf-8") as fh:
            docs = list(yaml.load_all(fh, Loader=loader))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read CRDs from {path}: {exc}") from exc
    out = []
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
            out += crd_versions(doc)
    return out


def crd_versions(crd: dict) -> list[CRDVersion]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    out = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        schema = ((version.get("schema") or {}).get("openAPIV3Schema")) or {}
        out.append(CRDVersion(
            group=spec["group"],
            version=version["name"],
            kind=names["kind"],
            plural=names["plural"],
            singular=names.get("singular") or names["kind"].lower(),
            namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            short_names=tuple(names.get("shortNames") or ()),
            categories=tuple(names.get("categories") or ()),
            has_status="status" in (version.get("subresources") or {}),
            schema=schema,
        ))
    return out


# --- structural walks -------------------------------------------------------
def prune(obj: dict, schema: dict) -> list[str]:
    """Drop fields the structural schema does not know (in place); return their paths.

    ``apiVersion``, ``kind`` and ``metadata`` are always kept at the root.
    """
    unknown: list[str] = []
    for key in list(obj):
        if key in _ROOT_KEYS:
            continue
        sub = (schema.get("properties") or {}).get(key)
        if sub is None and not schema.get("x-kubernetes-preserve-unknown-fields"):
            unknown.append(key)
            del obj[key]
        elif sub is not None:
            _prune_value(obj[key], sub, [key], unknown)
    return unknown


def _prune_value(value: Any, schema: dict, path: list, unknown: list[str]) -> None:
    if schema.get("type") not in (None, "object", "array"):
        return  # a type mismatch is reported by validation, not pruned away
    if isinstance(value, dict):
        props = schema.get("properties")
        additional = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields")
        embedded = schema.get("x-kubernetes-embedded-resource")
        for key in list(value):
            sub = (props or {}).get(key)
            if sub is None and isinstance(additional, dict):
                sub = additional
            if sub is not None:
                _prune_value(value[key], sub, path + [key], unknown)
            elif not (preserve or additional is True or (embedded and key in _ROOT_KEYS)):
                unknown.append(format_path(path + [key]))
                del value[key]
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for index, item in enumerate(value):
                _prune_value(item, items, path + [index], unknown)


_TYPE_CHECKS = {
    "integer": ("numeric (int or float)", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
    "number": ("numeric (int or float)", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
    "string": ("string", lambda v: isinstance(v, str)),
    "boolean": ("bool", lambda v: isinstance(v, bool)),
    "object": ("map", lambda v: isinstance(v, dict)),
    "array": ("list", lambda v: isinstance(v, list)),
}
_JSON_TYPE_NAMES = {bool: "bool", int: "numeric", float: "numeric", str: "string", dict: "map", list: "list"}


def type_mismatch(value: Any, schema: dict, path: str = "") -> str | None:
    """The first field whose JSON type the schema does not allow, as server-side apply reports it
    (``.spec.weight: expected numeric (int or float), got string``), or None."""
    if value is None or schema.get("x-kubernetes-int-or-string"):
        return None
    check = _TYPE_CHECKS.get(schema.get("type", ""))
    if check is not None and not check[1](value):
        return f"{path}: expected {check[0]}, got {_JSON_TYPE_NAMES.get(type(value), type(value).__name__)}"
    if isinstance(value, dict):
        props, additional = schema.get("properties") or {}, schema.get("additionalProperties")
        for key, sub_value in value.items():
            sub = props.get(key, additional if isinstance(additional, dict) else None)
            found = type_mismatch(sub_value, sub, f"{path}.{key}") if sub else None
            if found:
                return found
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found = type_mismatch(item, schema["items"], f"{path}[{index}]")
            if found:
                return found
    return None


def apply_defaults(obj: Any, schema: dict, root: bool = True) -> None:
    """Fill absent fields that have a ``default`` in the schema (in place)."""
    if isinstance(obj, dict):
        props = schema.get("properties") or {}
        for key, sub in props.items():
            if root and key in _ROOT_KEYS:
                continue
            if key not in obj and "default" in sub:
                obj[key] = copy.deepcopy(sub["default"])
            if key in obj:
                apply_defaults(obj[key], sub, root=False)
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            for key, value in obj.items():
                if key not in props:
                    apply_defaults(value, additional, root=False)
    elif isinstance(obj, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for item in obj:
                apply_defaults(item, items, root=False)


def to_json_schema(node: Any) -> Any:
    """Convert a structural OpenAPI v3 schema node to a JSON Schema (draft 4) node."""
    if not isinstance(node, dict):
        return node
    out: dict = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-") or key in _DROPPED_KEYWORDS:
            continue
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "not", "additionalProperties"):
            out[key] = [to_json_schema(v) for v in value] if isinstance(value, list) else to_json_schema(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [to_json_schema(v) for v in value]
        elif key == "pattern":
            try:
                re.compile(value)
            except re.error:
                # A Go (RE2) pattern Python cannot compile is skipped, not fatal.
                log.debug("schema pattern skipped", extra={"fields": {"pattern": value}})
                continue
            out[key] = value
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = list(out["enum"]) + [None]
        for combinator in ("anyOf", "oneOf"):
            if combinator in out:
                out[combinator] = out[combinator] + [{"type": "null"}]
    return out


# --- messages -----------------------------------------------------------------
def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _required_names(branches: list) -> list[str]:
    names: list[str] = []
    for branch in branches:
        for name in (branch or {}).get("required") or []:
            if name not in names:
                names.append(name)
    return names


def _describe(err: jsonschema.ValidationError) -> str:
    path = format_path(err.absolute_path)
    validator = err.validator
    if validator == "required":
        missing = [name for name in err.validator_value if name not in (err.instance or {})]
        prefix = f"{path}." if path else ""
        return "; ".join(f"{prefix}{name}: Required value" for name in missing) or f"{path}: Required value"
    where = path or "<root>"
    if validator in ("oneOf", "anyOf"):
        names = _required_names(err.validator_value)
        if validator == "oneOf" and names and "valid under each of" in err.message:
            return f"{where}: only one of {', '.join(names)} may be set"
        if err.context:
            best = jsonschema.exceptions.best_match(err.context)
            return f"{format_path(best.absolute_path) or where}: {_trim(best.message)}"
        return f"{where}: must match {'exactly one' if validator == 'oneOf' else 'at least one'} of the allowed schemas"
    if validator == "not":
        return f"{where}: Invalid value: {_short(err.instance)}: matches a forbidden combination"
    return f"{where}: {_trim(err.message)}"


def _trim(message: str, limit: int = 240) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."


# --- metadata -----------------------------------------------------------------
def validate_metadata(obj: dict) -> list[str]:
    """ObjectMeta checks every kind gets: name, namespace, label and annotation syntax."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return ["metadata: Required value"]
    errors = []
    name = meta.get("name")
    kind = obj.get("kind")
    if not name:
        errors.append("metadata.name: Required value: name or generateName is required")
    elif not isinstance(name, str):
        errors.append(f"metadata.name: Invalid value: {_short(name)}: must be a string")
    elif kind in _DNS_1035_NAMED_KINDS:
        if len(name) > 63 or not _DNS_1035.match(name):
            errors.append(f"metadata.name: Invalid value: {name!r}: a DNS-1035 label must consist of lower case"
                          " alphanumeric characters or '-', start with a letter, and be at most 63 characters")
    elif kind in _LABEL_NAMED_KINDS:
        if not is_dns_label(name):
            errors.append(f"metadata.name: Invalid value: {name!r}: a DNS-1123 label must consist of lower case"
                          " alphanumeric characters or '-' and be at most 63 characters")
    elif not is_dns_subdomain(name):
        errors.append(f"metadata.name: Invalid value: {name!r}: a DNS-1123 subdomain must consist of lower case"
                      " alphanumeric characters, '-' or '.', and be at most 253 characters")
    namespace = meta.get("namespace")
    if namespace is not None and not is_dns_label(namespace):
        errors.append(f"metadata.namespace: Invalid value: {_short(namespace)}: must be a DNS-1123 label")
    errors += _check_string_map(meta.get("labels"), "metadata.labels", values_are_labels=True)
    errors += _check_string_map(meta.get("annotations"), "metadata.annotations", values_are_labels=False)
    return errors


def _check_string_map(mapping: Any, where: str, values_are_labels: bool) -> list[str]:
    if mapping is None:
        return []
    if not isinstance(mapping, dict):
        return [f"{where}: Invalid value: must be a map of strings"]
    errors = []
    for key, value in mapping.items():
        if not is_label_key(key):
            errors.append(f"{where}: Invalid value: {_short(key)}: name part must consist of alphanumeric "
                          "characters, '-', '_' or '.', at most 63 characters, with an optional DNS "
                          "subdomain prefix and '/'")
        if not isinstance(value, str):
            errors.append(f"{where}[{key}]: Invalid value: {_short(value)}: must be a string")
        elif values_are_labels and not is_label_value(value):
            errors.append(f"{where}[{key}]: Invalid value: {_short(value)}: a valid label value must be at most "
                          "63 characters of alphanumerics, '-', '_' or '.', starting and ending with an "
                          "alphanumeric")
    return errors
