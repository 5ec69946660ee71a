"""``real_binaries`` skips without ``make peers``, and fails instead when CI is set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROBE = '''
from tests.peers.support import real_binaries  # noqa: F401

def test_needs_peers(real_binaries):
    pass
'''


@pytest.mark.parametrize("ci, outcome", [("", "1 skipped"), ("1", "1 error")])
def test_real_binaries_skips_locally_and_fails_under_ci(tmp_path, ci, outcome):
    (tmp_path / "test_probe.py").write_text(PROBE)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(MESH_FEDERATION_PEERS_CACHE=str(tmp_path / "empty-cache"), PYTHONPATH=str(REPO))
    if ci:
        env["CI"] = ci
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), "-c", os.devnull, str(tmp_path / "test_probe.py")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert outcome in done.stdout, done.stdout + done.stderr
    assert "real peers are not built" in done.stdout and "run `make peers`" in done.stdout
