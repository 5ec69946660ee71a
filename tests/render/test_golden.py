"""Every scenario renders exactly its golden file, and every object it renders is
valid against the shared CRD schemas."""

from __future__ import annotations

import pytest

from .scenarios import SCENARIOS
from .support import assert_golden, assert_valid


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_matches_golden_file(name):
    assert_golden(name, SCENARIOS[name]())


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_objects_validate_against_crd_schemas(name):
    objects = SCENARIOS[name]()
    assert objects
    assert_valid(objects)


def test_schema_check_rejects_broken_objects():
    """The validation above is live: it catches unknown fields, bad enums and CEL-checked values."""
    objects = SCENARIOS["remote_only_for_c"]() + SCENARIOS["gateways_for_c"]()
    stub = next(o for o in objects if o["kind"] == "Service")
    workload = next(o for o in objects if o["kind"] == "WorkloadEntry")
    gateway = next(o for o in objects if o["kind"] == "Gateway")
    server = gateway["spec"]["servers"][0]
    broken = [
        {**stub, "spec": {**stub["spec"], "type": 7}},
        {**stub, "spec": {**stub["spec"], "ports": stub["spec"]["ports"] * 2}},
        {**workload, "spec": {**workload["spec"], "addresss": "10.0.0.1"}},
        {**workload, "spec": {**workload["spec"], "ports": {"http_x": 15443}}},
        {**gateway, "spec": {**gateway["spec"], "servers": [{**server, "tls": {"mode": "SOMETIMES"}}]}},
        {**workload, "metadata": {**workload["metadata"], "name": "Not_A_Name"}},
    ]
    for obj in broken:
        with pytest.raises(AssertionError):
            assert_valid([obj])
