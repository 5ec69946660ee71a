"""Structured logging: one line per record, JSON or key=value.

Use ``log.info("cluster added", extra={"fields": {"cluster": name}})`` or the
``kv`` helper; secrets must never be passed in.
"""

from __future__ import annotations

import json
import logging
import sys
import time

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None)))


def _fields(record: logging.LogRecord) -> dict:
    out = {}
    extra = getattr(record, "fields", None)
    if isinstance(extra, dict):
        out.update(extra)
    for key, value in vars(record).items():
        if key not in _RESERVED and key not in ("fields", "message", "asctime"):
            out[key] = value
    return out


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        data.update(_fields(record))
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def _kv_value(value: object) -> str:
    text = str(value)
    if not text or any(c in text for c in ' "=\n'):
        return json.dumps(text)
    return text


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        parts = [
            f"ts={ts}.{int(record.msecs):03d}Z",
            f"level={record.levelname.lower()}",
            f"logger={record.name}",
            f"msg={_kv_value(record.getMessage())}",
        ]
        parts += [f"{k}={_kv_value(v)}" for k, v in _fields(record).items()]
        if record.exc_info:
            parts.append(f"error={_kv_value(self.formatException(record.exc_info))}")
        return " ".join(parts)


class _StderrHandler(logging.StreamHandler):
    """Writes to ``sys.stderr`` as it is when a record is emitted, so a replaced
    stderr (a test runner's capture, a daemon's redirect) is followed, never a
    closed one written to."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass  # always the current sys.stderr


def configure(level: str = "info", fmt: str = "kv", stream=None) -> None:
    """Configure the root logger; ``fmt`` is ``json`` or ``kv``; logs go to
    ``stream``, by default to the current ``sys.stderr``."""
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(JSONFormatter() if fmt == "json" else KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    try:
        root.setLevel(level.upper())
    except ValueError as exc:
        raise ValueError(f"unknown log level {level!r}") from exc
    # The kubernetes client and urllib3 are chatty at debug level.
    for noisy in ("urllib3", "kubernetes", "grpc"):
        logging.getLogger(noisy).setLevel(max(root.level, logging.WARNING))
