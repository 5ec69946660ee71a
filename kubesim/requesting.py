"""Handling one HTTP request against a simulated cluster's API.

Routes: health (``/healthz``, no auth), ``/version``, discovery (``/api``,
``/apis``, group and group-version documents; aggregated-discovery Accept
headers get the plain documents, which clients fall back to), a minimal
``/openapi/v3`` (see ``openapi``; ``/openapi/v2`` is 404) and resource paths under
``/api/v1`` and ``/apis/<group>/<version>``, namespaced or not, with the
``status`` subresource and ``?watch=1`` streams.
"""

from __future__ import annotations

import http.server
import json
import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from federation.errors import (
    AlreadyExists, Conflict, FederationError, NotFound, PermissionDenied, ResourceExpired, ValidationError,
)
from kubesim import heading, openapi
from kubesim import store as store_mod
from kubesim.admission import IGNORE, STRICT, WARN
from kubesim.resources import ServedType
from kubesim.selectors import FieldSelector, LabelSelector
from kubesim.watching import stream_watch

log = logging.getLogger(__name__)

MAX_BODY = 3 * 1024 * 1024
VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-sim", "gitCommit": "0" * 40,
           "gitTreeState": "clean", "buildDate": "2024-12-11T00:00:00Z", "goVersion": "go1.23.4",
           "compiler": "gc", "platform": "linux/amd64"}
_PATCH_TYPES = {
    "application/merge-patch+json": store_mod.MERGE,
    "application/json-patch+json": store_mod.JSON_PATCH,
    "application/strategic-merge-patch+json": store_mod.STRATEGIC,
    "application/apply-patch+yaml": "apply",
}
_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
            409: "Conflict", 410: "Expired", 413: "RequestEntityTooLarge", 415: "UnsupportedMediaType",
            422: "Invalid", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
            504: "Timeout"}


def status_object(code: int, message: str, reason: str | None = None, details: dict | None = None) -> dict:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason or _REASONS.get(code, "Unknown"), "code": code}
    if details:
        body["details"] = details
    return body


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes")


class RequestHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sim-apiserver"
    timeout = 120  # idle keep-alive connections are closed after this

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Called as the status line is sent, before the client can read the answer.
        try:
            self.server.api.record(self.command or "", self.path or "", int(code))
        except ValueError:
            pass
        super().log_request(code, size)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (base class signature)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("sim request", extra={"fields": {"cluster": self.server.api.name, "line": format % args}})

    def parse_request(self) -> bool:
        """The request line and header fields, read by ``heading`` (not the ``email`` parser)."""
        # Errors are answered with an HTTP/1.1 status line, whatever the request line said.
        self.command, self.path, self.request_version, self.close_connection = None, "", "HTTP/1.1", True
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        try:
            self.command, self.path, self.request_version = heading.request_line(self.raw_requestline)
            self.headers = heading.read_fields(self.rfile)
        except heading.HeadError as exc:
            self.send_error(exc.status, str(exc))
            return False
        self.close_connection = not heading.keeps_alive(self.request_version, self.headers)
        expect = (self.headers.get("Expect") or "").lower()
        if expect == "100-continue" and self.request_version == "HTTP/1.1":
            return self.handle_expect_100()
        return True

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # --- responses ----------------------------------------------------------------
    def send_body(self, code: int, body: bytes, content_type: str = "application/json",
                  headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        # Headers and body in one write, as kube-apiserver's buffered writer sends a small
        # answer: one TLS record, so a client reads the whole answer in one go.
        self._headers_buffer.append(b"\r\n")  # what end_headers() adds before flushing
        self._headers_buffer.append(body)
        self.flush_headers()

    def send_json(self, code: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self.send_body(code, json.dumps(obj, separators=(",", ":")).encode(), headers=headers)

    def send_status(self, code: int, message: str, reason: str | None = None, details: dict | None = None,
                    headers: dict[str, str] | None = None) -> None:
        self.send_json(code, status_object(code, message, reason, details), headers)

    def _send_entry(self, code: int, entry: store_mod.Entry, warnings: list[str] = ()) -> None:
        headers = {"Warning": ", ".join(f'299 - {json.dumps(w)}' for w in warnings)} if warnings else None
        self.send_body(code, entry.raw, headers=headers)

    # --- dispatch -------------------------------------------------------------------
    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return None
        return self.rfile.read(length) if length else b""

    def _handle(self, method: str) -> None:
        api = self.server.api
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        try:
            body = self._read_body()
        except ValueError:
            self.close_connection = True
            self.send_status(400, "malformed request body")
            return
        if body is None:
            self.close_connection = True
            self.send_status(413, "the request body is too large")
            return
        path = url.path.rstrip("/") or "/"
        if path in ("/healthz", "/livez", "/readyz"):
            self.send_body(200, b"ok", content_type="text/plain")
            return
        if not api.authorized(self.headers.get("Authorization")):
            self.send_status(401, "Unauthorized: a valid bearer token is required (the token is missing "
                                  "or not accepted by this cluster)")
            return
        latency = api.faults.latency
        if latency and self.server.closing.wait(latency):
            self.close_connection = True
            return
        try:
            self._route(method, path, query, body)
        except (ConnectionError, TimeoutError, OSError):
            self.close_connection = True
        except FederationError as exc:
            self._send_error(exc)
        except Exception:  # a bug in the simulator must not kill the connection thread silently
            log.exception("sim request failed", extra={"fields": {"cluster": api.name, "path": path}})
            self.send_status(500, "internal error in the simulated API server")

    def _send_error(self, exc: FederationError) -> None:
        message = str(exc)
        details = getattr(exc, "details", None)
        if isinstance(exc, NotFound):
            self.send_status(404, message, details=details)
        elif isinstance(exc, AlreadyExists):
            self.send_status(409, message, "AlreadyExists", details)
        elif isinstance(exc, Conflict):
            self.send_status(409, message, "Conflict", details)
        elif isinstance(exc, PermissionDenied):
            self.send_status(403, message, "Forbidden", details)
        elif isinstance(exc, ResourceExpired):
            self.send_status(410, message, "Expired")
        elif isinstance(exc, ValidationError):
            reason = getattr(exc, "reason", "BadRequest")
            if reason == "InternalError":
                self.send_status(500, message)
                return
            causes = [{"reason": "FieldValueInvalid", "message": c, "field": c.split(":", 1)[0]}
                      for c in getattr(exc, "causes", [])]
            self.send_status(422 if reason == "Invalid" else 400, message, reason,
                             details or ({"causes": causes} if causes else None))
        else:
            self.send_status(500, message)

    def _route(self, method: str, path: str, query: dict, body: bytes) -> None:
        api = self.server.api
        catalog = api.catalog
        parts = path.strip("/").split("/")
        if path == "/version":
            self.send_json(200, VERSION)
        elif path == "/api":
            self.send_json(200, catalog.api_versions(api.address))
        elif path == "/apis":
            self.send_json(200, catalog.api_group_list())
        elif path == "/api/v1":
            self.send_json(200, catalog.resource_list("", "v1"))
        elif parts[0] == "apis" and len(parts) == 2 and catalog.has_group(parts[1]):
            self.send_json(200, catalog.api_group(parts[1]))
        elif parts[0] == "apis" and len(parts) == 3 and catalog.serves(parts[1], parts[2]):
            self.send_json(200, catalog.resource_list(parts[1], parts[2]))
        elif path.startswith("/openapi/v3/") or path == "/openapi/v3":
            doc = openapi.lookup(catalog, path)
            if doc is None:
                self.send_status(404, "the server could not find the requested resource")
            else:
                self.send_json(200, doc)
        elif parts[:2] == ["api", "v1"] and len(parts) > 2:
            self._resource(method, "", "v1", parts[2:], query, body)
        elif parts[0] == "apis" and len(parts) > 3 and catalog.serves(parts[1], parts[2]):
            self._resource(method, parts[1], parts[2], parts[3:], query, body)
        else:
            self.send_status(404, "the server could not find the requested resource")

    # --- resources ------------------------------------------------------------------
    def _resource(self, method: str, group: str, version: str, segs: list[str], query: dict, body: bytes) -> None:
        catalog = self.server.api.catalog
        watch = _truthy(query.get("watch"))
        if segs[0] == "watch":
            watch, segs = True, segs[1:]
        namespace = None
        if len(segs) >= 3 and segs[0] == "namespaces":
            candidate = catalog.by_resource(group, version, segs[2])
            if candidate is not None and candidate.namespaced:
                namespace, segs = segs[1], segs[2:]
        rtype = catalog.by_resource(group, version, segs[0]) if segs else None
        name = segs[1] if len(segs) > 1 else None
        sub = segs[2] if len(segs) > 2 else None
        finalize = sub == "finalize" and rtype is not None and rtype.kind == "Namespace" and not rtype.group
        if (rtype is None or len(segs) > 3 or (sub and not finalize and (sub != "status" or not rtype.has_status))
                or (namespace is not None and not rtype.namespaced)
                or (rtype.namespaced and name is not None and namespace is None)):
            self.send_status(404, "the server could not find the requested resource")
            return
        failure = self.server.api.faults.take_failure()
        if failure is not None:
            headers = {"Retry-After": "1"} if failure in (429, 503) else None
            self.send_status(failure, f"injected failure ({failure}) from simulated cluster "
                                      f"{self.server.api.name}", headers=headers)
            return
        try:
            labels = LabelSelector.parse(query.get("labelSelector"))
            fields = FieldSelector.parse(query.get("fieldSelector"))
            fields.check_supported(rtype.group, rtype.kind)
        except ValidationError as exc:
            self.send_status(400, str(exc))
            return
        if name is None:
            if method == "GET" and watch:
                stream_watch(self, rtype, namespace, labels, fields, query)
            elif method == "GET":
                self._list(rtype, namespace, labels, fields, query)
            elif method == "POST":
                self._create(rtype, namespace, query, body)
            elif method == "DELETE":
                self._delete_collection(rtype, namespace, labels, fields)
            else:
                self.send_status(405, f"{method} is not supported on a collection")
        elif method == "GET" and watch:
            single = FieldSelector(fields.requirements + FieldSelector.parse(f"metadata.name={name}").requirements)
            stream_watch(self, rtype, namespace, labels, single, query)
        elif method == "GET":
            self._send_entry(200, self.server.api.store.get_entry(rtype, namespace, name))
        elif finalize:
            if method != "PUT":
                self.send_status(405, f"{method} is not supported on namespaces/finalize")
                return
            finalizers = ((self._decode(body) or {}).get("spec") or {}).get("finalizers") or []
            self._send_entry(200, self.server.api.store.finalize_namespace(name, finalizers))
        elif method == "PUT":
            self._replace(rtype, namespace, name, sub, query, body)
        elif method == "PATCH":
            self._patch(rtype, namespace, name, sub, query, body)
        elif method == "DELETE" and sub is None:
            self._delete(rtype, namespace, name, query, body)
        else:
            self.send_status(405, f"{method} is not supported here")

    def _write_options(self, query: dict) -> dict:
        validation = query.get("fieldValidation") or WARN
        if validation not in (STRICT, WARN, IGNORE):
            raise ValidationError(f"fieldValidation must be one of Strict, Warn, Ignore (got {validation!r})")
        return {"dry_run": query.get("dryRun") == "All", "validation": validation}

    def _manager(self, query: dict) -> str:
        if query.get("fieldManager"):
            return query["fieldManager"]
        agent = self.headers.get("User-Agent") or "unknown"
        return agent.split("/", 1)[0] or "unknown"

    def _decode(self, body: bytes, allow_yaml: bool = False) -> Any:
        try:
            return json.loads(body or b"null")
        except ValueError as exc:
            if allow_yaml:
                try:
                    return yaml.load(body, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
                except yaml.YAMLError:
                    pass
            raise ValidationError(f"the request body is not valid JSON: {exc}") from exc

    def _list(self, rtype: ServedType, namespace: str | None, labels: LabelSelector, fields: FieldSelector,
              query: dict) -> None:
        try:
            limit = int(query.get("limit") or 0)
            exact = int(query["resourceVersion"]) if query.get("resourceVersionMatch") == "Exact" else None
        except (ValueError, KeyError):
            self.send_status(400, "limit and resourceVersion (with resourceVersionMatch=Exact) must be integers")
            return
        entries, list_rv, token = self.server.api.store.list_entries(rtype, namespace, labels, fields, limit,
                                                                     query.get("continue") or "", exact)
        meta = {"resourceVersion": str(list_rv)}
        if token:
            meta["continue"] = token
        head = json.dumps({"kind": rtype.list_kind, "apiVersion": rtype.api_version, "metadata": meta},
                          separators=(",", ":")).encode()
        body = head[:-1] + b',"items":[' + b",".join(e.raw for e in entries) + b"]}"
        self.send_body(200, body)

    def _create(self, rtype: ServedType, namespace: str | None, query: dict, body: bytes) -> None:
        obj = self._decode(body)
        entry, warnings = self.server.api.store.create_entry(rtype, namespace, obj, manager=self._manager(query),
                                                             lifecycle=True, **self._write_options(query))
        self._send_entry(201, entry, warnings)

    def _replace(self, rtype: ServedType, namespace: str | None, name: str, sub: str | None, query: dict,
                 body: bytes) -> None:
        obj = self._decode(body)
        entry, warnings = self.server.api.store.replace_entry(
            rtype, namespace, name, obj, manager=self._manager(query),
            scope=store_mod.STATUS if sub else store_mod.MAIN, **self._write_options(query))
        self._send_entry(200, entry, warnings)

    def _patch(self, rtype: ServedType, namespace: str | None, name: str, sub: str | None, query: dict,
               body: bytes) -> None:
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        patch_type = _PATCH_TYPES.get(content_type)
        if patch_type is None or (patch_type == store_mod.STRATEGIC and rtype.custom):
            self.send_status(415, f"the body of the request was in an unknown format - accepted media types "
                                  f"include: {', '.join(t for t in _PATCH_TYPES if not rtype.custom or 'strat' not in t)}")
            return
        store = self.server.api.store
        scope = store_mod.STATUS if sub else store_mod.MAIN
        if patch_type == "apply":
            manager = query.get("fieldManager")
            if not manager:
                cause = {"reason": "FieldValueRequired", "message": "Required value: is required for apply patch",
                         "field": "fieldManager"}
                self.send_status(422, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is '
                                      "required for apply patch", "Invalid",
                                 {"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [cause]})
                return
            applied = self._decode(body, allow_yaml=True)
            entry, warnings, created = store.apply_entry(rtype, namespace, name, applied, manager=manager,
                                                         force=_truthy(query.get("force")), scope=scope,
                                                         lifecycle=True, **self._write_options(query))
            self._send_entry(201 if created else 200, entry, warnings)
            return
        patch = self._decode(body)
        entry, warnings = store.patch_entry(rtype, namespace, name, patch, patch_type,
                                            manager=self._manager(query), scope=scope, **self._write_options(query))
        self._send_entry(200, entry, warnings)

    def _delete(self, rtype: ServedType, namespace: str | None, name: str, query: dict, body: bytes) -> None:
        options = self._decode(body) if body else {}
        preconditions = (options.get("preconditions") if isinstance(options, dict) else None) or {}
        entry = self.server.api.store.delete_entry(rtype, namespace, name, uid=preconditions.get("uid"),
                                                   resource_version=preconditions.get("resourceVersion"),
                                                   dry_run=query.get("dryRun") == "All")
        if rtype.kind == "Namespace" and not rtype.group:  # as the API server: the object, not a Status
            self._send_entry(200, entry)
            return
        details = {"name": name, "group": rtype.group, "kind": rtype.plural, "uid": entry.obj["metadata"].get("uid")}
        if not rtype.group:
            del details["group"]
        self.send_json(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                             "details": details})

    def _delete_collection(self, rtype: ServedType, namespace: str | None, labels: LabelSelector,
                           fields: FieldSelector) -> None:
        entries = self.server.api.store.delete_collection(rtype, namespace, labels, fields)
        items = b",".join(e.raw for e in entries)
        head = json.dumps({"kind": rtype.list_kind, "apiVersion": rtype.api_version,
                           "metadata": {"resourceVersion": str(self.server.api.store.resource_version)}},
                          separators=(",", ":")).encode()
        self.send_body(200, head[:-1] + b',"items":[' + items + b"]}")

