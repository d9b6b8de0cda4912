"""The quick start, then an ordinary `gunicorn -w 2` or `uvicorn --workers 2`: exact totals on every scrape.

A brand-new ``startproject`` site gets the settings block of docs/quickstart.md
as printed there, and nothing else: no gunicorn config, no hooks, no
``PROMETHEUS_MULTIPROC_DIR``. Ten requests spread over two workers must read
as ten on every scrape, whichever worker answers it. When prometheus_client
was imported before django_lantern (so lantern cannot choose the mode any
more), ``/metrics`` must refuse with the one-line fix instead of showing one
worker's numbers.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from django_lantern.logging.servers import UVICORN_LOG_CONFIG
from tests.helpers.servers import BIN, ROOT, free_port, stop_process, wait_serving

pytestmark = pytest.mark.server

REQUESTS = 10
SCRAPES = 6
CLEARED_PREFIXES = ("LANTERN_", "PROMETHEUS_", "DJANGO_", "GUNICORN_")


def _quickstart_settings() -> str:
    """The settings block of docs/quickstart.md, read the way the wheel smoke test reads it."""
    spec = importlib.util.spec_from_file_location("wheel_smoke", ROOT / ".ci" / "wheel_smoke.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.quickstart()[1])


def _site(tmp_path: Path, prelude: str = "") -> Path:
    site = tmp_path / "site"
    site.mkdir()
    subprocess.run([str(BIN / "django-admin"), "startproject", "qsite", str(site)], check=True, timeout=60)
    settings = site / "qsite" / "settings.py"
    settings.write_text(prelude + settings.read_text() + "\n" + _quickstart_settings())
    return site


@contextlib.contextmanager
def _serve(kind: str, site: Path, out: Path, *, args: tuple[str, ...] = (), **env_extra: str) -> Iterator[str]:
    port = free_port()
    if kind == "gunicorn":
        cmd = [str(BIN / "gunicorn"), "-w", "2", "--bind", f"127.0.0.1:{port}", *args, "qsite.wsgi"]
    else:
        cmd = [str(BIN / "uvicorn"), "--workers", "2", "--port", str(port), "--no-access-log", *args]
        cmd.append("qsite.asgi:application")
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED_PREFIXES)}
    env.update(PYTHONUNBUFFERED="1", **env_extra)
    with out.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=site, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_serving(proc, base, 60, out.read_text)
        yield base
    finally:
        stop_process(proc, 30)


def _unmatched_total(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "http_server_requests_total" and sample.labels.get("route") == "-"
    )


def _send(base: str) -> None:
    # Concurrent, on fresh connections, so that both workers answer some of them. The bound is generous:
    # a request may wait for a recycled worker's replacement to load Django on a busy machine.
    def one(i: int) -> int:
        with httpx.Client(timeout=60) as client:
            return client.get(f"{base}/no-such-page-{i}/").status_code

    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        assert list(pool.map(one, range(REQUESTS))) == [404] * REQUESTS


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_quickstart_totals_are_exact_on_every_scrape(kind: str, tmp_path: Path) -> None:
    """Production's JSON lines (startproject's DEBUG would choose text): each worker also warns, once,
    that its master's own lines are text, naming the one flag that fixes it."""
    site = _site(tmp_path)
    with _serve(kind, site, tmp_path / "server.log", LANTERN_LOG_FORMAT="json") as base:
        _send(base)
        totals = []
        for _ in range(SCRAPES):
            with httpx.Client(timeout=10) as client:  # a new connection each: any worker may answer
                response = client.get(base + "/metrics")
            assert response.status_code == 200, response.text
            totals.append(_unmatched_total(response.text))
    output = (tmp_path / "server.log").read_text()
    assert totals == [REQUESTS] * SCRAPES, (totals, output[-3000:])
    flag = "--log-config-json" if kind == "gunicorn" else "--log-config"
    warnings = [json.loads(line) for line in output.splitlines() if "master writes its own lines" in line]
    assert len(warnings) == 2, output[-3000:]
    assert all(w["level"] == "warning" and flag in w["message"] and f"{kind}-config" in w["message"] for w in warnings)


def test_recycled_workers_are_archived_by_the_next_worker(tmp_path: Path) -> None:
    """`--max-requests 3` recycles workers all along: totals stay exact, dead workers' files are folded."""
    site = _site(tmp_path)
    temp = tmp_path / "tmp"
    temp.mkdir()
    with _serve("gunicorn", site, tmp_path / "server.log", args=("--max-requests", "3"), TMPDIR=str(temp)) as base:
        _send(base)
        _send(base)
        totals = []
        for _ in range(SCRAPES):
            with httpx.Client(timeout=10) as client:
                totals.append(_unmatched_total(client.get(base + "/metrics").text))
        (directory,) = temp.glob("django-lantern-metrics-*")
        pids = {name.rsplit("_", 1)[1].removesuffix(".db") for name in os.listdir(directory) if name.endswith(".db")}
    assert totals == [2 * REQUESTS] * SCRAPES
    # The archive, and at most the two live workers plus the one that answered the last scrape before recycling.
    assert len(pids - {"archive"}) <= 3, sorted(pids)


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_quickstart_refuses_when_prometheus_client_came_first(kind: str, tmp_path: Path) -> None:
    """Another package imported prometheus_client first: no wrong numbers, a 503 that names the fix."""
    site = _site(tmp_path, prelude="import prometheus_client  # noqa\n")
    log = tmp_path / "server.log"
    with _serve(kind, site, log) as base:
        for _ in range(3):
            with httpx.Client(timeout=10) as client:
                response = client.get(base + "/metrics")
            assert response.status_code == 503, response.text
            assert "PROMETHEUS_MULTIPROC_DIR" in response.text, response.text
            assert f"one of 2 {kind} workers" in response.text, response.text
    errors = [line for line in log.read_text().splitlines() if "/metrics is off in this process" in line]
    assert len(errors) == 2, log.read_text()[-3000:]  # one ERROR line per worker, at its start


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_quickstart_with_the_documented_log_flag_prints_only_json(kind: str, tmp_path: Path) -> None:
    """The one flag docs/logging.md gives for a server without a config file: the master's lines are JSON too."""
    flag = "--log-config-json" if kind == "gunicorn" else "--log-config"
    printed = subprocess.run(
        [sys.executable, "-m", "django_lantern.logging.servers", f"{kind}-config"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    assert printed == str(UVICORN_LOG_CONFIG)
    log = tmp_path / "server.log"
    # The quick start's site keeps startproject's DEBUG = True, which would choose text: ask for production's format.
    with _serve(kind, _site(tmp_path), log, args=(flag, printed), LANTERN_LOG_FORMAT="json") as base:
        _send(base)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    assert not any("master writes its own lines" in line for line in lines)
    not_json = [line for line in lines if not line.startswith("{") or not isinstance(json.loads(line), dict)]
    assert not_json == [], not_json
    assert sum('"logger":"access"' in line for line in lines) >= REQUESTS
