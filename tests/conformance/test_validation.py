"""Schema validation of Istio kinds (422 naming the field), unknown fields, and the status subresource."""

from __future__ import annotations

import pytest

from tests.conformance.support import APPLY, ISTIO, MERGE, call, we_path, workload_entry

CEL_SKIP = "the simulator does not evaluate CEL rules (x-kubernetes-validations); see kubesim"


def _causes(resp) -> list[str]:
    """The fields named by a 422, less the API server's note that CEL rules went unchecked (the
    simulator evaluates none: see CEL_SKIP)."""
    return [c.get("field") for c in (resp.body.get("details") or {}).get("causes", [])
            if "validation rules were not checked" not in c.get("message", "")]


def test_wrong_type_is_422_naming_the_field(client, ns):
    resp = call(client, "POST", we_path(ns), workload_entry("bad", ns, weight="heavy"))
    assert resp.status == 422 and resp.reason == "Invalid"
    assert resp.message.startswith('WorkloadEntry.networking.istio.io "bad" is invalid: ')
    assert "spec.weight" in resp.message and _causes(resp) == ["spec.weight"]
    assert call(client, "GET", we_path(ns, "bad")).status == 404


def test_out_of_range_and_enum_values_are_422(client, ns):
    negative = call(client, "POST", we_path(ns), workload_entry("neg", ns, weight=-1))
    assert negative.status == 422 and _causes(negative) == ["spec.weight"]
    rule = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": "dr", "namespace": ns},
            "spec": {"host": "reviews", "trafficPolicy": {"loadBalancer": {"simple": "FASTEST"}}}}
    enum = call(client, "POST", f"{ISTIO}/namespaces/{ns}/destinationrules", rule)
    assert enum.status == 422 and "spec.trafficPolicy.loadBalancer.simple" in enum.message
    assert _causes(enum) == ["spec.trafficPolicy.loadBalancer.simple"]


def test_missing_required_field_is_422(client, ns):
    entry = {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
             "metadata": {"name": "se", "namespace": ns}, "spec": {"ports": [{"number": 80, "name": "http"}]}}
    resp = call(client, "POST", f"{ISTIO}/namespaces/{ns}/serviceentries", entry)
    assert resp.status == 422 and "spec.hosts" in resp.message and _causes(resp) == ["spec.hosts"]


def test_cel_rules_are_enforced(api, client, ns):
    if api.is_sim:
        pytest.skip(CEL_SKIP)
    no_address = workload_entry("cel", ns)
    del no_address["spec"]["address"]
    no_address["spec"]["weight"] = 1
    resp = call(client, "POST", we_path(ns), no_address)
    assert resp.status == 422 and "Address is required" in resp.message


def test_invalid_apply_is_rejected_with_the_field(client, ns):
    out_of_range = call(client, "PATCH", we_path(ns, "applied"), workload_entry("applied", ns, weight=-1),
                        content_type=APPLY, fieldManager="hub")
    assert out_of_range.status == 422 and _causes(out_of_range) == ["spec.weight"]
    # A wrongly typed field fails before validation, when the typed patch is built: a 500.
    wrong_type = call(client, "PATCH", we_path(ns, "applied"), workload_entry("applied", ns, weight="x"),
                      content_type=APPLY, fieldManager="hub")
    assert wrong_type.status == 500
    assert wrong_type.message == (f"failed to create typed patch object ({ns}/applied; networking.istio.io/v1, "
                                  "Kind=WorkloadEntry): .spec.weight: expected numeric (int or float), got string")
    assert call(client, "GET", we_path(ns, "applied")).status == 404


def test_unknown_fields_are_dropped_with_a_warning_or_rejected_when_strict(client, ns):
    body = workload_entry("unk", ns)
    body["spec"]["bogus"] = 1
    warned = call(client, "POST", we_path(ns), body)
    assert warned.status == 201 and "bogus" not in warned.body["spec"]
    # A Warning header is ``299 - "<text>"`` with the text's quotes escaped.
    assert r'unknown field \"spec.bogus\"' in warned.headers.get("warning", "")
    body["metadata"]["name"] = "unk2"
    strict = call(client, "POST", we_path(ns), body, fieldValidation="Strict")
    assert strict.status == 400 and strict.reason == "BadRequest"
    assert 'unknown field "spec.bogus"' in strict.message


def test_invalid_name_is_422(client, ns):
    resp = call(client, "POST", we_path(ns), workload_entry("Not_A_Name", ns))
    assert resp.status == 422 and _causes(resp) == ["metadata.name"]


# --- status subresource --------------------------------------------------------------
STATUS = {"conditions": [{"type": "Healthy", "status": "True", "reason": "Probed"}]}


def test_status_is_ignored_on_create_and_main_resource_writes(client, ns):
    body = workload_entry("st", ns, weight=1)
    body["status"] = STATUS
    created = call(client, "POST", we_path(ns), body).ok()
    assert "status" not in created or not created["status"].get("conditions")
    put = call(client, "PUT", we_path(ns, "st"), {**created, "status": STATUS}).ok()
    assert not (put.get("status") or {}).get("conditions")
    patched = call(client, "PATCH", we_path(ns, "st"), {"status": STATUS}, content_type=MERGE).ok()
    assert not (patched.get("status") or {}).get("conditions")
    assert patched["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_status_is_written_through_the_status_subresource_only(client, ns):
    created = call(client, "POST", we_path(ns), workload_entry("sub", ns, weight=1)).ok()
    written = call(client, "PATCH", we_path(ns, "sub") + "/status",
                   {"status": STATUS, "spec": {"weight": 9}}, content_type=MERGE).ok()
    assert written["status"] == STATUS
    assert written["spec"]["weight"] == 1, "spec must not change through /status"
    assert written["metadata"]["generation"] == created["metadata"]["generation"]
    assert call(client, "GET", we_path(ns, "sub") + "/status").ok()["status"] == STATUS
    respec = call(client, "PATCH", we_path(ns, "sub"), {"spec": {"weight": 2}}, content_type=MERGE).ok()
    assert respec["metadata"]["generation"] == created["metadata"]["generation"] + 1
    assert respec["status"] == STATUS


def test_service_load_balancer_status(client, ns):
    """The hub reads east-west gateway addresses from a Service's status, written via /status."""
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "eastwest", "namespace": ns},
               "spec": {"type": "LoadBalancer", "ports": [{"name": "tls", "port": 15443}]},
               "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}}
    created = call(client, "POST", f"/api/v1/namespaces/{ns}/services", service).ok()
    assert created["status"] == {"loadBalancer": {}}
    assert created["spec"]["ports"][0]["targetPort"] == 15443 and created["spec"]["ports"][0]["protocol"] == "TCP"
    assert created["spec"]["ports"][0]["nodePort"] > 0 and created["spec"]["clusterIP"]
    path = f"/api/v1/namespaces/{ns}/services/eastwest/status"
    written = call(client, "PATCH", path, {"status": service["status"]}, content_type=MERGE).ok()
    assert written["status"]["loadBalancer"]["ingress"][0]["ip"] == "192.0.2.10"


# --- secrets (cacerts) -----------------------------------------------------------------
def _secret_path(ns: str, name: str | None = None) -> str:
    return f"/api/v1/namespaces/{ns}/secrets" + (f"/{name}" if name else "")


def test_secret_string_data_is_stored_as_base64_data(client, ns):
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": ns},
            "data": {"a": "YQ=="}, "stringData": {"b": "bee"}}
    created = call(client, "POST", _secret_path(ns), body).ok()
    assert created["data"] == {"a": "YQ==", "b": "YmVl"} and "stringData" not in created
    assert created["type"] == "Opaque"


def test_applied_secret_round_trips_and_reapplies_as_a_no_op(client, ns):
    """As the hub pushes ``istio-system/cacerts``."""
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cacerts", "namespace": ns},
            "type": "Opaque", "data": {"root-cert.pem": "cm9vdA==", "ca-key.pem": "a2V5"}}
    first = call(client, "PATCH", _secret_path(ns, "cacerts"), body, content_type=APPLY,
                 fieldManager="mesh-federation", force="true")
    assert first.status == 201 and first.body["data"] == body["data"]
    again = call(client, "PATCH", _secret_path(ns, "cacerts"), body, content_type=APPLY,
                 fieldManager="mesh-federation", force="true").ok()
    assert again["metadata"]["resourceVersion"] == first.body["metadata"]["resourceVersion"]


def test_secret_data_that_is_not_base64_is_rejected(client, ns):
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bad", "namespace": ns},
            "data": {"a": "not base64!"}}
    resp = call(client, "POST", _secret_path(ns), body)
    assert resp.status == 400 and resp.reason == "BadRequest", resp.body
    assert call(client, "GET", _secret_path(ns, "bad")).status == 404
