"""The example project (``settings_page``) plus OpenTelemetry spans through ``django_lantern.tracing``,
on the same SDK provider and dropping exporter as ``settings_lanternotel``."""

from benchproj.settings_page import *  # noqa: F403

BENCH_BEFORE_SETUP = "benchproj.otel.setup_lantern_tracing"
