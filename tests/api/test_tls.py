"""The API's own TLS: certificates with the right names, refused when the CA is
wrong, and mTLS when a client CA is configured."""

import ipaddress
import stat

import pytest
from cryptography import x509

from federation import errors
from federation.api.client import AdminClient
from federation.api.server import ApiServer
from federation.api.tls import (
    ServerTLS, issue_client_cert, issue_server_cert, make_self_signed_ca, write_pem_files,
)

from .conftest import TOKEN


def test_server_cert_has_ip_and_dns_sans_and_chains_to_ca(pki):
    cert = pki.server.certificate()
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    cert.verify_directly_issued_by(pki.ca.certificate())
    assert pki.ca.certificate().extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_key_pairs_do_not_show_keys_in_repr(pki):
    assert "PRIVATE" not in repr(pki.server) and "PRIVATE" not in repr(pki.ca)
    assert "PRIVATE" not in repr(ServerTLS(pki.server.cert_pem, pki.server.key_pem))


def test_write_pem_files_keeps_key_private(tmp_path, pki):
    cert_path, key_path = write_pem_files(tmp_path / "tls", "hub", pki.server)
    assert cert_path.read_bytes() == pki.server.cert_pem
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    tls = ServerTLS.from_files(cert_path, key_path)
    assert tls.key_pem == pki.server.key_pem and tls.client_ca_pem is None


def test_server_tls_from_missing_file_is_config_error(tmp_path):
    with pytest.raises(errors.ConfigError, match="cannot read"):
        ServerTLS.from_files(tmp_path / "nope.crt", tmp_path / "nope.key")


def test_wrong_ca_is_a_connection_error_naming_the_address(server, pki, fake):
    with AdminClient(server.address, pki.other_ca.cert_pem, TOKEN, timeout=5) as client:
        with pytest.raises(errors.Transient, match=f"hub at {server.address} is unavailable") as info:
            client.list_clusters()
    assert "TLS handshake failed" in str(info.value)
    assert fake.calls == []


def test_nothing_listening_is_transient(pki):
    with AdminClient("127.0.0.1:1", pki.ca.cert_pem, TOKEN, timeout=5) as client:
        with pytest.raises(errors.Transient, match="hub at 127.0.0.1:1 is unavailable"):
            client.status()


def test_mtls_requires_a_client_certificate_from_the_client_ca(pki, fake):
    client_ca = make_self_signed_ca("clients")
    tls = ServerTLS(pki.server.cert_pem, pki.server.key_pem, client_ca_pem=client_ca.cert_pem)
    api = ApiServer("127.0.0.1:0", fake, tls, {TOKEN})
    api.start()
    try:
        good = issue_client_cert(client_ca, "admin")
        with AdminClient(api.address, pki.ca.cert_pem, TOKEN, timeout=5,
                         client_cert_pem=good.cert_pem, client_key_pem=good.key_pem) as client:
            assert client.list_clusters() == []
        with AdminClient(api.address, pki.ca.cert_pem, TOKEN, timeout=5) as client:
            with pytest.raises(errors.Transient):
                client.list_clusters()
        stranger = issue_client_cert(pki.other_ca, "stranger")
        with AdminClient(api.address, pki.ca.cert_pem, TOKEN, timeout=5,
                         client_cert_pem=stranger.cert_pem, client_key_pem=stranger.key_pem) as client:
            with pytest.raises(errors.Transient):
                client.list_clusters()
    finally:
        api.stop(0.5)
    assert fake.calls == ["list_clusters"]


def test_server_name_override_reaches_a_dns_only_cert(pki, fake):
    cert = issue_server_cert(pki.ca, ["hub.federation.svc"])
    api = ApiServer("127.0.0.1:0", fake, ServerTLS(cert.cert_pem, cert.key_pem), {TOKEN})
    api.start()
    try:
        with AdminClient(api.address, pki.ca.cert_pem, TOKEN, timeout=5,
                         server_name="hub.federation.svc") as client:
            assert client.list_clusters() == []
    finally:
        api.stop(0.5)


def test_server_refuses_to_run_without_tls(fake):
    with pytest.raises(errors.ConfigError, match="always serves TLS"):
        ApiServer("127.0.0.1:0", fake, None, {TOKEN})


def test_port_in_use_is_config_error(server, pki, fake):
    other = ApiServer(server.address, fake, ServerTLS(pki.server.cert_pem, pki.server.key_pem), {TOKEN})
    with pytest.raises(errors.ConfigError, match="cannot listen"):
        other.start()
