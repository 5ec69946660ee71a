"""Compiling the two Istio protos the probes speak into ``peers/gen``.

``pkg/dns/proto/nds.proto`` (the NDS name table) comes from the pinned
``istio.io/istio`` module and ``security/v1alpha1/ca.proto`` (the certificate
service) from the ``istio.io/api`` version that module requires; both are read
from the Go module cache ``make peers`` filled. They are staged as
``istio/nds.proto`` and ``istio/ca.proto`` so the generated modules are
``peers.gen.istio.{nds_pb2,ca_pb2,ca_pb2_grpc}``. Output is deterministic, so a
test can regenerate and compare with the committed files.

Run as ``python -m peers.protogen``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from federation.errors import ConfigError
from peers.versions import ISTIO_MODULE, ISTIO_VERSION
from tools import protogen as api_protogen
from tools.protogen import _run_protoc, tools_version, write

GEN_PACKAGE = "peers.gen"
OUT_DIR = Path(__file__).resolve().parent / "gen"
API_MODULE = "istio.io/api"
_HEADER = "# Generated from {source} by peers.protogen (grpcio-tools {version}); run `python -m peers.protogen`.\n"
_INIT_DOC = '"""Code generated from Istio\'s protos by ``python -m peers.protogen``; do not edit."""\n'
_GENERATED_SUFFIXES = (".py", ".pyi")


def module_cache() -> Path:
    """Go's module cache: ``$GOMODCACHE``, else ``$GOPATH/pkg/mod``, else ``~/go/pkg/mod``."""
    if os.environ.get("GOMODCACHE"):
        return Path(os.environ["GOMODCACHE"])
    gopath = os.environ.get("GOPATH", "").split(os.pathsep)[0] or str(Path.home() / "go")
    return Path(gopath) / "pkg" / "mod"


def istio_source(cache: Path | None = None) -> Path:
    return (cache or module_cache()) / f"{ISTIO_MODULE}@{ISTIO_VERSION}"


def api_version(istio_dir: Path) -> str:
    """The ``istio.io/api`` version the pinned Istio's go.mod requires."""
    gomod = istio_dir / "go.mod"
    try:
        text = gomod.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{gomod} is missing: run `make peers` to download {ISTIO_MODULE}") from exc
    match = re.search(rf"^\s*{re.escape(API_MODULE)}\s+(\S+)", text, re.M)
    if not match:
        raise ConfigError(f"{gomod} does not require {API_MODULE}")
    return match.group(1)


def sources(cache: Path | None = None) -> dict[str, Path]:
    """Staged name → the .proto file in the module cache (each must exist)."""
    istio_dir = istio_source(cache)
    api_dir = (cache or module_cache()) / f"{API_MODULE}@{api_version(istio_dir)}"
    found = {
        "istio/nds.proto": istio_dir / "pkg" / "dns" / "proto" / "nds.proto",
        "istio/ca.proto": api_dir / "security" / "v1alpha1" / "ca.proto",
    }
    for path in found.values():
        if not path.is_file():
            raise ConfigError(f"{path} is missing: run `make peers` to download the Istio modules")
    return found


def render(cache: Path | None = None) -> dict[str, str]:
    """Compile the staged protos; returns generated file text by path relative to gen/."""
    staged_from = sources(cache)
    files: dict[str, str] = {"__init__.py": _INIT_DOC, "istio/__init__.py": _INIT_DOC}
    version = tools_version()
    with tempfile.TemporaryDirectory(prefix="peers-protogen-") as tmp:
        root, out = Path(tmp) / "src", Path(tmp) / "out"
        for name, path in staged_from.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, root / name)
        out.mkdir()
        _run_protoc(root, sorted(staged_from), out)
        for path in sorted(out.rglob("*")):
            if path.is_file() and path.suffix in _GENERATED_SUFFIXES:
                rel = path.relative_to(out).as_posix()
                stem = re.sub(r"_pb2(_grpc)?\.pyi?$", "", rel) + ".proto"
                source = _origin(staged_from[stem])
                text = _rewrite_imports(path.read_text(encoding="utf-8"))
                files[rel] = _HEADER.format(source=source, version=version) + text
    return dict(sorted(files.items()))


def read_generated(out_dir: Path = OUT_DIR) -> dict[str, str]:
    """The generated files currently in ``out_dir``, same shape as ``render``."""
    return api_protogen.read_generated(out_dir)


def _rewrite_imports(text: str) -> str:
    """Generated modules import each other as top-level ``istio``; point them into GEN_PACKAGE."""
    text = re.sub(r"^from istio import ", f"from {GEN_PACKAGE}.istio import ", text, flags=re.M)
    return text.replace("(DESCRIPTOR, 'istio.", f"(DESCRIPTOR, '{GEN_PACKAGE}.istio.")


def _origin(path: Path) -> str:
    """``module@version/path`` of a file in the module cache (no machine-specific prefix)."""
    parts = path.parts
    for i, part in enumerate(parts):
        if "@" in part:
            return "/".join(parts[i - 1:]) if i else "/".join(parts[i:])
    return path.name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m peers.protogen", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output package directory")
    parser.add_argument("--check", action="store_true", help="only say whether gen/ is current (exit 1 if not)")
    args = parser.parse_args(argv)
    try:
        files = render()
    except ConfigError as exc:
        print(f"peers.protogen: {exc}", file=sys.stderr)
        return 1
    if args.check:
        stale = files != read_generated(args.out)
        print("peers.protogen: " + ("stale: run `python -m peers.protogen`" if stale else "up to date"))
        return int(stale)
    changed = write(files, args.out)
    print("\n".join(f"peers.protogen: wrote {args.out / rel}" for rel in changed) or "peers.protogen: up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
