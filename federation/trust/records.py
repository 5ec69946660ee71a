"""Trust records as kept in the store: how they are encoded (where they live:
``federation.store.keys.TrustKeys``).

A CA record is JSON holding the certificate in clear and its private key sealed
for that very store key (see ``sealing``); no other form of a key is written.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from functools import cached_property

from cryptography import x509

from federation import errors
from federation.trust import sealing
from federation.trust.certificates import (
    CertifiedKey, PrivateKey, key_algorithm, key_matches, load_certificate, load_private_key,
    private_key_pem,
)

_AGENT = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._:@-]{0,251}[A-Za-z0-9])?$")


def check_agent_id(agent_id: str) -> str:
    if not isinstance(agent_id, str) or not _AGENT.match(agent_id):
        raise errors.ValidationError(f"invalid agent id {agent_id!r}")
    return agent_id


@dataclass(frozen=True)
class CARecord:
    """A stored CA: ``name`` is the root id, or the cluster for an intermediate;
    ``issuer`` the issuing root id ("" for a root)."""

    name: str
    cert_pem: str
    sealed_key: bytes
    issuer: str = ""
    algorithm: str = ""
    created_at: float = 0.0
    imported: bool = False
    trust_domain: str = ""

    @cached_property
    def cert(self) -> x509.Certificate:
        return load_certificate(self.cert_pem)

    def open(self, kek: bytes, store_key: str) -> CertifiedKey:
        """The certificate with its unsealed key; TrustError if the seal does not open."""
        key: PrivateKey = load_private_key(sealing.unseal(kek, store_key, self.sealed_key))
        if not key_matches(self.cert, key):
            raise errors.TrustError(f"record at {store_key}: key does not match its certificate")
        return CertifiedKey(self.cert, key)

    def to_bytes(self) -> bytes:
        doc = {
            "name": self.name, "cert_pem": self.cert_pem,
            "sealed_key": base64.b64encode(self.sealed_key).decode(),
            "issuer": self.issuer, "algorithm": self.algorithm, "created_at": self.created_at,
            "imported": self.imported, "trust_domain": self.trust_domain,
        }
        return json.dumps(doc, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes, store_key: str) -> "CARecord":
        try:
            doc = json.loads(data)
            return cls(name=str(doc["name"]), cert_pem=str(doc["cert_pem"]),
                       sealed_key=base64.b64decode(doc["sealed_key"], validate=True),
                       issuer=str(doc.get("issuer", "")), algorithm=str(doc.get("algorithm", "")),
                       created_at=float(doc.get("created_at", 0.0)),
                       imported=bool(doc.get("imported", False)),
                       trust_domain=str(doc.get("trust_domain", "")))
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise errors.TrustError(f"trust record at {store_key} is malformed") from exc


def seal_record(kek: bytes, store_key: str, ca: CertifiedKey, *, name: str, issuer: str = "",
                created_at: float, imported: bool = False, trust_domain: str = "") -> CARecord:
    """The record for ``ca`` with its key sealed for ``store_key``."""
    sealed = sealing.seal(kek, store_key, private_key_pem(ca.key))
    return CARecord(name=name, cert_pem=ca.cert_pem, sealed_key=sealed, issuer=issuer,
                    algorithm=key_algorithm(ca.key) or "", created_at=created_at,
                    imported=imported, trust_domain=trust_domain)
