"""Reading a request's head (request line and header fields) for the simulated API server.

``http.server`` hands every header block to the ``email`` package's parser, which
costs more than the rest of a small request's handling. An API request's head is
a request line and ``Name: value`` lines; this reads them into a case-insensitive
mapping, refusing what kube-apiserver's Go server refuses (a malformed request line,
a field without a colon, too many or too long fields) with the status it answers.
"""

from __future__ import annotations

from typing import BinaryIO

MAX_LINE = 65536
MAX_FIELDS = 100
_VERSIONS = ("HTTP/1.0", "HTTP/1.1")


class Headers(dict):
    """Header fields by lower-cased name; a repeated field's values joined by ", "."""

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return dict.get(self, name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return dict.__getitem__(self, name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and dict.__contains__(self, name.lower())


class HeadError(Exception):
    """A request head the server refuses: the HTTP status and what is wrong."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def request_line(raw: bytes) -> tuple[str, str, str]:
    """Method, target and version of a request line (without its line end)."""
    words = raw.decode("iso-8859-1").rstrip("\r\n").split()
    if len(words) != 3 or not words[2].startswith("HTTP/"):
        raise HeadError(400, f"malformed request line {' '.join(words)[:80]!r}")
    method, target, version = words
    if version not in _VERSIONS:
        raise HeadError(505, f"HTTP version {version[:20]!r} is not supported")
    return method, target, version


def read_fields(rfile: BinaryIO) -> Headers:
    """The header fields up to the blank line that ends them."""
    headers = Headers()
    for _ in range(MAX_FIELDS + 1):
        line = rfile.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise HeadError(431, "a header field is too long")
        if line in (b"\r\n", b"\n", b""):
            return headers
        name, colon, value = line.decode("iso-8859-1").partition(":")
        name = name.strip().lower()
        if not colon or not name or " " in name or "\t" in name:
            raise HeadError(400, f"malformed header field {line[:40]!r}")
        value, before = value.strip(), dict.get(headers, name)
        headers[name] = value if before is None else f"{before}, {value}"
    raise HeadError(431, f"more than {MAX_FIELDS} header fields")


def keeps_alive(version: str, headers: Headers) -> bool:
    """Whether the connection stays open after the answer (HTTP/1.1 unless told otherwise)."""
    tokens = {token.strip().lower() for token in (headers.get("connection") or "").split(",")}
    if "close" in tokens:
        return False
    return version == "HTTP/1.1" or "keep-alive" in tokens
