"""The Kubernetes manifest in docs/health.md, checked against the example on a real gunicorn.

Every probe's port must be the one the container's command binds, and every
probe path must answer as the docs say: liveness and readiness 200, the startup
probe 503 on an unmigrated database and 200 once ``migrate`` has run, each
within the probe's ``timeoutSeconds``.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import mini_yaml
from tests.helpers.servers import BIN, EXAMPLE, ROOT, run_server

DOC = ROOT / "docs" / "health.md"
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


def _manifest() -> dict[str, Any]:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S)
    deployments = [b for b in blocks if "kind: Deployment" in b]
    assert len(deployments) == 1, "docs/health.md must hold exactly one Deployment manifest"
    source = deployments[0]
    manifest = mini_yaml.load(source)
    try:
        import yaml
    except ImportError:
        pass
    else:  # with PyYAML installed, the subset reader must agree with it
        assert yaml.safe_load(source) == manifest
    assert isinstance(manifest, dict)
    return manifest


def _web_container() -> dict[str, Any]:
    manifest = _manifest()
    assert manifest["kind"] == "Deployment" and manifest["apiVersion"] == "apps/v1"
    (container,) = manifest["spec"]["template"]["spec"]["containers"]
    return container  # type: ignore[no-any-return]


def test_mini_yaml_reads_the_subset() -> None:
    """The subset reader handles nested maps, lists of maps, flow lists, quotes and comments."""
    source = 'a:\n  b: 1  # one\n  c: "x: y"\n  d:\n    - e: f\n      g: [1, "2"]\n    - e: h\n'
    assert mini_yaml.load(source) == {"a": {"b": 1, "c": "x: y", "d": [{"e": "f", "g": [1, "2"]}, {"e": "h"}]}}
    with pytest.raises(ValueError):
        mini_yaml.load("a:\n  not a key\n")


def test_every_probe_names_the_port_the_command_binds() -> None:
    """Each probe's httpGet port (by name or number) is the container port gunicorn's --bind listens on."""
    container = _web_container()
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    command = container["command"]
    assert command[0] == "gunicorn" and command[-1] == "config.wsgi"
    bind = command[command.index("--bind") + 1]
    bound_port = int(bind.rsplit(":", 1)[1])
    for probe in PROBES:
        get = container[probe]["httpGet"]
        port = ports[get["port"]] if isinstance(get["port"], str) else get["port"]
        assert port == bound_port, probe
        assert get["path"].startswith("/"), probe
    assert container["workingDir"].endswith("/example")  # where gunicorn.conf.py and config/ are


@pytest.mark.server
def test_probes_answer_as_documented_on_the_example(tmp_path: Path) -> None:
    """Against the example on gunicorn with the manifest's env: startup 503 until migrated, then 200;
    liveness and readiness 200; each answer within the probe's timeoutSeconds."""
    container = _web_container()
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    # The secret's DATABASE_URL becomes a fresh SQLite file; no REDIS_URL: the local-memory cache.
    env.update(DATABASE_URL="", REDIS_URL="", SQLITE_PATH=str(tmp_path / "db.sqlite3"), WEB_CONCURRENCY="1")
    command = container["command"]
    bind_at = command.index("--bind")
    args = command[1:bind_at] + command[bind_at + 2 : -1]  # run_server adds its own --bind and the app

    def probe(name: str) -> httpx.Response:
        spec = container[name]
        started = time.monotonic()
        response = httpx.get(server.url + spec["httpGet"]["path"], timeout=spec["timeoutSeconds"])
        assert time.monotonic() - started < spec["timeoutSeconds"], name
        return response

    with run_server("gunicorn", args=args, env=env) as server:
        startup = probe("startupProbe")
        assert startup.status_code == 503
        assert startup.json()["checks"]["migrations:default"]["error"].endswith("migration(s) not applied")
        assert probe("livenessProbe").status_code == 200
        ready = probe("readinessProbe")
        assert ready.status_code == 200 and "migrations:default" not in ready.json()["checks"]

        subprocess.run(
            [str(BIN / "python"), "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=EXAMPLE,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
            check=True,
            timeout=180,
        )
        deadline = time.monotonic() + 10  # past READINESS_CACHE_SECONDS
        while (status := probe("startupProbe").status_code) != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status == 200
        assert probe("livenessProbe").status_code == 200 and probe("readinessProbe").status_code == 200
