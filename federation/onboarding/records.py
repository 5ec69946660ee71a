"""What onboarding keeps in the store (where: ``Keys.VM_*`` in ``federation.store.keys``).

A bootstrap token (group, expiry, uses left), a VM's registration (group, address,
certificate serial, revoked), the VM of a certificate serial, and a VM's liveness
(on a lease of TTL ``vm_grace``). Every value is JSON. A bootstrap token is kept only as its SHA-256 digest, so a
read of the store never yields a usable token.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace

from federation import errors

TOKEN_ID_LENGTH = 16  # hex digits of the digest shown as the token's id


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _load(cls, value: bytes, what: str):
    try:
        data = json.loads(value)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
    except (ValueError, TypeError) as exc:
        raise errors.StoreError(f"stored {what} unreadable: {type(exc).__name__}") from exc


def _dump(obj) -> bytes:
    return json.dumps(asdict(obj), sort_keys=True).encode()


@dataclass(frozen=True)
class TokenRecord:
    """A bootstrap token as stored: bound to a group, expiring, with limited uses."""

    token_id: str
    group_namespace: str
    group_name: str
    expires_at: float  # unix seconds
    uses_left: int
    created_at: float
    revoked: bool = False

    @property
    def group(self) -> str:
        return f"{self.group_namespace}/{self.group_name}"

    def to_bytes(self) -> bytes:
        return _dump(self)

    @classmethod
    def from_bytes(cls, value: bytes) -> "TokenRecord":
        return _load(cls, value, "bootstrap token")

    def used_once(self) -> "TokenRecord":
        return replace(self, uses_left=self.uses_left - 1)


@dataclass(frozen=True)
class VMRecord:
    """One enrolled VM. ``serial`` is its current certificate's, ``previous_serial``
    the one it renewed from (accepted until that certificate expires); the
    fingerprints are those certificates' SHA-256 ("" in records stored before
    they were kept)."""

    name: str
    group_namespace: str
    group_name: str
    address: str
    hostname: str
    spiffe_id: str
    service_account: str
    serial: str  # hex
    not_after: float  # unix seconds, of the current certificate
    root_id: str  # the root the current certificate chains to
    enrolled_at: float
    token_id: str = ""
    previous_serial: str = ""
    previous_not_after: float = 0.0
    revoked: bool = False
    revoked_at: float = 0.0
    fingerprint: str = ""
    previous_fingerprint: str = ""

    @property
    def group(self) -> str:
        return f"{self.group_namespace}/{self.group_name}"

    def accepts(self, serial: str, now: float) -> bool:
        """Whether a certificate with ``serial`` speaks for this VM now."""
        if self.revoked:
            return False
        if serial == self.serial:
            return True
        return bool(self.previous_serial) and serial == self.previous_serial \
            and now < self.previous_not_after

    def fingerprint_of(self, serial: str) -> str:
        """The recorded fingerprint of the certificate with ``serial`` ("" if none)."""
        return self.fingerprint if serial == self.serial else self.previous_fingerprint

    def renewed(self, serial: str, not_after: float, root_id: str,
                fingerprint: str = "") -> "VMRecord":
        return replace(self, serial=serial, not_after=not_after, root_id=root_id,
                       fingerprint=fingerprint, previous_serial=self.serial,
                       previous_not_after=self.not_after,
                       previous_fingerprint=self.fingerprint)

    def to_bytes(self) -> bytes:
        return _dump(self)

    @classmethod
    def from_bytes(cls, value: bytes) -> "VMRecord":
        return _load(cls, value, "VM record")


@dataclass(frozen=True)
class Liveness:
    """The value of a VM's alive key: its probe's last result."""

    healthy: bool = True
    since: float = 0.0

    def to_bytes(self) -> bytes:
        return _dump(self)

    @classmethod
    def from_bytes(cls, value: bytes) -> "Liveness":
        return _load(cls, value, "VM liveness")
