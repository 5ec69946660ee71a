"""A kubelet's Secret volume, without a kubelet: ``istio-system/cacerts`` projected into a directory.

The projector lists then watches the Secret in the real API server and writes
its keys the way the kubelet's atomic writer does: the files go into a fresh
timestamped directory, ``..data`` is swapped to it by one rename, and each key
is a symlink through ``..data``. A reader (istiod's fsnotify watch) therefore
sees either the old set or the new set, never a mix. A deleted Secret leaves
the last files in place, as a mounted volume does. Key material is never logged.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import shutil
import threading
import time
from pathlib import Path

from federation import errors
from federation.kube.client import SECRET, KubeClient, WatchStream

log = logging.getLogger(__name__)

WATCH_SECONDS = 30       # the server ends each watch after this; we then resume from the last version
RETRY_DELAY = 0.5
STOP_TIMEOUT = 5.0
DATA_LINK = "..data"


def project(directory: Path, files: dict[str, bytes]) -> None:
    """Atomically make ``directory`` hold exactly ``files`` (kubelet AtomicWriter layout)."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{time.monotonic_ns()}"
    target = directory / stamp
    target.mkdir(mode=0o700)
    for key, data in files.items():
        fd = os.open(target / key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    tmp_link = directory / "..data_tmp"
    if tmp_link.is_symlink():
        tmp_link.unlink()
    os.symlink(stamp, tmp_link)
    os.replace(tmp_link, directory / DATA_LINK)  # the one atomic step
    for key in files:
        link = directory / key
        if not link.is_symlink():
            os.symlink(f"{DATA_LINK}/{key}", link)
    for entry in directory.iterdir():
        if entry.name.startswith("..") and entry.name not in (stamp, DATA_LINK) and entry.is_dir() \
                and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.is_symlink() and not entry.name.startswith("..") and entry.name not in files:
            entry.unlink()


class SecretProjector:
    """Keeps ``directory`` equal to one Secret's data, in a thread; ``stop()`` ends it within a bound."""

    def __init__(self, client: KubeClient, directory: Path, namespace: str = "istio-system",
                 name: str = "cacerts", thread_name: str = "peers-projector"):
        self.client = client
        self.directory = Path(directory)
        self.namespace, self.name = namespace, name
        self._thread_name = thread_name
        self._stop = threading.Event()
        self._synced = threading.Event()  # the first list has been projected (or found nothing)
        self._changed = threading.Condition()
        self._stream: WatchStream | None = None
        self._thread: threading.Thread | None = None
        self.projections = 0
        self.digest = ""          # sha256 over the projected keys and values
        self.last_error = ""

    # -- lifecycle ------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._changed:
            stream = self._stream
            self._changed.notify_all()
        if stream is not None:
            stream.close()  # wakes the reader blocked on the socket
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(STOP_TIMEOUT)

    def wait_synced(self, timeout: float) -> bool:
        """Wait until the Secret has been listed once (and projected when it exists)."""
        return self._synced.wait(timeout)

    def wait_projected(self, timeout: float, after: int = 0) -> bool:
        """Wait until more than ``after`` projections have happened; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.projections <= after:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stop.is_set():
                    return self.projections > after
                self._changed.wait(remaining)
            return True

    # -- the loop -------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._list_and_watch()
            except errors.FederationError as exc:
                self.last_error = str(exc)
                if not self._stop.is_set():
                    log.debug("projector for %s/%s: %s", self.namespace, self.name, exc)
            self._stop.wait(RETRY_DELAY)

    def _list_and_watch(self) -> None:
        listing = self.client.request("GET", SECRET.path(self.namespace),
                                      {"fieldSelector": f"metadata.name={self.name}"})
        for item in listing.get("items", []):
            self._apply(item)
        self._synced.set()
        version = listing.get("metadata", {}).get("resourceVersion", "")
        while not self._stop.is_set():
            stream = self.client.watch(SECRET, version, timeout_seconds=WATCH_SECONDS,
                                       read_timeout=WATCH_SECONDS + 10)
            with self._changed:
                if self._stop.is_set():
                    stream.close()
                    return
                self._stream = stream
            try:
                for event in stream:
                    obj = event.get("object") or {}
                    if event.get("type") == "ERROR":
                        return  # e.g. 410 Gone: list again
                    version = obj.get("metadata", {}).get("resourceVersion", version)
                    meta = obj.get("metadata", {})
                    if (meta.get("namespace"), meta.get("name")) != (self.namespace, self.name):
                        continue
                    if event.get("type") in ("ADDED", "MODIFIED"):
                        self._apply(obj)
            finally:
                with self._changed:
                    self._stream = None
                stream.close()

    def _apply(self, secret: dict) -> None:
        files = {key: base64.b64decode(value) for key, value in (secret.get("data") or {}).items()}
        digest = hashlib.sha256(b"".join(k.encode() + b"\0" + v + b"\0" for k, v in sorted(files.items())))
        if digest.hexdigest() == self.digest:
            return
        project(self.directory, files)
        with self._changed:
            self.digest = digest.hexdigest()
            self.projections += 1
            self._changed.notify_all()
