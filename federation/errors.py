"""The one exception tree of the project.

Third-party errors are translated at the edge (``raise ... from exc``) into these
types; ``Transient`` marks what callers may retry with back-off.
"""


class FederationError(Exception):
    """Root of every error raised by mesh-federation."""


class Transient(FederationError):
    """A failure that may succeed when retried (network blips, 5xx, timeouts)."""


class ConfigError(FederationError):
    """Bad settings or files: a malformed kubeconfig, YAML, flag or environment."""


class ValidationError(FederationError):
    """An input object that does not satisfy its schema or rules."""


class NotFound(FederationError):
    """The named object does not exist."""


class AlreadyExists(FederationError):
    """An object with that name already exists."""


class Conflict(FederationError):
    """A concurrent change or an object owned by someone else prevents the write."""


class AuthError(FederationError):
    """Missing, forged, expired or replayed credentials."""


class PermissionDenied(AuthError):
    """Authenticated, but not allowed to do this."""


class EndpointMismatch(ConfigError):
    """An address that answers, but not as the API that was meant (a wrong port)."""


class LimitExceeded(FederationError):
    """A request or rate above a configured bound."""


# --- store ----------------------------------------------------------------
class StoreError(FederationError):
    """A failure of the state store."""


class StoreUnavailable(StoreError, Transient):
    """The store (etcd) cannot be reached."""


class LeaseLost(StoreError):
    """A lease expired or was revoked; keys bound to it are gone."""


class Fenced(StoreError, Transient):
    """This replica cannot prove it still holds its lease, so it must not write
    (another replica may own the work by now); it may once the lease is proven."""


class RevisionCompacted(StoreError):
    """A watch asked for history older than the store's compaction revision."""

    def __init__(self, message: str, compact_revision: int = 0):
        super().__init__(message)
        self.compact_revision = compact_revision


# --- member clusters -------------------------------------------------------
class ClusterError(FederationError):
    """A failure talking to a member cluster."""


class ClusterUnreachable(ClusterError, Transient):
    """The member cluster's API server cannot be reached."""


class ResourceExpired(ClusterError):
    """The API server answered 410 Gone: the resourceVersion is too old."""


# --- trust -----------------------------------------------------------------
class TrustError(FederationError):
    """A CA, certificate or key problem."""


class CSRRejected(TrustError, ValidationError):
    """A certificate signing request that may not be signed."""


# --- trust: CA material supplied by an operator --------------------------------
class CARejected(TrustError, ValidationError):
    """A CA certificate or key that may not be used: mismatched, not a CA, weak, expired."""
