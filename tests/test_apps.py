"""Start-up: a bad LANTERN value is lantern.E002 under ``manage.py check`` and stops a server
loading the middleware, with the message that names it; so does a missing app."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What manage.py does for `manage.py check`.
MANAGE_CHECK = "from django.core.management import execute_from_command_line as m; m(['manage.py', 'check'])"


def _setup(settings_module: str, code: str = "import django; django.setup()") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'example'}",
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_unknown_key_is_lantern_e002_from_check() -> None:
    """manage.py check reports a misspelt key as lantern.E002, with the near miss and the docs URL, and no traceback."""
    proc = _setup("tests.bad_lantern_settings", MANAGE_CHECK)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    assert (
        "(lantern.E002) Invalid LANTERN setting: LANTERN['REQUEST_ID_HEADDER'] is not a django-lantern setting; "
        "did you mean 'REQUEST_ID_HEADER'?\n\tHINT: Every key, its type and its default: "
        "https://django-lantern.github.io/django-lantern/configuration/"
    ) in proc.stderr


def test_unknown_key_stops_the_server_loading() -> None:
    """The WSGI application refuses to load: one paragraph with the check id, the near miss and the URL."""
    proc = _setup("tests.bad_lantern_settings", "from django.core.wsgi import get_wsgi_application as g; g()")
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last == (
        "django.core.exceptions.ImproperlyConfigured: (lantern.E002) Invalid LANTERN setting: "
        "LANTERN['REQUEST_ID_HEADDER'] is not a django-lantern setting; did you mean 'REQUEST_ID_HEADER'? "
        "Every key, its type and its default: https://django-lantern.github.io/django-lantern/configuration/"
    )


def test_missing_app_stops_the_server_loading() -> None:
    """Without django_lantern in INSTALLED_APPS the middleware refuses to load, naming the one-line fix."""
    code = (
        "from django.conf import settings; import django; "
        "settings.INSTALLED_APPS.remove('django_lantern'); django.setup(); "
        "from django.core.handlers.wsgi import WSGIHandler; WSGIHandler()"
    )
    proc = _setup("config.settings", code)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: django_lantern.middleware.LanternMiddleware is in "
        "MIDDLEWARE but django_lantern is not in INSTALLED_APPS, so its system checks, signals and template "
        'tags are missing. Add "django_lantern" to INSTALLED_APPS.'
    )


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


def test_bad_value_is_lantern_e002_and_stops_the_server() -> None:
    """A value of the wrong type: check names the key, the value and the fix; the server will not load."""
    proc = _setup("tests.bad_value_settings", MANAGE_CHECK)
    assert "Traceback" not in proc.stderr and proc.returncode != 0
    assert (
        "(lantern.E002) Invalid LANTERN setting: LANTERN['READINESS_TIMEOUT'] is 'fast'; it must be a number >= 0.001."
        in proc.stderr
    )
    proc = _setup("tests.bad_value_settings", "from django.core.wsgi import get_wsgi_application as g; g()")
    assert proc.returncode != 0 and "(lantern.E002)" in proc.stderr.strip().splitlines()[-1]
