"""The one definition of DNS-1123 names, of a member cluster's name and of an object's identity."""

import pytest

from federation import errors
from federation.model.ids import check_cluster_name, is_dns_label, is_dns_subdomain, ref_of


@pytest.mark.parametrize("name, label, subdomain", [
    ("cluster-1", True, True), ("a", True, True), ("a" * 63, True, True), ("a" * 64, False, True),
    ("east.example", False, True), ("-east", False, False), ("East", False, False), ("a..b", False, False),
    ("", False, False), (None, False, False),
])
def test_dns_names(name, label, subdomain):
    assert (is_dns_label(name), is_dns_subdomain(name)) == (label, subdomain)


def test_a_cluster_name_is_a_label_for_registration_and_trust_alike():
    assert check_cluster_name("cluster-1") == "cluster-1"
    for bad in ("east.example", "Bad_Name", "x" * 64, ""):
        with pytest.raises(errors.ValidationError, match="DNS-1123 label"):
            check_cluster_name(bad)


def test_ref_of():
    assert ref_of({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}) == ("v1", "Namespace", "", "n")
    assert ref_of({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": None}})[2] == ""
