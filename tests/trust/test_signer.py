"""Which intermediate a member's istiod signs with: the certificate served on its TLS
port read over a real handshake (``signer_probe``), and judged against a rotation
step's intermediate (``gating.judge_signer``, pure)."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from federation import errors
from federation.trust import certificates as certs
from federation.trust.gating import NO_ADDRESS, ClusterGate, judge_signer
from federation.trust.signer_probe import check_address, served_certificate

NOW = dt.datetime.now(dt.timezone.utc)


@pytest.fixture(scope="module")
def cas():
    root = certs.create_root()
    old = certs.issue_intermediate(root, common_name="east old", now=NOW)
    new = certs.issue_intermediate(root, common_name="east new", now=NOW)
    return old, new


def serving_certificate(issuer: certs.CertifiedKey):
    """What istiod serves on 15012: a leaf for istiod's DNS name, signed by its CA."""
    key = certs.generate_key("ecdsa-p256")
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(issuer.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(minutes=1))
            .not_valid_after(NOW + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("istiod.istio-system.svc")]), critical=True)
            .sign(issuer.key, certs.signing_hash(issuer.key)))
    return cert, key


def _confirmed() -> ClusterGate:
    return ClusterGate("east", True, "", ("r1",), True)


def test_a_certificate_from_the_steps_intermediate_confirms_and_names_it(cas):
    old, new = cas
    cert, _ = serving_certificate(new)
    gate = judge_signer(_confirmed(), address="10.0.0.1:15012", served=cert.public_bytes(serialization.Encoding.DER),
                        probe_error="", expected_ca_pem=new.cert_pem)
    assert gate.confirmed and gate.signing_intermediate == new.id and gate.waiting_for == ""


def test_a_certificate_from_the_previous_intermediate_holds_the_step(cas):
    old, new = cas
    cert, _ = serving_certificate(old)  # same subject layout, another key
    gate = judge_signer(_confirmed(), address="10.0.0.1:15012", served=cert.public_bytes(serialization.Encoding.DER),
                        probe_error="", expected_ca_pem=new.cert_pem)
    assert not gate.confirmed
    assert "still signs with another intermediate" in gate.waiting_for and new.id in gate.waiting_for
    assert "east old" in gate.signing_intermediate
    assert gate.published_roots == ("r1",) and gate.cacerts_written, "the roots' findings are kept"


def test_an_unreachable_istiod_holds_the_step_and_says_why(cas):
    _, new = cas
    gate = judge_signer(_confirmed(), address="10.0.0.1:15012", served=None,
                        probe_error="istiod at 10.0.0.1:15012 did not complete a TLS handshake: timeout",
                        expected_ca_pem=new.cert_pem)
    assert not gate.confirmed and "did not complete a TLS handshake" in gate.waiting_for
    assert gate.intermediate_note.startswith("istiod at 10.0.0.1:15012")


def test_without_an_address_the_roots_decide_and_the_gate_says_it_was_not_observed(cas):
    _, new = cas
    confirmed = judge_signer(_confirmed(), address="", served=None, probe_error="", expected_ca_pem=new.cert_pem)
    assert confirmed.confirmed and confirmed.intermediate_note == NO_ADDRESS
    waiting = ClusterGate("east", False, "cacerts not written yet")
    assert judge_signer(waiting, address="10.0.0.1:15012", served=None, probe_error="",
                        expected_ca_pem=new.cert_pem) == waiting, "the roots are judged first"


def test_an_unreadable_certificate_holds_the_step(cas):
    _, new = cas
    gate = judge_signer(_confirmed(), address="10.0.0.1:15012", served=b"not der", probe_error="",
                        expected_ca_pem=new.cert_pem)
    assert not gate.confirmed and "unreadable certificate" in gate.waiting_for


@pytest.mark.parametrize("bad", ["istiod", "istiod:", ":15012", "istiod:0", "istiod:65536", "istiod:port"])
def test_a_registered_address_must_be_host_and_port(bad):
    with pytest.raises(errors.ConfigError, match="istiod address"):
        check_address(bad)


def test_addresses_that_are_accepted():
    assert check_address(" 10.0.0.1:15012 ") == "10.0.0.1:15012"
    assert check_address("[fd00::1]:15012") == "[fd00::1]:15012"
    assert check_address("") == ""


@pytest.fixture
def tls_server(cas, tmp_path):
    """A TLS listener on loopback serving a certificate from the new intermediate,
    answering one handshake per connection (as istiod's 15012 does)."""
    _, new = cas
    cert, key = serving_certificate(new)
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM)
                                        + new.cert_pem.encode())
    (tmp_path / "key.pem").write_bytes(certs.private_key_pem(key))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.1:{listener.getsockname()[1]}", cert
    stop.set()
    thread.join(5.0)
    listener.close()
    assert not thread.is_alive()


def test_the_probe_reads_the_served_certificate_over_a_real_handshake(tls_server, cas):
    address, cert = tls_server
    der = served_certificate(address)
    assert der == cert.public_bytes(serialization.Encoding.DER)
    _, new = cas
    assert judge_signer(_confirmed(), address=address, served=der, probe_error="",
                        expected_ca_pem=new.cert_pem).confirmed


def test_the_probe_of_a_closed_port_is_unreachable_naming_the_address():
    with socket.create_server(("127.0.0.1", 0)) as s:
        address = f"127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(errors.ClusterUnreachable, match=f"istiod at {address}"):
        served_certificate(address, timeout=2.0)


def test_a_plaintext_server_is_not_taken_for_istiod():
    listener = socket.create_server(("127.0.0.1", 0))
    address = f"127.0.0.1:{listener.getsockname()[1]}"

    def answer():
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        with pytest.raises(errors.ClusterUnreachable, match="TLS handshake"):
            served_certificate(address, timeout=2.0)
    finally:
        thread.join(5.0)
        listener.close()
