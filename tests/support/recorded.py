"""What a simulated cluster answered, read from its request record (``SimCluster.requests()``)."""

from __future__ import annotations

from kubesim.serving import RequestRecord

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def writes(sim, since: int = 0, path_part: str = "") -> list[RequestRecord]:
    """The write requests ``sim`` answered from its ``since``-th recorded request on
    (``len(sim.requests())`` marks a point), whose path contains ``path_part``.
    Each is recorded as its status line is sent, before the client reads it."""
    return [r for r in sim.requests()[since:] if r.method in WRITE_METHODS and path_part in r.path]
