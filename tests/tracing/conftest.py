"""The query-span tests share the metrics tests' ``traced`` provider and fresh families."""

from tests.metrics.conftest import fresh_metrics, traced  # noqa: F401  (shared fixtures)
