"""Listing 21.4.1: ``config/request_context.py``."""

from __future__ import annotations

import threading

_local = threading.local()


def set_request_id(value: str | None) -> None:
    _local.request_id = value


def get_request_id() -> str:
    return getattr(_local, "request_id", "-") or "-"
