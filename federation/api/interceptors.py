"""Per-service authentication and error translation around every gRPC handler.

Each service name maps to an ``Authenticator``; a service with no entry is
refused (fail closed), and ``PUBLIC`` lets anyone in (health checks, which
Kubernetes probes call without credentials). Failed authentications are
charged to the caller's address: after a burst of them the address is refused
(RESOURCE_EXHAUSTED) without its credentials being looked at, until its bucket
refills, so guessing admin tokens goes no faster than the refill rate.
Federation errors become status
codes (``codes.status_for``); anything else becomes INTERNAL "internal error"
with its traceback logged, so internals never reach a caller.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import grpc

from federation import errors
from federation.api.codes import status_for
from federation.api.limiting import FailureLimiter, peer_address

log = logging.getLogger(__name__)

Metadata = Sequence[tuple[str, str | bytes]]


@runtime_checkable
class Authenticator(Protocol):
    def authenticate(self, metadata: Metadata) -> str:
        """Returns the caller's name (for logs); raises ``AuthError`` to refuse."""


class _Public:
    def authenticate(self, metadata: Metadata) -> str:
        return "anonymous"

    def __repr__(self) -> str:
        return "PUBLIC"


PUBLIC: Authenticator = _Public()


class BearerTokens:
    """Accepts ``authorization: Bearer <token>`` for any of a set of tokens.

    Tokens come from an iterable or from a file (one per line, ``#`` comments),
    which is re-read when it changes so tokens can be rotated without a restart;
    an unreadable file then means no token is accepted. Tokens are kept only as
    SHA-256 digests and compared in constant time.
    """

    def __init__(self, tokens: Iterable[str] = (), token_file: str | os.PathLike | None = None,
                 principal: str = "admin"):
        self._file = Path(token_file) if token_file is not None else None
        self._principal = principal
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        if self._file is not None:
            try:
                self._stamp, self._digests = self._load_file()
            except OSError as exc:
                raise errors.ConfigError(f"cannot read token file {self._file}: {exc.strerror}") from exc
        else:
            self._digests = _digests(tokens)
        if not self._digests:
            raise errors.ConfigError(
                f"no admin tokens in {self._file}" if self._file else "no admin tokens given"
            )

    @classmethod
    def from_source(cls, source: Iterable[str] | str | os.PathLike) -> BearerTokens:
        """A token file path (``str`` or path) or an iterable of tokens."""
        if isinstance(source, (str, os.PathLike)):
            return cls(token_file=source)
        return cls(tokens=source)

    def __repr__(self) -> str:
        return f"BearerTokens(file={str(self._file) if self._file else None!r})"

    def authenticate(self, metadata: Metadata) -> str:
        header = _header(metadata, "authorization")
        if header is None:
            raise errors.AuthError("missing credentials: send 'authorization: Bearer <token>' metadata")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise errors.AuthError("the authorization metadata must be 'Bearer <token>'")
        given = hashlib.sha256(token.strip().encode()).digest()
        matched = False
        for digest in self._current():
            matched |= hmac.compare_digest(digest, given)  # no early exit: constant time
        if not matched:
            raise errors.AuthError("invalid bearer token")
        return self._principal

    def _current(self) -> frozenset[bytes]:
        if self._file is None:
            return self._digests
        with self._lock:
            try:
                st = os.stat(self._file)
                if (st.st_mtime_ns, st.st_size) != self._stamp:
                    self._stamp, self._digests = self._load_file()
                    log.info("admin tokens reloaded", extra={"fields": {"file": str(self._file)}})
            except OSError as exc:
                if self._digests:
                    log.warning("token file unreadable; refusing every token",
                                extra={"fields": {"file": str(self._file), "reason": exc.strerror}})
                self._stamp, self._digests = None, frozenset()
            return self._digests

    def _load_file(self) -> tuple[tuple[int, int], frozenset[bytes]]:
        assert self._file is not None
        st = os.stat(self._file)
        lines = self._file.read_text(encoding="utf-8").splitlines()
        tokens = (line.strip() for line in lines if not line.lstrip().startswith("#"))
        return (st.st_mtime_ns, st.st_size), _digests(tokens)


class ServingInterceptor(grpc.ServerInterceptor):
    """Authenticates by service (``policies``: full service name → Authenticator)
    and translates errors, for unary and streaming handlers alike."""

    def __init__(self, policies: Mapping[str, Authenticator],
                 failures: FailureLimiter | None = None, tracer=None):
        self._policies = policies
        self._failures = failures  # None: no limit (only public services behind it)
        self._tracer = tracer  # OpenTelemetry tracer: a span per call

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:
            return None  # unknown method: grpc answers UNIMPLEMENTED
        method = handler_call_details.method
        service = method.lstrip("/").rpartition("/")[0]
        around = functools.partial(self._serve, method, self._policies.get(service))
        return _wrap_handler(handler, around, method)

    def _serve(self, method: str, authenticator: Authenticator | None,
               behavior: Callable, request, context: grpc.ServicerContext, *args, **kwargs):
        started = time.monotonic()
        fields = {"method": method}
        span = (self._tracer.start_as_current_span(f"rpc {method}", attributes={"rpc.method": method})
                if self._tracer is not None else contextlib.nullcontext())
        with span:
            try:
                if authenticator is None:
                    raise errors.PermissionDenied(f"no access policy for {method}")
                fields["caller"] = self._authenticate(authenticator, context)
                result = behavior(request, context, *args, **kwargs)
            except BaseException as exc:
                _abort(context, exc, fields)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("rpc", extra={"fields": {**fields, "ms": round((time.monotonic() - started) * 1e3, 1)}})
        return result


    def _authenticate(self, authenticator: Authenticator, context) -> str:
        if self._failures is None or authenticator is PUBLIC:
            return authenticator.authenticate(context.invocation_metadata())
        peer = peer_address(context.peer())
        self._failures.check(peer)
        try:
            return authenticator.authenticate(context.invocation_metadata())
        except errors.PermissionDenied:
            raise  # authenticated: not a guess
        except errors.AuthError:
            self._failures.failed(peer)
            raise


def _wrap_handler(handler: grpc.RpcMethodHandler, around: Callable, method: str) -> grpc.RpcMethodHandler:
    """The same handler with each behavior run through ``around``; streamed
    responses are guarded too, since their errors surface while iterating."""
    if handler.unary_unary:
        behavior, factory, streams = handler.unary_unary, grpc.unary_unary_rpc_method_handler, False
    elif handler.unary_stream:
        behavior, factory, streams = handler.unary_stream, grpc.unary_stream_rpc_method_handler, True
    elif handler.stream_unary:
        behavior, factory, streams = handler.stream_unary, grpc.stream_unary_rpc_method_handler, False
    else:
        behavior, factory, streams = handler.stream_stream, grpc.stream_stream_rpc_method_handler, True

    def wrapped(request, context, *args, **kwargs):  # non-blocking handlers get a callback too
        result = around(behavior, request, context, *args, **kwargs)
        return _guarded(result, context, method) if streams and result is not None else result

    functools.update_wrapper(wrapped, behavior)  # keeps grpc's experimental_* attributes
    return factory(wrapped, request_deserializer=handler.request_deserializer,
                   response_serializer=handler.response_serializer)


def _guarded(responses, context, method: str):
    try:
        yield from responses
    except BaseException as exc:
        _abort(context, exc, {"method": method})


def _abort(context: grpc.ServicerContext, exc: BaseException, fields: dict) -> None:
    """Ends the call with the status ``exc`` maps to; always raises."""
    if isinstance(exc, errors.FederationError):
        code, message = status_for(exc)
        level = logging.WARNING if isinstance(exc, errors.AuthError) else logging.INFO
        log.log(level, "rpc refused", extra={"fields": {
            **fields, "code": code.name, "error": type(exc).__name__, "reason": message,
            "peer": context.peer()}})
        context.abort(code, message)
    if not isinstance(exc, Exception) or context.code() is not None:
        raise exc  # the servicer already set a status, or the call is being torn down
    log.error("rpc failed", exc_info=exc, extra={"fields": fields})
    context.abort(grpc.StatusCode.INTERNAL, "internal error")


def _header(metadata: Metadata, key: str) -> str | None:
    for name, value in metadata or ():
        if name.lower() == key:
            return value.decode("latin-1") if isinstance(value, bytes) else value
    return None


def _digests(tokens: Iterable[str]) -> frozenset[bytes]:
    return frozenset(hashlib.sha256(t.strip().encode()).digest() for t in tokens if t and t.strip())
