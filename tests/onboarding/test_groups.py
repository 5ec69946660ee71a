"""WorkloadGroup: parsing, validation with field paths, and `federation apply`."""

from __future__ import annotations

import json

import pytest

from federation import errors
from federation.model.ids import PortSpec
from federation.onboarding.groups import Probe, parse_workload_group
from federation.onboarding.registering import group_key

from .support import group_doc


def test_a_full_group_parses_and_round_trips():
    doc = group_doc(probe={"httpGet": {"path": "/healthz", "port": 9080}, "periodSeconds": 5})
    group = parse_workload_group(doc)
    assert group.namespace == "default" and group.name == "ratings"
    assert group.service_account == "ratings"
    assert group.labels == (("app", "ratings"),)
    assert group.locality == "us-east/us-east-1a"
    assert group.ports == (PortSpec("http", 9080, "HTTP"),)
    assert group.probe == Probe(port=9080, http_path="/healthz", period_seconds=5)
    assert parse_workload_group(group.to_dict()) == group


def test_namespace_defaults_and_a_tcp_probe_is_accepted():
    doc = group_doc(probe={"tcpSocket": {"port": 5432}})
    del doc["metadata"]["namespace"]
    group = parse_workload_group(doc)
    assert group.namespace == "default"
    assert group.probe == Probe(port=5432)


@pytest.mark.parametrize("spec, path", [
    ({"serviceAccount": ""}, "spec.serviceAccount: required"),
    ({"serviceAccount": "Bad_SA"}, "spec.serviceAccount: 'Bad_SA' is not a DNS-1123 subdomain"),
    ({"locality": "a/b/c/d"}, "spec.locality: 'a/b/c/d' is not region[/zone[/subzone]]"),
    ({"network": "has space"}, "spec.network: 'has space' is not a valid label value"),
    ({"labels": {"app": "x y"}}, "spec.labels.app: 'x y' is not a valid label value"),
    ({"ports": [{"name": "http", "number": 0}]},
     "spec.ports[0].number: must be an integer from 1 to 65535, not 0"),
    ({"ports": [{"name": "a", "number": 1}, {"name": "a", "number": 2}]},
     "spec.ports[1].name: 'a' is listed twice"),
    ({"ports": [{"name": "a", "number": 1, "protocol": "SMTP"}]}, "spec.ports[0].protocol: 'SMTP'"),
    ({"ports": [{"name": "a", "number": 1, "extra": 1}]}, "spec.ports[0].extra: unknown field"),
    ({"probe": {"periodSeconds": 5}}, "spec.probe: exactly one of httpGet or tcpSocket"),
    ({"probe": {"httpGet": {"path": "nope", "port": 80}}},
     "spec.probe.httpGet.path: 'nope' is not an absolute URL path"),
    ({"probe": {"tcpSocket": {"port": 80}, "periodSeconds": 0}},
     "spec.probe.periodSeconds: must be an integer from 1 to 3600, not 0"),
    ({"weight": 3}, "spec.weight: unknown field"),
])
def test_invalid_fields_are_named_by_their_path(spec, path):
    with pytest.raises(errors.ValidationError) as caught:
        parse_workload_group(group_doc(**spec))
    assert str(caught.value).startswith("WorkloadGroup default/ratings: ")
    assert path in str(caught.value)


def test_every_problem_is_reported_at_once():
    doc = group_doc(serviceAccount="", ports=[{"name": "http", "number": 70000}])
    doc["metadata"]["name"] = "Not_A_Label"
    with pytest.raises(errors.ValidationError) as caught:
        parse_workload_group(doc)
    message = str(caught.value)
    for part in ("metadata.name", "spec.serviceAccount: required", "spec.ports[0].number"):
        assert part in message


def test_apply_stores_the_group_and_refuses_an_invalid_one(hub):
    assert hub.apply(group_doc()) == ["WorkloadGroup default/ratings created"]
    stored = hub.store.get(group_key("default", "ratings"))
    assert parse_workload_group(json.loads(stored.value)) == parse_workload_group(group_doc())
    with pytest.raises(errors.ValidationError, match=r"spec\.ports\[0\]\.number"):
        hub.apply(group_doc("reviews", ports=[{"name": "http", "number": -1}]))
    assert hub.store.get(group_key("default", "reviews")) is None
