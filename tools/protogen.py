"""Compiling ``protos/**/*.proto`` into ``federation/api/gen`` (``make protos``).

grpc_tools.protoc writes modules that import each other as top-level packages
(``from federation.v1 import admin_pb2``), which would collide with the
``federation`` package; the generated imports are rewritten to live under
``federation.api.gen``. Output is deterministic (sorted inputs, no timestamps),
so a test can regenerate and compare with the committed files.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

from federation.errors import ConfigError

GEN_PACKAGE = "federation.api.gen"
REPO_ROOT = Path(__file__).resolve().parents[1]
PROTO_ROOT = REPO_ROOT / "protos"
OUT_DIR = REPO_ROOT / "federation" / "api" / "gen"
_PROTOC_TIMEOUT_S = 120
_GENERATED_SUFFIXES = (".py", ".pyi")
_HEADER = "# Generated from {source} by tools.protogen (grpcio-tools {version}); run `make protos`.\n"
_INIT_DOC = '"""Code generated from protos/ by ``make protos``; do not edit."""\n'
_SERIALIZED = re.compile(r"AddSerializedFile\((b'.*?')\)\n", re.S)


def tools_version() -> str:
    """The grpcio-tools version, which decides the exact generated text."""
    from grpc_tools import grpc_version

    return grpc_version.VERSION


def proto_files(proto_root: Path) -> list[str]:
    """Every .proto under ``proto_root``, relative and sorted."""
    return sorted(p.relative_to(proto_root).as_posix() for p in proto_root.rglob("*.proto"))


def render(proto_root: Path = PROTO_ROOT) -> dict[str, str]:
    """Compile every proto; returns generated file text by path relative to gen/."""
    protos = proto_files(proto_root)
    if not protos:
        raise ConfigError(f"no .proto files under {proto_root}")
    packages = {str(Path(p).parent).replace("/", ".") for p in protos}
    files: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="protogen-") as tmp:
        _run_protoc(proto_root, protos, Path(tmp))
        version = tools_version()
        for path in sorted(Path(tmp).rglob("*")):
            if path.is_file() and path.suffix in _GENERATED_SUFFIXES:
                rel = path.relative_to(tmp).as_posix()
                source = _source_of(rel)
                text = _rewrite_imports(path.read_text(encoding="utf-8"), packages)
                files[rel] = _HEADER.format(source=source, version=version) + text
    for rel in list(files):
        parent = Path(rel).parent
        while True:
            files.setdefault((parent / "__init__.py").as_posix(), _INIT_DOC)
            if parent == Path("."):
                break
            parent = parent.parent
    return dict(sorted(files.items()))


def read_generated(out_dir: Path = OUT_DIR) -> dict[str, str]:
    """The generated files currently in ``out_dir``, same shape as ``render``."""
    return {
        p.relative_to(out_dir).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(out_dir.rglob("*"))
        if p.is_file() and p.suffix in _GENERATED_SUFFIXES and "__pycache__" not in p.parts
    }


def write(files: dict[str, str], out_dir: Path = OUT_DIR) -> list[str]:
    """Make ``out_dir`` hold exactly ``files``; returns the paths changed or removed."""
    current = read_generated(out_dir) if out_dir.exists() else {}
    changed = []
    for rel, text in files.items():
        if current.get(rel) != text:
            target = out_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            changed.append(rel)
    for rel in sorted(set(current) - set(files)):
        (out_dir / rel).unlink()
        changed.append(rel)
    return changed


def serialized_descriptors(files: dict[str, str]) -> dict[str, bytes]:
    """The serialized FileDescriptorProto embedded in each ``*_pb2.py``.

    These depend on the .proto sources only, not on the grpcio-tools version.
    """
    out = {}
    for rel, text in files.items():
        if rel.endswith("_pb2.py"):
            match = _SERIALIZED.search(text)
            if match:
                out[rel] = ast.literal_eval(match.group(1))
    return out


def header_version(text: str) -> str | None:
    """The grpcio-tools version a generated file's header names."""
    match = re.search(r"\(grpcio-tools ([^)]+)\)", text.split("\n", 1)[0])
    return match.group(1) if match else None


def _run_protoc(proto_root: Path, protos: list[str], out: Path) -> None:
    include = resources.files("grpc_tools") / "_proto"
    cmd = [
        sys.executable, "-m", "grpc_tools.protoc",
        f"-I{proto_root}", f"-I{include}",
        f"--python_out={out}", f"--grpc_python_out={out}", f"--pyi_out={out}",
        *protos,
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_PROTOC_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise ConfigError(f"protoc did not finish within {_PROTOC_TIMEOUT_S}s") from exc
    if proc.returncode != 0:
        raise ConfigError(f"protoc failed:\n{proc.stderr.strip()}")


def _source_of(rel: str) -> str:
    stem = re.sub(r"_pb2(_grpc)?\.pyi?$", "", rel)
    return f"protos/{stem}.proto"


def _rewrite_imports(text: str, packages: set[str]) -> str:
    """Point imports of generated modules (and their module names) into GEN_PACKAGE."""
    alternatives = "|".join(re.escape(p) for p in sorted(packages, key=len, reverse=True))
    text = re.sub(rf"^from ({alternatives}) import ", rf"from {GEN_PACKAGE}.\1 import ", text, flags=re.M)
    return re.sub(
        rf"(BuildTopDescriptorsAndMessages\(DESCRIPTOR, ')({alternatives})\.",
        rf"\g<1>{GEN_PACKAGE}.\2.",
        text,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.protogen", description=__doc__.split("\n")[0])
    parser.add_argument("--protos", type=Path, default=PROTO_ROOT, help="proto source root")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output package directory")
    args = parser.parse_args(argv)
    try:
        changed = write(render(args.protos), args.out)
    except ConfigError as exc:
        print(f"protogen: {exc}", file=sys.stderr)
        return 1
    for rel in changed:
        print(f"protogen: wrote {args.out / rel}")
    if not changed:
        print("protogen: generated code is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
