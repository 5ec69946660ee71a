"""Registry: merges change sets from every source into one immutable snapshot.

One thread owns the snapshot; change sets arrive through a queue and are
coalesced by a debouncer (quiet period, max delay) before a new snapshot is
published to the renderers, with the merged ``RenderRequest``s (``requests``)
that came with the changes.
"""

from federation.registry.debouncing import Debouncer  # noqa: F401
from federation.registry.aggregating import Registry  # noqa: F401
from federation.registry.requests import COMPLETE, FULL, RenderRequest  # noqa: F401
