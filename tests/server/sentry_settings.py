"""The example's settings for the real-server Sentry tests: sentry-sdk with performance on.

``LANTERN_TEST_SENTRY_DSN`` points at the test's local envelope endpoint;
``LANTERN_TEST_SENTRY_SHUTDOWN_TIMEOUT`` is sentry-sdk's own exit wait (its
default is 2 s; the exit-flush test makes it long, to see whether it is paid).
``LANTERN_TEST_SPAN_FILE`` also turns lantern's OpenTelemetry tracing on, each
finished span appended to that file.
"""

from __future__ import annotations

import os

from config.settings import *  # noqa: F403
from config.settings import LANTERN as _EXAMPLE_LANTERN

ROOT_URLCONF = "tests.server.sentry_urls"
LANTERN = {**_EXAMPLE_LANTERN, "ACCESS_LOG_SAMPLE_PATHS": {}}

if os.environ.get("LANTERN_TEST_SENTRY_DSN"):
    from django_lantern import sentry

    sentry.init(
        dsn=os.environ["LANTERN_TEST_SENTRY_DSN"],
        traces_sample_rate=1.0,
        # SQL parameters in span data on, identity off: the combination that leaked the session.
        data_collection={"user_info": False, "database_query_data": True},
        shutdown_timeout=float(os.environ.get("LANTERN_TEST_SENTRY_SHUTDOWN_TIMEOUT", "2")),
        http_proxy="",
    )

if os.environ.get("LANTERN_TEST_SPAN_FILE"):
    from tests.jobs.span_file import trace_to_file

    trace_to_file(os.environ["LANTERN_TEST_SPAN_FILE"])
