"""A bad LANTERN value fails the process at start-up, with the message that names it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setup(settings_module: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'example'}",
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_unknown_key_stops_django_setup() -> None:
    """django.setup() raises ImproperlyConfigured naming the key, instead of a 500 on every request."""
    proc = _setup("tests.bad_lantern_settings")
    assert proc.returncode != 0
    assert "ImproperlyConfigured" in proc.stderr
    assert "REQUEST_ID_HEADDER" in proc.stderr


def test_python_warnings_are_json_records() -> None:
    """A library's warning after start-up is a JSON line of logger py.warnings, not raw stderr text."""
    import json

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LANTERN_LOG_FORMAT": "json",
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'example'}",
        "DATABASE_URL": "",
        "REDIS_URL": "",
    }
    code = "import django, warnings; django.setup(); warnings.warn('lantern-test-warning', UserWarning)"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert lines, "the warning was not written at all"
    records = [json.loads(line) for line in lines]  # every line is JSON
    assert any(r["logger"] == "py.warnings" and "lantern-test-warning" in r["message"] for r in records)


def test_bad_value_stops_django_setup() -> None:
    """A value of the wrong type stops django.setup() with the key, the value and the fix."""
    proc = _setup("tests.bad_value_settings")
    assert proc.returncode != 0
    assert "ImproperlyConfigured" in proc.stderr
    assert "LANTERN['READINESS_TIMEOUT'] is 'fast'; it must be a number >= 0.001." in proc.stderr
