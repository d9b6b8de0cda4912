"""Which frame is the application's own: the one rule behind every ``callsite``.

The N+1 and slow-query WARNINGs (``_insights.py``) and the ``callsite`` SQL
comment (``_sql_comments.py``) both name the innermost frame of the user's
code that led to a statement, as ``path/to/views.py:25``. A frame is not the
user's when its file is Django's, this package's, the standard library's, an
installed package's (``site-packages``, a venv's scripts) or frozen; the walk
stops at ``__main__`` (``manage.py``, a server's script), which only started
Django's own work. The shown path is relative to the ``sys.path`` entry that
holds it. Verdicts are cached per code object, so a walk is a few dictionary
look-ups per frame.
"""

from __future__ import annotations

import contextlib
import os
import sys
import sysconfig
from types import CodeType, FrameType

from django_lantern.context import UNKNOWN

__all__ = ["callsite", "user_frame"]

# Code object -> its file as shown, or "" for code that is not the user's. Code objects
# come from the program, not from input; bounded all the same.
_SHOWN: dict[CodeType, str] = {}
_CACHE_MAX = 4096
_roots: tuple[str, ...] | None = None


def _library_roots() -> tuple[str, ...]:
    import django

    import django_lantern

    roots = {os.path.dirname(django.__file__), os.path.dirname(django_lantern.__file__ or "")}
    paths = sysconfig.get_paths()
    for name in ("stdlib", "platstdlib", "purelib", "platlib", "scripts"):
        with contextlib.suppress(KeyError):
            roots.add(paths[name])
    return tuple(sorted(os.path.join(os.path.realpath(r), "") for r in roots if r))


def _shown(filename: str) -> str:
    """``app/views.py`` for a file of the user's code; "" for a library's (or a frozen module's)."""
    global _roots
    if _roots is None:
        _roots = _library_roots()
    path = os.path.realpath(filename)
    if filename.startswith("<") or path.startswith(_roots) or os.sep + "site-packages" + os.sep in path:
        return ""
    base = max(
        (os.path.join(os.path.realpath(p), "") for p in sys.path if p),
        key=lambda p: len(p) if path.startswith(p) else -1,
        default="",
    )
    return path[len(base) :] if base and path.startswith(base) else os.path.basename(path)


def user_frame(frame: FrameType | None) -> tuple[CodeType, int, str] | None:
    """The first frame from ``frame`` outward that is the user's code: its code, line and shown path."""
    shown_by_code = _SHOWN
    while frame is not None:
        if frame.f_globals.get("__name__") == "__main__":
            return None
        code = frame.f_code
        shown = shown_by_code.get(code)
        if shown is None:
            shown = _shown(code.co_filename)
            if len(shown_by_code) < _CACHE_MAX:
                shown_by_code[code] = shown
        if shown:
            return code, frame.f_lineno, shown
        frame = frame.f_back
    return None


def callsite(frame: FrameType | None) -> str:
    """``path/to/views.py:25`` for the user's frame from ``frame`` outward, or ``-``."""
    found = user_frame(frame)
    return UNKNOWN if found is None else f"{found[2]}:{found[1]}"
