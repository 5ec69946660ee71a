"""The hub process's collector settings (``federation.collecting``), in a process of its own:
they are process-wide, and the test runner's own must stay Python's."""

from __future__ import annotations

import subprocess
import sys

PROGRAM = """
import gc, weakref
from federation.collecting import FULL_EVERY, settle_long_lived_heap

class Node:
    pass

settle_long_lived_heap()
assert gc.get_freeze_count() > 1000, gc.get_freeze_count()  # the imported world is frozen
assert gc.get_threshold()[2] == FULL_EVERY
# a cycle that dies young is still collected without anyone asking
a, b = Node(), Node()
a.other, b.other = b, a
gone = weakref.ref(a)
del a, b
keep = [[] for _ in range(50_000)]  # enough allocations for young collections to run
assert gone() is None, "a young cycle outlived the young collections"
print("ok")
"""


def test_the_imported_world_is_frozen_and_young_cycles_still_go():
    done = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
