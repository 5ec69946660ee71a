"""Push: the per-cluster writers at the end of the pipeline.

One worker per member cluster makes the objects the hub owns there equal the
rendered desired set: it writes only objects whose content hash changed
(server-side apply), never takes over an object it does not own, prunes orphans
only after the cluster's first full sync, and reports a ``PushStatus``.
"""

from federation.push.digest import HASH_ANNOTATION, content_digest  # noqa: F401
from federation.push.fleet import PushFleet  # noqa: F401
from federation.push.inventory import OWNED_KINDS, delete_all_owned, read_inventory  # noqa: F401
from federation.push.pushing import ClusterPusher, RetryPolicy  # noqa: F401
from federation.push.status import PushStatus  # noqa: F401
