"""Issuing the hub's credentials for a member cluster.

``make_member_kubeconfig`` uses the operator's own kubeconfig to obtain a token
for the least-privilege service account that ``deploy/member`` creates, and
returns a self-contained kubeconfig (server, CA data, token) that
``federation cluster add`` accepts. The token comes from the TokenRequest API
(bounded lifetime); API servers without it get a long-lived
``kubernetes.io/service-account-token`` Secret instead.

Every client error leaves here as a ``federation.errors`` type, its class from
``federation.kube.errors`` (the one map from an API status to the tree).
"""

from __future__ import annotations

import base64
import logging
import os
import time

import urllib3
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from kubernetes.config import kube_config
from kubernetes.config.config_exception import ConfigException

from federation.errors import (
    ClusterError,
    ClusterUnreachable,
    ConfigError,
    Conflict,
    FederationError,
    NotFound,
)
from federation.kube.errors import api_error, api_status, message_of

log = logging.getLogger(__name__)

# (connect, read) seconds for every API call; an operator command should fail fast.
REQUEST_TIMEOUT = (5.0, 15.0)
# How long to wait for the token controller to fill a newly created token Secret.
SECRET_TOKEN_WAIT_SECONDS = 10.0
SECRET_TOKEN_POLL_SECONDS = 0.25

_APPLY_HINT = "create it with `kubectl apply -k deploy/member` in that cluster"
_TOKEN_SECRET_TYPE = "kubernetes.io/service-account-token"
_SA_NAME_ANNOTATION = "kubernetes.io/service-account.name"


def make_member_kubeconfig(
    context: str | None,
    kubeconfig_path: str | os.PathLike[str] | None = None,
    namespace: str = "istio-system",
    service_account: str = "mesh-federation-reader",
    duration_seconds: int = 86400,
) -> str:
    """Return a kubeconfig (YAML text) that authenticates as the hub's service account.

    ``context`` selects a context of the operator's kubeconfig (None: its current
    context); ``kubeconfig_path`` defaults to ``$KUBECONFIG`` or ``~/.kube/config``.

    Raises ConfigError (bad kubeconfig or unknown context), ClusterUnreachable,
    NotFound (the service account does not exist), AuthError/PermissionDenied
    (the operator's credentials are refused) or ClusterError.
    """
    if duration_seconds < 600:
        # The API server's floor for TokenRequest is ten minutes.
        raise ConfigError(f"duration_seconds must be at least 600, not {duration_seconds}")
    path = os.fspath(kubeconfig_path) if kubeconfig_path is not None else None
    configuration, context_name = _load_configuration(path, context)
    api_client = k8s.ApiClient(configuration=configuration)
    try:
        core = k8s.CoreV1Api(api_client)
        where = f"context {context_name!r} ({configuration.host})"
        _ensure_service_account(core, namespace, service_account, where)
        token = _request_token(core, namespace, service_account, duration_seconds, where)
        if token is None:
            token = _secret_token(core, namespace, service_account, where)
        ca_data = _ca_data(configuration)
    finally:
        api_client.close()
    log.info(
        "issued member-cluster credentials",
        extra={"fields": {"context": context_name, "namespace": namespace,
                          "service_account": service_account}},
    )
    return _render_kubeconfig(configuration, context_name, namespace, service_account, token, ca_data)


# --- loading the operator's kubeconfig -------------------------------------
def _load_configuration(path: str | None, context: str | None) -> tuple[k8s.Configuration, str]:
    if path is None:
        # Read at call time (the client's own default is fixed at import).
        path = os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    elif not os.path.exists(path):
        raise ConfigError(f"kubeconfig {path} does not exist")
    contexts, current = _contexts(path)
    names = sorted(str(n) for n in (_value(c).get("name") for c in contexts) if n)
    if context is None:
        if not current:
            raise ConfigError(f"kubeconfig {path} has no current-context; pass a context ({_names(names)})")
        context = str(current)
    if context not in names:
        raise ConfigError(f"context {context!r} is not in kubeconfig {path} ({_names(names)})")
    configuration = k8s.Configuration()
    try:
        kube_config.load_kube_config(
            config_file=path, context=context, client_configuration=configuration,
            persist_config=False,
        )
    except (ConfigException, yaml.YAMLError, OSError, TypeError, KeyError, ValueError) as exc:
        raise ConfigError(f"context {context!r} of kubeconfig {path} is unusable: {_describe(exc)}") from exc
    # One attempt per call: the operator sees an unreachable cluster at once.
    configuration.retries = 0
    return configuration, context


def _contexts(path: str) -> tuple[list, str | None]:
    """Contexts and current-context of the kubeconfig (``a:b`` lists are merged)."""
    try:
        merged = kube_config.KubeConfigMerger(path).config
    except (ConfigException, yaml.YAMLError, OSError, TypeError, AttributeError) as exc:
        raise ConfigError(f"cannot read kubeconfig {path}: {_describe(exc)}") from exc
    document = merged.value if merged is not None else None
    if not isinstance(document, dict):
        raise ConfigError(f"kubeconfig {path}: no configuration found")
    contexts = document.get("contexts") or []
    if not isinstance(contexts, list) or not all(isinstance(_value(c), dict) for c in contexts):
        raise ConfigError(f"kubeconfig {path}: contexts is not a list of mappings")
    return contexts, document.get("current-context")


def _value(node: object) -> object:
    """The plain value of an entry (the merger wraps list items in ConfigNode)."""
    return getattr(node, "value", node)


def _describe(exc: Exception) -> str:
    """Name a loading error without quoting the file (it may hold credentials)."""
    if isinstance(exc, yaml.YAMLError):
        mark = getattr(exc, "problem_mark", None)
        return f"not valid YAML (line {mark.line + 1})" if mark else "not valid YAML"
    if isinstance(exc, ConfigException | OSError):
        return str(exc)
    return f"malformed ({exc.__class__.__name__})"


def _names(names: list[str]) -> str:
    return "contexts: " + (", ".join(names) or "none")


# --- API calls ---------------------------------------------------------------
def _call(where: str, what: str, fn, *args, **kwargs):
    """Run one API call, translating transport and HTTP failures (see ``api_error``)."""
    try:
        return fn(*args, _request_timeout=REQUEST_TIMEOUT, **kwargs)
    except ApiException as exc:
        raise api_error(exc, _message(exc, where, what)) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise ClusterUnreachable(f"{where}: cannot reach the API server to {what}: {exc}") from exc


def _message(exc: ApiException, where: str, what: str) -> str:
    status = api_status(exc)
    if status == 401:
        return f"{where}: credentials refused while trying to {what}"
    if status == 403:
        return f"{where}: not allowed to {what}: {_reason(exc)}"
    if status == 0 or status >= 500:
        return f"{where}: API server failed to {what}: {_reason(exc)}"
    return f"{where}: {what}: {_reason(exc)}"


def _status(exc: FederationError) -> int:
    return getattr(exc, "status", 0)


def _reason(exc: ApiException) -> str:
    return message_of(exc.body) or f"HTTP {exc.status} {exc.reason}"


def _ensure_service_account(core: k8s.CoreV1Api, namespace: str, name: str, where: str) -> None:
    try:
        _call(where, f"read service account {namespace}/{name}",
              core.read_namespaced_service_account, name, namespace)
    except NotFound as exc:
        raise NotFound(f"{where}: service account {namespace}/{name} does not exist; {_APPLY_HINT}") from exc


def _request_token(core: k8s.CoreV1Api, namespace: str, name: str, seconds: int, where: str) -> str | None:
    """Return a bound token, or None when the API server has no TokenRequest."""
    # A plain body: the model class was renamed between client releases.
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"expirationSeconds": seconds}}
    try:
        answer = _call(where, f"request a token for {namespace}/{name}",
                       core.create_namespaced_service_account_token, name, namespace, body)
    except FederationError as exc:
        # 404 on the subresource (the account exists) or 405: TokenRequest is not served.
        if _status(exc) not in (404, 405):
            raise
        log.info("TokenRequest unsupported; using a token Secret",
                 extra={"fields": {"namespace": namespace, "service_account": name}})
        return None
    token = answer.status.token if answer and answer.status else None
    if not token:
        raise ClusterError(f"{where}: token request for {namespace}/{name} returned no token")
    return token


def _secret_token(core: k8s.CoreV1Api, namespace: str, name: str, where: str) -> str:
    """Find or create a service-account-token Secret and return its token."""
    secret_name = _find_token_secret(core, namespace, name, where)
    if secret_name is None:
        secret_name = f"{name}-token"
        body = k8s.V1Secret(
            metadata=k8s.V1ObjectMeta(
                name=secret_name,
                annotations={_SA_NAME_ANNOTATION: name},
                labels={"app.kubernetes.io/managed-by": "mesh-federation"},
            ),
            type=_TOKEN_SECRET_TYPE,
        )
        try:
            _call(where, f"create token Secret {namespace}/{secret_name}",
                  core.create_namespaced_secret, namespace, body)
        except Conflict:
            pass  # created meanwhile: use it
    # The token controller fills data.token asynchronously; wait a bounded time.
    deadline = time.monotonic() + SECRET_TOKEN_WAIT_SECONDS
    for _ in range(int(SECRET_TOKEN_WAIT_SECONDS / SECRET_TOKEN_POLL_SECONDS) + 1):
        secret = _call(where, f"read token Secret {namespace}/{secret_name}",
                       core.read_namespaced_secret, secret_name, namespace)
        encoded = (secret.data or {}).get("token")
        if encoded:
            return base64.b64decode(encoded).decode()
        if time.monotonic() >= deadline:
            break
        time.sleep(SECRET_TOKEN_POLL_SECONDS)
    raise ClusterError(f"{where}: token Secret {namespace}/{secret_name} was not filled within "
                       f"{SECRET_TOKEN_WAIT_SECONDS:.0f}s (is the token controller running?)")


def _find_token_secret(core: k8s.CoreV1Api, namespace: str, name: str, where: str) -> str | None:
    secrets = _call(where, f"list Secrets in {namespace}", core.list_namespaced_secret,
                    namespace, field_selector=f"type={_TOKEN_SECRET_TYPE}")
    for secret in sorted(secrets.items or [], key=lambda s: s.metadata.name):
        annotations = secret.metadata.annotations or {}
        if annotations.get(_SA_NAME_ANNOTATION) == name:
            return secret.metadata.name
    return None


# --- the resulting kubeconfig --------------------------------------------------
def _ca_data(configuration: k8s.Configuration) -> str | None:
    """Base64 CA bundle of the cluster (the loader keeps it in a file)."""
    if not configuration.ssl_ca_cert:
        return None
    try:
        with open(configuration.ssl_ca_cert, "rb") as handle:
            return base64.b64encode(handle.read()).decode()
    except OSError as exc:
        raise ConfigError(f"cannot read the cluster CA {configuration.ssl_ca_cert}: {exc}") from exc


def _render_kubeconfig(configuration: k8s.Configuration, context: str, namespace: str,
                       service_account: str, token: str, ca_data: str | None) -> str:
    cluster: dict[str, object] = {"server": configuration.host}
    if ca_data:
        cluster["certificate-authority-data"] = ca_data
    if not configuration.verify_ssl:
        cluster["insecure-skip-tls-verify"] = True  # carried over from the operator's kubeconfig
        log.warning("the context skips TLS verification: the hub refuses this kubeconfig unless "
                    "started with --allow-kubeconfig-option insecure-skip-tls-verify",
                    extra={"fields": {"context": context}})
    if getattr(configuration, "tls_server_name", None):
        cluster["tls-server-name"] = configuration.tls_server_name
    user = f"{service_account}@{context}"
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": context,
                      "context": {"cluster": context, "user": user, "namespace": namespace}}],
        "current-context": context,
        "preferences": {},
    }
    return yaml.safe_dump(document, sort_keys=False)
