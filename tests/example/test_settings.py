"""config.settings: the example runs as production would unless asked otherwise."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.helpers.servers import EXAMPLE

PROBE = (
    "import json; from config import settings as s; "
    "print(json.dumps({'debug': s.DEBUG, 'middleware': s.MIDDLEWARE, 'static_root': str(s.STATIC_ROOT), "
    "'sample': s.LANTERN['ACCESS_LOG_SAMPLE_PATHS']}))"
)


def _settings(**env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "LANTERN_"))}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=EXAMPLE, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    loaded: dict[str, object] = json.loads(result.stdout)
    return loaded


def test_debug_is_off_unless_asked_for() -> None:
    """No DJANGO_DEBUG: DEBUG off (the error pages show, not the debug page); DJANGO_DEBUG=1 turns it on."""
    assert _settings()["debug"] is False
    assert _settings(DJANGO_DEBUG="1")["debug"] is True


def test_static_files_are_served_by_whitenoise_right_after_security() -> None:
    """WhiteNoise sits right after SecurityMiddleware; STATIC_ROOT can be moved; probes are not sampled by default."""
    loaded = _settings(DJANGO_STATIC_ROOT="/tmp/elsewhere")
    middleware = loaded["middleware"]
    assert isinstance(middleware, list)
    security = middleware.index("django.middleware.security.SecurityMiddleware")
    assert middleware[security + 1] == "whitenoise.middleware.WhiteNoiseMiddleware"
    assert loaded["static_root"] == "/tmp/elsewhere"
    assert loaded["sample"] == {}
    assert _settings(LANTERN_PROBE_LOG_SAMPLE="0.01")["sample"] == {r"^/(healthz|readyz)/?$": 0.01}
