"""One way to cache what is built from settings, and one receiver that clears it all.

Anything django-lantern derives from settings (the validated ``LANTERN``
object, metric families, the recorder's hot-path state, ...) is a zero-argument
builder decorated with :func:`settings_cache`. Django's ``setting_changed``
signal (sent by ``override_settings`` and pytest-django's ``settings``
fixture) reaches one receiver here, which clears every such cache, so the
next call builds afresh from the new settings. This is django-debug-toolbar's
pattern: ``functools.cache`` plus ``cache_clear()`` on the signal.

Two kinds of cache:

- ``@settings_cache``: a plain value (pure, cheap to build twice). A hit is one
  ``functools.cache`` look-up, cheap enough for the per-request path.
- ``@settings_cache(teardown=fn)``: a *resource* (collectors registered with
  Prometheus, worker threads). It is built under a lock, so at most once per
  settings generation, and ``fn(value)`` releases it before the cache is
  cleared.

Adopting it is one line::

    @settings_cache
    def get_scrubber() -> Scrubber: ...

    @settings_cache(teardown=ReadinessRunner.stop)
    def get_runner() -> ReadinessRunner: ...
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar, overload

from django.core.signals import setting_changed

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

# Settings whose change invalidates what django-lantern built: LANTERN itself,
# the Django settings the readiness checks and error pages are built from, and
# the static and media URLs (http/_assets.py).
WATCHED_SETTINGS = frozenset({"LANTERN", "DEBUG", "DATABASES", "CACHES", "STATIC_URL", "MEDIA_URL"})


class Cached(Protocol[T_co]):
    """A zero-argument builder whose result is kept until the next reset."""

    def __call__(self) -> T_co: ...

    def cache_clear(self) -> None: ...


class _Resource(Generic[T]):
    """A cached value that holds something (registered collectors, threads):
    built once under a lock, released by ``teardown`` when cleared."""

    def __init__(self, build: Callable[[], T], teardown: Callable[[T], object]) -> None:
        self._cached = functools.cache(build)
        self._teardown = teardown
        # Re-entrant: a teardown or a build may read another cached value.
        self._lock = threading.RLock()
        functools.update_wrapper(self, build)

    def __call__(self) -> T:
        with self._lock:
            return self._cached()

    def is_built(self) -> bool:
        return self._cached.cache_info().currsize > 0

    def cache_clear(self) -> None:
        with self._lock:
            if not self.is_built():
                return
            value = self._cached()
            self._cached.cache_clear()
            self._teardown(value)


_caches: list[Cached[object]] = []


@overload
def settings_cache(build: Callable[[], T], /) -> Cached[T]: ...
@overload
def settings_cache(*, teardown: Callable[[T], object]) -> Callable[[Callable[[], T]], Cached[T]]: ...
def settings_cache(
    build: Callable[[], T] | None = None, /, *, teardown: Callable[[T], object] | None = None
) -> Cached[T] | Callable[[Callable[[], T]], Cached[T]]:
    """Cache ``build()`` until settings change (see the module docstring)."""

    def decorate(fn: Callable[[], T]) -> Cached[T]:
        cached: Cached[T] = functools.cache(fn) if teardown is None else _Resource(fn, teardown)
        _caches.append(cached)
        return cached

    return decorate if build is None else decorate(build)


def reset_settings_caches() -> None:
    """Release every resource and clear every cache built from settings.

    A teardown that raises does not stop the others (a stale cache would
    outlive the settings it was built from); the first error is raised last.
    """
    first: Exception | None = None
    for cached in _caches:
        try:
            cached.cache_clear()
        except Exception as exc:
            first = first or exc
    if first is not None:
        raise first


def _on_setting_changed(*, setting: str, **kwargs: object) -> None:
    if setting in WATCHED_SETTINGS:
        reset_settings_caches()


setting_changed.connect(_on_setting_changed, dispatch_uid="django_lantern._caching")
