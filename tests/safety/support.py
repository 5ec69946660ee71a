"""Helpers of the safety tests: kubeconfig variants, an admin client, log capture."""

from __future__ import annotations

import copy
import logging

import yaml

from federation.api.client import AdminClient
from federation.logging_setup import JSONFormatter


def kubeconfig_of(env, cluster: str) -> dict:
    return yaml.safe_load(env.fleet.kubeconfig_path(cluster).read_text())


def variant(base: dict, *, cluster: dict | None = None, user: dict | None = None,
            drop_cluster=(), drop_user=()) -> str:
    """``base`` with fields of its (only) cluster and user entry changed."""
    doc = copy.deepcopy(base)
    entry, creds = doc["clusters"][0]["cluster"], doc["users"][0]["user"]
    for key in drop_cluster:
        entry.pop(key, None)
    for key in drop_user:
        creds.pop(key, None)
    entry.update(cluster or {})
    creds.update(user or {})
    return yaml.safe_dump(doc)


def admin_client(env) -> AdminClient:
    wd = env.workdir / "hub"
    return AdminClient(env.service.api.address, ca_file=str(wd / "tls" / "ca.crt"),
                       token=(wd / "admin-token").read_text().strip())


def admin_token(env) -> str:
    return (env.workdir / "hub" / "admin-token").read_text().strip()


def store_dump(env) -> dict:
    items, _ = env.store.range("")
    return {kv.key: kv.value for kv in items
            if not kv.key.startswith(("status/", "summaries/", "replicas/"))}


class LogLines(logging.Handler):
    """Every record of every logger, formatted the way the hub writes them."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.records: list[logging.LogRecord] = []
        self.setFormatter(JSONFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))

    def __enter__(self) -> "LogLines":
        root = logging.getLogger()
        self._level = root.level
        root.addHandler(self)
        root.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc) -> None:
        root = logging.getLogger()
        root.removeHandler(self)
        root.setLevel(self._level)

    def text(self) -> str:
        return "\n".join(self.lines)
