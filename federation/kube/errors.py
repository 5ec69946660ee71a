"""The one map from a Kubernetes API server's answer to the project's exception tree.

``error_type`` says which ``federation.errors`` class a status code becomes;
``status_error`` (an answer's status and body) and ``api_error`` (the official
client's ``ApiException``) build the error, which keeps the HTTP status as
``status`` (0: no answer). No message quotes a credential.
"""

from __future__ import annotations

import json

from kubernetes.client.exceptions import ApiException

from federation import errors


def error_type(status: int) -> type[errors.FederationError]:
    """The error class for an API server's HTTP status (0: no answer at all)."""
    if status == 404:
        return errors.NotFound
    if status == 409:
        return errors.Conflict
    if status == 410:
        return errors.ResourceExpired
    if status == 401:
        return errors.AuthError
    if status == 403:
        return errors.PermissionDenied
    if status in (400, 422):
        return errors.ValidationError
    if status == 0 or status == 429 or status >= 500:
        return errors.ClusterUnreachable
    return errors.ClusterError


def message_of(body: bytes | str | None) -> str:
    """The ``message`` of a Status body, else the body's start."""
    if not body:
        return ""
    try:
        message = json.loads(body).get("message", "")
    except (ValueError, AttributeError):
        text = body if isinstance(body, str) else body[:200].decode("utf-8", "replace")
        return text[:200]
    return message if isinstance(message, str) else ""


def status_error(cluster: str, method: str, path: str, code: int,
                 body: bytes | str | None) -> errors.FederationError:
    """Translate an API server's failure answer into the project's error tree."""
    text = f"cluster {cluster!r}: {method} {path}: {code} {message_of(body)}".rstrip()
    return _with_status(error_type(code)(text), code)


def api_status(exc: ApiException) -> int:
    return exc.status or 0


def api_error(exc: ApiException, message: str) -> errors.FederationError:
    """The official client's ``ApiException`` as the project's error, with ``message``."""
    status = api_status(exc)
    return _with_status(error_type(status)(message), status)


def _with_status(error: errors.FederationError, status: int) -> errors.FederationError:
    error.status = status
    return error
