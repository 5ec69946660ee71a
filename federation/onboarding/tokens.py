"""Bootstrap tokens: created for a group, kept as a hash, consumed with compare-and-swap.

A token is ``TOKEN_PREFIX`` + ``secrets.token_urlsafe(32)`` (256 random bits), shown
once; the prefix keeps it from ever starting with "-" (a command line would take it
for a flag) and lets secret scanners recognise it. The
store holds only its SHA-256 digest as the key, with the group it is bound to,
its expiry and its remaining uses, on a lease that outlives the expiry by
``RETENTION`` so a late use is still answered "expired" rather than "unknown".
Consuming decrements the uses in a transaction guarded by the record's mod
revision: of two enrollments racing with the same token, one wins and the
other sees the new record (and, for a one-use token, "already used").
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import replace
from typing import Callable

from federation import errors
from federation.onboarding.records import TOKEN_ID_LENGTH, TokenRecord, token_digest
from federation.onboarding.refusals import refusal
from federation.store.base import Compare, Put, Store
from federation.store.keys import Keys

log = logging.getLogger(__name__)

DEFAULT_TTL = 3600.0
MAX_TTL = 7 * 86400.0
MAX_USES = 10_000
MAX_TOKEN_LENGTH = 256
RETENTION = 3600  # seconds a spent or expired token stays to explain a refusal
_CAS_ATTEMPTS = 16

TOKEN_PREFIX = "mfvm_"


class BootstrapTokens:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time):
        self._store = store
        self._clock = clock

    def create(self, group_namespace: str, group_name: str, ttl: float = DEFAULT_TTL,
               uses: int = 1) -> tuple[str, TokenRecord]:
        """A new token for the group; returns (token, its record). The token is
        not stored and never logged: show it once."""
        ttl = DEFAULT_TTL if not ttl else float(ttl)
        uses = 1 if not uses else int(uses)
        if not 1 <= ttl <= MAX_TTL:
            raise errors.ValidationError(f"token ttl {ttl:g}s: must be from 1s to {MAX_TTL:g}s")
        if not 1 <= uses <= MAX_USES:
            raise errors.ValidationError(f"token uses {uses}: must be from 1 to {MAX_USES}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        digest = token_digest(token)
        now = self._clock()
        record = TokenRecord(token_id=digest[:TOKEN_ID_LENGTH], group_namespace=group_namespace,
                             group_name=group_name, expires_at=now + ttl, uses_left=uses,
                             created_at=now)
        lease = self._store.grant_lease(int(ttl) + 1 + RETENTION)
        if not self._store.txn([Compare(Keys.vm_token(digest), 0)],
                               [Put(Keys.vm_token(digest), record.to_bytes(), lease.id)]):
            raise errors.Conflict("token collision; try again")  # 2^-256: never in practice
        log.info("bootstrap token created", extra={"fields": {
            "token_id": record.token_id, "group": record.group, "uses": uses,
            "expires_in_s": round(ttl)}})
        return token, record

    def inspect(self, token: str) -> TokenRecord:
        """The token's record if it could be used now (nothing is consumed)."""
        return self._usable(self._store.get(self._key(token)))

    def known(self, token: str) -> bool:
        """Whether the hub issued ``token`` (in whatever state): one store read."""
        try:
            key = self._key(token)
        except errors.AuthError:
            return False
        return self._store.get(key) is not None

    def consume(self, token: str) -> TokenRecord:
        """Use the token once; returns its record as it was before. TokenRefused
        (AuthError with a reason) saying why otherwise; nothing is written when it is refused."""
        key = self._key(token)
        for _ in range(_CAS_ATTEMPTS):
            kv = self._store.get(key)
            record = self._usable(kv)
            ops = [Put(key, record.used_once().to_bytes(), kv.lease)]
            if self._store.txn([Compare(key, kv.mod_revision)], ops):
                return record
            # Another enrollment used it in between: look again.
        raise errors.Conflict("bootstrap token contended; try again")

    def refund(self, record: TokenRecord) -> None:
        """Give back a use after an enrollment failed past consuming (best effort)."""
        for kv in self._matching(record.token_id):
            current = TokenRecord.from_bytes(kv.value)
            if self._store.txn([Compare(kv.key, kv.mod_revision)],
                               [Put(kv.key, replace(current, uses_left=current.uses_left + 1)
                                    .to_bytes(), kv.lease)]):
                return

    def revoke(self, token_id: str) -> TokenRecord:
        """Make a token unusable by its id; NotFound when no such token is stored."""
        if not isinstance(token_id, str) or len(token_id) != TOKEN_ID_LENGTH \
                or any(c not in "0123456789abcdef" for c in token_id):
            raise errors.ValidationError(f"token id {token_id!r}: expected {TOKEN_ID_LENGTH} hex digits")
        for _ in range(_CAS_ATTEMPTS):
            found = self._matching(token_id)
            if not found:
                raise errors.NotFound(f"bootstrap token {token_id} not found (unknown or long expired)")
            kv = found[0]
            record = replace(TokenRecord.from_bytes(kv.value), revoked=True)
            if self._store.txn([Compare(kv.key, kv.mod_revision)],
                               [Put(kv.key, record.to_bytes(), kv.lease)]):
                log.info("bootstrap token revoked", extra={"fields": {
                    "token_id": token_id, "group": record.group}})
                return record
        raise errors.Conflict("bootstrap token contended; try again")

    def list(self) -> list[TokenRecord]:
        kvs, _ = self._store.range(Keys.VM_TOKENS)
        return [TokenRecord.from_bytes(kv.value) for kv in kvs]

    @staticmethod
    def _key(token: str) -> str:
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            raise refusal(errors.AuthError, "bootstrap token missing or malformed",
                          "token_malformed")
        return Keys.vm_token(token_digest(token))

    def _matching(self, token_id: str):
        kvs, _ = self._store.range(Keys.VM_TOKENS + token_id)
        return kvs

    def _usable(self, kv) -> TokenRecord:
        if kv is None:
            raise refusal(errors.AuthError, "bootstrap token unknown (forged, mistyped or long "
                          "expired)", "token_unknown")
        record = TokenRecord.from_bytes(kv.value)
        if record.revoked:
            raise refusal(errors.AuthError, f"bootstrap token {record.token_id} was revoked",
                          "token_revoked")
        if self._clock() >= record.expires_at:
            raise refusal(errors.AuthError, f"bootstrap token {record.token_id} expired",
                          "token_expired")
        if record.uses_left <= 0:
            raise refusal(errors.AuthError, f"bootstrap token {record.token_id} was already used",
                          "token_used")
        return record
