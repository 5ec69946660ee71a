"""deploy/vm/federation-agent.service: runs `run` mode, restarts on failure but not when
re-enrollment is needed, and is hardened."""

from __future__ import annotations

import shlex
import shutil
import subprocess

import pytest

from federation.agent.cli import build_parser
from federation.agent.running import NEEDS_ENROLLMENT
from tests.onboarding.support import REPO_ROOT

UNIT = REPO_ROOT / "deploy" / "vm" / "federation-agent.service"


def settings() -> dict[str, list[str]]:
    """Every key of the unit with all its values (systemd allows repeated keys)."""
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_the_unit_runs_the_agent_in_run_mode_and_restarts_on_failure_only():
    unit = settings()
    command = shlex.split(unit["ExecStart"][0])
    assert command[0].endswith("/federation-agent") and command[1] == "run"
    args = build_parser().parse_args(command[1:])
    assert args.command == "run" and args.out == "/var/lib/federation-agent"
    assert unit["Restart"] == ["on-failure"]
    assert unit["RestartPreventExitStatus"] == [str(NEEDS_ENROLLMENT)]
    assert unit["KillSignal"] == ["SIGTERM"]


def test_the_unit_is_hardened():
    unit = settings()
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                       "PrivateTmp": "yes", "CapabilityBoundingSet": "", "UMask": "0077",
                       "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX"}.items():
        assert unit.get(key) == [value], key
    assert unit["User"] != ["root"]


def test_systemd_rates_the_unit_exposure_low():
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    done = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(UNIT)],
                          capture_output=True, text=True, timeout=60)
    line = [ln for ln in done.stdout.splitlines() if "Overall exposure level" in ln]
    if done.returncode != 0 or not line:
        pytest.skip(f"systemd-analyze cannot assess units offline here: {done.stderr.strip()[:200]}")
    exposure = float(line[0].split(":")[1].split()[0])
    assert exposure <= 2.0, line[0]
