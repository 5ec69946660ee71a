"""How errors cross the wire: a federation error becomes a gRPC status code on the
server and the matching federation error again on the client."""

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
}


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
