"""A TCP passthrough on loopback: the east-west gateway's route to istiod's 15012.

In a mesh the hub reaches a member's istiod through that member's east-west
gateway, which passes TLS on port 15012 through to istiod untouched. Here the
passthrough's address exists before istiod does (it is registered with the hub
first), and ``point_at`` aims it at istiod's TLS listener once istiod runs.
Connections carry one TLS handshake or a short gRPC call, so a pair of pump
threads per connection is enough; every socket has a timeout and ``close``
waits for the threads.
"""

from __future__ import annotations

import socket
import threading

from peers.errors import PeerError

IDLE_TIMEOUT = 30.0  # a quiet connection is closed after this
_JOIN_TIMEOUT = 5.0


class Passthrough:
    """``address`` (HOST:PORT) forwards to ``point_at(target)``; refuses until then."""

    def __init__(self, host: str = "127.0.0.1"):
        self._listener = socket.create_server((host, 0))
        self._listener.settimeout(0.2)
        self.address = f"{host}:{self._listener.getsockname()[1]}"
        self._target: tuple[str, int] | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.connections = 0
        self._accepting = threading.Thread(target=self._accept, name=f"passthrough {self.address}", daemon=True)
        self._accepting.start()

    def point_at(self, target: str) -> None:
        host, _, port = target.rpartition(":")
        if not host or not port.isdigit():
            raise PeerError(f"passthrough target {target!r} is not HOST:PORT")
        self._target = (host, int(port))

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            target = self._target
            if target is None:
                client.close()  # nothing behind the gateway yet: refused, as a dead upstream would be
                continue
            try:
                upstream = socket.create_connection(target, timeout=5.0)
            except OSError:
                client.close()
                continue
            with self._lock:
                self.connections += 1
                self._threads = [t for t in self._threads if t.is_alive()]
                for src, dst in ((client, upstream), (upstream, client)):
                    thread = threading.Thread(target=self._pump, args=(src, dst), daemon=True)
                    self._threads.append(thread)
                    thread.start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        src.settimeout(IDLE_TIMEOUT)
        try:
            while not self._stop.is_set():
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):  # one side done: the connection is done
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._accepting.join(_JOIN_TIMEOUT)
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(_JOIN_TIMEOUT)
        if self._accepting.is_alive() or any(t.is_alive() for t in threads):
            raise PeerError(f"passthrough {self.address} did not stop")

    def __enter__(self) -> "Passthrough":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
