"""Fixtures of the serving tests (defined in serving_fixtures.py)."""
from serving_fixtures import browser, tiny_engine  # noqa: F401
