"""Checking an installation, like ``linkerd check``: the hub, its store and each
member cluster, each finding with the fix for what is wrong.

``findings`` is the pure result type and the mesh-wide agreement; ``probing``
asks one member's API server with the hub's own credentials; ``running`` is the
hub's side (every member, in parallel, bounded); ``service`` serves it as
``federation.v1.Check`` (from the hub's composition root); ``client`` and ``cli``
are ``federation check``.
``reasons`` turns a cluster's status into one sentence for ``federation status``.
"""
