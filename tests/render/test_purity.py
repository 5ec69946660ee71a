"""The pure layers stay pure: ``model/``, ``render/``, the debouncer and the push
ledger import no I/O, clock, logging or client library, directly or through the
first-party modules they import (house rule 1).

Read from the source (nothing is imported): each module's imports, anywhere in
it, and then those of every ``federation`` module they name, to the end. A
package's ``__init__`` is followed where the package itself is imported, not
where only a module under it is.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import federation

ROOT = Path(federation.__file__).resolve().parent
PURE = ("model/*.py", "render/*.py", "registry/debouncing.py", "push/ledger.py")
# Standard-library modules that reach outside the process, read the clock, log,
# or run threads; every module outside the standard library (a client) is refused too.
FORBIDDEN = {"logging", "time", "datetime", "os", "io", "pathlib", "socket", "ssl", "select", "selectors",
             "threading", "queue", "concurrent", "multiprocessing", "asyncio", "subprocess", "signal",
             "shutil", "tempfile", "random", "secrets", "uuid", "urllib", "http", "sched"}


def source_of(module: str, root: Path = ROOT) -> Path | None:
    """The file of a ``federation`` module or package, None for a name inside one."""
    path = root.parent.joinpath(*module.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return path.with_suffix(".py") if path.with_suffix(".py").is_file() else None


def module_of(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path = ROOT) -> set[str]:
    """Every module ``path`` imports: ``from a.b import c`` is ``a.b.c`` when that is a module."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module != "__future__":
            assert not node.level, f"{path}: relative import"
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                out.add(name if source_of(name, root) else node.module)
    return out


def impure_imports(start: list[Path], root: Path = ROOT) -> dict[str, list[str]]:
    """{module <- the chain that brings it in: its refused imports}."""
    todo = [(module_of(path, root), ()) for path in start]
    seen: set[str] = set()
    found: dict[str, list[str]] = {}
    while todo:
        module, chain = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        for name in sorted(imported_modules(source_of(module, root), root)):
            top = name.split(".")[0]
            if top == "federation":
                if name not in seen:
                    todo.append((name, (*chain, module)))
            elif top in FORBIDDEN or top not in sys.stdlib_module_names:
                found.setdefault(" <- ".join((module, *reversed(chain))), []).append(name)
    return found


def pure_files() -> list[Path]:
    return sorted(path for pattern in PURE for path in ROOT.glob(pattern))


def test_the_pure_layers_import_nothing_impure_directly_or_through_first_party_modules():
    files = pure_files()
    assert {f.parent.name for f in files} == {"model", "render", "registry", "push"}
    assert len(files) > 15
    assert impure_imports(files) == {}


def test_the_check_follows_first_party_imports_and_sees_clients_anywhere(tmp_path):
    root = tmp_path / "federation"
    (root / "kube").mkdir(parents=True)
    for name, text in {"__init__.py": "", "kube/__init__.py": "", "pure.py": "from dataclasses import dataclass\n",
                       "view.py": "from federation.kube.client import SERVICE\nfrom federation import pure\n",
                       "kube/client.py": "import threading\n\ndef get():\n    import kubernetes\n"}.items():
        (root / name).write_text(text)
    assert impure_imports([root / "pure.py"], root) == {}
    assert impure_imports([root / "view.py"], root) == {
        "federation.kube.client <- federation.view": ["kubernetes", "threading"]}
