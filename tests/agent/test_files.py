"""The agent's output directory: formats, modes, atomic writes, state."""

from __future__ import annotations

import os
import stat

import pytest

from federation import errors
from federation.agent.files import AgentFiles, AgentState, format_env


def test_cluster_env_quotes_values_for_the_shell():
    text = format_env({"B": "it's", "A": '{"app":"x"}'})
    assert text == "A='{\"app\":\"x\"}'\nB='it'\\''s'\n"


def test_sidecar_config_points_the_sidecar_at_the_provisioned_certificates(tmp_path):
    files = AgentFiles(tmp_path / "out")
    files.prepare()
    files.write_sidecar_config({"SERVICE_ACCOUNT": "ratings"}, "defaultConfig: {}\n",
                               "10.0.0.1 istiod.istio-system.svc\n")
    env = (tmp_path / "out" / "cluster.env").read_text().splitlines()
    where = str((tmp_path / "out").resolve())
    assert f"PROV_CERT='{where}'" in env and f"OUTPUT_CERTS='{where}'" in env
    assert "SERVICE_ACCOUNT='ratings'" in env
    assert (tmp_path / "out" / "mesh.yaml").read_text() == "defaultConfig: {}\n"


def test_the_key_is_private_whatever_the_umask(tmp_path):
    files = AgentFiles(tmp_path)
    old = os.umask(0)
    try:
        files.write_credentials(b"chain", b"secret key")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "cert-chain.pem").stat().st_mode) == 0o644
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_state_round_trips_and_a_missing_enrollment_is_a_clear_error(tmp_path):
    files = AgentFiles(tmp_path)
    with pytest.raises(errors.ConfigError, match="agent-state.json"):
        files.load_state()
    state = AgentState("vm-1", "::1", 8444, 8445, "spiffe://x/ns/a/sa/b", "a", "b", 10,
                       {"port": 80, "http_path": "/"})
    files.save_state(state)
    assert files.load_state() == state
    assert state.session_address == "[::1]:8445"
