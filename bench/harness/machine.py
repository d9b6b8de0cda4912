"""What the numbers were measured on."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PACKAGES = (
    "django",
    "django-lantern",
    "prometheus-client",
    "orjson",
    "gunicorn",
    "django-guid",
    "django-structlog",
    "structlog",
    "django-prometheus",
    "opentelemetry-sdk",
    "opentelemetry-instrumentation-django",
    "psycopg",
    "redis",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*args: str, cwd: Path = REPO) -> str:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def git_commit(path: Path) -> str:
    """The short commit of the checkout holding ``path`` (``--src``), with ``+changes`` when its tree is dirty."""
    commit = _git("rev-parse", "--short", "HEAD", cwd=path)
    dirty = bool(_git("status", "--porcelain", "--", ".", cwd=path))
    return commit + ("+changes" if dirty else "") if commit else "unknown"


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def describe() -> dict[str, Any]:
    return {
        "date_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "packages": {name: _version(name) for name in PACKAGES},
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "src_uncommitted_changes": bool(_git("status", "--porcelain", "--", "src")),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }
