"""How errors cross the wire: a federation error becomes a gRPC status code on the
server and the matching federation error again on the client.

``client_error`` is the one translation of a failed call on the client side (the
admin CLI's clients and the VM agent alike). Transient are the codes a retry may
fix: UNAVAILABLE, DEADLINE_EXCEEDED, and CANCELLED and UNKNOWN, which is how gRPC
reports a connection lost mid-call (the hub's servers answer every error of their
own with a mapped code, INTERNAL at worst).
"""

from __future__ import annotations

import grpc

from federation import errors

# Looked up along the exception's MRO, so the most specific class wins
# (PermissionDenied before AuthError, StoreUnavailable via Transient).
_CODE_BY_ERROR: dict[type[BaseException], grpc.StatusCode] = {
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.AuthError: grpc.StatusCode.UNAUTHENTICATED,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.ValidationError: grpc.StatusCode.INVALID_ARGUMENT,
    errors.ConfigError: grpc.StatusCode.INVALID_ARGUMENT,
    errors.Conflict: grpc.StatusCode.ABORTED,
    errors.LimitExceeded: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Transient: grpc.StatusCode.UNAVAILABLE,
    errors.FederationError: grpc.StatusCode.INTERNAL,
}

_ERROR_BY_CODE: dict[grpc.StatusCode, type[errors.FederationError]] = {
    grpc.StatusCode.UNAUTHENTICATED: errors.AuthError,
    grpc.StatusCode.PERMISSION_DENIED: errors.PermissionDenied,
    grpc.StatusCode.NOT_FOUND: errors.NotFound,
    grpc.StatusCode.ALREADY_EXISTS: errors.AlreadyExists,
    grpc.StatusCode.INVALID_ARGUMENT: errors.ValidationError,
    grpc.StatusCode.ABORTED: errors.Conflict,
    grpc.StatusCode.FAILED_PRECONDITION: errors.Conflict,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.LimitExceeded,
    grpc.StatusCode.UNAVAILABLE: errors.Transient,
    grpc.StatusCode.DEADLINE_EXCEEDED: errors.Transient,
    grpc.StatusCode.CANCELLED: errors.Transient,
    grpc.StatusCode.UNKNOWN: errors.Transient,
}
TRANSIENT_CODES = frozenset(code for code, error in _ERROR_BY_CODE.items() if error is errors.Transient)
_TLS_WORDS = ("handshake", "certificate", "ssl")


def status_for(exc: errors.FederationError) -> tuple[grpc.StatusCode, str]:
    """The status code and message a federation error is answered with."""
    code = next(
        (_CODE_BY_ERROR[cls] for cls in type(exc).__mro__ if cls in _CODE_BY_ERROR),
        grpc.StatusCode.INTERNAL,
    )
    return code, str(exc) or type(exc).__name__


def error_for(code: grpc.StatusCode, details: str) -> errors.FederationError:
    """The federation error for a failed call's status (FederationError when unmapped)."""
    return _ERROR_BY_CODE.get(code, errors.FederationError)(details)


def client_error(exc: grpc.RpcError, method: str, address: str,
                 timeout: float | None = None) -> errors.FederationError:
    """The federation error for a call to the hub at ``address`` that failed with ``exc``."""
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = (exc.details() if hasattr(exc, "details") else "") or ""
    if code == grpc.StatusCode.UNAVAILABLE:
        hint = ""
        if any(word in details.lower() for word in _TLS_WORDS):
            hint = " (TLS handshake failed: check the CA file and the names in the hub's certificate)"
        return errors.Transient(f"hub at {address} is unavailable{hint}: {details}")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        within = f" within {timeout:g}s" if timeout else ""
        return errors.Transient(f"hub at {address} did not answer {method}{within}")
    if code in TRANSIENT_CODES:
        return errors.Transient(f"hub at {address}: {method} {code.name}: {details}")
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return errors.FederationError(f"hub at {address} does not implement {method}: {details}")
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return errors.AuthError(f"hub at {address} refused the credentials: {details}")
    error = error_for(code, details)
    if type(error) is errors.FederationError:
        return errors.FederationError(f"{method} failed ({code.name}): {details}")
    return error
