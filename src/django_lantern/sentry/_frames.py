"""Django's ``@sensitive_variables`` applied to the frames of a Sentry event.

Sentry ignores the decorator, and Django's own filter only applies it when
``DEBUG`` is off; here it always applies, to every frame of every exception
in the chain, with Django's own rules (including for coroutines).
"""

from __future__ import annotations

import types
from typing import TYPE_CHECKING

from django_lantern._caching import settings_cache
from django_lantern.sentry._event import Event

if TYPE_CHECKING:
    from django.http import HttpRequest


class _FrameFilter:
    """Django's own rules for ``@sensitive_variables`` (including coroutines),
    always active: Django's filter only applies them when ``DEBUG`` is off."""

    def __init__(self) -> None:
        from django.views.debug import SafeExceptionReporterFilter

        class _Always(SafeExceptionReporterFilter):
            def is_active(self, request: HttpRequest | None) -> bool:
                return True

        self.filter = _Always()

    def sensitive_names(self, request: HttpRequest | None, frame: types.FrameType) -> frozenset[str]:
        substitute = self.filter.cleansed_substitute
        cleansed = self.filter.get_traceback_frame_variables(request, frame)
        return frozenset(name for name, value in cleansed if value is substitute or value == substitute)


@settings_cache
def _frame_filter() -> _FrameFilter:
    return _FrameFilter()


def apply_sensitive_variables(
    event: Event, exc: BaseException | None, request: HttpRequest | None, replacement: str
) -> None:
    """Blank the locals Django's ``@sensitive_variables`` marks in every frame
    of every exception in the chain (Sentry itself ignores the decorator)."""
    frame_filter = _frame_filter()
    marks: dict[tuple[str, int, str], frozenset[str]] = {}
    seen: set[int] = set()
    # Bounded walk: the chain can be cyclic and Sentry keeps at most a few.
    while exc is not None and id(exc) not in seen and len(seen) < 16:
        seen.add(id(exc))
        tb = exc.__traceback__
        depth = 0
        while tb is not None and depth < 512:
            frame = tb.tb_frame
            names = frame_filter.sensitive_names(request, frame)
            if names:
                code = frame.f_code
                marks[(code.co_filename, tb.tb_lineno, code.co_name)] = names
            tb = tb.tb_next
            depth += 1
        exc = exc.__cause__ or exc.__context__
    if not marks:
        return
    exception = event.get("exception")
    values = exception.get("values") if isinstance(exception, dict) else None
    for value in values if isinstance(values, list) else ():
        stacktrace = value.get("stacktrace") if isinstance(value, dict) else None
        frames = stacktrace.get("frames") if isinstance(stacktrace, dict) else None
        for frame_data in frames if isinstance(frames, list) else ():
            if not isinstance(frame_data, dict) or not isinstance(frame_data.get("vars"), dict):
                continue
            key = (str(frame_data.get("abs_path")), frame_data.get("lineno"), str(frame_data.get("function")))
            hidden = marks.get(key)  # type: ignore[arg-type]
            if hidden:
                frame_data["vars"] = {k: replacement if k in hidden else v for k, v in frame_data["vars"].items()}
