"""Shared fixtures: a real etcd server for the whole session."""

from tests.etcd_server import etcd_server  # noqa: F401
