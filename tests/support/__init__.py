"""What the tests share across layers: bounded waiting, the ``../shared`` CRD tree
and its schemas, and the write requests a simulated cluster recorded.

``wait_for`` is the one polling wait (every test that waits on a condition uses
it); ``blocked_in`` tells when a thread is waiting inside a given function.
``SHARED_DIR``, ``shared_dir()`` and ``crd_schemas()`` find and load the CRD
schemas (skipping, or ``None``, where ``../shared`` is absent); the ``schemas``
fixture of ``tests.support.fixtures`` serves them to a conftest that imports it.
``writes(sim)`` reads a simulator's request record (``SimCluster.requests()``),
not its log.
"""

from tests.support.recorded import WRITE_METHODS, writes  # noqa: F401
from tests.support.shared import REPO_ROOT, SHARED_DIR, crd_schemas, has_crds, shared_dir  # noqa: F401
from tests.support.waiting import blocked_in, wait_for  # noqa: F401
