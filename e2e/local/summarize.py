"""Canonical one-line-per-object summaries of what kubectl and the federation CLI print.

The local e2e script (e2e/local.sh) compares these lines with the lines it
expects, so a check reads as "cluster-3 has exactly these WorkloadEntries"
and a failure shows the expected and the actual lines side by side.

    kubectl get workloadentries -o json | summarize.py entries
    federation render --cluster c | summarize.py names

Input is JSON (a kubectl List, a single object, or the CLI's --json output), a
YAML stream (``names`` of ``federation render``), or PEM (``pem``). Output lines
are sorted (``pem``: in file order); an empty result is the single line ``none``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from typing import Any, Callable, Iterable

SOURCE_CLUSTER = "federation.mesh/source-cluster"
POLICY = "federation.mesh/policy"
CACERTS_FILES = ("ca-cert.pem", "ca-key.pem", "cert-chain.pem", "root-cert.pem")


def items(doc: Any) -> list[dict]:
    """The objects of a kubectl List, or the object itself."""
    if isinstance(doc, dict) and "items" in doc:
        return list(doc["items"] or [])
    if isinstance(doc, list):
        return doc
    return [doc] if doc else []


def _ref(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind', '?')} {where}{meta.get('name', '?')}"


def _pairs(mapping: dict | None, sep: str = "=") -> str:
    return ",".join(f"{k}{sep}{v}" for k, v in sorted((mapping or {}).items())) or "-"


# -- Istio and Gateway API objects -------------------------------------------------
def entries(objs: Iterable[dict]) -> list[str]:
    """WorkloadEntries: where a service's remote endpoints are, how many are ready, the
    workloads' identity and the labels istiod selects them by (the mTLS marker among them)."""
    out = []
    for obj in objs:
        spec = obj.get("spec") or {}
        source = (obj["metadata"].get("labels") or {}).get(SOURCE_CLUSTER, "-")
        out.append(f"from={source} address={spec.get('address', '-')} network={spec.get('network', '-')} "
                   f"locality={spec.get('locality', '-')} weight={spec.get('weight', '-')} "
                   f"ports={_pairs(spec.get('ports'), ':')} sa={spec.get('serviceAccount', '-')} "
                   f"labels={_pairs(spec.get('labels'))}")
    return out


def stubs(objs: Iterable[dict]) -> list[str]:
    """Services the hub wrote for hosts a cluster does not run: ports and selector."""
    out = []
    for obj in objs:
        spec = obj.get("spec") or {}
        ports = ",".join(f"{p.get('name', '-')}/{p.get('port')}>{p.get('targetPort', '-')}"
                         f"/{p.get('appProtocol', '-')}" for p in spec.get("ports") or []) or "-"
        out.append(f"{_ref(obj)} type={spec.get('type', '-')} ports={ports} "
                   f"selector={_pairs(spec.get('selector'))}")
    return out


def rules(objs: Iterable[dict]) -> list[str]:
    """DestinationRules: locality load balancing, failover and outlier detection."""
    out = []
    for obj in objs:
        policy = (obj.get("spec") or {}).get("trafficPolicy") or {}
        locality = (policy.get("loadBalancer") or {}).get("localityLbSetting") or {}
        failover = ",".join(f"{f.get('from')}>{f.get('to')}" for f in locality.get("failover") or []) or "-"
        priority = ",".join(locality.get("failoverPriority") or []) or "-"
        annotations = obj["metadata"].get("annotations") or {}
        out.append(f"{obj['metadata']['name']} host={obj['spec'].get('host', '-')} "
                   f"locality={'on' if locality.get('enabled') else 'off'} failover={failover} "
                   f"priority={priority} outlier={_pairs(policy.get('outlierDetection'))} "
                   f"policy={annotations.get(POLICY, '-')}")
    return out


def gateways(objs: Iterable[dict]) -> list[str]:
    """Istio Gateways: each server's port, TLS mode and hosts."""
    out = []
    for obj in objs:
        spec = obj.get("spec") or {}
        for server in spec.get("servers") or []:
            port = server.get("port") or {}
            out.append(f"{_ref(obj)} selector={_pairs(spec.get('selector'))} "
                       f"port={port.get('number')}/{port.get('protocol')} "
                       f"tls={(server.get('tls') or {}).get('mode', '-')} "
                       f"hosts={','.join(server.get('hosts') or [])}")
    return out


# -- what a real istiod hands a proxy (python -m peers xds ...) ----------------------
def xds_endpoints(eps: Iterable[dict]) -> list[str]:
    """EDS endpoints of one cluster: where, how (tlsMode), how much (weight), from where."""
    return [f"address={e['address']}:{e['port']} tls={e.get('tls_mode') or '-'} weight={e.get('weight')} "
            f"locality={e.get('locality') or '-'} health={e.get('health', '-')}" for e in eps]


def sni_hosts(listeners: Iterable[dict]) -> list[str]:
    """The hosts a gateway's listeners have SNI filter chains for (``outbound_.PORT_._.HOST``)."""
    found = set()
    for listener in listeners:
        for chain in listener.get("filter_chains") or []:
            for name in chain.get("server_names") or []:
                if name.startswith("outbound_."):
                    found.add(f"{listener['port']} {name}")
    return sorted(found)


def versions(objs: Iterable[dict]) -> list[str]:
    """Every object with its resourceVersion: equal output, no write in between."""
    return [f"{_ref(obj)} rv={obj['metadata'].get('resourceVersion', '-')}" for obj in objs]


def names(objs: Iterable[dict]) -> list[str]:
    return [_ref(obj) for obj in objs]


def namespaces(objs: Iterable[dict]) -> list[str]:
    """Namespaces, and whether their deletion was asked for (finished by the namespace controller)."""
    return [_ref(obj) + (" terminating" if obj["metadata"].get("deletionTimestamp") else "") for obj in objs]


def cacerts(objs: Iterable[dict]) -> list[str]:
    """An istio-system/cacerts Secret: its files, the root's fingerprint, and whether the
    intermediate is signed by that root and matches its key (nothing secret is printed)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    out = []
    for obj in objs:
        data = obj.get("data") or {}
        files = ",".join(sorted(data)) or "-"
        try:
            pem = {name: base64.b64decode(data[name]) for name in CACERTS_FILES}
        except KeyError as exc:
            out.append(f"{_ref(obj)} files={files} missing={exc.args[0]}")
            continue
        ca = x509.load_pem_x509_certificate(pem["ca-cert.pem"])
        roots = x509.load_pem_x509_certificates(pem["root-cert.pem"])
        key = serialization.load_pem_private_key(pem["ca-key.pem"], password=None)
        issued = _issued_by_any(ca, roots)
        key_matches = key.public_key().public_numbers() == ca.public_key().public_numbers()
        fingerprints = ",".join(_fingerprint(r) for r in roots)
        out.append(f"{_ref(obj)} files={files} roots={fingerprints} "
                   f"issued-by-root={'yes' if issued else 'no'} key-matches={'yes' if key_matches else 'no'} "
                   f"ca={ca.subject.rfc4514_string()}")
    return out


def _fingerprint(cert) -> str:
    from cryptography.hazmat.primitives import serialization

    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()[:16]


def pem_certificates(text: str) -> list[str]:
    """A PEM bundle (a VM's root-cert.pem or cert-chain.pem): per certificate its
    fingerprint (as in ``cacerts``' roots=), SPIFFE/URI names and subject, in file order."""
    from cryptography import x509

    out = []
    for cert in x509.load_pem_x509_certificates(text.encode()):
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            uris = ",".join(san.get_values_for_type(x509.UniformResourceIdentifier)) or "-"
        except x509.ExtensionNotFound:
            uris = "-"
        out.append(f"fingerprint={_fingerprint(cert)} uri={uris} subject={cert.subject.rfc4514_string() or '-'}")
    return out


def _issued_by_any(cert, roots) -> bool:
    from cryptography.exceptions import InvalidSignature

    for root in roots:
        try:
            cert.verify_directly_issued_by(root)
            return True
        except (ValueError, TypeError, InvalidSignature):  # not this root
            continue
    return False


# -- the federation CLI's --json output ---------------------------------------------
def clusters(rows: Iterable[dict]) -> list[str]:
    return [f"{r['name']} network={r.get('network') or '-'} region={r.get('region') or '-'} "
            f"gateways={','.join(r.get('gateways') or []) or '-'}" for r in rows]


def services(rows: Iterable[dict]) -> list[str]:
    out = []
    for row in rows:
        for c in row.get("clusters") or []:
            out.append(f"{row['namespace']}/{row['name']} cluster={c['cluster']} ready={c['ready_endpoints']} "
                       f"localities={_pairs(c.get('localities'))}{' stale' if c.get('stale') else ''}")
    return out


def vms(rows: Iterable[dict]) -> list[str]:
    """`federation vm list --json`: who is enrolled, where, and whether it is live."""
    return [f"{r['name']} group={r['group']} address={r['address']} network={r.get('network') or '-'} "
            f"alive={'yes' if r['alive'] else 'no'} healthy={'yes' if r['healthy'] else 'no'} "
            f"revoked={'yes' if r['revoked'] else 'no'}" for r in rows]


def sync_states(status: dict) -> list[str]:
    """`federation status --json`: one line per cluster, state and whether it is synced."""
    return [f"{c['name']} state={c['state']} synced={'yes' if c['synced'] else 'no'}"
            f"{' stale' if c.get('stale') else ''}" for c in status.get("clusters") or []]


SUMMARIES: dict[str, Callable[[Any], list[str]]] = {
    "entries": lambda doc: entries(items(doc)),
    "rules": lambda doc: rules(items(doc)),
    "gateways": lambda doc: gateways(items(doc)),
    "stubs": lambda doc: stubs(items(doc)),
    "xds-endpoints": xds_endpoints,
    "sni": sni_hosts,
    "versions": lambda doc: versions(items(doc)),
    "names": lambda doc: names(items(doc)),
    "namespaces": lambda doc: namespaces(items(doc)),
    # objects whose deletion is not pending (a deleted namespace waits for its controller)
    "live-names": lambda doc: names(o for o in items(doc) if not o["metadata"].get("deletionTimestamp")),
    "cacerts": lambda doc: cacerts(items(doc)),
    "count": lambda doc: [str(len(items(doc)))],
    "list-version": lambda doc: [str((doc.get("metadata") or {}).get("resourceVersion", "-"))],
    "clusters": clusters,
    "services": services,
    "sync": sync_states,
    "vms": vms,
}
RAW = {"pem": pem_certificates}  # summaries of text that is not JSON


def load(text: str) -> Any:
    """JSON, else a YAML stream (``federation render`` prints YAML) as a list of objects."""
    try:
        return json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        import yaml

        return [doc for doc in yaml.safe_load_all(text) if doc]


def summarize(kind: str, text: str) -> str:
    if kind in RAW:
        lines = RAW[kind](text)  # file order matters (chain: leaf first)
    else:
        lines = sorted(SUMMARIES[kind](load(text)))
    return "\n".join(lines) if lines else "none"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kind", choices=sorted([*SUMMARIES, *RAW]))
    args = parser.parse_args(argv)
    try:
        print(summarize(args.kind, sys.stdin.read()))
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        print(f"summarize {args.kind}: unexpected input: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
