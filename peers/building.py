"""``make peers``: build the pinned peer binaries with the Go toolchain, cached outside the checkout.

``python -m peers.building`` builds ``pilot-discovery`` and ``istioctl``
(``go install <pkg>@<version>``) and ``kube-apiserver`` (``go build`` in the
wrapper module ``peers/kubewrapper``, whose go.mod replaces the staging modules
of ``k8s.io/kubernetes`` with their published versions). A bundle whose stamp
and hashes match is left alone, so a warm run takes seconds. On failure it says
what failed and how to fix it, and exits 1.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

from peers.binaries import build_info, find_etcd, stamp_problem, write_stamp
from peers.errors import BuildFailed, PeersMissing
from peers.versions import BUNDLES, KUBE, KUBE_WRAPPER, Bundle, cache_root

GO_TIMEOUT = 3 * 3600.0  # a cold build on 2 cores takes tens of minutes
TAIL_LINES = 30
_DOWNLOAD_FAILURE = re.compile(
    r"(dial tcp|i/o timeout|connection refused|no such host|module lookup disabled|"
    r"proxy\.golang\.org|unknown revision|invalid version|"
    r"no matching versions|verifying .*: checksum mismatch|reading .*: 404|missing go\.sum entry)")
_COMPILE_FAILURE = re.compile(r"^# (\S+)$")


def say(message: str) -> None:
    print(f"peers: {message}", flush=True)


def go_binary() -> str:
    go = shutil.which("go")
    if go is None:
        raise BuildFailed("no Go toolchain: `go` is not on PATH. Install Go 1.26 or newer "
                          "(https://go.dev/dl/) and put its bin directory on PATH, then run `make peers` again.")
    return go


def diagnose(what: str, tail: list[str]) -> BuildFailed:
    """Turn a failed go command's output into a message naming the cause and the fix."""
    text = "\n".join(tail)
    failed_packages = [m.group(1) for line in tail if (m := _COMPILE_FAILURE.match(line))]
    if failed_packages:
        cause = (f"package {', '.join(dict.fromkeys(failed_packages))} did not compile; the pinned version "
                 "may need a newer Go toolchain (see its go.mod) — upgrade Go and run `make peers` again")
    elif _DOWNLOAD_FAILURE.search(text):
        modules = re.findall(r"go: (?:downloading )?([\w./-]+@?[\w.+-]*): ", text)
        named = f" ({', '.join(dict.fromkeys(modules))})" if modules else ""
        cause = (f"a module did not download{named}; check access to the Go module proxy "
                 "(GOPROXY, default https://proxy.golang.org) and run `make peers` again")
    else:
        cause = "see the output above; fix it and run `make peers` again"
    return BuildFailed(f"building {what} failed: {cause}\n--- last lines of go's output ---\n{text}")


def run_go(what: str, args: list[str], cwd: Path, env: dict[str, str], log_path: Path) -> None:
    """Run one go command, printing its progress and keeping a log; BuildFailed on failure."""
    say(f"{what}: go {' '.join(args[1:])}")
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    started = time.monotonic()
    with open(log_path, "a") as log:
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, text=True, errors="replace")
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                line = line.rstrip("\n")
                log.write(line + "\n")
                tail.append(line)
                if not line.startswith("go: downloading") or len(tail) % 10 == 0:
                    say(f"  {line}")
            proc.wait(timeout=max(1.0, GO_TIMEOUT - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise BuildFailed(f"building {what} took longer than {GO_TIMEOUT:.0f}s; see {log_path}")
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    if proc.returncode != 0:
        raise diagnose(what, list(tail))
    say(f"{what}: done in {time.monotonic() - started:.0f}s")


def build_bundle(bundle: Bundle, go: str) -> None:
    bundle.path.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    log_path = bundle.path / "build.log"
    if bundle is KUBE:
        run_go("kube-apiserver (go mod tidy)", [go, "mod", "tidy"], KUBE_WRAPPER, env, log_path)
        fresh = bundle.path / ".kube-apiserver.new"  # swapped in whole: running servers keep theirs
        run_go(f"kube-apiserver {bundle.version}",
               [go, "build", "-ldflags", bundle.ldflags, "-o", str(fresh), bundle.packages[0]],
               KUBE_WRAPPER, env, log_path)
        os.replace(fresh, bundle.binary("kube-apiserver"))
    else:
        env["GOBIN"] = str(bundle.path)
        with tempfile.TemporaryDirectory(prefix="peers-build-") as outside_any_module:
            run_go(f"{' and '.join(bundle.binaries)} {bundle.version}",
                   [go, "install", *[f"{pkg}@{bundle.version}" for pkg in bundle.packages]],
                   Path(outside_any_module), env, log_path)


def built_as_pinned(bundle: Bundle, name: str) -> bool:
    """The binary says it was built from the pinned version with the pinned linker flags."""
    info = build_info(bundle.binary(name))
    return info.get(bundle.module) == bundle.version and info.get("-ldflags", "") == bundle.ldflags


def ensure_bundle(bundle: Bundle, go: str | None, force: bool = False) -> str:
    """Make ``bundle`` present and stamped; returns "cached", "adopted" or "built"."""
    if not force and stamp_problem(bundle, verify_hashes=True) is None:
        say(f"{', '.join(bundle.binaries)} {bundle.version}: cached in {bundle.path}")
        return "cached"
    if go is None:
        go = go_binary()
    present = all(bundle.binary(name).is_file() for name in bundle.binaries)
    if not force and present and all(built_as_pinned(bundle, name) for name in bundle.binaries):
        write_stamp(bundle)  # built before without a stamp (or by hand): the binaries say what they are
        say(f"{', '.join(bundle.binaries)} {bundle.version}: found in {bundle.path}, stamped")
        return "adopted"
    build_bundle(bundle, go)
    for name in bundle.binaries:
        if not built_as_pinned(bundle, name):
            info = build_info(bundle.binary(name))
            raise BuildFailed(f"{bundle.binary(name)} reports {bundle.module} {info.get(bundle.module)} "
                              f"built with -ldflags {info.get('-ldflags', '')!r}, not the pinned "
                              f"{bundle.version} with {bundle.ldflags!r}")
    write_stamp(bundle)
    return "built"


def build_all(force: bool = False) -> dict[str, str]:
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    go = shutil.which("go")
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one `make peers` at a time builds into the cache
        results = {bundle.name: ensure_bundle(bundle, go, force) for bundle in BUNDLES}
    etcd = find_etcd()
    say(f"etcd: {etcd}")
    say(f"ready in {time.monotonic() - started:.1f}s ({', '.join(f'{k}: {v}' for k, v in results.items())})")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m peers.building", description=__doc__.split("\n")[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when the cache is up to date")
    args = parser.parse_args(argv)
    try:
        build_all(force=args.force)
    except (BuildFailed, PeersMissing) as exc:
        print(f"peers: error: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("peers: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
