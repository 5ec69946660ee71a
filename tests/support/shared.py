"""The ``../shared`` tree beside the checkout (Istio and Gateway API CRDs) and its schemas."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from kubesim.schemas import SchemaSet, load_crd_schemas

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DIR = REPO_ROOT.parent / "shared"


def has_crds() -> bool:
    return (SHARED_DIR / "istio" / "crds.gen.yaml").is_file()


def shared_dir() -> Path:
    """``../shared``; skips the calling test when it (or its Istio CRDs) is absent."""
    if not has_crds():
        pytest.skip(f"CRD schemas not found at {SHARED_DIR} (../shared is absent in this checkout)")
    return SHARED_DIR


@functools.cache
def _loaded() -> SchemaSet:
    return load_crd_schemas(SHARED_DIR)


def crd_schemas(required: bool = True) -> SchemaSet | None:
    """The CRD schemas of ``../shared``, loaded once per run. Without the tree:
    skips the calling test when ``required``, else ``None`` (a simulator given
    ``None`` stores custom kinds unvalidated)."""
    if not has_crds():
        if required:
            shared_dir()
        return None
    return _loaded()
