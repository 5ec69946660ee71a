"""The writes' HTTP/1.1 connection (``kube.wire``) against a scripted TLS server on
loopback: each answer a real server may give is read right, what is not HTTP is
refused with a clear error, and a dropped kept-alive connection says so."""

from __future__ import annotations

import socket
import ssl
import threading

import pytest

from federation.kube.wire import Connection, WireError
from kubesim.certs import SimCA


class ScriptedServer:
    """Accepts connections; for each request read, sends the next scripted answer
    (bytes, or None: close the connection without answering)."""

    def __init__(self, answers: list[bytes | None]):
        ca = SimCA()
        self.context = ssl.create_default_context(cadata=ca.cert_pem.decode())
        self._server_context = ca.issue_server_cert("wire-test", ["127.0.0.1"]).ssl_context()
        self._answers = list(answers)
        self.requests: list[bytes] = []
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while self._answers:
            try:
                raw, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            try:
                conn = self._server_context.wrap_socket(raw, server_side=True)
            except (ssl.SSLError, OSError):
                raw.close()
                return  # a client that does not trust us: nothing more to serve
            with conn:
                while self._answers:
                    request = _read_request(conn)
                    if request is None:
                        break
                    self.requests.append(request)
                    answer = self._answers.pop(0)
                    if answer is None:
                        break
                    conn.sendall(answer)

    def close(self) -> None:
        self._listener.close()
        self._thread.join(5.0)


def _read_request(conn) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


@pytest.fixture
def serve():
    servers = []

    def make(*answers):
        server = ScriptedServer(list(answers))
        servers.append(server)
        return server, Connection("127.0.0.1", server.port, server.context)

    yield make
    for server in servers:
        server.close()


OK_LENGTH = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"a": "bc"}'
OK_CHUNKED = (b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"4\r\n{\"a\"\r\n7\r\n: \"bc\"}\r\n0\r\n\r\n")


def test_answers_by_length_and_in_chunks_over_one_kept_alive_connection(serve):
    server, conn = serve(OK_LENGTH, OK_CHUNKED, b"HTTP/1.1 204 No Content\r\n\r\n", OK_LENGTH)
    assert conn.exchange("PATCH", "/x?fieldManager=m", {"Content-Type": "application/apply-patch+yaml"},
                         b'{"k":1}', 5.0) == (200, b'{"a": "bc"}')
    assert conn.exchange("PATCH", "/x", {}, b"{}", 5.0) == (201, b'{"a": "bc"}')
    assert conn.exchange("DELETE", "/x", {}, None, 5.0) == (204, b"")
    assert conn.exchange("PATCH", "/x", {}, b"{}", 5.0)[0] == 200
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"PATCH /x?fieldManager=m HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"\r\nContent-Length: 7\r\n\r\n{\"k\":1}" in first
    conn.close()


def test_an_answer_saying_close_closes_the_connection(serve):
    server, conn = serve(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}", OK_LENGTH)
    assert conn.exchange("PATCH", "/x", {}, b"{}", 5.0) == (200, b"{}")
    assert not conn.open
    assert conn.exchange("PATCH", "/x", {}, b"{}", 5.0)[0] == 200
    assert server.connections == 2
    conn.close()


def test_a_kept_alive_connection_closed_unanswered_says_the_request_went_unanswered(serve):
    _, conn = serve(OK_LENGTH, None)
    conn.exchange("PATCH", "/x", {}, b"{}", 5.0)
    with pytest.raises(WireError) as caught:
        conn.exchange("PATCH", "/x", {}, b"{}", 5.0)
    assert not caught.value.sent and not conn.open  # the caller may send it again on a new connection


@pytest.mark.parametrize("answer, what", [
    (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP/1.1 status line"),
    (b"HTTP/1.1 200 OK\r\nbroken header\r\n\r\n", "malformed header line"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "unsupported transfer encoding"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad content length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", "closed in the middle of the answer"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
    (b"HTTP/1.1 100 Continue\r\n\r\n", "unexpected interim answer"),
])
def test_what_is_not_the_http_asked_for_is_refused_naming_it(serve, answer, what):
    _, conn = serve(answer)  # then the server closes the connection
    with pytest.raises(WireError, match=what) as caught:
        conn.exchange("PATCH", "/x", {}, b"{}", 5.0)
    assert caught.value.sent and not conn.open


def test_headers_past_the_limit_are_refused(serve):
    _, conn = serve(b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * 70000 + b"\r\n\r\n")
    with pytest.raises(WireError, match="headers too long"):
        conn.exchange("PATCH", "/x", {}, b"{}", 5.0)


def test_a_server_that_does_not_verify_is_a_tls_error_not_an_answer():
    server = ScriptedServer([OK_LENGTH])
    try:
        other = ssl.create_default_context(cadata=SimCA().cert_pem.decode())  # not the server's CA
        with pytest.raises(ssl.SSLCertVerificationError):
            Connection("127.0.0.1", server.port, other).exchange("PATCH", "/x", {}, b"{}", 5.0)
    finally:
        server.close()


class PipelineServer:
    """One connection: reads ``expect`` whole requests before it answers any (a client
    that waited for an answer before sending the next would stall it), then sends
    ``answers`` in one go and closes."""

    def __init__(self, expect: int, answers: bytes):
        ca = SimCA()
        self.context = ssl.create_default_context(cadata=ca.cert_pem.decode())
        self._server_context = ca.issue_server_cert("wire-test", ["127.0.0.1"]).ssl_context()
        self._expect, self._answers = expect, answers
        self.requests: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        raw, _ = self._listener.accept()
        with self._server_context.wrap_socket(raw, server_side=True) as conn:
            conn.settimeout(5.0)
            data = b""
            while len(self.requests) < self._expect:
                head_end = data.find(b"\r\n\r\n")
                if head_end < 0:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                    continue
                head = data[:head_end]
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(data) < head_end + 4 + length:
                    data += conn.recv(65536)
                self.requests.append(data[:head_end + 4 + length])
                data = data[head_end + 4 + length:]
            conn.sendall(self._answers)

    def close(self) -> None:
        self._listener.close()
        self._thread.join(5.0)


def _requests(n: int) -> list:
    return [("PATCH", f"/x/{i}", {"Content-Type": "application/apply-patch+yaml"}, b'{"i":%d}' % i)
            for i in range(n)]


def pipelined(expect: int, answers: bytes, requests: int | None = None):
    """``exchange_many`` of ``requests`` (default ``expect``) against a ``PipelineServer``:
    (answers, failure, the connection, the requests the server read)."""
    server = PipelineServer(expect, answers)
    conn = Connection("127.0.0.1", server.port, server.context)
    try:
        got, failure = conn.exchange_many(_requests(requests or expect), 5.0)
        return got, failure, conn, server.requests
    finally:
        server.close()


def test_pipelined_requests_go_before_any_answer_and_answers_come_back_in_order():
    answers = b"".join(b'HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{"i":%d}' % i for i in range(3))
    got, failure, conn, read = pipelined(4, answers + OK_CHUNKED)
    conn.close()
    assert failure is None
    assert got == [(200, b'{"i":0}'), (200, b'{"i":1}'), (200, b'{"i":2}'), (201, b'{"a": "bc"}')]
    assert [r.split(b" ")[1] for r in read] == [b"/x/0", b"/x/1", b"/x/2", b"/x/3"]


def test_a_pipeline_cut_short_keeps_the_answers_before_and_names_the_rest_as_maybe_sent():
    got, failure, conn, _ = pipelined(
        3, OK_LENGTH + b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}")
    assert got == [(200, b'{"a": "bc"}'), (200, b"{}")]
    assert isinstance(failure, WireError) and failure.sent and "after 2 of 3 answers" in str(failure)
    assert not conn.open


def test_a_pipeline_closed_mid_answer_keeps_what_was_answered():
    got, failure, conn, _ = pipelined(3, OK_LENGTH + b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}")
    assert got == [(200, b'{"a": "bc"}')]
    assert failure.sent and "closed in the middle of the answer" in str(failure) and not conn.open


def test_a_pipeline_closed_before_any_answer_raises_as_one_request_does():
    with pytest.raises(WireError, match="reading the answer failed") as caught:
        pipelined(2, b"")
    assert not caught.value.sent
