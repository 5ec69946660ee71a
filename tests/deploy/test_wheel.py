"""The product's wheel (what the Containerfile installs) holds the hub and the VM agent only.

The simulated clusters (``kubesim``), the benchmark (``bench``), the proto generator
(``tools``) and the test peers live beside ``federation/`` in the checkout; the wheel is
built from a copy of the checkout that has them, so a packaging rule that picks them up
fails here. ``jsonschema`` is the simulator's (the ``demo`` extra), not a runtime
dependency of the hub or the agent.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "federation", "kubesim", "bench", "tools", "peers", "protos")
NOT_PRODUCT = {"kubesim", "bench", "tools", "peers", "tests", "jsonschema", "matplotlib"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        path = REPO_ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif path.exists():
            shutil.copy2(path, src / name)
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                           "--quiet", "--wheel-dir", str(out), str(src)],
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (built,) = out.glob("mesh_federation-*.whl")
    with zipfile.ZipFile(built) as zf:
        yield zf


def _metadata(wheel: zipfile.ZipFile, name: str) -> str:
    (path,) = [n for n in wheel.namelist() if n.endswith(f".dist-info/{name}")]
    return wheel.read(path).decode()


def test_the_wheel_holds_the_federation_package_only(wheel):
    tops = {name.split("/", 1)[0] for name in wheel.namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"federation"}
    names = wheel.namelist()
    assert "federation/cli.py" in names and "federation/agent/cli.py" in names
    assert "federation/api/gen/federation/v1/admin_pb2.py" in names
    leftovers = [n for n in names if n.startswith(("federation/sim/", "federation/bench"))
                 or n.endswith(("/demo.py", "/protogen.py"))]
    assert not leftovers, leftovers


def test_no_module_in_the_wheel_imports_what_it_does_not_hold(wheel):
    offenders = []
    for name in wheel.namelist():
        if not name.endswith(".py"):
            continue
        for node in ast.walk(ast.parse(wheel.read(name), name)):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            offenders += [f"{name}: {m}" for m in modules if m.split(".")[0] in NOT_PRODUCT]
    assert not offenders, offenders


def test_jsonschema_is_no_runtime_requirement(wheel):
    requires = [line.removeprefix("Requires-Dist:").strip()
                for line in _metadata(wheel, "METADATA").splitlines() if line.startswith("Requires-Dist:")]
    runtime = [r for r in requires if "extra ==" not in r]
    assert any(r.startswith("grpcio") for r in runtime), requires
    assert not [r for r in runtime if r.lower().startswith("jsonschema")], runtime
    assert [r for r in requires if r.lower().startswith("jsonschema") and 'extra == "demo"' in r], requires


def test_the_console_scripts_are_the_hub_and_the_agent(wheel):
    scripts = _metadata(wheel, "entry_points.txt").split("[console_scripts]", 1)[1].split("[", 1)[0]
    assert {line.split("=")[0].strip() for line in scripts.splitlines() if "=" in line} == {
        "federation", "federation-agent"}
