"""Benchmark: one hub process against a simulated fleet, measured (``make bench``).

The member clusters (``federation.sim``) run in the benchmark's process; the hub
runs as ``federation serve`` in a child process, so its memory and CPU are its
own (read from ``/proc/<pid>``). Phases, each bounded in time:

1. converge: register every cluster; time until every cluster holds exactly the
   objects its topology calls for and the hub reports every cluster synced;
2. changes: flip one endpoint's readiness in one cluster at a bounded rate; time
   until the new WorkloadEntry weight is visible in every other cluster (watched
   in-process on each cluster's store), and count the writes the hub made
   against the clusters whose rendered objects changed;
3. idle: no change at all; the hub must write nothing.

``python -m federation.bench`` prints the results and writes them as JSON.
"""

from federation.bench.running import run, summary, targets  # noqa: F401
from federation.bench.settings import BenchConfig  # noqa: F401
