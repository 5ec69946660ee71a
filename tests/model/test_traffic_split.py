"""TrafficSplit documents: what is accepted, what each bad field is told, and share matching."""

from __future__ import annotations

import pytest

from federation.errors import ValidationError
from federation.model.ids import ServiceKey
from federation.model.traffic_split import (
    REST, Share, parse_traffic_split, shadowed_splits, winning_split,
)


def doc(shares, service=None, name="reviews-canary", namespace="bookinfo", **extra):
    spec = {"service": {"name": "reviews"} if service is None else service, "shares": shares, **extra}
    return {"apiVersion": "federation.mesh/v1alpha1", "kind": "TrafficSplit",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def refused(document) -> str:
    with pytest.raises(ValidationError) as info:
        parse_traffic_split(document)
    return str(info.value)


def test_a_canary_split_parses_with_derived_share_names_and_round_trips():
    split = parse_traffic_split(doc([{"cluster": "cluster-3", "weight": 10}, {"weight": 90}]))
    assert split.service == ServiceKey("bookinfo", "reviews")  # the namespace defaults to the split's
    assert split.shares == (Share("cluster-3", 10, "cluster", "cluster-3"), Share(REST, 90))
    assert parse_traffic_split(split.to_dict()) == split


def test_network_and_region_shares_take_the_first_match_and_the_rest_takes_what_is_left():
    split = parse_traffic_split(doc([{"network": "net-west", "weight": 20},
                                     {"name": "east", "region": "us-east", "weight": 30},
                                     {"weight": 50}]))
    assert split.share_of("cluster-3", "net-west", "eu-west").name == "net-west"
    assert split.share_of("cluster-1", "net-east", "us-east").name == "east"
    assert split.share_of("cluster-9", "net-9", "ap-south").name == REST
    assert split.share_of("", "net-west", "").name == "net-west"  # a VM, by its network


def test_without_a_rest_share_unnamed_clusters_belong_to_none():
    split = parse_traffic_split(doc([{"cluster": "cluster-2", "weight": 100}]))  # a migration
    assert split.share_of("cluster-2", "n", "r").name == "cluster-2"
    assert split.share_of("cluster-1", "n", "r") is None
    assert split.share_of("", "n", "r") is None  # VMs match no cluster share


@pytest.mark.parametrize("shares, says", [
    ([{"cluster": "cluster-3", "weight": 10}, {"weight": 80}], "spec.shares: weights sum to 90, not 100"),
    ([{"cluster": "c", "weight": 101}], "spec.shares[0].weight: must be an integer from 0 to 100, not 101"),
    ([{"cluster": "c", "weight": "10"}], "spec.shares[0].weight: must be an integer"),
    ([{"cluster": "c", "network": "n", "weight": 100}], "spec.shares[0]: cluster and network are mutually"),
    ([{"weight": 50}, {"weight": 50}], "spec.shares[1]: only one share may go without cluster"),
    ([{"cluster": "Bad_Name", "weight": 100}], "spec.shares[0].cluster: 'Bad_Name' is not a cluster name"),
    ([{"cluster": "a", "weight": 50}, {"cluster": "a", "weight": 50}], "spec.shares[1].cluster: 'a' is"),
    ([{"name": "x", "cluster": "a", "weight": 50}, {"name": "x", "cluster": "b", "weight": 50}],
     "spec.shares[1].name: 'x' is used by an earlier share"),
    ([{"zone": "z", "weight": 100}], "spec.shares[0].zone: unknown field"),
    ([], "spec.shares: required, a non-empty list"),
    ("all", "spec.shares: required, a non-empty list"),
])
def test_bad_shares_are_refused_naming_the_field(shares, says):
    message = refused(doc(shares))
    assert message.startswith("TrafficSplit bookinfo/reviews-canary: ") and says in message


def test_bad_service_and_header_are_named():
    message = refused(doc([{"weight": 100}], service={"name": "Reviews!"}))
    assert "spec.service.name: 'Reviews!' is not a DNS-1123 label" in message
    assert "spec.service: required" in refused(doc([{"weight": 100}], service="reviews"))
    assert "spec.extra: unknown field" in refused(doc([{"weight": 100}], extra=1))
    bad = doc([{"weight": 100}])
    bad["kind"] = "Split"
    assert "kind: must be 'TrafficSplit'" in refused(bad)


def test_the_first_split_of_a_service_wins_and_the_others_are_reported():
    first = parse_traffic_split(doc([{"weight": 100}], name="a-split"))
    second = parse_traffic_split(doc([{"cluster": "c", "weight": 100}], name="b-split"))
    other = parse_traffic_split(doc([{"weight": 100}], service={"name": "ratings"}, name="c-split"))
    assert winning_split([second, first, other], ServiceKey("bookinfo", "reviews")) == first
    assert winning_split([second, first], ServiceKey("bookinfo", "details")) is None
    assert shadowed_splits([second, other, first]) == [(second, first)]
