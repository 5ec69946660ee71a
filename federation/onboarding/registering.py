"""Registering VMs: enroll, authenticate, renew, heartbeat, revoke — all on the store.

Enroll checks everything it can before writing anything (the token's state,
the group, the CSR against the group's identity), then consumes the token with
compare-and-swap, signs, and writes the registration in one transaction: the
record, the serial index and the alive key on a fresh lease of ``grace``
seconds. A refused enrollment leaves the store as it was.

A heartbeat keeps that lease alive. When the lease is gone (the VM was silent
longer than the grace, or the hub's store lost it) the heartbeat writes a new
alive key on a new lease, guarded by the record's revision so it can never
revive a VM revoked in between: the VM comes back without a new token.

Authentication of Renew and Heartbeat is by the certificate gRPC verified
during the handshake: its serial must be the current (or, until it expires,
the previous) serial of a registration that is not revoked, its SPIFFE id
that registration's identity, and it must be the very certificate the hub
issued (its SHA-256, recorded at enroll and renew; for older records without
one, a certificate signed by the hub's VM issuer). The handshake alone proves
little: the session port trusts the mesh roots, and every member cluster's
intermediate, whose key sits in that cluster's ``cacerts``, chains to them.
Each call therefore acts on the caller's own registration only.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Callable

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from federation import errors
from federation.onboarding.groups import KIND as GROUP_KIND, WorkloadGroup, parse_workload_group
from federation.onboarding.peers import PeerCertificate, certificate_fingerprint, serial_hex
from federation.onboarding.records import Liveness, TokenRecord, VMRecord
from federation.onboarding.refusals import refusal
from federation.onboarding.tokens import BootstrapTokens
from federation.store.base import Compare, Delete, Put, Store
from federation.store.keys import Keys
from federation.trust.authority import TrustAuthority
from federation.trust.certificates import certificate_id
from federation.trust.workload import WorkloadCertificate, check_csr, spiffe_id

log = logging.getLogger(__name__)

MAX_CSR_BYTES = 16 * 1024
_HOST_PART = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?$")
_NAME_ATTEMPTS = 4
_SERIAL_CACHE = 100_000


@dataclass(frozen=True)
class Enrollment:
    record: VMRecord
    certificate: WorkloadCertificate
    group: WorkloadGroup


def group_key(namespace: str, name: str) -> str:
    return Keys.policy(GROUP_KIND, namespace, name)


def issued_fingerprint(certificate: WorkloadCertificate) -> str:
    return certificate_fingerprint(x509.load_pem_x509_certificate(certificate.cert_pem.encode()))


def issuing_root_id(certificate: WorkloadCertificate) -> str:
    """The root at the end of a workload certificate's chain."""
    chain = x509.load_pem_x509_certificates(certificate.chain_pem.encode())
    return certificate_id(chain[-1])


class Registrar:
    def __init__(self, store: Store, authority: TrustAuthority, tokens: BootstrapTokens, *,
                 cert_ttl: float, grace: float, clock: Callable[[], float] = time.time):
        self._store = store
        self._authority = authority
        self._tokens = tokens
        self.cert_ttl = cert_ttl
        self.lease_ttl = max(1, int(-(-grace // 1)))  # whole seconds, rounded up
        self._clock = clock
        self._lock = threading.Lock()
        self._serial_names: OrderedDict[str, str] = OrderedDict()  # never changes once written
        self._leases: dict[str, int] = {}
        self._health: dict[str, bool] = {}
        self.last_heartbeat: dict[str, float] = {}

    @property
    def trust_domain(self) -> str:
        return self._authority.trust_domain

    def confirm_agent(self, name: str, step) -> None:
        """Record that VM ``name``'s agent holds what rotation ``step`` requires."""
        self._authority.confirm_agent(name, step)

    # -- groups --------------------------------------------------------------------
    def load_group(self, namespace: str, name: str) -> WorkloadGroup | None:
        kv = self._store.get(group_key(namespace, name))
        if kv is None:
            return None
        return parse_workload_group(json.loads(kv.value))

    # -- enroll --------------------------------------------------------------------
    def enroll(self, token: str, csr_pem: bytes, address: str, hostname: str) -> Enrollment:
        _check_address(address)
        _check_hostname(hostname)
        if not csr_pem or len(csr_pem) > MAX_CSR_BYTES:
            raise refusal(errors.ValidationError,
                          f"csr_pem: required, at most {MAX_CSR_BYTES} bytes", "invalid_request")
        peeked = self._tokens.inspect(token)
        group = self.load_group(peeked.group_namespace, peeked.group_name)
        if group is None:
            raise refusal(errors.PermissionDenied,
                          f"bootstrap token {peeked.token_id} is bound to {GROUP_KIND} "
                          f"{peeked.group}, which no longer exists", "group_missing")
        identity = spiffe_id(self._authority.trust_domain, group.namespace, group.service_account)
        try:
            check_csr(csr_pem, identity)  # the authority checks again; this one writes nothing
        except errors.CSRRejected as exc:
            raise refusal(errors.CSRRejected, f"{exc} (token {peeked.token_id}, group "
                          f"{group.namespace}/{group.name})", "csr_rejected") from exc
        used = self._tokens.consume(token)
        try:
            certificate = self._authority.sign_workload_csr(
                csr_pem, group.namespace, group.service_account, self.cert_ttl)
            record = self._register(used, group, certificate, address, hostname)
        except BaseException:
            self._tokens.refund(used)
            raise
        log.info("VM enrolled", extra={"fields": {
            "vm": record.name, "group": record.group, "address": address,
            "token_id": used.token_id, "serial": record.serial}})
        return Enrollment(record, certificate, group)

    def _register(self, token: TokenRecord, group: WorkloadGroup,
                  certificate: WorkloadCertificate, address: str, hostname: str) -> VMRecord:
        now = self._clock()
        serial = serial_hex(certificate.serial)
        for _ in range(_NAME_ATTEMPTS):
            name = _vm_name(hostname, group.name)
            record = VMRecord(
                name=name, group_namespace=group.namespace, group_name=group.name,
                address=address, hostname=hostname, spiffe_id=certificate.spiffe_id,
                service_account=group.service_account, serial=serial,
                not_after=certificate.not_after.timestamp(),
                root_id=issuing_root_id(certificate), enrolled_at=now, token_id=token.token_id,
                fingerprint=issued_fingerprint(certificate))
            lease = self._store.grant_lease(self.lease_ttl)
            ok = self._store.txn(
                [Compare(Keys.vm_record(name), 0), Compare(Keys.vm_serial(serial), 0),
                 Compare(Keys.vm_alive(name), 0)],
                [Put(Keys.vm_record(name), record.to_bytes()),
                 Put(Keys.vm_serial(serial), name.encode()),
                 Put(Keys.vm_alive(name), Liveness(True, now).to_bytes(), lease.id)])
            if ok:
                self._remember(name, lease.id, True, serial)
                return record
            self._store.revoke_lease(lease.id)
        raise errors.Conflict("could not pick a free VM name; try again")

    # -- authenticate ----------------------------------------------------------------
    def authenticate(self, peer: PeerCertificate) -> tuple[VMRecord, int]:
        """The caller's registration and its mod revision; PermissionDenied when the
        certificate speaks for no live registration."""
        name = self._name_for(peer.serial)
        kv = self._store.get(Keys.vm_record(name)) if name else None
        if kv is None:
            raise refusal(errors.PermissionDenied,
                          f"certificate serial {peer.serial} belongs to no VM registration",
                          "unknown_certificate")
        record = VMRecord.from_bytes(kv.value)
        if record.revoked:
            raise refusal(errors.PermissionDenied, f"VM {record.name} was revoked; enroll again "
                          "with a new token", "vm_revoked")
        if not record.accepts(peer.serial, self._clock()):
            raise refusal(errors.PermissionDenied, f"certificate serial {peer.serial} of VM "
                          f"{record.name} was replaced by a renewal", "certificate_superseded")
        if peer.spiffe_id != record.spiffe_id:
            raise refusal(errors.PermissionDenied, f"certificate identity {peer.spiffe_id} is not "
                          f"VM {record.name}'s ({record.spiffe_id})", "identity_mismatch")
        expected = record.fingerprint_of(peer.serial)
        if expected and peer.fingerprint != expected or not expected and not self._hub_issued(peer):
            raise refusal(errors.PermissionDenied, f"certificate serial {peer.serial} is not the "
                          f"certificate the hub issued to VM {record.name}", "certificate_not_issued")
        return record, kv.mod_revision

    def _hub_issued(self, peer: PeerCertificate) -> bool:
        """Whether the hub's VM issuer signed the peer's certificate (records kept
        before fingerprints were)."""
        issuer_pem = self._authority.workload_issuer_pem()
        if not issuer_pem or peer.certificate is None:
            return False
        try:
            peer.certificate.verify_directly_issued_by(
                x509.load_pem_x509_certificate(issuer_pem.encode()))
        except (ValueError, TypeError, InvalidSignature):
            return False
        return True

    def _name_for(self, serial: str) -> str:
        with self._lock:
            name = self._serial_names.get(serial)
        if name is not None:
            return name
        kv = self._store.get(Keys.vm_serial(serial))
        if kv is None:
            return ""
        name = kv.value.decode()
        with self._lock:
            self._serial_names[serial] = name
            while len(self._serial_names) > _SERIAL_CACHE:
                self._serial_names.popitem(last=False)
        return name

    # -- heartbeat --------------------------------------------------------------------
    def heartbeat(self, peer: PeerCertificate, healthy: bool = True) -> VMRecord:
        """Keep the caller's registration alive (reviving it after a lapse)."""
        record, revision = self.authenticate(peer)
        name = record.name
        lease = self._leases.get(name)
        kept = False
        if lease:
            try:
                self._store.keep_alive(lease)
                kept = True
            except errors.LeaseLost:
                kept = False
        if not kept:
            self._revive(record, revision, healthy)
        elif self._health.get(name) != healthy:
            self._set_health(record, revision, lease, healthy)
        self.last_heartbeat[name] = self._clock()
        return record

    def _revive(self, record: VMRecord, revision: int, healthy: bool) -> None:
        name = record.name
        for _ in range(3):
            current = self._store.get(Keys.vm_alive(name))
            if current is not None:  # another replica (or call) holds it: adopt its lease
                try:
                    self._store.keep_alive(current.lease)
                except errors.LeaseLost:
                    continue  # expired just now; look again
                self._leases[name] = current.lease
                if Liveness.from_bytes(current.value).healthy != healthy:
                    self._set_health(record, revision, current.lease, healthy)
                else:
                    self._health[name] = healthy
                return
            lease = self._store.grant_lease(self.lease_ttl)
            if self._store.txn([Compare(Keys.vm_record(name), revision), Compare(Keys.vm_alive(name), 0)],
                               [Put(Keys.vm_alive(name), Liveness(healthy, self._clock()).to_bytes(),
                                    lease.id)]):
                self._remember(name, lease.id, healthy)
                log.info("VM alive again", extra={"fields": {"vm": name}})
                return
            self._store.revoke_lease(lease.id)
            now = self._store.get(Keys.vm_record(name))
            if now is None or now.mod_revision != revision:
                raise refusal(errors.Conflict, f"VM {name}'s registration changed; retry",
                              "registration_changed")
        raise errors.Conflict(f"VM {name}'s liveness kept changing; retry")

    def _set_health(self, record: VMRecord, revision: int, lease: int, healthy: bool) -> None:
        name = record.name
        try:
            ok = self._store.txn([Compare(Keys.vm_record(name), revision)],
                                 [Put(Keys.vm_alive(name), Liveness(healthy, self._clock()).to_bytes(),
                                      lease)])
        except errors.LeaseLost:
            ok = False
        if not ok:
            raise refusal(errors.Conflict, f"VM {name}'s registration changed; retry",
                          "registration_changed")
        self._health[name] = healthy
        log.info("VM health changed", extra={"fields": {"vm": name, "healthy": healthy}})

    def _remember(self, name: str, lease: int, healthy: bool, serial: str = "") -> None:
        self._leases[name] = lease
        self._health[name] = healthy
        if serial:
            with self._lock:
                self._serial_names[serial] = name

    # -- renew ------------------------------------------------------------------------
    def renew(self, peer: PeerCertificate, csr_pem: bytes) -> tuple[VMRecord, WorkloadCertificate]:
        if not csr_pem or len(csr_pem) > MAX_CSR_BYTES:
            raise refusal(errors.ValidationError,
                          f"csr_pem: required, at most {MAX_CSR_BYTES} bytes", "invalid_request")
        record, revision = self.authenticate(peer)
        namespace, account = record.group_namespace, record.service_account
        certificate = self._authority.sign_workload_csr(csr_pem, namespace, account, self.cert_ttl)
        serial = serial_hex(certificate.serial)
        renewed = record.renewed(serial, certificate.not_after.timestamp(),
                                 issuing_root_id(certificate), issued_fingerprint(certificate))
        ops: list = [Put(Keys.vm_record(record.name), renewed.to_bytes()),
                     Put(Keys.vm_serial(serial), record.name.encode())]
        if record.previous_serial:
            ops.append(Delete(Keys.vm_serial(record.previous_serial)))
        if not self._store.txn([Compare(Keys.vm_record(record.name), revision),
                                Compare(Keys.vm_serial(serial), 0)], ops):
            raise refusal(errors.Conflict, f"VM {record.name}'s registration changed during "
                          "renewal; retry", "registration_changed")
        with self._lock:
            self._serial_names[serial] = record.name
        log.info("VM certificate renewed", extra={"fields": {
            "vm": record.name, "serial": serial, "previous_serial": record.serial,
            "not_after": certificate.not_after.isoformat()}})
        return renewed, certificate

    # -- revoke and list -------------------------------------------------------------------
    def revoke(self, name: str) -> VMRecord:
        """Refuse the VM's certificates from now on and withdraw it at once."""
        for _ in range(8):
            kv = self._store.get(Keys.vm_record(name))
            if kv is None:
                raise errors.NotFound(f"VM {name!r} is not registered")
            record = VMRecord.from_bytes(kv.value)
            if record.revoked:
                return record
            revoked = replace(record, revoked=True, revoked_at=self._clock())
            alive = self._store.get(Keys.vm_alive(name))
            if self._store.txn([Compare(Keys.vm_record(name), kv.mod_revision)],
                               [Put(Keys.vm_record(name), revoked.to_bytes()),
                                Delete(Keys.vm_alive(name))]):
                if alive is not None and alive.lease:
                    self._store.revoke_lease(alive.lease)
                self._leases.pop(name, None)
                log.info("VM revoked", extra={"fields": {"vm": name, "group": record.group}})
                return revoked
        raise errors.Conflict(f"VM {name}'s registration kept changing; try again")

    def records(self) -> list[VMRecord]:
        kvs, _ = self._store.range(Keys.VM_RECORDS)
        return [VMRecord.from_bytes(kv.value) for kv in kvs]

    def liveness(self) -> dict[str, Liveness]:
        kvs, _ = self._store.range(Keys.VM_ALIVE)
        return {kv.key[len(Keys.VM_ALIVE):]: Liveness.from_bytes(kv.value) for kv in kvs}


def _vm_name(hostname: str, group_name: str) -> str:
    """``<host>-<6 hex>``: readable, unique, a DNS label."""
    base = re.sub(r"[^a-z0-9-]+", "-", hostname.split(".")[0].lower()).strip("-")[:40] \
        or group_name[:40]
    return f"{base.strip('-')}-{secrets.token_hex(3)}"


def _check_address(address: str) -> None:
    if not address:
        raise refusal(errors.ValidationError, "address: required (the IP other workloads reach "
                      "the VM at)", "invalid_request")
    try:
        ipaddress.ip_address(address)
        return
    except ValueError:
        pass
    if len(address) > 253 or not all(_HOST_PART.match(p) for p in address.split(".")):
        raise refusal(errors.ValidationError, f"address {address[:64]!r}: not an IP address or "
                      "host name", "invalid_request")


def _check_hostname(hostname: str) -> None:
    if hostname and (len(hostname) > 253 or
                     not all(_HOST_PART.match(p) for p in hostname.split("."))):
        raise refusal(errors.ValidationError, f"hostname {hostname[:64]!r}: not a host name",
                      "invalid_request")
