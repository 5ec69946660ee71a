"""Headless Chromium (Debian's ``chromium``) for page tests: the DOM after the page's
scripts ran, and a screenshot. Skipped locally when it is missing, a failure under CI."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

RUN_TIMEOUT_S = 90


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium is missing: `make setup` installs Debian's chromium", pytrace=False)
    pytest.skip("chromium is not installed (apt-get install chromium, or make setup)")


def run(url: str, *, screenshot: Path | None = None, budget_ms: int = 6000,
        size: tuple[int, int] = (1400, 1000)) -> str:
    """Load ``url`` headless, let its scripts run for ``budget_ms`` of virtual time;
    returns the DOM (and writes ``screenshot`` when given)."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        args = [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-extensions", "--disable-background-networking", "--disable-sync",
                "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}",
                f"--virtual-time-budget={budget_ms}"]
        args += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
        proc = subprocess.Popen([*args, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise AssertionError(f"chromium did not finish within {RUN_TIMEOUT_S}s")
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        if proc.returncode != 0:
            raise AssertionError(f"chromium exited {proc.returncode}: {err[-2000:]}")
        return out
