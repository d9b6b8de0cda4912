"""``settings_pagebare`` with the in-place timers of ``benchproj/inplace.py`` (the request and its queries)."""

from benchproj.settings_pagebare import *  # noqa: F403

BENCH_BEFORE_SETUP = "benchproj.inplace.install"
