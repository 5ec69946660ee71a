"""Request heads read by ``kubesim.heading``: parsed alone, and over real TLS against a cluster."""

from __future__ import annotations

import io
import socket
import ssl

import pytest

from kubesim import SimCluster
from kubesim.heading import MAX_FIELDS, MAX_LINE, HeadError, Headers, keeps_alive, read_fields, request_line


def test_a_request_line_gives_method_target_and_version():
    assert request_line(b"GET /api/v1/pods?watch=1 HTTP/1.1\r\n") == ("GET", "/api/v1/pods?watch=1", "HTTP/1.1")


@pytest.mark.parametrize("line, status", [
    (b"GET /\r\n", 400), (b"GET / HTTP/1.1 extra\r\n", 400), (b"GET / FTP/1.1\r\n", 400), (b"GET / HTTP/2.0\r\n", 505),
])
def test_a_bad_request_line_is_refused_with_its_status(line, status):
    with pytest.raises(HeadError) as caught:
        request_line(line)
    assert caught.value.status == status


def test_fields_are_read_to_the_blank_line_case_insensitively_repeats_joined():
    rfile = io.BytesIO(b"Host: x\r\nAccept: a\r\ncontent-LENGTH:  12 \r\naccept: b\r\n\r\nBODY")
    headers = read_fields(rfile)
    assert headers.get("Content-Length") == "12" and headers["HOST"] == "x" and "content-length" in headers
    assert headers.get("Accept") == "a, b"
    assert headers.get("Missing") is None and headers.get("Missing", "d") == "d" and "Missing" not in headers
    assert rfile.read() == b"BODY"


@pytest.mark.parametrize("head, status", [
    (b"NoColon\r\n\r\n", 400),
    (b"Bad Name: x\r\n\r\n", 400),
    (b": empty name\r\n\r\n", 400),
    (b"X-Long: " + b"a" * MAX_LINE + b"\r\n\r\n", 431),
    (b"".join(b"X-%d: v\r\n" % i for i in range(MAX_FIELDS + 1)) + b"\r\n", 431),
])
def test_bad_fields_are_refused_with_their_status(head, status):
    with pytest.raises(HeadError) as caught:
        read_fields(io.BytesIO(head))
    assert caught.value.status == status


def test_exactly_the_most_fields_allowed_are_read():
    head = b"".join(b"X-%d: v\r\n" % i for i in range(MAX_FIELDS)) + b"\r\n"
    assert len(read_fields(io.BytesIO(head))) == MAX_FIELDS


@pytest.mark.parametrize("version, connection, alive", [
    ("HTTP/1.1", None, True), ("HTTP/1.1", "close", False), ("HTTP/1.1", "keep-alive, Close", False),
    ("HTTP/1.0", None, False), ("HTTP/1.0", "keep-alive", True),
])
def test_keep_alive_follows_the_version_and_the_connection_field(version, connection, alive):
    headers = Headers({"connection": connection} if connection else {})
    assert keeps_alive(version, headers) is alive


# --- over the wire ------------------------------------------------------------------
@pytest.fixture
def sim():
    cluster = SimCluster("sim-heading").start()
    try:
        yield cluster
    finally:
        assert cluster.stop(timeout=5.0)


def _connect(sim: SimCluster) -> ssl.SSLSocket:
    context = ssl.create_default_context(cadata=sim.ca.cert_pem.decode())
    return context.wrap_socket(socket.create_connection((sim.host, sim.port), timeout=10), server_hostname=sim.host)


def _answer(conn: ssl.SSLSocket) -> tuple[int, dict[str, str], bytes]:
    """One answer read by its Content-Length (None when the server closed first)."""
    rfile = conn.makefile("rb")
    status_line = rfile.readline()
    if not status_line:
        return 0, {}, b""
    status = int(status_line.split()[1])
    fields = {}
    while (line := rfile.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        fields[name.strip().lower()] = value.strip()
    return status, fields, rfile.read(int(fields.get("content-length", 0)))


def test_two_requests_on_one_connection_then_close_ends_it(sim):
    auth = f"Authorization: Bearer {sim.token}\r\n".encode()
    with _connect(sim) as conn:
        conn.sendall(b"GET /version HTTP/1.1\r\nHost: h\r\n" + auth + b"\r\n")
        status, _, body = _answer(conn)
        assert status == 200 and b"gitVersion" in body
        conn.sendall(b"GET /api/v1/namespaces HTTP/1.1\r\nHost: h\r\nconnection: close\r\n" + auth + b"\r\n")
        status, _, body = _answer(conn)
        assert status == 200 and b"NamespaceList" in body
        assert conn.recv(1) == b""  # the server closed the connection after the answer


def test_a_body_sent_after_expect_100_continue_is_read(sim):
    body = (b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c1","namespace":"default"},'
            b'"data":{"k":"v"}}')
    with _connect(sim) as conn:
        conn.sendall(b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: h\r\n"
                     + f"Authorization: Bearer {sim.token}\r\nContent-Type: application/json\r\n".encode()
                     + b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
        assert conn.recv(64).startswith(b"HTTP/1.1 100")
        conn.sendall(body)
        status, _, _ = _answer(conn)
    assert status == 201
    assert sim.store.get("v1", "ConfigMap", "c1", "default")["data"] == {"k": "v"}


@pytest.mark.parametrize("head, status", [
    (b"GET /version HTTP/1.1\r\nBroken\r\n\r\n", 400),
    (b"GET /version HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(MAX_FIELDS + 1)) + b"\r\n", 431),
    (b"GET /version HTTP/3.0\r\n\r\n", 505),
])
def test_a_bad_head_gets_its_status_and_the_connection_ends(sim, head, status):
    with _connect(sim) as conn:
        conn.sendall(head)
        got, _, _ = _answer(conn)
        assert got == status
        assert conn.recv(1) == b""
