"""Hub resource manifests on the operator's side: reading ``-f`` (a file, a
directory of them, or ``-`` for stdin), kind names as kubectl takes them (any
case, plural, short name), and the rows ``federation get`` prints."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from federation import errors

# canonical kind → the other names it answers to (compared lower-case)
KIND_NAMES = {
    "FailoverPolicy": ("failoverpolicy", "failoverpolicies", "fp", "fps"),
    "WorkloadGroup": ("workloadgroup", "workloadgroups", "wg", "wgs"),
    "MeshPolicy": ("meshpolicy", "meshpolicies", "mp", "mps"),
    "TrafficSplit": ("trafficsplit", "trafficsplits", "ts"),
}
_ALIASES = {alias: kind for kind, names in KIND_NAMES.items() for alias in names}


def kinds_help() -> str:
    """``failoverpolicy (failoverpolicies, fp), …``: the kind names, for --help."""
    return ", ".join(f"{names[0]} ({', '.join(names[1:3])})" for names in KIND_NAMES.values())
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def canonical_kind(name: str) -> str:
    """``fp`` → ``FailoverPolicy``; a name not known here is passed on unchanged
    (the hub answers with the kinds it knows)."""
    return _ALIASES.get(name.strip().lower(), name.strip())


def read_manifests(path: str) -> str:
    """The YAML of ``path``: a file, ``-`` (stdin), or every ``*.yaml``, ``*.yml``
    and ``*.json`` file of a directory in name order, as one multi-document text."""
    if path == "-":
        return sys.stdin.read()
    target = Path(path)
    try:
        if target.is_dir():
            files = sorted(p for p in target.iterdir() if p.is_file() and p.suffix in MANIFEST_SUFFIXES)
            if not files:
                raise errors.ConfigError(f"{path}: no {', '.join(MANIFEST_SUFFIXES)} files in this directory")
            return "\n---\n".join(p.read_text(encoding="utf-8") for p in files)
        return target.read_text(encoding="utf-8")
    except OSError as exc:
        raise errors.ConfigError(f"{exc.filename or path}: {exc.strerror}") from exc


def documents(yaml_text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(yaml_text) if d]


def selected(docs: list[dict], name: str = "", namespace: str = "") -> list[dict]:
    meta = lambda d: d.get("metadata") or {}  # noqa: E731
    return [d for d in docs if (not name or meta(d).get("name") == name)
            and (not namespace or meta(d).get("namespace") == namespace)]


def _summary(doc: dict) -> str:
    """What a resource does, in one cell of ``-o wide``."""
    spec = doc.get("spec") or {}
    if doc.get("kind") == "FailoverPolicy":
        sel = spec.get("selector") or {}
        target = (f"{sel.get('namespace', '*')}/{sel.get('name', '*')}" if "matchLabels" not in sel
                  else ",".join(f"{k}={v}" for k, v in sorted(sel["matchLabels"].items())))
        rules = ",".join(f"{r.get('from')}>{r.get('to')}" for r in spec.get("failover") or [])
        prio = ",".join(spec.get("failoverPriority") or [])
        return f"selector={target} " + (f"failover={rules}" if rules else f"priority={prio or '-'}")
    if doc.get("kind") == "WorkloadGroup":
        ports = ",".join(f"{p.get('name')}:{p.get('number')}" for p in spec.get("ports") or [])
        return (f"network={spec.get('network', '-')} locality={spec.get('locality', '-')} "
                f"serviceAccount={spec.get('serviceAccount', '-')} ports={ports or '-'}")
    if doc.get("kind") == "TrafficSplit":
        svc = spec.get("service") or {}
        shares = ",".join(f"{next((str(sh[k]) for k in ('cluster', 'network', 'region') if k in sh), 'rest')}"
                          f"={sh.get('weight')}" for sh in spec.get("shares") or [])
        return f"service={svc.get('namespace', '-')}/{svc.get('name', '-')} shares={shares or '-'}"
    if doc.get("kind") == "MeshPolicy":
        sel = spec.get("clusterSelector") or {}
        labels = sorted((sel.get("matchLabels") or {}).items())
        where = ",".join([*sel.get("clusters", []), *(f"{k}={v}" for k, v in labels)])
        objects = ",".join(f"{o.get('kind')}/{(o.get('metadata') or {}).get('name')}"
                           for o in spec.get("objects") or [])
        return f"clusters={where or '*'} objects={objects or '-'}"
    return "-"


def rows(docs: list[dict], wide: bool) -> tuple[list[str], list[list[str]]]:
    columns = ["KIND", "NAMESPACE", "NAME"] + (["API VERSION", "SPEC"] if wide else [])
    out = []
    for d in docs:
        meta = d.get("metadata") or {}
        row = [d.get("kind", ""), meta.get("namespace", ""), meta.get("name", "")]
        if wide:
            row += [d.get("apiVersion", ""), _summary(d)]
        out.append(row)
    return columns, out
