"""A running hub with three simulated member clusters (the pipeline's fixtures)."""

from tests.pipeline.conftest import env, hub  # noqa: F401 - fixtures
