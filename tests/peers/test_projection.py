"""The kubelet-style projection of a Secret into a directory: one atomic swap per change."""

from __future__ import annotations

import os

from peers.projection import DATA_LINK, project


def test_projection_swaps_all_files_at_once_and_drops_removed_keys(tmp_path):
    project(tmp_path, {"ca-cert.pem": b"one", "root-cert.pem": b"root-1"})
    first = os.readlink(tmp_path / DATA_LINK)
    assert (tmp_path / "ca-cert.pem").read_bytes() == b"one"
    assert os.readlink(tmp_path / "ca-cert.pem") == f"{DATA_LINK}/ca-cert.pem"

    project(tmp_path, {"ca-cert.pem": b"two", "cert-chain.pem": b"chain"})
    assert os.readlink(tmp_path / DATA_LINK) != first
    assert not (tmp_path / first).exists(), "the previous generation is removed"
    assert (tmp_path / "ca-cert.pem").read_bytes() == b"two"
    assert (tmp_path / "cert-chain.pem").read_bytes() == b"chain"
    assert not os.path.lexists(tmp_path / "root-cert.pem")
    generation = tmp_path / os.readlink(tmp_path / DATA_LINK)
    assert oct((generation / "ca-cert.pem").stat().st_mode & 0o777) == "0o600"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("..")) == [
        "ca-cert.pem", "cert-chain.pem"]
