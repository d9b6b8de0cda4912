"""The handlers logging is configured with now: one walk of the logger tree for every caller."""

from __future__ import annotations

import logging


def attached_handlers() -> list[logging.Handler]:
    """Every handler attached to the root or a named logger, each once, in the order found."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    found: dict[int, logging.Handler] = {}
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):  # a PlaceHolder has none
            found.setdefault(id(handler), handler)
    return list(found.values())
