"""Imported once from ``LanternConfig.ready()``: registers the metric system
checks and starts timing database queries on every new connection."""

from __future__ import annotations

from django_lantern.metrics import checks, db

__all__ = ["checks"]  # imported for its side effect: registering the checks

db.install()
