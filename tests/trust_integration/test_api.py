"""The Trust API and ``federation trust`` over real TLS with the admin token: answers,
errors, the command line, and no private key in any answer or log line."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from federation import cli, errors
from federation.api.gen.federation.v1 import trust_pb2 as pb
from federation.trust import certificates as certs
from federation.trust.client import TrustClient

from .support import CapturedLogs, RawStubs, pem_body_lines
from tests.support import wait_for

CLUSTERS = ("cluster-1", "cluster-2", "cluster-3")


def _run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main(["--log-level", "warning", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


# -- answers and errors ------------------------------------------------------------------
def test_status_before_any_root_says_uninitialised(hubs):
    hub = hubs()
    assert hub.client.trust_status() == {"initialized": False, "trust_domain": "cluster.local"}


def test_errors_map_to_the_federation_error_types(hubs, wd):
    hub = hubs()
    with pytest.raises(errors.NotFound, match="no mesh root"):
        hub.client.start_rotation()
    with pytest.raises(errors.ValidationError, match="unknown key algorithm"):
        hub.client.init_root("dsa-1024")
    with pytest.raises(errors.ValidationError, match="validity_days"):
        hub.client.init_root(validity_days=10_000_000)
    with pytest.raises(errors.ValidationError, match="key_pem"):
        hub.client.import_root(certs.create_root().cert_pem, "")
    root, other = certs.create_root(), certs.create_root()
    with pytest.raises(errors.ValidationError, match="does not match"):
        hub.client.import_root(root.cert_pem, other.key_pem())

    hub.service.trust_keeper.set_agent_source(lambda: {"vm-gate"})  # holds the rotation at step 1
    hub.client.init_root()
    with pytest.raises(errors.AlreadyExists, match="rotation"):
        hub.client.init_root()
    hub.client.start_rotation()
    with pytest.raises(errors.Conflict, match="already at step"):
        hub.client.start_rotation()

    with TrustClient(hub.address, ca_file=wd.ca, token="not-the-admin-token", timeout=5) as stranger:
        with pytest.raises(errors.AuthError):
            stranger.trust_status()
        with pytest.raises(errors.AuthError):
            stranger.init_root()


def test_status_shows_roots_intermediates_with_expiry_and_the_step(hub, readers):
    root = hub.client.init_root()
    readers.wait_cacerts(CLUSTERS, step=0)

    def three():
        status = hub.client.trust_status()
        return status if len(status["intermediates"]) == 3 else None
    status = wait_for(three, what="three intermediates in the status")
    (listed,) = status["roots"]
    assert listed["id"] == root["id"] and listed["role"] == "current"
    assert listed["algorithm"] == "ecdsa-p256" and len(listed["fingerprint"]) == 64
    assert listed["not_after"] > listed["not_before"]
    assert [i["cluster"] for i in status["intermediates"]] == list(CLUSTERS)
    for i in status["intermediates"]:
        assert i["issuer_root"] == root["id"] and i["up_to_date"]
        assert i["not_before"] < i["renew_at"] < i["not_after"]
        assert i["confirmed_step"] == 0
    assert status["rotation"]["step"] == 0 and status["rotation"]["step_name"] == "none"
    assert status["rotation"]["bundle"] == [root["id"]]


def test_no_private_key_in_any_answer_or_log_line(hub, readers):
    logs = CapturedLogs("debug")
    raw = RawStubs(hub)
    answers: list[bytes] = []
    try:
        imported, successor = certs.create_root(), certs.create_root()

        def call(method, request):
            answer = method(request, metadata=raw.metadata, timeout=10)
            answers.append(answer.SerializeToString())
            answers.append(str(answer).encode())
            return answer

        root = call(raw.trust.ImportRoot, pb.ImportRootRequest(
            cert_pem=imported.cert_pem, key_pem=imported.key_pem())).root
        assert root.id == imported.id and root.imported
        views = readers.wait_cacerts(CLUSTERS, step=0)
        call(raw.trust.StartRotation, pb.StartRotationRequest(
            cert_pem=successor.cert_pem, key_pem=successor.key_pem()))
        readers.wait_cacerts(CLUSTERS, step=3, root_count=1)
        views.update({f"{n} (new)": v for n, v in readers.wait_cacerts(CLUSTERS, step=3).items()})
        call(raw.trust.Status, pb.TrustStatusRequest())
        for name in CLUSTERS:
            call(raw.admin.Render, raw.pb.RenderRequest(cluster=name))
        call(raw.admin.Status, raw.pb.StatusRequest())
    finally:
        raw.close()
        logs.restore()
    text = logs.text()
    assert "mesh root stored" in text and "intermediate issued" in text  # the capture works

    secrets = {"imported root key": imported.key_pem(), "successor root key": successor.key_pem()}
    secrets.update({f"{n} ca-key.pem": v.files["ca-key.pem"] for n, v in views.items()})
    raw_secret_values = [v.raw_data["ca-key.pem"] for v in views.values()]
    haystacks = {"log": text.encode(), **{f"answer {i}": a for i, a in enumerate(answers)}}
    for where, hay in haystacks.items():
        assert b"PRIVATE KEY" not in hay, where
        for what, pem in secrets.items():
            for line in pem_body_lines(pem):
                assert line.encode() not in hay, f"{what} appears in the {where}"
        for value in raw_secret_values:
            assert value[:40].encode() not in hay, f"a cacerts key appears in the {where}"


# -- the command line -------------------------------------------------------------------
def test_cli_init_status_and_rotate(hub, readers, capsys):
    flags = hub.cli_flags()
    code, out, _ = _run_cli(capsys, "trust", "init", "--algorithm", "ecdsa-p384",
                            "--validity-days", "400", *flags)
    assert code == 0 and "mesh root" in out and "created (ecdsa-p384" in out
    root_id = out.split()[2]
    readers.wait_cacerts(CLUSTERS, step=0)
    wait_for(lambda: len(hub.client.trust_status()["intermediates"]) == 3, what="3 intermediates")

    code, out, _ = _run_cli(capsys, "trust", "status", *flags)
    assert code == 0
    assert "rotation step 0 (none)" in out and root_id in out and "ecdsa-p384" in out
    for name in CLUSTERS:
        (row,) = [line for line in out.splitlines() if line.startswith(name)]
        assert root_id in row and row.rstrip().endswith("yes")

    code, out, _ = _run_cli(capsys, "trust", "status", "--json", *flags)
    status = json.loads(out)
    (root,) = status["roots"]
    assert root["id"] == root_id and root["algorithm"] == "ecdsa-p384"
    validity = dt.datetime.fromisoformat(root["not_after"]) - dt.datetime.fromisoformat(root["not_before"])
    assert dt.timedelta(days=400) <= validity <= dt.timedelta(days=400, minutes=10)

    code, out, _ = _run_cli(capsys, "trust", "rotate", *flags)
    assert code == 0 and f"started: {root_id} →" in out and "(step 1 bundle)" in out
    readers.wait_cacerts(CLUSTERS, step=3, root_count=1)
    code, out, _ = _run_cli(capsys, "trust", "status", "--json", *flags)
    assert json.loads(out)["rotation"]["previous_root"] == root_id


def test_cli_import_with_the_environment_and_its_errors(hub, readers, capsys, tmp_path, monkeypatch):
    root = certs.create_root(algorithm="ecdsa-p256")
    cert_file, key_file = tmp_path / "root.crt", tmp_path / "root.key"
    cert_file.write_text(root.cert_pem)
    key_file.write_text(root.key_pem())
    monkeypatch.setenv("FEDERATION_HUB", hub.address)
    monkeypatch.setenv("FEDERATION_CA", str(hub.wd.ca))
    monkeypatch.setenv("FEDERATION_TOKEN_FILE", str(hub.wd.token))

    code, out, err = _run_cli(capsys, "trust", "import", "--cert", str(cert_file), "--key", str(key_file))
    assert code == 0, err
    assert f"mesh root {root.id} imported" in out and "PRIVATE" not in out
    views = readers.wait_cacerts(CLUSTERS, step=0)
    assert all(v.files["root-cert.pem"] == root.cert_pem for v in views.values())

    code, out, err = _run_cli(capsys, "trust", "import", "--cert", str(cert_file), "--key", str(key_file))
    assert code == 1 and "a mesh root exists already" in err
    code, _, err = _run_cli(capsys, "trust", "rotate", "--cert", str(cert_file))
    assert code == 1 and "both --cert and --key" in err
    code, _, err = _run_cli(capsys, "trust", "import", "--cert", str(tmp_path / "missing"),
                            "--key", str(key_file))
    assert code == 1 and "missing" in err


@pytest.mark.parametrize("command", ["init", "import", "rotate", "status"])
def test_every_trust_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["trust", command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: federation trust {command}" in out and "--hub" in out
