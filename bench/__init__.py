"""Benchmark: one hub process against a simulated fleet, measured (``make bench``).

The member clusters (``kubesim``) run in worker processes, dealt round-robin
(``sim_processes``, ``--sim-processes``), as real API servers are processes of their
own; the hub runs as ``federation serve`` in a child process, so its memory and CPU
are its own (read from ``/proc/<pid>``). Phases, each bounded in time:

1. converge: register every cluster (all at once); time until every cluster holds exactly the
   objects its topology calls for and the hub reports every cluster synced;
2. changes, at one or more rates: weight changes (one endpoint's readiness) and
   availability changes (all of a cluster's endpoints of a service, to zero or
   back); each timed until every other cluster shows it (observed where each
   cluster's store commits it); the hub's writes counted against the objects whose
   rendering changed, and its CPU per write;
3. idle: no change at all; the hub must write nothing;
4. floor: a minimal keep-alive HTTPS client in the benchmark's own process applying
   the same bodies to the same simulated server, the yardstick for the hub's CPU per
   write.

``--grid`` repeats this over rates and sizes (``grid``) and fits the hub's RSS
per rendered object; ``python -m bench`` prints the results, writes
them as JSON and, with ``--plot``, as a PNG.
"""

from bench.running import run, summary, targets  # noqa: F401
from bench.settings import BenchConfig  # noqa: F401
