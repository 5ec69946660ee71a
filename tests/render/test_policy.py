"""FailoverPolicy parsing, round trip, matching and precedence."""

from __future__ import annotations

import copy

import pytest

from federation import errors
from federation.model import ServiceKey
from federation.model.policy import (
    DEFAULT_OUTLIER, FailoverPolicy, format_duration, matches, parse_duration, parse_policy,
    select_policy,
)

from .support import service

NAME_DOC = {
    "apiVersion": "federation.mesh/v1alpha1",
    "kind": "FailoverPolicy",
    "metadata": {"name": "x", "namespace": "default"},
    "spec": {
        "selector": {"namespace": "default", "name": "reviews"},
        "failover": [{"from": "us-east", "to": "us-west"}],
        "outlierDetection": {"consecutive5xxErrors": 3, "consecutiveGatewayErrors": 2,
                             "interval": "10s", "baseEjectionTime": "1m30s", "maxEjectionPercent": 50},
    },
}
LABEL_DOC = {
    "apiVersion": "federation.mesh/v1alpha1",
    "kind": "FailoverPolicy",
    "metadata": {"name": "backend", "namespace": "ops"},
    "spec": {
        "selector": {"matchLabels": {"tier": "backend", "example.com/team": "a"}},
        "failoverPriority": ["topology.istio.io/network", "topology.kubernetes.io/region=us-east"],
    },
}


def doc_with(base, path, value):
    """A copy of ``base`` with the field at dotted ``path`` set (or deleted when value is ...)."""
    doc = copy.deepcopy(base)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node = doc
    for part in parents:
        node = node[part]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return doc


def test_parse_name_selector_policy():
    policy = parse_policy(NAME_DOC)
    assert (policy.namespace, policy.name) == ("default", "x")
    assert policy.selector.by_name and policy.selector.name == "reviews"
    assert policy.failover == (("us-east", "us-west"),)
    assert policy.outlier_detection.interval_ms == 10_000
    assert policy.outlier_detection.base_ejection_time_ms == 90_000
    assert str(policy) == "FailoverPolicy default/x"


@pytest.mark.parametrize("doc", [NAME_DOC, LABEL_DOC], ids=["name", "labels"])
def test_round_trip(doc):
    policy = parse_policy(doc)
    stored = policy.to_dict()
    assert parse_policy(stored) == policy
    assert parse_policy(stored).to_dict() == stored


def test_to_dict_writes_durations_in_seconds_and_only_fields_set():
    stored = parse_policy(NAME_DOC).to_dict()
    assert stored["spec"]["outlierDetection"] == {
        "consecutive5xxErrors": 3, "consecutiveGatewayErrors": 2, "interval": "10s",
        "baseEjectionTime": "90s", "maxEjectionPercent": 50}
    assert "outlierDetection" not in parse_policy(LABEL_DOC).to_dict()["spec"]
    assert parse_policy(LABEL_DOC).effective_outlier() == DEFAULT_OUTLIER


def test_namespace_defaults_to_default():
    policy = parse_policy(doc_with(NAME_DOC, "metadata.namespace", ...))
    assert policy.namespace == "default"


@pytest.mark.parametrize("text, millis", [
    ("10s", 10_000), ("500ms", 500), ("1m30s", 90_000), ("1.5s", 1_500), ("1h", 3_600_000),
    ("1ms", 1), ("2000us", 2),
])
def test_durations(text, millis):
    assert parse_duration(text) == millis
    assert parse_duration(format_duration(millis)) == millis


@pytest.mark.parametrize("text", ["10", "s", "0s", "500us", "1.0005s", "-1s", "10 s", 10, ""])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


BAD = [
    # (base document, field path, value (... = removed), the field named in the error)
    (NAME_DOC, "apiVersion", "v1", "apiVersion"),
    (NAME_DOC, "kind", "Policy", "kind"),
    (NAME_DOC, "metadata.name", ..., "metadata.name"),
    (NAME_DOC, "metadata.name", "Bad_Name", "metadata.name"),
    (NAME_DOC, "metadata.namespace", "a.b", "metadata.namespace"),
    (NAME_DOC, "spec", ..., "spec"),
    (NAME_DOC, "spec.extra", 1, "spec.extra"),
    (NAME_DOC, "spec.selector", ..., "spec.selector"),
    (NAME_DOC, "spec.selector.namespace", ..., "spec.selector.namespace"),
    (NAME_DOC, "spec.selector.name", "Reviews!", "spec.selector.name"),
    (NAME_DOC, "spec.selector.matchLabels", {"a": "b"}, "spec.selector"),
    (NAME_DOC, "spec.selector.nmae", "x", "spec.selector.nmae"),
    (LABEL_DOC, "spec.selector.matchLabels", {}, "spec.selector.matchLabels"),
    (LABEL_DOC, "spec.selector.matchLabels", {"bad key!": "x"}, "spec.selector.matchLabels"),
    (LABEL_DOC, "spec.selector.matchLabels", {"tier": "no spaces"}, "spec.selector.matchLabels.tier"),
    (NAME_DOC, "spec.failover", ..., "spec"),
    (NAME_DOC, "spec.failoverPriority", ["topology.istio.io/network"], "spec"),
    (NAME_DOC, "spec.failover", "us-east", "spec.failover"),
    (NAME_DOC, "spec.failover.0.to", ..., "spec.failover[0].to"),
    (NAME_DOC, "spec.failover.0.from", "", "spec.failover[0].from"),
    (NAME_DOC, "spec.failover.0.to", "us-east", "spec.failover[0].to"),
    (NAME_DOC, "spec.failover.0.to", "us/west", "spec.failover[0].to"),
    (NAME_DOC, "spec.failover", [{"from": "a", "to": "b"}, {"from": "a", "to": "c"}],
     "spec.failover[1].from"),
    (NAME_DOC, "spec.failover.0.weight", 1, "spec.failover[0].weight"),
    (LABEL_DOC, "spec.failoverPriority", "region", "spec.failoverPriority"),
    (LABEL_DOC, "spec.failoverPriority.1", "bad label!", "spec.failoverPriority[1]"),
    (LABEL_DOC, "spec.failoverPriority.1", "topology.istio.io/network", "spec.failoverPriority[1]"),
    (LABEL_DOC, "spec.failoverPriority.1", "region=", "spec.failoverPriority[1]"),
    (NAME_DOC, "spec.outlierDetection", [], "spec.outlierDetection"),
    (NAME_DOC, "spec.outlierDetection.consecutive5xxErrors", -1,
     "spec.outlierDetection.consecutive5xxErrors"),
    (NAME_DOC, "spec.outlierDetection.consecutive5xxErrors", "3",
     "spec.outlierDetection.consecutive5xxErrors"),
    (NAME_DOC, "spec.outlierDetection.consecutive5xxErrors", True,
     "spec.outlierDetection.consecutive5xxErrors"),
    (NAME_DOC, "spec.outlierDetection.consecutiveGatewayErrors", 2 ** 32,
     "spec.outlierDetection.consecutiveGatewayErrors"),
    (NAME_DOC, "spec.outlierDetection.interval", "10", "spec.outlierDetection.interval"),
    (NAME_DOC, "spec.outlierDetection.interval", "0.1ms", "spec.outlierDetection.interval"),
    (NAME_DOC, "spec.outlierDetection.baseEjectionTime", 30, "spec.outlierDetection.baseEjectionTime"),
    (NAME_DOC, "spec.outlierDetection.maxEjectionPercent", 101, "spec.outlierDetection.maxEjectionPercent"),
    (NAME_DOC, "spec.outlierDetection.maxEjectionPercent", 0, "spec.outlierDetection.maxEjectionPercent"),
    (NAME_DOC, "spec.outlierDetection.splitExternal", True, "spec.outlierDetection.splitExternal"),
]


@pytest.mark.parametrize("base, path, value, field", BAD,
                         ids=[f"{path}={value!r}" for _, path, value, _ in BAD])
def test_every_validation_error_names_the_field(base, path, value, field):
    with pytest.raises(errors.ValidationError) as info:
        parse_policy(doc_with(base, path, value))
    message = str(info.value)
    assert message.startswith("FailoverPolicy")
    assert f"{field}:" in message, message


def test_error_message_names_policy_and_field_path():
    with pytest.raises(errors.ValidationError) as info:
        parse_policy(doc_with(NAME_DOC, "spec.failover.0.to", ...))
    assert str(info.value) == "FailoverPolicy default/x: spec.failover[0].to: required"


def test_zero_errors_of_both_kinds_disable_failover_and_are_rejected():
    doc = doc_with(NAME_DOC, "spec.outlierDetection",
                   {"consecutive5xxErrors": 0, "consecutiveGatewayErrors": 0})
    with pytest.raises(errors.ValidationError, match="spec.outlierDetection.consecutive5xxErrors"):
        parse_policy(doc)
    ok = doc_with(NAME_DOC, "spec.outlierDetection",
                  {"consecutive5xxErrors": 0, "consecutiveGatewayErrors": 1})
    assert parse_policy(ok).effective_outlier().consecutive_5xx_errors == 0


def test_non_mapping_document_rejected():
    with pytest.raises(errors.ValidationError, match="FailoverPolicy"):
        parse_policy(["not", "a", "mapping"])


def test_matches_by_name_and_by_labels():
    by_name = parse_policy(NAME_DOC)
    by_labels = parse_policy(LABEL_DOC)
    reviews = service("cluster-a", labels={"tier": "backend", "example.com/team": "a"})
    assert matches(by_name, reviews)
    assert matches(by_labels, reviews)
    assert not matches(by_name, ServiceKey("other", "reviews"))
    assert not matches(by_labels, ServiceKey("default", "x"), {"tier": "backend"})
    assert matches(by_labels, ServiceKey("any-namespace", "x"), {"tier": "backend", "example.com/team": "a"})
    namespaced = parse_policy(doc_with(LABEL_DOC, "spec.selector.namespace", "prod"))
    assert not matches(namespaced, ServiceKey("default", "x"), {"tier": "backend", "example.com/team": "a"})


def policy(name, selector, namespace="default") -> FailoverPolicy:
    return parse_policy({"apiVersion": "federation.mesh/v1alpha1", "kind": "FailoverPolicy",
                         "metadata": {"name": name, "namespace": namespace},
                         "spec": {"selector": selector, "failover": [{"from": "a", "to": "b"}]}})


def test_precedence_name_then_namespaced_labels_then_more_labels_then_order():
    key = ServiceKey("default", "reviews")
    labels = {"tier": "backend", "team": "a"}
    exact = policy("z-exact", {"namespace": "default", "name": "reviews"})
    namespaced = policy("y-ns", {"namespace": "default", "matchLabels": {"tier": "backend"}})
    two_labels = policy("x-two", {"matchLabels": {"tier": "backend", "team": "a"}})
    one_label = policy("w-one", {"matchLabels": {"tier": "backend"}})
    one_label_too = policy("v-one", {"matchLabels": {"team": "a"}})
    other_ns = policy("a-one", {"matchLabels": {"team": "a"}}, namespace="zz")
    every = [one_label, other_ns, two_labels, namespaced, exact, one_label_too]
    assert select_policy(every, key, [labels]) is exact
    assert select_policy([p for p in every if p is not exact], key, [labels]) is namespaced
    assert select_policy([two_labels, one_label, one_label_too], key, [labels]) is two_labels
    assert select_policy([one_label, one_label_too, other_ns], key, [labels]) is one_label_too
    assert select_policy([one_label, other_ns], key, [{"team": "a"}]) is other_ns
    assert select_policy([one_label], key, [{"tier": "frontend"}]) is None


def test_label_selector_matches_labels_of_any_cluster():
    key = ServiceKey("default", "reviews")
    one_label = policy("w-one", {"matchLabels": {"tier": "backend"}})
    assert select_policy([one_label], key, [{"tier": "frontend"}, {"tier": "backend"}]) is one_label
