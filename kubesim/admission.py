"""Admitting a write: defaulting and validation, as the API server does before storing.

Built-in kinds get the few defaults and checks controllers depend on (Service
cluster IPs, port protocols and target ports; Secret ``stringData``; Namespace
name label; EndpointSlice address type). Custom kinds are pruned, defaulted and
validated against their CRD schema when one is loaded; without schemas they
are stored as given.
"""

from __future__ import annotations

import base64
import binascii
import copy
import itertools
import threading
from typing import Any

from federation.errors import ValidationError
from kubesim.copying import document_copy
from kubesim.resources import ServedType
from kubesim.schemas import SchemaSet, apply_defaults, prune, validate_metadata

STRICT, WARN, IGNORE = "Strict", "Warn", "Ignore"


def invalid(rtype: ServedType, name: str, causes: list[str], reason: str = "Invalid") -> ValidationError:
    """A ``ValidationError`` carrying the field causes the HTTP layer reports (422, or 400 for BadRequest)."""
    if reason == "BadRequest":
        message = f"{rtype.kind} in version \"{rtype.version}\" cannot be handled as a {rtype.kind}: " \
                  f"strict decoding error: {', '.join(causes)}"
    else:
        listed = causes[0] if len(causes) == 1 else "[" + ", ".join(causes) + "]"
        message = f"{rtype.qualified_kind} \"{name}\" is invalid: {listed}"
    exc = ValidationError(message)
    exc.causes = list(causes)  # type: ignore[attr-defined]
    exc.reason = reason  # type: ignore[attr-defined]
    return exc


class ClusterIPAllocator:
    """Hands out Service cluster IPs from 10.96.0.0/12, one sequence per cluster."""

    def __init__(self) -> None:
        self._next = itertools.count(10)
        self._lock = threading.Lock()

    def allocate(self) -> str:
        with self._lock:
            n = next(self._next)
        return f"10.{96 + (n >> 16) % 16}.{(n >> 8) & 255}.{n & 255}"


class Admission:
    """Defaults and validates candidate objects for one cluster."""

    def __init__(self, schemas: SchemaSet | None = None):
        self.schemas = schemas
        self.cluster_ips = ClusterIPAllocator()
        self._node_ports = itertools.count(30000)

    def admit(self, rtype: ServedType, obj: dict, old: dict | None, field_validation: str = STRICT) -> list[str]:
        """Default and validate ``obj`` in place; return warnings; raise ``ValidationError``."""
        name = (obj.get("metadata") or {}).get("name", "")
        warnings: list[str] = []
        crd_version = self.schemas.lookup(rtype.api_version, rtype.kind) if self.schemas else None
        if crd_version is not None:
            unknown = prune(obj, crd_version.schema)
            if unknown and field_validation == STRICT:
                raise invalid(rtype, name, [f'unknown field "{path}"' for path in unknown], reason="BadRequest")
            if field_validation == WARN:
                warnings += [f'unknown field "{path}"' for path in unknown]
            apply_defaults(obj, crd_version.schema)
        defaulter = getattr(self, f"_default_{rtype.kind.lower()}", None)
        if defaulter is not None and not rtype.custom:
            defaulter(obj, old)
        errors = validate_metadata(obj)
        if crd_version is not None:
            errors += self.schemas.schema_errors(crd_version, obj)
        checker = getattr(self, f"_check_{rtype.kind.lower()}", None)
        if checker is not None and not rtype.custom:
            errors += checker(obj)
        if errors:
            raise invalid(rtype, name, errors)
        return warnings

    def defaulted(self, rtype: ServedType, obj: dict, old: dict | None) -> dict:
        """A copy of ``obj`` with the defaults a write would fill in (nothing validated)."""
        out = document_copy(obj)
        crd_version = self.schemas.lookup(rtype.api_version, rtype.kind) if self.schemas else None
        if crd_version is not None:
            apply_defaults(out, crd_version.schema)
        defaulter = getattr(self, f"_default_{rtype.kind.lower()}", None)
        if defaulter is not None and not rtype.custom:
            try:
                defaulter(out, old)
            except ValidationError:
                pass  # reported by the write itself
        return out

    # --- built-in defaults ------------------------------------------------------
    @staticmethod
    def _default_namespace(obj: dict, old: dict | None) -> None:
        meta = obj["metadata"]
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta.get("name", "")
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")

    def _default_service(self, obj: dict, old: dict | None) -> None:
        spec = obj.setdefault("spec", {})
        old_spec = (old or {}).get("spec") or {}
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec["type"] != "ExternalName":
            for key in ("clusterIP", "clusterIPs"):
                if key not in spec and key in old_spec:
                    spec[key] = copy.deepcopy(old_spec[key])
            if not spec.get("clusterIP"):
                spec["clusterIP"] = self.cluster_ips.allocate()
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        old_ports = {p.get("port"): p for p in old_spec.get("ports") or [] if isinstance(p, dict)}
        for port in spec.get("ports") or []:
            if not isinstance(port, dict):
                continue
            port.setdefault("protocol", "TCP")
            if "port" in port:
                port.setdefault("targetPort", port["port"])
            if spec["type"] in ("NodePort", "LoadBalancer") and "nodePort" not in port:
                previous = old_ports.get(port.get("port"), {}).get("nodePort")
                port["nodePort"] = previous or 30000 + next(self._node_ports) % 2768
        if spec["type"] in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        obj.setdefault("status", {}).setdefault("loadBalancer", {})

    @staticmethod
    def _default_secret(obj: dict, old: dict | None) -> None:
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict):
            data = obj.setdefault("data", {})
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
        obj.setdefault("type", "Opaque")
        for key, value in (obj.get("data") or {}).items():
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, TypeError, ValueError) as exc:
                # Secret data are bytes: undecodable base64 fails decoding the body (400), not validation.
                raise ValidationError(f'Secret in version "v1" cannot be handled as a Secret: illegal base64 '
                                      f"data in data[{key}]") from exc

    # --- built-in checks --------------------------------------------------------
    @staticmethod
    def _check_service(obj: dict) -> list[str]:
        errors = []
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return ["spec: Required value"]
        ports = spec.get("ports") or []
        if not isinstance(ports, list):
            return ["spec.ports: Invalid value: must be a list"]
        for index, port in enumerate(ports):
            where = f"spec.ports[{index}]"
            if not isinstance(port, dict):
                errors.append(f"{where}: Invalid value: must be an object")
                continue
            number = port.get("port")
            if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= 65535:
                errors.append(f"{where}.port: Invalid value: {number!r}: must be between 1 and 65535, inclusive")
            if len(ports) > 1 and not port.get("name"):
                errors.append(f"{where}.name: Required value")
        if spec.get("type") not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
            errors.append(f"spec.type: Unsupported value: {spec.get('type')!r}")
        return errors


    @staticmethod
    def _check_endpointslice(obj: dict) -> list[str]:
        errors = []
        if obj.get("addressType") not in ("IPv4", "IPv6", "FQDN"):
            errors.append(f"addressType: Unsupported value: {obj.get('addressType')!r}: "
                          "supported values: \"IPv4\", \"IPv6\", \"FQDN\"")
        endpoints: Any = obj.get("endpoints") or []
        if not isinstance(endpoints, list):
            return errors + ["endpoints: Invalid value: must be a list"]
        for index, endpoint in enumerate(endpoints):
            if not isinstance(endpoint, dict) or not endpoint.get("addresses"):
                errors.append(f"endpoints[{index}].addresses: Required value")
        return errors
