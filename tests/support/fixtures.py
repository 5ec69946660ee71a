"""Fixtures more than one test package uses; a conftest imports the ones it serves."""

from __future__ import annotations

import pytest

from tests.support.shared import crd_schemas


@pytest.fixture(scope="session")
def schemas():
    """The real CRD schemas when ../shared is present (objects are then validated);
    without them ``None``: the simulator stores custom kinds unvalidated."""
    return crd_schemas(required=False)
