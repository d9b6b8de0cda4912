"""Run-time log levels: change one logger's level in every process of the app, for a while.

``set_level`` and ``reset`` write the shared record (:mod:`._levels_store`);
every server worker and Celery child applies it within about a second
(:mod:`._levels_apply`) and reverts by itself when the time is up. The
``lantern_loglevel`` command and the ops page call these functions, so both
share the guards:

- a level is one of DEBUG, INFO, WARNING, ERROR, CRITICAL (any case) or a
  number from 1 to 50;
- a duration is ``<n>s``, ``<n>m`` or ``<n>h``, from 1 s to 24 h (default 15 min);
- the logger must be known to this process (created by code that has run,
  named in ``LOGGING``, or the name of an importable module), else the error
  suggests near names;
- the access logger cannot be made quieter than INFO (its lines would stop);
- ``force=True`` lifts the last two.

Each change writes one audit line, in the process that made it, on
``lantern.audit`` at WARNING.
"""

from __future__ import annotations

import difflib
import getpass
import importlib.util
import logging
import os
import re
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import replace

from django_lantern.logging._levels_store import (
    NO_STORE,
    LevelChangeError,
    Override,
    Record,
    Store,
    resolve_store,
)
from django_lantern.logging._record_parts import rfc3339

__all__ = ["LevelChangeError", "current_overrides", "reset", "set_level"]

AUDIT_LOGGER = "lantern.audit"
LEVEL_NAMES = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
DEFAULT_SECONDS = 15 * 60
MAX_SECONDS = 24 * 60 * 60
_UNITS = {"s": 1, "m": 60, "h": 3600}
_DURATION = re.compile(r"(\d{1,6})([smh])")
ROOT_NAMES = ("root", "")

audit = logging.getLogger(AUDIT_LOGGER)


def level_name(level: int) -> str:
    """``DEBUG`` ... ``CRITICAL``, ``NOTSET`` (a logger that inherits its level), else the number."""
    if level == logging.NOTSET:
        return "NOTSET"
    return logging.getLevelName(level) if level in LEVEL_NAMES.values() else str(level)


def parse_level(text: str) -> int:
    """``DEBUG`` ... ``CRITICAL`` in any case, or a number from 1 to 50."""
    value = text.strip()
    if value.upper() in LEVEL_NAMES:
        return LEVEL_NAMES[value.upper()]
    if value.isdigit() and 1 <= int(value) <= 50:
        return int(value)
    raise LevelChangeError(
        f"level {text!r} is not a log level; use one of {', '.join(LEVEL_NAMES)} or a number from 1 to 50."
    )


def parse_duration(text: str) -> int:
    """``5s``, ``15m``, ``2h``: seconds, from 1 s to 24 h."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise LevelChangeError(f"duration {text!r} is not a duration; write it like 30s, 15m or 2h (at most 24h).")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if not 1 <= seconds <= MAX_SECONDS:
        raise LevelChangeError(f"duration {text!r} is out of range; it must be from 1s to 24h.")
    return seconds


def _logger(name: str) -> logging.Logger:
    return logging.getLogger() if name in ROOT_NAMES else logging.getLogger(name)


def known_names() -> set[str]:
    """Logger names this process knows: created so far (and their parents), or named in ``LOGGING``."""
    from django.conf import settings

    names = {str(n) for n in logging.Logger.manager.loggerDict}
    configured = getattr(settings, "LOGGING", None) or {}
    names.update(str(n) for n in (configured.get("loggers") or {}))
    return names


def _is_module(name: str) -> bool:
    """Whether ``name`` is an importable module of an already imported package (``logging.getLogger(__name__)``)."""
    if name.split(".", 1)[0] not in sys.modules:
        return False
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError, AttributeError):
        return False


def check_name(name: str) -> None:
    """The logger must be one code of this app uses (see the module docstring)."""
    if name in ROOT_NAMES:
        return
    names = known_names()
    if name in names or _is_module(name):
        return
    near = difflib.get_close_matches(name, sorted(names), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(near)}?" if near else ""
    raise LevelChangeError(
        f"no logger named {name!r} is known to this process (created by code, named in LOGGING, or a module)."
        f"{hint} Pass --force to set it anyway."
    )


def access_logger_name() -> str:
    from django_lantern.conf import get_settings

    return get_settings().access_logger


def silences_access(name: str, level: int) -> bool:
    """Whether giving ``name`` ``level`` makes the access logger drop its INFO lines."""
    if level <= logging.INFO:
        return False
    access = access_logger_name()
    parts = access.split(".")
    # The access logger, then every dotted prefix, then root: the first with a level decides the
    # access logger's (a prefix no code has created yet has none, but would once this change creates it).
    for chain in [".".join(parts[:i]) for i in range(len(parts), 0, -1)]:
        if chain == name:
            return True
        existing = logging.Logger.manager.loggerDict.get(chain)
        if isinstance(existing, logging.Logger) and existing.level != logging.NOTSET:
            return False
    return name in ROOT_NAMES


def check_access(name: str, level: int) -> None:
    if silences_access(name, level):
        raise LevelChangeError(
            f"setting {name or 'root'!r} to {level_name(level)} would silence the access log "
            f"({access_logger_name()!r} writes one INFO line per request); pass --force to do it anyway."
        )


def command_actor() -> str:
    """Who ran the command: the OS user and the host."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no passwd entry, no LOGNAME (a container's arbitrary uid)
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def _store(store: Store | None) -> Store:
    chosen = store if store is not None else resolve_store()
    if chosen is None:
        raise LevelChangeError(NO_STORE)
    return chosen


def _previous(record: Record, name: str, now: float) -> str:
    """The level before this change: the override in force, else this process's configured level."""
    active = record.active(now).get(name)
    if active is not None:
        return level_name(active.level)
    return level_name(_logger(name).getEffectiveLevel())


def set_level(
    name: str,
    level: int | str,
    *,
    seconds: int = DEFAULT_SECONDS,
    actor: str,
    force: bool = False,
    store: Store | None = None,
    clock: Callable[[], float] = time.time,
) -> Override:
    """Give logger ``name`` ``level`` in every process for ``seconds``; one audit line."""
    chosen = parse_level(level) if isinstance(level, str) else level
    if not 1 <= chosen <= 50:
        raise LevelChangeError(f"level {level!r} is out of range; it must be from 1 to 50.")
    if not 1 <= seconds <= MAX_SECONDS:
        raise LevelChangeError(f"duration {seconds} s is out of range; it must be from 1 s to 24 h.")
    name = "root" if name in ROOT_NAMES else name
    if not force:
        check_name(name)
        check_access(name, chosen)
    target = _store(store)
    now = clock()
    override = Override(name, chosen, now + seconds, actor, now)
    previous: list[str] = []

    def change(record: Record) -> Record:
        previous.append(_previous(record, name, now))
        kept = record.active(now)
        kept[name] = override
        return replace(record, version=record.version + 1, overrides=kept)

    target.update(change, now)
    _audit("set", actor, name, level_name(chosen), rfc3339(override.expires_at), previous[-1], target)
    return override


def reset(
    name: str | None, *, actor: str, store: Store | None = None, clock: Callable[[], float] = time.time
) -> list[str]:
    """End the override of ``name`` (every override when None) in every process; one audit line per logger."""
    target = _store(store)
    now = clock()
    wanted = None if name is None else ("root" if name in ROOT_NAMES else name)
    ended: list[Override] = []

    def change(record: Record) -> Record:
        active = record.active(now)
        ended.extend(o for n, o in active.items() if wanted is None or n == wanted)
        if wanted is not None and not ended:  # raised before anything is written
            raise LevelChangeError(f"logger {wanted!r} has no level override to reset.")
        kept = {n: o for n, o in active.items() if wanted is not None and n != wanted}
        return replace(record, version=record.version + 1, overrides=kept)

    target.update(change, now)
    for override in ended:
        _audit("reset", actor, override.logger, "configured", rfc3339(now), level_name(override.level), target)
    return [o.logger for o in ended]


def current_overrides(store: Store | None = None, clock: Callable[[], float] = time.time) -> list[Override]:
    """The overrides in force, soonest to expire first."""
    record = _store(store).read() or Record()
    return sorted(record.active(clock()).values(), key=lambda o: (o.expires_at, o.logger))


def _audit(action: str, actor: str, name: str, level: str, until: str, previous: str, store: Store) -> None:
    """The one line a change leaves. Field names avoid ``logger`` and ``level``, which every line has already."""
    verb = f"set to {level} until {until}" if action == "set" else "reset to its configured level"
    audit.warning(
        "log level of %s %s by %s (was %s)",
        name,
        verb,
        actor,
        previous,
        extra={
            "audit_action": f"loglevel.{action}",
            "actor": actor,
            "target_logger": name,
            "new_level": level,
            "until": until,
            "previous_level": previous,
            "shared_through": store.description,
        },
    )
