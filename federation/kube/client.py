"""Member clusters' Kubernetes API on the official client: requests and watches (the
kinds are ``resources``', re-exported here).

Requests and watch streams are raw JSON: the client's model classes are far too
slow for watch streams. Every error leaves this module as a ``federation.errors``
type; the kubeconfig's credentials never appear in a message.
"""

from __future__ import annotations

import http.client
import json
import re
import ssl
import threading
from urllib.parse import quote, urlsplit
from typing import Any, Callable, Iterator

import urllib3
from kubernetes import client as kclient
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.kube_config import KubeConfigLoader

from federation import __version__, errors
from federation.kube.chunked import Dechunker
from federation.kube.errors import status_error
from federation.kube.kubeconfigs import check_kubeconfig, parse_kubeconfig, static_credentials
from federation.kube.resources import (  # noqa: F401  (the kinds, where the client's callers look)
    BY_API_KIND, CONFIG_MAP, DESTINATION_RULE, ENDPOINT_SLICE, ISTIO_GATEWAY, K8S_GATEWAY, NAMESPACE, NODE, POD,
    SECRET, SERVICE, SERVICE_ENTRY, SERVICE_EXPORT, VIRTUAL_SERVICE, WORKLOAD_ENTRY, WORKLOAD_GROUP, ResourceType,
    resource_type_of,
)
from federation.kube.wire import Connection, WireError

# Built once: json.dumps with arguments builds an encoder per call (half the cost of a body).
_COMPACT = json.JSONEncoder(separators=(",", ":"))

APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


# The client's loader caches the temp files it writes certificate data to by
# content, and publishes a file's name before writing it: a second loader of the
# same kubeconfig at that moment would get an empty CA file. One loader at a time.
_LOADER_LOCK = threading.Lock()


def _configuration(kubeconfig: dict, source: str, allow=()) -> kclient.Configuration:
    # Checked here too, so no caller can reach the loader with a refused option.
    check_kubeconfig(kubeconfig, source, allow)
    config = kclient.Configuration()
    context = kubeconfig.get("current-context") or kubeconfig["contexts"][0].get("name")
    try:
        with _LOADER_LOCK:
            KubeConfigLoader(config_dict=kubeconfig, active_context=context).load_and_set(config)
    except (ConfigException, KeyError, TypeError, ValueError) as exc:
        raise errors.ConfigError(f"{source}: {_scrub(str(exc))}") from exc
    config.retries = False  # retries are ours, with back-off, per cluster
    # Each watch stream holds a connection while it lasts, and a member's watches (its kinds and
    # the hub's own, about 21) all run at once: a smaller pool discards a connection at every
    # watch's end, and the next watch pays a new TLS handshake.
    config.connection_pool_maxsize = 32
    return config


def _scrub(message: str) -> str:
    """Keep error messages short and free of credential material."""
    return message.split("\n")[0][:200]


class KubeClient:
    """A member cluster's API server over HTTPS with the kubeconfig's auth."""

    def __init__(self, cluster: str, kubeconfig: dict | str, timeout: float = 10.0,
                 allow=()):
        """``allow``: the kubeconfig options the hub accepts beyond the safe ones."""
        source = f"kubeconfig of cluster {cluster!r}"
        if isinstance(kubeconfig, str):
            kubeconfig = parse_kubeconfig(kubeconfig, source, allow)
        self.cluster = cluster
        self.timeout = timeout
        self._config = _configuration(kubeconfig, source, allow)
        self._api = kclient.ApiClient(self._config)
        self._lock = threading.Lock()
        self._writer = _Writer.of(cluster, self._config, static_credentials(kubeconfig))

    @property
    def server(self) -> str:
        return self._config.host

    def close(self) -> None:
        self._api.rest_client.pool_manager.clear()
        if self._writer is not None:
            self._writer.close()

    # -- requests ---------------------------------------------------------
    def _send(self, method: str, path: str, query: dict | None, body: Any,
              content_type: str, timeout: float | tuple[float, float]):
        headers = {"Accept": "application/json"}
        payload = None
        if body is not None:
            headers["Content-Type"] = content_type
            payload = body
            if "json" in content_type and isinstance(body, (bytes, str)):
                payload = json.loads(body)  # the client serialises JSON bodies itself
        query_params = [(k, v) for k, v in (query or {}).items() if v is not None]
        method, url, headers, _, _ = self._api.param_serialize(
            method, path, query_params=query_params, header_params=headers,
            auth_settings=["BearerToken"],
        )
        try:
            return self._api.call_api(method, url, header_params=headers, body=payload,
                                      _request_timeout=timeout)
        except (urllib3.exceptions.HTTPError, OSError, ApiException) as exc:
            # The client turns TLS failures into ApiException(status=0); one with a
            # status is an answer (a Retry-After the client gave up on, say).
            if isinstance(exc, ApiException) and exc.status:
                raise status_error(self.cluster, method, path, exc.status, exc.body) from exc
            if _verify_failed(exc):
                raise errors.ClusterUnreachable(
                    f"cluster {self.cluster!r} at {self.server}: certificate verify failed: the "
                    "kubeconfig's certificate-authority-data does not verify the API server"
                ) from exc
            raise errors.ClusterUnreachable(
                f"cluster {self.cluster!r} at {self.server} unreachable: {exc.__class__.__name__}"
            ) from exc

    def request(self, method: str, path: str, query: dict | None = None, body: Any = None,
                content_type: str = "application/json", timeout: float | None = None) -> dict:
        if method in _WRITER_METHODS and self._writer is not None:
            if body is not None and not isinstance(body, bytes):
                body = (body if isinstance(body, str) else _COMPACT.encode(body)).encode()
            status, data = self._writer.send(method, path, query or {}, body, content_type,
                                             timeout or self.timeout)
            return self._answer(method, path, status, data)
        response = self._send(method, path, query, body, content_type, timeout or self.timeout)
        try:
            data = response.response.data
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise errors.ClusterUnreachable(
                f"cluster {self.cluster!r}: reading response failed: {exc.__class__.__name__}"
            ) from exc
        finally:
            response.response.release_conn()
        return self._answer(method, path, response.status, data)

    def _answer(self, method: str, path: str, status: int, data: bytes) -> dict:
        if status >= 300:
            raise status_error(self.cluster, method, path, status, data)
        return json.loads(data) if data else {}

    def get(self, rtype: ResourceType, namespace: str | None, name: str) -> dict | None:
        try:
            return self.request("GET", rtype.path(namespace, name))
        except errors.NotFound:
            return None

    def list(self, rtype: ResourceType, namespace: str | None = None,
             label_selector: str | None = None, resource_version: str | None = None,
             field_selector: str | None = None) -> dict:
        return self.request("GET", rtype.path(namespace), {
            "labelSelector": label_selector, "fieldSelector": field_selector,
            "resourceVersion": resource_version})

    def apply(self, rtype: ResourceType, obj: dict, field_manager: str, force: bool = True) -> dict:
        meta = obj["metadata"]
        return self.apply_bytes(rtype.path(meta.get("namespace"), meta["name"]),
                                _COMPACT.encode(obj).encode(), field_manager, force)

    def apply_bytes(self, path: str, body: bytes, field_manager: str, force: bool = True) -> dict:
        """Server-side apply of a serialised object: the hub's hot path."""
        query = {"fieldManager": field_manager, "force": "true" if force else None}
        return self.request("PATCH", path, query, body=body, content_type=APPLY_PATCH)

    def apply_many(self, applies: list[tuple[str, bytes, bool]], field_manager: str) -> list:
        """Server-side applies of serialised objects, ``(path, body, force)`` each, pipelined
        over one connection: each one's answer (a dict) or its error, in order. Once the
        connection fails, every apply after it gets that (transient) error unanswered."""
        requests = [("PATCH", path, {"fieldManager": field_manager, "force": "true" if force else None},
                     body, APPLY_PATCH) for path, body, force in applies]
        if self._writer is None:  # the official client: one at a time
            out: list = []
            for method, path, query, body, content_type in requests:
                try:
                    out.append(self.request(method, path, query, body=body, content_type=content_type))
                except errors.Transient as exc:
                    return out + [exc] * (len(requests) - len(out))
                except errors.FederationError as exc:
                    out.append(exc)
            return out
        answers = self._writer.send_many(requests, self.timeout)
        out = []
        for (path, _, _), answer in zip(applies, answers):
            if isinstance(answer, errors.FederationError):
                out.append(answer)
                continue
            try:
                out.append(self._answer("PATCH", path, *answer))
            except errors.FederationError as exc:
                out.append(exc)
        return out

    def delete(self, rtype: ResourceType, namespace: str | None, name: str) -> bool:
        try:
            self.request("DELETE", rtype.path(namespace, name))
            return True
        except errors.NotFound:
            return False

    # -- watch ------------------------------------------------------------
    def watch(self, rtype: ResourceType, resource_version: str, timeout_seconds: int = 300,
              label_selector: str | None = None, read_timeout: float | None = None,
              field_selector: str | None = None) -> "WatchStream":
        """Open a watch from ``resource_version`` with bookmarks; the server ends it
        after ``timeout_seconds``, the client gives up after ``read_timeout`` of silence."""
        query = {
            "watch": "1", "resourceVersion": resource_version, "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds), "labelSelector": label_selector,
            "fieldSelector": field_selector,
        }
        read = read_timeout or timeout_seconds + 15
        response = self._send("GET", rtype.path(), query, None, "", (self.timeout, read))
        if response.status >= 300:
            data = response.response.data
            response.response.release_conn()
            raise status_error(self.cluster, "WATCH", rtype.path(), response.status, data)
        return WatchStream(self.cluster, response.response)


_USER_AGENT = f"mesh-federation/{__version__}"
_NOT_IN_PATH = re.compile(r"[\x00-\x20\x7f]")  # what would end or split the request line

# The pushers' requests (applies and deletes) go over the lean writer when the kubeconfig allows
# (plain TLS, no proxy). Reads stay on the official client: they come from the reflectors' many
# threads, and a kept-alive connection per reflector thread would be one idle connection each.
_WRITER_METHODS = frozenset({"PATCH", "DELETE"})


class _Writer:
    """Writes over one kept-alive connection per thread (``kube.wire``): a fraction of
    the official client's per-call machinery. Same TLS material and credentials."""

    def __init__(self, cluster: str, config: kclient.Configuration, host: str, port: int,
                 static: bool = False):
        self._cluster, self._config, self._host, self._port = cluster, config, host, port
        # A token written in the kubeconfig never changes: read once, not through the
        # client's refresh hook on every write (which re-applies the whole kubeconfig).
        self._static = static
        self._authorization = self._read_authorization() if static else None
        try:
            self._context = ssl.create_default_context(cafile=config.ssl_ca_cert)
            if config.cert_file:
                self._context.load_cert_chain(config.cert_file, config.key_file)
        except (ssl.SSLError, OSError) as exc:
            raise errors.ConfigError(f"kubeconfig of cluster {cluster!r}: its certificate data cannot be "
                                     f"loaded ({exc.__class__.__name__}: {getattr(exc, 'reason', '') or exc})"
                                     ) from exc
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[Connection] = []

    @classmethod
    def of(cls, cluster: str, config: kclient.Configuration, static: bool = False) -> "_Writer | None":
        """None where the official client must do it (proxies, TLS options beyond the plain)."""
        url = urlsplit(config.host)
        if url.scheme != "https" or config.proxy or not config.verify_ssl or config.tls_server_name \
                or config.assert_hostname is not None or not config.ssl_ca_cert or url.path.strip("/"):
            return None
        return cls(cluster, config, url.hostname or "", url.port or 443, static)

    def _read_authorization(self) -> str | None:
        auth = self._config.auth_settings().get("BearerToken")
        return auth["value"] if auth and auth.get("value") else None

    def _connection(self) -> Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = Connection(self._host, self._port, self._context)
            self._local.conn = conn
            with self._lock:
                self._open.append(conn)
        return conn

    def send(self, method: str, path: str, query: dict, body: bytes | None, content_type: str,
             timeout: float) -> tuple[int, bytes]:
        [answer] = self.send_many([(method, path, query, body, content_type)], timeout)
        if isinstance(answer, errors.FederationError):
            raise answer
        return answer

    def send_many(self, requests: list[tuple[str, str, dict, bytes | None, str]],
                  timeout: float) -> list["tuple[int, bytes] | errors.FederationError"]:
        """Each request's (status, body), pipelined over this thread's connection, or the
        error that kept it from an answer: a path that is not one, or the connection failing
        (then every request after it gets that error too)."""
        authorization = self._authorization if self._static else self._read_authorization()
        out: list = [None] * len(requests)
        prepared, at = [], []
        for i, (method, path, query, body, content_type) in enumerate(requests):
            headers = {"Accept": "application/json", "User-Agent": _USER_AGENT}
            if body is not None:
                headers["Content-Type"] = content_type
            if authorization:
                headers["Authorization"] = authorization
            params = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in query.items() if v is not None)
            target = f"{path}?{params}" if params else path
            if not target.isascii() or _NOT_IN_PATH.search(target):
                out[i] = errors.ValidationError(
                    f"cluster {self._cluster!r}: request path {target[:80]!r} is not a URL path")
                continue
            prepared.append((method, target, headers, body))
            at.append(i)
        if not prepared:
            return out
        answers, failure = self._exchange(prepared, timeout)
        for i, answer in zip(at, answers):
            out[i] = answer
        for i in at[len(answers):]:
            out[i] = failure
        return out

    def _exchange(self, prepared: list, timeout: float) -> tuple[list, errors.FederationError | None]:
        conn = self._connection()
        for attempt in (1, 2):  # a kept-alive connection the server closed meanwhile: once more
            reused = conn.open
            try:
                answers, failure = conn.exchange_many(prepared, timeout)
            except WireError as exc:
                if reused and attempt == 1 and not exc.sent:
                    continue
                return [], self._failed(exc)
            except OSError as exc:  # connecting: refused, timed out, TLS handshake
                conn.close()
                return [], self._unreachable(exc)
            return answers, None if failure is None else self._failed(failure)
        raise AssertionError("unreachable")  # the loop returns

    def _failed(self, exc: WireError) -> errors.FederationError:
        if isinstance(exc.cause, ValueError):  # an answer that is not the HTTP asked for
            return errors.ClusterUnreachable(f"cluster {self._cluster!r} at {self._config.host}: {exc}")
        return self._unreachable(exc.cause or exc)

    def _unreachable(self, exc: BaseException) -> errors.FederationError:
        if _verify_failed(exc):
            return errors.ClusterUnreachable(
                f"cluster {self._cluster!r} at {self._config.host}: certificate verify failed: the "
                "kubeconfig's certificate-authority-data does not verify the API server")
        return errors.ClusterUnreachable(
            f"cluster {self._cluster!r} at {self._config.host} unreachable: {exc.__class__.__name__}")

    def close(self) -> None:
        with self._lock:
            conns, self._open = self._open, []
        for conn in conns:
            conn.close()


def _verify_failed(exc: BaseException) -> bool:
    """Whether the TLS handshake failed on the server's certificate (urllib3 wraps
    the ssl error, sometimes twice)."""
    seen = 0
    while exc is not None and seen < 8:
        text = str(exc.reason) if isinstance(exc, ApiException) else str(exc)
        if isinstance(exc, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in text:
            return True
        reason = getattr(exc, "reason", None)
        exc = (reason if isinstance(reason, BaseException) else None) or exc.__cause__ or exc.__context__
        seen += 1
    return False


class WatchStream:
    """Newline-delimited JSON watch events as dicts; ``close()`` ends it."""

    def __init__(self, cluster: str, response):
        self._cluster = cluster
        self._response = response

    def close(self) -> None:
        # Shut the socket down for reading first: that wakes a reader blocked in
        # another thread, whereas close() alone waits for its read timeout.
        try:
            self._response.shutdown()
        except (AttributeError, ValueError, RuntimeError, OSError):
            pass  # already released or closed, or urllib3 < 2.3
        try:
            self._response.close()
        except Exception:  # noqa: BLE001 - closing a dead socket may fail in many ways
            pass

    def __iter__(self) -> Iterator[dict]:
        return self.events()

    def events(self, known: Callable[[bytes], bool] | None = None) -> Iterator[dict]:
        """The stream's events; a line ``known(line)`` claims is neither parsed nor
        yielded (the reflector's shortcut for the echoes of the hub's own writes)."""
        raw = _chunked_body(self._response)
        try:
            for line in _lines(_read_chunked(raw) if raw is not None
                               else self._response.stream(amt=None, decode_content=False)):
                if line.strip() and (known is None or not known(line)):
                    yield json.loads(line)
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise errors.ClusterUnreachable(
                f"cluster {self._cluster!r}: watch stream broken: {exc.__class__.__name__}"
            ) from exc
        finally:
            self.close()


def _chunked_body(response):
    """The socket reader under a chunked watch response none of whose body has been
    read yet (``kube.chunked`` reads it in bulk); None otherwise: urllib3 reads it."""
    inner = getattr(response, "_fp", None)
    if (not isinstance(inner, http.client.HTTPResponse) or not inner.chunked or inner.chunk_left is not None
            or inner.fp is None or response.headers.get("Content-Encoding")):
        return None
    return inner.fp


def _lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The complete lines of a stream of chunks. While it waits for the next chunk it
    holds only the unfinished line: a watch is idle most of its life, and the hub
    keeps hundreds of them open."""
    rest = b""
    for chunk in chunks:
        lines = (rest + chunk).split(b"\n") if rest else chunk.split(b"\n")
        del chunk
        rest = lines.pop()
        lines.reverse()
        while lines:
            yield lines.pop()


def _read_chunked(raw) -> Iterator[bytes]:
    """The payload of a chunked body, as each socket read completes it; nothing of a
    read is held while waiting for the next."""
    dechunker = Dechunker()
    while not dechunker.done:
        data = raw.read1(_READ_SIZE)
        if not data:
            raise urllib3.exceptions.ProtocolError("connection closed in the middle of the watch")
        payload = dechunker.feed(data)
        del data
        if payload:
            yield payload
            del payload


_READ_SIZE = 64 * 1024
