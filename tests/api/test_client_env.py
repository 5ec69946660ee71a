"""AdminClient.from_env reads FEDERATION_HUB, FEDERATION_CA and the token, naming what is missing."""

import pytest

from federation import errors
from federation.api.client import AdminClient

from .conftest import TOKEN


@pytest.fixture
def ca_file(tmp_path, pki):
    path = tmp_path / "ca.crt"
    path.write_bytes(pki.ca.cert_pem)
    return path


@pytest.mark.parametrize("missing", ["FEDERATION_HUB", "FEDERATION_CA", "FEDERATION_TOKEN"])
def test_missing_variable_is_named(ca_file, missing):
    env = {"FEDERATION_HUB": "127.0.0.1:1", "FEDERATION_CA": str(ca_file), "FEDERATION_TOKEN": TOKEN}
    del env[missing]
    with pytest.raises(errors.ConfigError, match=missing):
        AdminClient.from_env(env)


def test_token_file_is_used_when_no_token(server, ca_file, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    env = {"FEDERATION_HUB": server.address, "FEDERATION_CA": str(ca_file),
           "FEDERATION_TOKEN_FILE": str(token_file)}
    with AdminClient.from_env(env) as client:
        assert client.list_clusters() == []


def test_unreadable_files_are_config_errors(ca_file, tmp_path):
    with pytest.raises(errors.ConfigError, match="FEDERATION_TOKEN_FILE"):
        AdminClient.from_env({"FEDERATION_HUB": "h:1", "FEDERATION_CA": str(ca_file),
                              "FEDERATION_TOKEN_FILE": str(tmp_path / "absent")})
    with pytest.raises(errors.ConfigError, match="cannot read"):
        AdminClient.from_env({"FEDERATION_HUB": "h:1", "FEDERATION_CA": str(tmp_path / "absent"),
                              "FEDERATION_TOKEN": TOKEN})
