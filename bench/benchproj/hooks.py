"""Runs a configuration's ``BENCH_BEFORE_SETUP`` hook (settings read, apps not loaded yet)."""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string


class Unavailable(Exception):
    """This configuration cannot run here (a missing optional module); reported as n/a."""


def before_setup() -> None:
    path = getattr(settings, "BENCH_BEFORE_SETUP", None)
    if path:
        import_string(path)()


def hold_ops_flush() -> None:
    """``lanternopsquiet``: the operations page's flush thread sleeps through the count."""
    from django_lantern.ops import _record

    _record.FLUSH_SECONDS = 3600.0
