"""The one adapter to Kubernetes API servers: the only package that imports the
official ``kubernetes`` client.

- ``client``: ``KubeClient`` (requests and watch streams as raw JSON);
- ``resources``: ``ResourceType`` and the kinds the hub reads and writes (pure data, no
  client: the pure layers name kinds through it);
- ``errors``: the one map from an API server's answer to ``federation.errors``;
- ``kubeconfigs``: parsing a member's kubeconfig and the options the hub refuses;
- ``member_access``: issuing the hub's own credentials for a member cluster.

Every failure leaves this package as a ``federation.errors`` type.
"""
