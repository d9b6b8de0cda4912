"""Counting what sentry-sdk loses, and what is still queued at exit.

sentry-sdk reports every event it gives up on to its transport's
``record_lost_event(reason, data_category, item, quantity=...)``, the hook its
client reports are built from: a full queue (``queue_overflow``), a network
or HTTP error, a rate limit, a send error. It only sends those counts to
Sentry, which is the very service that may be unreachable; here they also go
to ``lantern_sentry_lost_events_total{reason, category}``. Decisions are not
losses and are not counted: sampling (``sample_rate``), and ``before_send`` or
an event processor declining an event (ours drop the access log's duplicate
of an error and uvicorn's lifespan refusal).
"""

from __future__ import annotations

import contextvars
from typing import Any

from django_lantern._errors import report_internal_error
from django_lantern.context import UNKNOWN_LABEL

__all__ = ["count_lost_events"]

NOT_COUNTED_REASONS = frozenset({"sample_rate", "before_send", "event_processor"})
EXIT_REASON = "pending_at_exit"
_LABEL_LIMIT = 48
_MARK = "_lantern_counts_lost_events"
# Set while a counted call runs: the transport records a lost transaction's
# spans through a nested call, which is counted here already.
_inside: contextvars.ContextVar[bool] = contextvars.ContextVar("lantern_sentry_lost", default=False)


def record_lost(reason: str, category: str, quantity: int) -> None:
    """Add ``quantity`` to ``lantern_sentry_lost_events_total``."""
    if quantity <= 0 or reason in NOT_COUNTED_REASONS:
        return
    # Here, not at module level: settings files and gunicorn configs import
    # django_lantern.sentry (and shutdown), and prometheus_client reads
    # PROMETHEUS_MULTIPROC_DIR once, when first imported (metrics/multiprocess.py).
    from django_lantern.metrics._families import get_families

    # sentry-sdk's reasons and categories are fixed words; clipped all the same.
    get_families().sentry_lost_events.labels(str(reason)[:_LABEL_LIMIT], str(category)[:_LABEL_LIMIT]).inc(quantity)


def _item_counts(item: Any) -> list[tuple[str, int]]:
    category = str(getattr(item, "data_category", UNKNOWN_LABEL))
    if category == "transaction":
        event = item.get_transaction_event() or {}
        # The transaction is a span too, as sentry-sdk counts them.
        return [("transaction", 1), ("span", len(event.get("spans") or ()) + 1)]
    count = item.headers.get("item_count") if isinstance(getattr(item, "headers", None), dict) else None
    return [(category, count if isinstance(count, int) and count > 0 else 1)]


def count_lost_events(client: Any = None) -> bool:
    """Count the losses of ``client``'s transport (default: the current client).

    :func:`django_lantern.sentry.init` calls it; call it after your own
    ``sentry_sdk.init``. Returns False when there is no transport. Idempotent.
    """
    if client is None:
        import sentry_sdk

        client = sentry_sdk.get_client()
    transport = getattr(client, "transport", None)
    if transport is None:
        return False
    if getattr(transport, _MARK, False):
        return True
    original = transport.record_lost_event

    def record_lost_event(reason: str, data_category: Any = None, item: Any = None, *, quantity: int = 1) -> None:
        if not _inside.get():
            try:
                counts = _item_counts(item) if item is not None else [(str(data_category), quantity)]
                for category, amount in counts:
                    record_lost(reason, category, amount)
            except Exception as exc:
                report_internal_error("sentry_lost_events", exc)
        token = _inside.set(True)
        try:
            original(reason, data_category, item, quantity=quantity)
        finally:
            _inside.reset(token)

    # An instance attribute: works for whichever transport sentry-sdk chose
    # (HTTP/1, HTTP/2, async) or the project passed.
    transport.record_lost_event = record_lost_event
    setattr(transport, _MARK, True)
    return True


def pending_envelopes(client: Any) -> int:
    """Envelopes still queued or being sent by ``client``'s transport.

    sentry-sdk has no public count; its background worker's queue is read
    defensively, and 0 is returned when its shape is not the expected one.
    """
    worker = getattr(getattr(client, "transport", None), "_worker", None)
    queue = getattr(worker, "_queue", None)
    unfinished = getattr(queue, "unfinished_tasks", None)
    return unfinished if isinstance(unfinished, int) and unfinished > 0 else 0
