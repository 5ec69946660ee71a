"""Export and import scope in the model: cluster labels, selectors, export precedence."""

from __future__ import annotations

import pytest

from federation.errors import ValidationError
from federation.model.scope import (
    Selector, check_cluster_labels, export_setting, exported, parse_label_args, parse_selector,
)


def test_label_arguments_become_sorted_pairs():
    assert parse_label_args(["tier=gold", "env=prod", "example.com/zone=a"]) == (
        ("env", "prod"), ("example.com/zone", "a"), ("tier", "gold"))
    assert parse_label_args(["empty="]) == (("empty", ""),)  # an empty value is a valid label value


@pytest.mark.parametrize("arg, named", [
    ("env", "'env': expected KEY=VALUE"),
    ("=prod", "'' is not a valid label key"),
    ("-env=prod", "'-env' is not a valid label key"),
    ("Bad_Prefix/env=prod", "'Bad_Prefix/env' is not a valid label key"),
    ("env=pr od", "--label.env: 'pr od' is not a valid label value"),
    ("env=" + "x" * 64, "--label.env: 'xxxx"),
])
def test_a_bad_label_argument_is_named(arg, named):
    with pytest.raises(ValidationError) as info:
        parse_label_args([arg])
    assert named in str(info.value)


def test_a_label_given_twice_with_two_values_is_refused():
    with pytest.raises(ValidationError, match=r"--label.env: given twice \('prod' and 'dev'\)"):
        parse_label_args(["env=prod", "env=dev"])
    assert parse_label_args(["env=prod", "env=prod"]) == (("env", "prod"),)


def test_labels_from_the_api_are_checked_the_same_way():
    assert check_cluster_labels({"b": "2", "a": "1"}) == (("a", "1"), ("b", "2"))
    with pytest.raises(ValidationError, match=r"labels.env: 'a/b' is not a valid label value"):
        check_cluster_labels({"env": "a/b"})
    with pytest.raises(ValidationError, match="at most 64"):
        check_cluster_labels({f"k{i}": "v" for i in range(65)})


PROD_GOLD = {"env": "prod", "tier": "gold"}
DEV = {"env": "dev"}


@pytest.mark.parametrize("text, prod_gold, dev, nothing", [
    ("", True, True, True),
    ("env=prod", True, False, False),
    ("env==prod", True, False, False),
    ("env!=prod", False, True, True),
    ("env in (prod, staging)", True, False, False),
    ("env notin (prod,staging)", False, True, True),
    ("tier", True, False, False),
    ("!tier", False, True, True),
    ("env in (prod,dev),tier=gold", True, False, False),
    (" env = prod , tier in (gold) ", True, False, False),
])
def test_selectors_match_as_kubernetes_label_selectors(text, prod_gold, dev, nothing):
    selector = parse_selector(text)
    assert (selector.matches(PROD_GOLD), selector.matches(DEV), selector.matches({})) == (prod_gold, dev, nothing)
    assert parse_selector(str(selector)) == selector  # prints as it parses


@pytest.mark.parametrize("text, named", [
    ("env=prod,", "cannot parse ''"),
    ("env in ()", "cannot parse 'env in ()'"),
    ("env in (a,)", "cannot parse 'env in (a,)'"),
    ("env in prod", "cannot parse 'env in prod'"),
    ("env=pr od", "cannot parse 'env=pr od'"),
    ("!env in (a)", "cannot parse '!env in (a)'"),
    ("env=a=b", "cannot parse 'env=a=b'"),
    ("-env=prod", "'-env' is not a valid label key"),
    ("env=-prod", "'-prod' is not a valid label value"),
    ("env in (ok,-bad)", "'-bad' is not a valid label value"),
])
def test_a_bad_selector_names_the_requirement(text, named):
    with pytest.raises(ValidationError) as info:
        parse_selector(text, where="federation.mesh/import-selector")
    assert str(info.value).startswith(f"federation.mesh/import-selector {text!r}: ")
    assert named in str(info.value)


def test_an_empty_selector_selects_every_cluster():
    assert parse_selector("  ") == Selector()
    assert Selector().matches(()) and Selector().matches((("env", "prod"),))


@pytest.mark.parametrize("value, setting", [
    ("true", True), ("false", False), ("True", True), (" FALSE ", False), ("yes", None), ("", None), (None, None),
])
def test_export_settings_are_true_false_or_unset(value, setting):
    assert export_setting(value) is setting


@pytest.mark.parametrize("service, namespace, mode, out", [
    (None, None, True, True),     # nothing said: the hub's mode decides
    (None, None, False, False),
    (None, True, False, True),    # the namespace beats the mode
    (None, False, True, False),
    (True, False, False, True),   # the Service's own setting beats its namespace's
    (False, True, True, False),   # false opts out whatever the namespace and the mode say
    (False, None, True, False),
    (True, None, False, True),    # opt in without a ServiceExport or namespace label
])
def test_export_precedence_service_then_namespace_then_mode(service, namespace, mode, out):
    assert exported(service, namespace, mode) is out
