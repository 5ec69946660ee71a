"""Reading a watch's chunked HTTP body in bulk.

A watch answers with one chunk per event. Going through urllib3 and
``http.client`` costs a readline and several calls per chunk, for every event of
every watch: the hub's owned-object watches see one event per write it makes.
``Dechunker`` undoes the framing of whatever a single socket read returned, so a
burst of events costs one read and one pass. Pure: bytes in, bytes out.
"""

from __future__ import annotations

MAX_SIZE_LINE = 1024  # a chunk-size line longer than this is not HTTP/1.1 framing


class Dechunker:
    """Feed raw body bytes, get the payload they complete; ``done`` once the last
    (zero-size) chunk has come. Raises ValueError on broken framing."""

    def __init__(self) -> None:
        self._pending = b""
        self.done = False

    def feed(self, data: bytes) -> bytes:
        buffer = self._pending + data if self._pending else data
        out = []
        pos = 0
        while not self.done:
            eol = buffer.find(b"\r\n", pos)
            if eol < 0:
                if len(buffer) - pos > MAX_SIZE_LINE:
                    raise ValueError("chunk size line too long")
                break
            size = _chunk_size(buffer[pos:eol])
            if size == 0:  # the last chunk: then trailer lines, if any, and an empty line
                end = eol if buffer.startswith(b"\r\n", eol + 2) else buffer.find(b"\r\n\r\n", eol + 2)
                if end < 0:
                    if len(buffer) - eol > MAX_SIZE_LINE:
                        raise ValueError("trailers too long")
                    break  # not all here yet
                self.done = True
                pos = end + 4
                break
            start, end = eol + 2, eol + 2 + size
            if len(buffer) < end + 2:
                break  # the chunk is not all here yet
            if buffer[end:end + 2] != b"\r\n":
                raise ValueError("chunk not followed by CRLF")
            out.append(buffer[start:end])
            pos = end + 2
        self._pending = buffer[pos:]
        return b"".join(out)

    def rest(self) -> bytes:
        """What came after the body (once ``done``): the start of whatever follows."""
        rest, self._pending = self._pending, b""
        return rest


def _chunk_size(line: bytes) -> int:
    text = line.split(b";", 1)[0].strip()  # chunk extensions are ignored, as http.client does
    if not text or len(text) > 16 or text.strip(_HEX):
        raise ValueError(f"bad chunk size {line[:32]!r}")
    return int(text, 16)


_HEX = b"0123456789abcdefABCDEF"
