"""Builds the readiness runner from settings, once, and rebuilds it on change."""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from django_lantern._caching import settings_cache
from django_lantern.conf import get_settings
from django_lantern.health._base import ReadinessCheck
from django_lantern.health._database import DatabaseCheck
from django_lantern.health._probes import apply_probe_options
from django_lantern.health._runner import ReadinessRunner
from django_lantern.health.checks import CacheCheck, CallableCheck

# Caches that never store anything cannot pass a set/get check.
_UNCHECKABLE_CACHES = {"django.core.cache.backends.dummy.DummyCache"}


def _selected(configured: Mapping[str, object], wanted: str | tuple[str, ...], setting: str) -> list[str]:
    if wanted == "__all__":
        return list(configured)
    missing = [alias for alias in wanted if alias not in configured]
    if missing:
        raise ImproperlyConfigured(
            f"LANTERN[{setting!r}] names {missing!r}, which are not configured; "
            f"configured aliases are {sorted(configured)!r}."
        )
    return list(wanted)


def _custom_check(path: str) -> ReadinessCheck:
    try:
        target = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"LANTERN['READINESS_CHECKS'] contains {path!r}, which cannot be imported ({exc}); "
            "give the dotted path of a ReadinessCheck subclass or a function."
        ) from exc
    name = f"custom:{path.rsplit('.', 1)[-1]}"
    if isinstance(target, type) and issubclass(target, ReadinessCheck):
        # The built-in opt-in checks (health/builtin.py) have names of their own: "migrations:default", "disk"...
        return target(target.check_name or name)
    if callable(target):
        return CallableCheck(name, target)
    raise ImproperlyConfigured(
        f"LANTERN['READINESS_CHECKS'] contains {path!r}, which is neither a ReadinessCheck subclass nor callable."
    )


def build_checks() -> list[ReadinessCheck]:
    cfg = get_settings()
    checks: list[ReadinessCheck] = [
        DatabaseCheck(alias) for alias in _selected(settings.DATABASES, cfg.readiness_databases, "READINESS_DATABASES")
    ]
    caches_cfg = {
        alias: conf for alias, conf in settings.CACHES.items() if conf.get("BACKEND") not in _UNCHECKABLE_CACHES
    }
    checks += [CacheCheck(alias) for alias in _selected(caches_cfg, cfg.readiness_caches, "READINESS_CACHES")]
    checks += [_custom_check(path) for path in cfg.readiness_checks]
    apply_probe_options(checks, cfg.probes)
    return checks


@settings_cache(teardown=ReadinessRunner.stop)
def get_runner() -> ReadinessRunner:
    """The readiness runner, built once per settings generation; its workers stop on reset."""
    cfg = get_settings()
    return ReadinessRunner(build_checks(), cfg.readiness_timeout, cfg.readiness_cache_seconds)
