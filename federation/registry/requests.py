"""What the registry carries to its publisher beside a delta: typed and mergeable.

A ``RenderRequest`` asks the next publish to do more than render what the delta
touched: re-render everything (``full``), render some targets whole (``whole``: a
cluster whose pusher started; the others get what the delta touched), first drop
the desired state of targets that left (``forget``), or only hand each pusher the
complete desired set it lacks (``complete``: the initial sync completed, or a
cluster first synced; nothing is rendered for it). Requests queued before one
publish merge (``a | b``) into the one that publish receives.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RenderRequest:
    full: bool = False  # render every service into every target again
    forget: frozenset[str] = frozenset()  # targets whose desired state is dropped first
    whole: frozenset[str] = frozenset()  # targets rendered whole
    complete: bool = False  # visit every target: a pusher that may prune gets its complete set

    def __or__(self, other: "RenderRequest") -> "RenderRequest":
        return RenderRequest(self.full or other.full, self.forget | other.forget, self.whole | other.whole,
                             self.complete or other.complete)

    def __bool__(self) -> bool:
        return self.full or bool(self.forget) or bool(self.whole) or self.complete

    def renders_whole(self, target: str) -> bool:
        return self.full or target in self.whole


NOTHING = RenderRequest()
FULL = RenderRequest(full=True)
COMPLETE = RenderRequest(complete=True)
