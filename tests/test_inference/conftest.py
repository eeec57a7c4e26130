"""Fixtures of the inference tests (defined in chat_fixtures.py)."""
from chat_fixtures import checkpoint  # noqa: F401
