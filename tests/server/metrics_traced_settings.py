"""Settings for the real-server exemplar test: the metrics server settings, tracing on.

``tracing.configure()`` is called here, at settings import in each worker,
because the example's ``wsgi.py`` does not call it; spans are sampled but
exported nowhere (``OTEL_TRACES_EXPORTER=none``), which is all exemplars need.
"""

from __future__ import annotations

from django_lantern import tracing
from tests.server.metrics_settings import *  # noqa: F403

ROOT_URLCONF = "tests.metrics.urls_traced"

tracing.configure()
