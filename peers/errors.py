"""Failures of the test peers, rooted in the project's one exception tree."""

from __future__ import annotations

from federation.errors import ConfigError, FederationError


class PeerError(FederationError):
    """A real peer (etcd, kube-apiserver, istiod) failed to start, answer or stop."""


class PeersMissing(PeerError, ConfigError):
    """A peer binary is absent or not the pinned version: ``make peers`` has not run."""


class BuildFailed(PeerError):
    """``make peers`` could not build a peer; the message says what and how to fix it."""
