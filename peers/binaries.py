"""Finding the peer binaries ``make peers`` built, and checking they are the pinned ones.

Each cache directory holds a stamp (``stamp.json``: module, version, and per
binary its size and sha256). ``find_binaries`` trusts a stamp whose sizes
match (cheap, done by every test session); ``make peers`` re-hashes them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from peers.errors import PeersMissing
from peers.versions import BUNDLES, ISTIO, KUBE, Bundle

ETCD_MIN = (3, 4)
HOW_TO_FIX = "run `make peers`"


@dataclass(frozen=True)
class PeerBinaries:
    pilot_discovery: Path
    istioctl: Path
    kube_apiserver: Path
    etcd: Path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_stamp(bundle: Bundle) -> dict | None:
    try:
        data = json.loads(bundle.stamp.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_stamp(bundle: Bundle) -> dict:
    """Record the bundle's version and its binaries' sizes and hashes (atomically)."""
    stamp = {"module": bundle.module, "version": bundle.version, "ldflags": bundle.ldflags, "binaries": {
        name: {"size": bundle.binary(name).stat().st_size, "sha256": sha256_of(bundle.binary(name))}
        for name in bundle.binaries}}
    tmp = bundle.stamp.with_suffix(".tmp")
    tmp.write_text(json.dumps(stamp, indent=2) + "\n")
    os.replace(tmp, bundle.stamp)
    return stamp


def stamp_problem(bundle: Bundle, verify_hashes: bool = False) -> str | None:
    """Why the bundle's binaries are not usable as the pinned version, or None."""
    for name in bundle.binaries:
        if not os.access(bundle.binary(name), os.X_OK):
            return f"{name} is missing from {bundle.path}"
    stamp = read_stamp(bundle)
    if stamp is None:
        return f"{bundle.stamp} is missing or unreadable"
    if (stamp.get("module"), stamp.get("version")) != (bundle.module, bundle.version):
        return (f"{bundle.path} holds {stamp.get('module')}@{stamp.get('version')}, "
                f"not the pinned {bundle.module}@{bundle.version}")
    if stamp.get("ldflags", "") != bundle.ldflags:
        return f"{bundle.path} was built with other linker flags than {bundle.ldflags!r}"
    recorded = stamp.get("binaries") or {}
    for name in bundle.binaries:
        entry = recorded.get(name) or {}
        path = bundle.binary(name)
        if entry.get("size") != path.stat().st_size:
            return f"{path} changed since it was built (size differs from {bundle.stamp})"
        if verify_hashes and entry.get("sha256") != sha256_of(path):
            return f"{path} changed since it was built (sha256 differs from {bundle.stamp})"
    return None


def build_info(binary: Path) -> dict[str, str]:
    """What ``go version -m`` says a Go binary was built from: module → version, and each
    build setting (``-ldflags`` …) → its value; empty when it cannot tell."""
    go = shutil.which("go")
    if go is None or not binary.is_file():
        return {}
    try:
        out = subprocess.run([go, "version", "-m", str(binary)], capture_output=True, text=True,
                             timeout=60, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    info: dict[str, str] = {}
    for line in out.splitlines():
        fields = line.strip().split("\t")
        if len(fields) >= 3 and fields[0] in ("mod", "dep"):
            info[fields[1]] = fields[2]
        elif len(fields) == 2 and fields[0] == "build" and "=" in fields[1]:
            key, _, value = fields[1].partition("=")
            info[key] = value.strip('"')
    return info


def embedded_version(binary: Path, module: str) -> str | None:
    """The version of ``module`` a Go binary was built from, or None."""
    return build_info(binary).get(module)


def etcd_version(etcd: Path) -> tuple[int, int, int] | None:
    try:
        out = subprocess.run([str(etcd), "--version"], capture_output=True, text=True,
                             timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"etcd Version:\s*(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(g) for g in match.groups()) if match else None  # type: ignore[return-value]


def find_etcd() -> Path:
    path = shutil.which("etcd")
    if path is None:
        raise PeersMissing("etcd is not on PATH (Debian's etcd-server: `make etcd`, or `make peers`)")
    version = etcd_version(Path(path))
    if version is None or version[:2] < ETCD_MIN:
        raise PeersMissing(f"{path} is not etcd >= {'.'.join(map(str, ETCD_MIN))} "
                           f"(it reports {version}); {HOW_TO_FIX}")
    return Path(path)


def find_binaries() -> PeerBinaries:
    """The pinned peer binaries; PeersMissing names each one missing and says to run `make peers`."""
    problems = [problem for bundle in BUNDLES if (problem := stamp_problem(bundle))]
    try:
        etcd = find_etcd()
    except PeersMissing as exc:
        problems.append(str(exc))
        etcd = None
    if problems:
        raise PeersMissing("real peers are not built: " + "; ".join(problems) + f" — {HOW_TO_FIX}")
    assert etcd is not None
    return PeerBinaries(pilot_discovery=ISTIO.binary("pilot-discovery"), istioctl=ISTIO.binary("istioctl"),
                        kube_apiserver=KUBE.binary("kube-apiserver"), etcd=etcd)
