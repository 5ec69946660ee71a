"""render/ and the policy model are pure: no I/O, clock, logging or client imports."""

from __future__ import annotations

import ast
from pathlib import Path

import federation

FORBIDDEN = {"logging", "time", "datetime", "os", "io", "pathlib", "socket", "threading", "subprocess",
             "random", "urllib", "http", "kubernetes", "pyetcd", "grpc", "yaml", "requests"}
ROOT = Path(federation.__file__).resolve().parent


def imported_modules(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module.split(".")[0])
    return out


def test_render_and_policy_import_nothing_impure():
    files = sorted((ROOT / "render").glob("*.py")) + [ROOT / "model" / "policy.py"]
    assert len(files) > 5
    offenders = {f.name: sorted(imported_modules(f) & FORBIDDEN) for f in files}
    assert not {name: mods for name, mods in offenders.items() if mods}
