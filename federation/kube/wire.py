"""One kept-alive HTTPS connection speaking the HTTP/1.1 the pushers' writes need.

``http.client`` builds each request header by header and parses every answer's
headers with the ``email`` package: about a third of the CPU a write costs the
hub. A write needs far less: one request written in one go, then a status line,
a few headers and a body of known length or in chunks. ``Connection`` does just
that and refuses what it does not understand (``WireError``), so a surprise
never turns into a misread answer. No request is ever sent twice here: the
caller decides whether a failed one may be (``WireError.sent``).
"""

from __future__ import annotations

import socket
import ssl

from federation.kube.chunked import Dechunker

MAX_HEAD = 64 * 1024  # status line and headers
MAX_BODY = 64 * 1024 * 1024
_READ = 64 * 1024


class WireError(Exception):
    """The exchange failed; ``sent`` tells whether the request may have reached the server."""

    def __init__(self, message: str, sent: bool, cause: BaseException | None = None):
        super().__init__(message)
        self.sent = sent
        self.cause = cause


class Connection:
    """Requests over one TLS connection, one at a time or pipelined, opened on first
    use and kept while the server keeps it. Not thread-safe: one per thread."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext):
        self._host, self._port, self._context = host, port, context
        self._host_header = host if port == 443 else f"{host}:{port}"
        self._sock: ssl.SSLSocket | None = None
        self._buffer = b""

    @property
    def open(self) -> bool:
        return self._sock is not None

    @property
    def sock(self) -> ssl.SSLSocket | None:
        """The TLS socket while open (as ``http.client``'s connections have it)."""
        return self._sock

    def close(self) -> None:
        sock, self._sock, self._buffer = self._sock, None, b""
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def exchange(self, method: str, target: str, headers: dict[str, str], body: bytes | None,
                 timeout: float) -> tuple[int, bytes]:
        """Send one request and read its answer: (status, body)."""
        answers, failure = self.exchange_many([(method, target, headers, body)], timeout)
        if failure is not None:
            raise failure
        return answers[0]

    def exchange_many(self, requests: list[tuple[str, str, dict[str, str], bytes | None]],
                      timeout: float) -> tuple[list[tuple[int, bytes]], WireError | None]:
        """Send requests back to back in one write, then read their answers in order
        (HTTP/1.1 pipelining: the server answers them one after the other).

        Returns the answers read and, when fewer than asked, why the rest have none:
        a ``WireError`` (``sent`` tells whether any of them may have been handled).
        Nothing answered at all raises that ``WireError`` instead.
        """
        if self._sock is None:
            self._connect(timeout)
        sock = self._sock
        if sock is None:
            raise WireError("connection closed", sent=False)
        sock.settimeout(timeout)
        try:
            sock.sendall(b"".join(self._request(*request) for request in requests))
        except OSError as exc:
            self.close()
            raise WireError(f"sending failed: {exc.__class__.__name__}", sent=False, cause=exc) from exc
        answers: list[tuple[int, bytes]] = []
        for method, _, _, _ in requests:
            try:
                status, close, data = self._answer(method)
            except (OSError, ValueError) as exc:
                self.close()
                nothing = isinstance(exc, _NothingBack) and not answers
                failure = WireError(str(exc) if isinstance(exc, ValueError) else
                                    f"reading the answer failed: {exc.__class__.__name__}",
                                    sent=not nothing, cause=exc)
                if not answers:
                    raise failure from exc
                return answers, failure
            answers.append((status, data))
            if close:
                self.close()
                if len(answers) < len(requests):
                    return answers, WireError(f"the server closed the connection after {len(answers)} of "
                                              f"{len(requests)} answers", sent=True)
        return answers, None

    def _request(self, method: str, target: str, headers: dict[str, str], body: bytes | None) -> bytes:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self._host_header}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines.append(f"Content-Length: {len(body) if body is not None else 0}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")

    def _connect(self, timeout: float) -> None:
        raw = socket.create_connection((self._host, self._port), timeout=timeout)
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock = self._context.wrap_socket(raw, server_hostname=self._host)
        except BaseException:
            raw.close()
            raise
        self._buffer = b""

    # -- reading ------------------------------------------------------------
    def _answer(self, method: str) -> tuple[int, bool, bytes]:
        head = self._head()
        status_line, _, rest = head.partition(b"\r\n")
        version, _, status_text = status_line.partition(b" ")
        if version not in (b"HTTP/1.1", b"HTTP/1.0") or not status_text[:3].isdigit():
            raise ValueError(f"not an HTTP/1.1 status line: {status_line[:40]!r}")
        status = int(status_text[:3])
        fields: dict[bytes, bytes] = {}
        for line in rest.split(b"\r\n") if rest else ():
            name, sep, value = line.partition(b":")
            if not sep or not name or name != name.strip():
                raise ValueError(f"malformed header line {line[:40]!r}")
            key = name.lower()
            fields[key] = fields[key] + b", " + value.strip() if key in fields else value.strip()
        close = (version == b"HTTP/1.0" and fields.get(b"connection", b"").lower() != b"keep-alive") \
            or b"close" in fields.get(b"connection", b"").lower()
        if 100 <= status < 200:
            raise ValueError(f"unexpected interim answer {status}")
        if method == "HEAD" or status in (204, 304):
            return status, close, b""
        encoding = fields.get(b"transfer-encoding", b"").lower()
        if encoding:
            if encoding != b"chunked":
                raise ValueError(f"unsupported transfer encoding {encoding[:40]!r}")
            return status, close, self._chunked()
        length = fields.get(b"content-length")
        if length is None:
            return status, True, self._until_closed()
        if not length.isdigit() or int(length) > MAX_BODY:
            raise ValueError(f"bad content length {length[:20]!r}")
        return status, close, self._exactly(int(length))

    def _fill(self) -> bool:
        sock = self._sock
        if sock is None:
            raise ConnectionAbortedError("connection closed")
        data = sock.recv(_READ)
        if not data:
            return False
        self._buffer += data
        return True

    def _head(self) -> bytes:
        first = True
        while True:
            end = self._buffer.find(b"\r\n\r\n", 0, MAX_HEAD + 4)
            if end >= 0:
                head, self._buffer = self._buffer[:end], self._buffer[end + 4:]
                return head
            if len(self._buffer) >= MAX_HEAD + 4:
                raise ValueError("answer headers too long")
            if not self._fill():
                if first and not self._buffer:
                    raise _NothingBack("the server closed the connection without answering")
                raise ValueError("connection closed in the middle of the answer")
            first = False

    def _exactly(self, length: int) -> bytes:
        while len(self._buffer) < length:
            if not self._fill():
                raise ValueError("connection closed in the middle of the answer")
        data, self._buffer = self._buffer[:length], self._buffer[length:]
        return data

    def _chunked(self) -> bytes:
        dechunker, out, size = Dechunker(), [], 0
        while True:
            payload = dechunker.feed(self._buffer)
            self._buffer = b""
            out.append(payload)
            size += len(payload)
            if size > MAX_BODY:
                raise ValueError("answer body too large")
            if dechunker.done:
                self._buffer = dechunker.rest()
                return b"".join(out)
            if not self._fill():
                raise ValueError("connection closed in the middle of the answer")

    def _until_closed(self) -> bytes:
        while self._fill():
            if len(self._buffer) > MAX_BODY:
                raise ValueError("answer body too large")
        data, self._buffer = self._buffer, b""
        return data


class _NothingBack(OSError):
    """Closed before a byte of the answer: a kept-alive connection the server had dropped."""
