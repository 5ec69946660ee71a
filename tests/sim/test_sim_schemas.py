"""CRD schema loading and validation (kubesim.schemas)."""

from __future__ import annotations

import pytest

from federation.errors import ConfigError
from kubesim.schemas import SchemaSet, crd_versions, load_crd_schemas, to_json_schema

# A small CRD exercising the structural-schema extensions the converter handles.
SYNTHETIC_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "shortNames": ["wd"]},
        "scope": "Namespaced",
        "versions": [
            {"name": "v1", "served": True, "storage": True, "subresources": {"status": {}}, "schema": {
                "openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {
                        "port": {"x-kubernetes-int-or-string": True,
                                 "anyOf": [{"type": "integer"}, {"type": "string"}]},
                        "target": {"x-kubernetes-int-or-string": True},
                        "size": {"type": "integer", "minimum": 1, "maximum": 10, "nullable": True},
                        "mode": {"type": "string", "enum": ["A", "B"], "default": "A"},
                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        "items": {"type": "array", "items": {"type": "object", "required": ["name"],
                                                             "properties": {"name": {"type": "string"}}}},
                    }},
                }},
            }},
            {"name": "v0", "served": False, "storage": False, "schema": {"openAPIV3Schema": {}}},
        ],
    },
}


@pytest.fixture
def widgets() -> SchemaSet:
    return SchemaSet(crd_versions(SYNTHETIC_CRD))


def widget(spec: dict, name: str = "w1") -> dict:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name, "namespace": "default"},
            "spec": spec}


def test_only_served_versions_are_loaded(widgets):
    assert widgets.knows("example.com/v1", "Widget")
    assert not widgets.knows("example.com/v0", "Widget")
    version = widgets.lookup("example.com/v1", "Widget")
    assert (version.plural, version.short_names, version.namespaced, version.has_status) == \
        ("widgets", ("wd",), True, True)


def test_int_or_string_accepts_both_and_rejects_others(widgets):
    assert widgets.validate(widget({"port": 80, "target": "http"})) == []
    assert widgets.validate(widget({"port": "http", "target": 8080})) == []
    errors = widgets.validate(widget({"port": 1.5}))
    assert len(errors) == 1 and errors[0].startswith("spec.port: ")


def test_nullable_allows_null_only_where_declared(widgets):
    assert widgets.validate(widget({"size": None})) == []
    errors = widgets.validate(widget({"mode": None}))
    assert errors and errors[0].startswith("spec.mode: ")


def test_bounds_report_the_field_path(widgets):
    assert widgets.validate(widget({"size": 11})) == ["spec.size: 11 is greater than the maximum of 10"]


def test_required_field_inside_a_list_names_its_index(widgets):
    assert widgets.validate(widget({"items": [{"name": "a"}, {}]})) == ["spec.items[1].name: Required value"]


def test_unknown_fields_are_errors_when_strict_and_ignored_otherwise(widgets):
    obj = widget({"size": 2, "colour": "red"})
    assert widgets.validate(obj) == ["spec.colour: unknown field"]
    assert widgets.validate(obj, strict=False) == []


def test_preserve_unknown_fields_keeps_anything(widgets):
    assert widgets.validate(widget({"free": {"anything": {"nested": [1, 2]}}})) == []


def test_defaults_are_applied_before_validation_without_touching_the_input(widgets):
    obj = widget({})
    assert widgets.validate(obj) == []
    assert obj["spec"] == {}


def test_converter_turns_nullable_into_a_null_type():
    assert to_json_schema({"type": "string", "nullable": True, "enum": ["x"]}) == \
        {"type": ["string", "null"], "enum": ["x", None]}


def test_metadata_is_checked_for_every_kind(widgets):
    errors = widgets.validate({"apiVersion": "v1", "kind": "Secret",
                               "metadata": {"name": "Bad_Name", "labels": {"app": "x" * 64}}})
    assert any(e.startswith("metadata.name: ") for e in errors)
    assert any(e.startswith("metadata.labels[app]: ") for e in errors)
    assert widgets.validate({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ok"}}) == []


def test_unknown_version_in_a_covered_group_is_an_error(widgets):
    errors = widgets.validate({"apiVersion": "example.com/v2", "kind": "Widget", "metadata": {"name": "a"}})
    assert errors == ["kind: no CustomResourceDefinition serves Widget in example.com/v2"]


def test_missing_directory_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError):
        load_crd_schemas(tmp_path)


# --- the real CRDs from ../shared -----------------------------------------------------
def test_real_crds_serve_the_kinds_the_project_writes(schemas):
    for api_version, kind in [("networking.istio.io/v1", "WorkloadEntry"), ("networking.istio.io/v1", "ServiceEntry"),
                              ("networking.istio.io/v1", "DestinationRule"), ("networking.istio.io/v1", "Gateway"),
                              ("networking.istio.io/v1", "WorkloadGroup"), ("gateway.networking.k8s.io/v1", "Gateway"),
                              ("multicluster.x-k8s.io/v1alpha1", "ServiceExport")]:
        assert schemas.knows(api_version, kind), (api_version, kind)


def test_real_workload_entry_errors_name_the_field(schemas):
    obj = {"apiVersion": "networking.istio.io/v1", "kind": "WorkloadEntry",
           "metadata": {"name": "vm", "namespace": "default"},
           "spec": {"address": "10.0.0.1", "weight": -1, "ports": {"http": "eighty"}}}
    errors = schemas.validate(obj)
    assert "spec.weight: -1 is less than the minimum of 0" in errors
    assert any(e.startswith("spec.ports.http: ") for e in errors)


def test_real_service_entry_port_errors_name_the_list_index(schemas):
    obj = {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry", "metadata": {"name": "se"},
           "spec": {"hosts": ["a.default.svc.cluster.local"], "resolution": "STATIC",
                    "ports": [{"name": "http", "number": 80, "protocol": "HTTP"}, {"name": "tcp", "number": -5}]}}
    assert schemas.validate(obj) == ["spec.ports[1].number: -5 is less than the minimum of 0"]


def test_real_destination_rule_mutually_exclusive_fields(schemas):
    obj = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": "dr"},
           "spec": {"host": "a", "trafficPolicy": {"loadBalancer": {
               "simple": "ROUND_ROBIN", "consistentHash": {"httpHeaderName": "x"}}}}}
    errors = schemas.validate(obj)
    assert errors == ["spec.trafficPolicy.loadBalancer: only one of simple, consistentHash may be set"]


def test_real_gateway_api_gateway_validates_with_defaults(schemas):
    obj = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
           "metadata": {"name": "istio-remote-network-2", "namespace": "istio-system",
                        "labels": {"topology.istio.io/network": "network-2"}},
           "spec": {"gatewayClassName": "istio-remote", "addresses": [{"value": "172.18.0.10"}],
                    "listeners": [{"name": "cross-network", "port": 15443, "protocol": "TLS",
                                   "tls": {"mode": "Passthrough"}}]}}
    assert schemas.validate(obj) == []
    obj["spec"]["listeners"][0]["port"] = 0
    assert schemas.validate(obj) == ["spec.listeners[0].port: 0 is less than the minimum of 1"]


def test_a_kept_verdict_serves_the_same_document_whatever_its_metadata(widgets):
    version = widgets.lookup("example.com/v1", "Widget")
    bad = widget({"size": 11, "items": [{}]})
    first = widgets.schema_errors(version, bad)
    assert first == ["spec.items[0].name: Required value", "spec.size: 11 is greater than the maximum of 10"]
    # The same document under another name and labels: the kept result, one entry.
    again = widget({"size": 11, "items": [{}]}, name="w2")
    again["metadata"]["labels"] = {"a": "b"}
    assert widgets.schema_errors(version, again) == first
    assert len(widgets._memo) == 1
    # A caller changing the list it got back does not change what is kept.
    first.append("changed by the caller")
    assert widgets.schema_errors(version, bad) == first[:-1]
    # A different document is validated on its own, not answered from the memo.
    assert widgets.schema_errors(version, widget({"size": 3, "items": [{"name": "x"}]})) == []
    assert widgets.schema_errors(version, widget({"size": 0})) == ["spec.size: 0 is less than the minimum of 1"]
    assert len(widgets._memo) == 3


def test_metadata_that_is_not_a_mapping_is_never_answered_from_the_memo(widgets):
    version = widgets.lookup("example.com/v1", "Widget")
    good = widget({"size": 3})
    assert widgets.schema_errors(version, good) == []
    broken = {**good, "metadata": "w1"}
    assert widgets.schema_errors(version, broken) == ["metadata: 'w1' is not of type 'object'"]
    assert len(widgets._memo) == 1
