"""Building the hub's gRPC servers: the one place a ``grpc.server`` is made.

Every server runs its handlers on a bounded thread pool (one pool may serve the
several servers of one API), refuses requests above ``max_message_bytes`` in
gRPC itself before any handler runs, never shares a port (a taken port is an
error, not a second listener) and runs every call through one interceptor.
``bind`` turns a port that cannot be listened on into ``ConfigError``;
``shut_down`` stops servers and their pool within a bound.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import grpc

from federation.errors import ConfigError


def thread_pool(max_workers: int, name: str) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=name)


def build_server(executor: ThreadPoolExecutor, interceptor: grpc.ServerInterceptor, *,
                 max_message_bytes: int | None = None, max_metadata_bytes: int | None = None,
                 max_concurrent_rpcs: int | None = None) -> grpc.Server:
    """A server (not started, no port yet); beyond ``max_concurrent_rpcs`` calls in
    flight gRPC answers RESOURCE_EXHAUSTED at once."""
    options: list[tuple[str, int]] = [("grpc.so_reuseport", 0)]
    if max_message_bytes is not None:
        options.append(("grpc.max_receive_message_length", max_message_bytes))
    if max_metadata_bytes is not None:
        options.append(("grpc.max_metadata_size", max_metadata_bytes))
    return grpc.server(executor, interceptors=[interceptor], options=options,
                       maximum_concurrent_rpcs=max_concurrent_rpcs)


def bind(server: grpc.Server, address: str, credentials: grpc.ServerCredentials | None) -> int:
    """Listen on ``address`` (TLS with ``credentials``, plaintext with None); the bound port."""
    try:
        port = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
    except RuntimeError as exc:
        raise ConfigError(f"cannot listen on {address}: {exc}") from exc
    if not port:
        raise ConfigError(f"cannot listen on {address}")
    return port


def abandon(servers: Iterable[grpc.Server | None], executor: ThreadPoolExecutor) -> None:
    """Let go of servers that never started (a port could not be bound)."""
    for server in servers:
        if server is not None:
            server.stop(None)
    executor.shutdown(wait=False)


def shut_down(servers: Iterable[grpc.Server | None], executor: ThreadPoolExecutor | None,
              grace: float) -> None:
    """Refuse new calls, give running ones ``grace`` seconds, then cancel them; the
    pool's threads are joined (handlers' own calls are bounded by their timeouts)."""
    events = [server.stop(grace) for server in servers if server is not None]
    for event in events:
        event.wait(grace + 5)
    if executor is not None:
        executor.shutdown(wait=True, cancel_futures=True)
