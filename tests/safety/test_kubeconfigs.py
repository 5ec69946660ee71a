"""The hub trusts no kubeconfig: it never runs a program, reads a local file,
skips TLS verification or uses a proxy because a member's kubeconfig says so,
unless a hub flag allows that option; a CA that does not verify is a clear
error; no credential reaches a log line."""

from __future__ import annotations

import base64
import sys

import grpc
import pytest

from federation import errors
from federation.api.tls import make_self_signed_ca
from federation.kube.kubeconfigs import OPTIONS, check_kubeconfig, parse_options
from tests.support import wait_for

from .support import LogLines, admin_client, admin_token, kubeconfig_of, store_dump, variant

BASE = {
    "clusters": [{"name": "c1", "cluster": {"server": "https://127.0.0.1:6443",
                                            "certificate-authority-data": "Zm9v"}}],
    "users": [{"name": "u1", "user": {"token": "t"}}],
    "contexts": [{"name": "x", "context": {"cluster": "c1", "user": "u1"}}],
    "current-context": "x",
}

# option -> (entry kind, fields to set)
UNSAFE = {
    "exec": ("user", {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "/bin/true"}}),
    "auth-provider": ("user", {"auth-provider": {"name": "gcp", "config": {"cmd-path": "/bin/true"}}}),
    "tokenFile": ("user", {"tokenFile": "/etc/hostname"}),
    "client-certificate": ("user", {"client-certificate": "/etc/ssl/cert.pem"}),
    "client-key": ("user", {"client-key": "/etc/ssl/key.pem"}),
    "certificate-authority": ("cluster", {"certificate-authority": "/etc/ssl/ca.pem"}),
    "insecure-skip-tls-verify": ("cluster", {"insecure-skip-tls-verify": True}),
    "proxy-url": ("cluster", {"proxy-url": "http://127.0.0.1:3128"}),
    "http": ("cluster", {"server": "http://127.0.0.1:6443"}),
}


def _with(option: str) -> dict:
    import copy

    doc = copy.deepcopy(BASE)
    kind, fields = UNSAFE[option]
    (doc["users"][0]["user"] if kind == "user" else doc["clusters"][0]["cluster"]).update(fields)
    return doc


def test_every_unsafe_option_has_a_case():
    assert set(UNSAFE) == OPTIONS


@pytest.mark.parametrize("option", sorted(UNSAFE))
def test_each_unsafe_option_is_refused_naming_entry_and_field_unless_allowed(option):
    kind, fields = UNSAFE[option]
    entry = "user entry 'u1'" if kind == "user" else "cluster entry 'c1'"
    field = "server" if option == "http" else option
    with pytest.raises(errors.ConfigError) as refused:
        check_kubeconfig(_with(option), "kubeconfig for cluster 'm'")
    message = str(refused.value)
    assert entry in message and f"{field} is not accepted" in message
    assert f"--allow-kubeconfig-option {option}" in message
    others = tuple(sorted(OPTIONS - {option}))
    with pytest.raises(errors.ConfigError):
        check_kubeconfig(_with(option), "k", allowed=others)
    check_kubeconfig(_with(option), "k", allowed=(option,))  # allowed: accepted


def test_safe_kubeconfigs_pass_and_harmless_values_are_not_refused():
    check_kubeconfig(BASE, "k")
    doc = _with("insecure-skip-tls-verify")
    doc["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = False
    check_kubeconfig(doc, "k")


def test_the_option_list_is_checked():
    assert parse_options(["exec,tokenFile", "proxy-url"]) == ("exec", "proxy-url", "tokenFile")
    with pytest.raises(errors.ConfigError, match="tokenfile: unknown"):
        parse_options("tokenfile")


def test_unsafe_kubeconfigs_are_refused_over_grpc_run_nothing_read_nothing_store_nothing(hub, tmp_path):
    base = kubeconfig_of(hub, "cluster-1")
    marker = tmp_path / "exec-ran"
    script = f"import pathlib; pathlib.Path({str(marker)!r}).write_text('ran')"
    cases = {
        "exec": variant(base, drop_user=["token"], user={"exec": {
            "apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
            "args": ["-c", script], "interactiveMode": "Never"}}),
        "tokenFile": variant(base, drop_user=["token"],
                             user={"tokenFile": str(hub.workdir / "hub" / "admin-token")}),
        "auth-provider": variant(base, drop_user=["token"], user={"auth-provider": {
            "name": "gcp", "config": {"cmd-path": sys.executable, "cmd-args": f"-c \"{script}\""}}}),
        "client-certificate": variant(base, user={"client-certificate": str(tmp_path / "c.pem")}),
        "client-key": variant(base, user={"client-key": str(hub.workdir / "hub" / "kek")}),
        "certificate-authority": variant(base, drop_cluster=["certificate-authority-data"], cluster={
            "certificate-authority": str(hub.workdir / "hub" / "tls" / "ca.crt")}),
        "insecure-skip-tls-verify": variant(base, drop_cluster=["certificate-authority-data"],
                                            cluster={"insecure-skip-tls-verify": True}),
        "proxy-url": variant(base, cluster={"proxy-url": "http://127.0.0.1:9"}),
        "http": variant(base, cluster={"server": hub.sim("cluster-1").url.replace("https:", "http:")}),
    }
    before = store_dump(hub)
    hub.sim("cluster-1").clear_requests()
    client = admin_client(hub)
    try:
        for option, text in cases.items():
            with pytest.raises(errors.ValidationError) as refused:
                client.register_cluster(f"bad-{option.lower()}"[:40], text)
            field = "server" if option == "http" else option
            assert f"{field} is not accepted" in str(refused.value), option
            assert "entry" in str(refused.value)
    finally:
        client.close()
    assert not marker.exists()  # no program ran
    assert store_dump(hub) == before  # nothing stored
    assert hub.sim("cluster-1").requests() == []  # nothing was sent with any of them


def test_an_allowed_option_works_and_a_stored_record_refused_later_is_reported_not_loaded(env, tmp_path):
    token_file = tmp_path / "member-token"
    token_file.write_text(env.sim("cluster-1").token)
    text = variant(kubeconfig_of(env, "cluster-1"), drop_user=["token"], user={"tokenFile": str(token_file)})
    env.start_hub(kubeconfig_options=("tokenFile",))
    env.service.control.add_cluster("cluster-1", text)
    wait_for(lambda: any(c.name == "cluster-1" and c.synced for c in env.service.control.status().clusters),
             what="cluster-1 synced with a token file")
    env.stop_hub()

    env.sim("cluster-1").clear_requests()
    env.start_hub()  # no longer allowed
    status = {c.name: c for c in env.service.control.status().clusters}
    assert status["cluster-1"].state == "refused" and not status["cluster-1"].synced
    assert "user entry 'cluster-1-admin': tokenFile is not accepted" in status["cluster-1"].error
    assert "cluster-1" not in env.service.hub.members()
    assert [c.state for c in env.service.control.list_clusters()] == ["refused"]
    assert env.sim("cluster-1").requests() == []  # the hub never used the stored record


def test_a_ca_that_does_not_verify_is_unavailable_naming_the_cluster_without_a_traceback(hub):
    other_ca = make_self_signed_ca("not the member's CA").cert_pem
    text = variant(kubeconfig_of(hub, "cluster-1"),
                   cluster={"certificate-authority-data": base64.b64encode(other_ca).decode()})
    before = store_dump(hub)
    client = admin_client(hub)
    try:
        with LogLines() as logs:
            with pytest.raises(errors.Transient) as refused:
                client.register_cluster("wrong-ca", text)
    finally:
        client.close()
    assert "cluster 'wrong-ca'" in str(refused.value)
    assert "certificate verify failed" in str(refused.value)
    assert not any(r.exc_info for r in logs.records), "a traceback was logged"
    assert "Traceback" not in logs.text()
    assert store_dump(hub) == before


def test_the_wrong_ca_answer_is_grpc_unavailable(hub):
    other_ca = make_self_signed_ca("not the member's CA").cert_pem
    text = variant(kubeconfig_of(hub, "cluster-2"),
                   cluster={"certificate-authority-data": base64.b64encode(other_ca).decode()})
    from federation.api.gen.federation.v1 import admin_pb2 as pb

    client = admin_client(hub)
    try:
        with pytest.raises(grpc.RpcError) as failed:
            client._stub.RegisterCluster(pb.RegisterClusterRequest(name="wrong-ca", kubeconfig=text),
                                         timeout=10, metadata=client._metadata)
    finally:
        client.close()
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "cluster 'wrong-ca'" in failed.value.details()
    assert "certificate verify failed" in failed.value.details()


def test_no_credential_reaches_a_log_line_through_bad_registrations(hub, tmp_path):
    base = kubeconfig_of(hub, "cluster-3")
    member_token = base["users"][0]["user"]["token"]
    forged = "forged-bearer-3f9c1d7e5b2a"
    secret_file = tmp_path / "secret-token"
    secret_file.write_text("file-secret-8d2e4c6a0b1f\n")
    client = admin_client(hub)
    try:
        with LogLines() as logs:
            attempts = [
                ("tf-admin", variant(base, drop_user=["token"],
                                     user={"tokenFile": str(hub.workdir / "hub" / "admin-token")})),
                ("tf-file", variant(base, drop_user=["token"], user={"tokenFile": str(secret_file)})),
                ("forged", variant(base, user={"token": forged})),
                ("cluster-3", variant(base)),  # duplicate name, with the real token
                ("not-yaml", f"users: [{{user: {{token: {forged}}}}}\n  bad: ["),
            ]
            for name, text in attempts:
                with pytest.raises(errors.FederationError):
                    client.register_cluster(name, text)
    finally:
        client.close()
    lines = logs.text()
    assert logs.lines  # the refusals were logged ...
    for secret in (admin_token(hub), member_token, forged, "file-secret-8d2e4c6a0b1f"):
        assert secret not in lines  # ... without any credential


def test_the_serve_flag_reaches_the_settings_and_is_checked():
    from federation.cli import _settings_from, build_parser

    args = build_parser().parse_args(["serve", "--allow-kubeconfig-option", "tokenFile,exec",
                                      "--allow-kubeconfig-option", "proxy-url"])
    settings = _settings_from(args)
    settings.validate()
    assert settings.kubeconfig_options == ("exec", "proxy-url", "tokenFile")
    assert _settings_from(build_parser().parse_args(["serve"])).kubeconfig_options == ()
    bad = _settings_from(build_parser().parse_args(["serve", "--allow-kubeconfig-option", "all"]))
    with pytest.raises(errors.ConfigError, match="all: unknown"):
        bad.validate()
