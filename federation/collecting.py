"""The garbage collector of a process with a large, long-lived heap with few cycles: the hub
(``federation serve``), and the benchmark's process holding its simulated clusters.

The hub holds its desired and observed objects for as long as it runs, and almost none
of them are in reference cycles: at 20 clusters × 200 services a full collection found
at most a few hundred collectable objects among ~350,000 tracked ones, yet held the
interpreter for 0.5–1 s, and a change arriving meanwhile waited for it (the p99 of
``make bench``). Reference counting frees everything acyclic at once, so:

- what exists once the hub is built (modules, classes, the wiring) is frozen: no
  collection walks it again;
- the young generations are collected as Python does by default, so cycles that die
  young (an exception's traceback) go at once;
- a full collection runs after ``FULL_EVERY`` middle-generation collections instead of
  Python's 10: a hundred times more rarely (and still only once the objects that survived
  young collections since the last one are a quarter of those it would walk).
"""

from __future__ import annotations

import gc

YOUNG = 700  # allocations per young collection (Python's default)
MIDDLE = 10  # young collections per middle one (Python's default)
FULL_EVERY = 1000  # middle collections per full one (Python's default: 10)


def settle_long_lived_heap() -> None:
    """Freeze what exists now and make full collections rare; call once the heap is built.
    Called again (the benchmark, per fleet), what was frozen before is collected first."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, FULL_EVERY)
