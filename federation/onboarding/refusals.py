"""Refusals: errors of the one tree, tagged with a short reason for metrics and logs.

A refused enrollment or heartbeat is an ordinary ``AuthError``,
``PermissionDenied``, ``ValidationError``… carrying ``reason`` (e.g.
``token_used``), the value of the ``reason`` attribute of the
``federation_refusals`` counter. Messages never contain a token or a key.
"""

from __future__ import annotations

from federation import errors


def refusal(error: type[errors.FederationError], message: str, reason: str) -> errors.FederationError:
    exc = error(message)
    exc.reason = reason  # read by reason_of()
    return exc


def reason_of(exc: BaseException, default: str = "other") -> str:
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and reason:
        return reason
    if isinstance(exc, errors.CSRRejected):
        return "csr_rejected"
    if isinstance(exc, errors.PermissionDenied):
        return "permission_denied"
    if isinstance(exc, errors.AuthError):
        return "unauthenticated"
    if isinstance(exc, errors.LimitExceeded):
        return "rate_limited"
    if isinstance(exc, errors.ValidationError):
        return "invalid_request"
    return default
