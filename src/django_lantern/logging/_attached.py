"""The handlers logging is configured with now: one walk of the logger tree for every caller."""

from __future__ import annotations

import logging
from collections.abc import Iterator


def attached_handlers() -> list[logging.Handler]:
    """Every handler attached to the root or a named logger, each once, in the order found."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    found: dict[int, logging.Handler] = {}
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):  # a PlaceHolder has none
            found.setdefault(id(handler), handler)
    return list(found.values())


def handlers_reached(logger: logging.Logger) -> Iterator[logging.Handler]:
    """The handlers a record of ``logger`` reaches, in the order ``Logger.callHandlers`` calls them
    (up the tree while ``propagate`` is on); none means logging's last resort would take it."""
    current: logging.Logger | None = logger
    while current is not None:
        yield from current.handlers
        if not current.propagate:
            return
        current = current.parent
