"""Query insights reach no sink with a value: statements that inline secrets as literals, repeated
(an N+1) and slow, in a failing request seen by every sink (five log formats, Sentry, spans, the
admins' mail, the DEBUG page) and in the metrics' labels."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY, generate_latest

from django_lantern.metrics import _insights as insights
from tests import urls_insights
from tests.logging.test_formatters import ISSUE_TOKENS
from tests.scrubbing.test_every_sink import EVERY_SHAPE
from tests.scrubbing.urls_sinks import DB_VALUE

pytestmark = [pytest.mark.urls("tests.urls_insights"), pytest.mark.django_db]

VALUES = (DB_VALUE, *ISSUE_TOKENS.values(), *EVERY_SHAPE, "o'brien", "multi\nline", "100%")


def test_repeated_and_slow_statements_with_secrets_reach_no_sink(
    every_sink: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    insights.reset()
    monkeypatch.setattr(urls_insights, "HOSTILE_VALUES", list(VALUES))
    seen = every_sink(
        "/insights/hostile/",
        {"TRACING_QUERY_SPANS": True, "SLOW_QUERY_MS": 0, "N_PLUS_ONE_THRESHOLD": 5},
    )
    lines = [line for line in seen.log_lines["json"] if '"logger":"lantern.db"' in line]
    # Each insight really was written (so an absent value is a scrubbed one): one statement shape.
    assert sum('"insight":"n_plus_one"' in line for line in lines) == 1
    assert sum('"insight":"slow_query"' in line for line in lines) == 1
    assert '"count":' + str(6 * len(VALUES)) in next(line for line in lines if "n_plus_one" in line)
    metrics = generate_latest(REGISTRY).decode()
    for value in VALUES:
        if value in ("100%",):
            continue  # too short to be a secret; its shape only checks the escaping
        seen.assert_absent(value)
        assert value not in metrics
