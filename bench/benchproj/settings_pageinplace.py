"""``settings_page`` with the in-place timers of ``benchproj/inplace.py`` (the ``inplace`` stage)."""

from benchproj.settings_page import *  # noqa: F403

BENCH_BEFORE_SETUP = "benchproj.inplace.install"
