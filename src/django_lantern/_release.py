"""What is running: the release, resolved once per process and read everywhere.

One value reaches ``/statusz``, the log lines' version fields, the
``lantern_build_info`` labels, the Sentry release and the OpenTelemetry
resource, so a deploy is named the same in every tool. The release is the
first usable value of:

1. ``LANTERN["RELEASE"]``, then ``LANTERN["METRICS_RELEASE"]`` (its older name);
2. ``SENTRY_RELEASE``, then ``DD_VERSION`` (set by users of those tools on purpose);
3. the commit of the first of :data:`COMMIT_VARIABLES` that is set (CI and PaaS);
4. the build-info file (``LANTERN["BUILD_INFO_FILE"]``) that
   ``python -m django_lantern.buildinfo`` wrote when the image was built:
   its ``release``, else its ``commit``.

Every value, from settings, the environment or the file, must pass
``_validators.release_text`` (bounded, printable, no slash); one that does not
is skipped. Nothing usable: the release is None, and each sink says "not
known" its own way.

Settings are read only once Django's settings are loaded: a formatter used
before that (a uvicorn ``--log-config``), or ``django_lantern.sentry.init()``
called from ``settings.py``, sees the same chain without the ``LANTERN`` keys.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings as django_settings

from django_lantern._caching import settings_cache
from django_lantern._validators import release_text
from django_lantern.conf import LanternSettings, settings_for_checks

__all__ = ["COMMIT_VARIABLES", "Identity", "identity", "resolve"]

# Variables that hold the deployed commit, in the order they are tried: generic,
# then Heroku, Render, Vercel, Railway, GitHub Actions, GitLab CI, CircleCI,
# Bitbucket. Cloud Run's K_REVISION names a revision, not a build: not here.
COMMIT_VARIABLES = (
    "GIT_COMMIT",
    "SOURCE_VERSION",
    "RENDER_GIT_COMMIT",
    "VERCEL_GIT_COMMIT_SHA",
    "RAILWAY_GIT_COMMIT_SHA",
    "GITHUB_SHA",
    "CI_COMMIT_SHA",
    "CIRCLE_SHA1",
    "BITBUCKET_COMMIT",
)
RELEASE_VARIABLES = ("SENTRY_RELEASE", "DD_VERSION")
ENVIRONMENT_VARIABLES = ("SENTRY_ENVIRONMENT",)
# The build-info file is a few hundred bytes; anything much larger is not one.
MAX_BUILD_INFO_BYTES = 4096
_BUILD_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})", re.ASCII)


@dataclass(frozen=True)
class Identity:
    """What is running. ``source`` names where ``release`` came from (``"GIT_COMMIT"``,
    ``"LANTERN['RELEASE']"``, the file's path, or ``None`` when nothing was found)."""

    release: str | None = None
    source: str | None = None
    commit: str | None = None
    build_time: str | None = None
    version: str | None = None
    environment: str | None = None


def read_build_info(path: str | None) -> dict[str, str]:
    """The file's usable fields (``release``, ``commit``, ``version``, ``build_time``); {} if absent or not one."""
    if not path:
        return {}
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_BUILD_INFO_BYTES + 1)
        data: Any = json.loads(raw) if len(raw) <= MAX_BUILD_INFO_BYTES else None
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    found = {key: release_text(data.get(key)) for key in ("release", "commit", "version")}
    build_time = data.get("build_time")
    if isinstance(build_time, str) and _BUILD_TIME.fullmatch(build_time):
        found["build_time"] = build_time
    return {key: value for key, value in found.items() if value}


def _first(candidates: list[tuple[str, object]]) -> tuple[str | None, str | None]:
    for source, value in candidates:
        usable = release_text(value)
        if usable is not None:
            return usable, source
    return None, None


def resolve(cfg: LanternSettings | None, environ: Mapping[str, str] = os.environ) -> Identity:
    """The identity from ``cfg`` (None before settings are loaded), ``environ`` and the build-info file."""
    path = cfg.build_info_file if cfg is not None else "build-info.json"
    info = read_build_info(path)
    commit, commit_source = _first([(name, environ.get(name)) for name in COMMIT_VARIABLES])
    chosen: list[tuple[str, object]] = []
    if cfg is not None:
        chosen += [("LANTERN['RELEASE']", cfg.release), ("LANTERN['METRICS_RELEASE']", cfg.metrics_release)]
    chosen += [(name, environ.get(name)) for name in RELEASE_VARIABLES]
    chosen += [(commit_source or "", commit), (str(path), info.get("release")), (str(path), info.get("commit"))]
    release, source = _first(chosen)
    environment = cfg.metrics_environment if cfg is not None else None
    for name in ENVIRONMENT_VARIABLES:
        environment = environment or environ.get(name)
    return Identity(
        release=release,
        source=source,
        commit=commit or info.get("commit"),
        build_time=info.get("build_time"),
        version=info.get("version"),
        # A label and a field like the release, but free text in Sentry: only bounded here.
        environment=environment.strip()[:128] or None if isinstance(environment, str) else None,
    )


@settings_cache
def _configured() -> Identity:
    # The settings with any invalid value replaced by its default: a formatter
    # must never raise, and a bad LANTERN already stops the process in ready().
    return resolve(settings_for_checks())


@functools.cache
def _early() -> Identity:
    return resolve(None)


class _Loaded:
    # Settings once loaded stay loaded; asking Django each time (``settings.configured``)
    # costs twenty times the cached look-up, on every log line.
    settings = False


_loaded = _Loaded()


def identity() -> Identity:
    """The process's identity; resolved on the first call once settings are loaded, then cached."""
    if not _loaded.settings:
        if not django_settings.configured:
            return _early()
        _loaded.settings = True
    return _configured()


def reset() -> None:
    """Forget the resolved identity (tests; the next call resolves again)."""
    _configured.cache_clear()
    _early.cache_clear()
