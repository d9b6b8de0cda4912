"""LANTERN tracing keys: defaults and validation (hooks, query spans and their cap)."""

from __future__ import annotations

from typing import Any

import pytest

from django_lantern import conf


def hook(span: Any, request: Any) -> None:
    """A valid hook for the settings below."""


def test_tracing_defaults() -> None:
    """No hooks, no query spans, a 2048-character cap."""
    built, errors = conf.build_settings(None)
    assert errors == []
    assert built.tracing_request_hook is None and built.tracing_response_hook is None
    assert built.tracing_query_spans is False
    assert built.tracing_query_max_length == 2048


def test_valid_tracing_values_are_kept() -> None:
    """A callable, a dotted path, a bool and a cap are taken as given."""
    built, errors = conf.build_settings(
        {
            "TRACING_REQUEST_HOOK": hook,
            "TRACING_RESPONSE_HOOK": "tests.test_conf_tracing.hook",
            "TRACING_QUERY_SPANS": True,
            "TRACING_QUERY_MAX_LENGTH": 500,
        }
    )
    assert errors == []
    assert built.tracing_request_hook is hook
    assert built.tracing_response_hook == "tests.test_conf_tracing.hook"
    assert built.tracing_query_spans is True and built.tracing_query_max_length == 500


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("TRACING_REQUEST_HOOK", 42, "None, a callable, or the dotted path of one"),
        ("TRACING_RESPONSE_HOOK", "", "None, a callable, or the dotted path of one"),
        ("TRACING_QUERY_SPANS", "yes", "True or False"),
        ("TRACING_QUERY_MAX_LENGTH", 10, "a whole number >= 64"),
        ("TRACING_QUERY_MAX_LENGTH", True, "a whole number >= 64"),
    ],
)
def test_invalid_tracing_values_name_the_key_and_the_fix(key: str, value: Any, expected: str) -> None:
    """Each bad value gives one message naming the key, the value and what it must be."""
    built, errors = conf.build_settings({key: value})
    assert errors == [f"LANTERN[{key!r}] is {value!r}; it must be {expected}."]
    assert built.tracing_query_max_length == 2048
