"""Judging a cluster against the truth: what the hub renders for it, by its own API.

An object the hub renders but the cluster lacks is lost; one the cluster holds
with other content than rendered, or one the hub owns there but no longer
renders, is stale. Content is compared as the pusher does (hash annotation and
every field the hub set), so a hand edit that kept the annotation counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from federation.model.ids import ref_of
from federation.push.digest import content_matches, owned_digest, stamped_body
from federation.push.inventory import OWNED_KINDS


@dataclass(frozen=True)
class Verdict:
    lost: int
    stale: int

    @property
    def clean(self) -> bool:
        return not self.lost and not self.stale


def rendered(client, cluster: str) -> dict:
    """The hub's rendered objects for ``cluster``, by reference (Secrets redacted)."""
    return {ref_of(obj): obj for obj in yaml.safe_load_all(client.render(cluster)) if obj}


def owned(sim, hub_id: str) -> dict:
    """The objects of the written kinds in ``sim`` that carry ``hub_id``."""
    found = {}
    for rtype, namespace in OWNED_KINDS:
        try:
            items = sim.list(rtype.api_version, rtype.kind, namespace,
                             label_selector=f"federation.mesh/hub={hub_id}")
        except Exception:  # noqa: BLE001 - a kind the simulator does not serve holds nothing
            continue
        for obj in items:
            obj.setdefault("apiVersion", rtype.api_version)
            obj.setdefault("kind", rtype.kind)
            found[ref_of(obj)] = obj
    return found


def judge(client, sim, hub_id: str) -> Verdict:
    want = rendered(client, sim.name)
    have = owned(sim, hub_id)
    lost = sum(1 for ref in want if ref not in have)
    stale = sum(1 for ref in have if ref not in want)
    for ref, obj in want.items():
        live = have.get(ref)
        if live is None or obj.get("kind") == "Secret":
            continue  # a rendered Secret is redacted: only its presence is judged
        digest = owned_digest(ref, obj, hub_id)
        if not content_matches(live, stamped_body(obj, digest, hub_id), digest):
            stale += 1
    return Verdict(lost, stale)
