"""``settings_lantern`` plus OpenTelemetry spans through ``django_lantern.tracing``.

The tracer provider is the SDK's, with a processor that hands finished spans
to an exporter that drops them: spans are created, timed and ended, never
shipped. If ``django_lantern.tracing`` does not exist yet the runner reports
``n/a`` for this configuration.
"""

from benchproj.settings_lantern import *  # noqa: F403
from benchproj.settings_lantern import lantern_logging

LOGGING = lantern_logging("lanternotel")
BENCH_BEFORE_SETUP = "benchproj.otel.setup_lantern_tracing"
