"""The example under real gunicorn and uvicorn: every output line, start to shutdown, is JSON.

stdout and stderr are captured separately, from the first line the server
writes to the last one after SIGTERM; with ``LANTERN_LOG_FORMAT=json`` and
then ``ecs`` each must parse as one JSON object of that schema, and each
request must have exactly one access line (the servers' own access logs are off).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from django_lantern.logging.servers import UVICORN_LOG_CONFIG
from tests.helpers.servers import ROOT, run_server

pytestmark = pytest.mark.server

# (path, expected status); the readiness probe the launcher sends is one more request.
REQUESTS = [("/", 200), ("/_system/log/7/", 200), ("/no-such-page/", 404), ("/_system/error/8/", 500)]


def _logger_of(line: dict[str, Any], log_format: str) -> str:
    if log_format == "ecs":
        return str(line["log"]["logger"])
    return str(line["logger"])


def _parse_all(text: str, where: str) -> list[dict[str, Any]]:
    lines = []
    for raw in text.splitlines():
        try:
            parsed = json.loads(raw)
        except ValueError:
            pytest.fail(f"a {where} line is not JSON: {raw!r}")
        assert isinstance(parsed, dict), raw
        lines.append(parsed)
    return lines


def _check_schema(line: dict[str, Any], log_format: str) -> None:
    if log_format == "ecs":
        assert list(line)[:4] == ["@timestamp", "log.level", "message", "ecs.version"], line
    else:
        assert list(line)[:4] == ["ts", "level", "logger", "message"], line


@pytest.mark.parametrize("log_format", ["json", "ecs"])
@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_every_line_is_json_with_one_access_line_per_request(kind: str, log_format: str, tmp_path: Path) -> None:
    """Start-up, worker, request, error and shutdown lines parse as the schema; one access line per request."""
    env = {
        "LANTERN_LOG_FORMAT": log_format,
        "LANTERN_SYSTEM_VIEWS": "1",
        "DJANGO_DEBUG": "0",
        "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "example")]),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
        "WEB_CONCURRENCY": "2",
        # SQLite and local memory: these requests need no shared service.
        "DATABASE_URL": "",
        "REDIS_URL": "",
    }
    # The example's own server configuration, as `make run` uses it.
    args = ["-c", "gunicorn.conf.py"] if kind == "gunicorn" else ["--log-config", str(UVICORN_LOG_CONFIG)]
    stdout_path = tmp_path / "stdout.log"
    with stdout_path.open("wb") as stdout, run_server(kind, args=args, env=env, stdout=stdout) as server:
        for path, status in REQUESTS:
            assert httpx.get(server.url + path, timeout=10).status_code == status
    out_lines = _parse_all(stdout_path.read_text(), "stdout")
    err_lines = _parse_all(server.output(), "stderr")  # the log file itself is removed at exit
    lines = out_lines + err_lines
    for line in lines:
        _check_schema(line, log_format)
    server_logger = "gunicorn.error" if kind == "gunicorn" else "uvicorn.error"
    server_lines = [line for line in lines if _logger_of(line, log_format) == server_logger]
    messages = " | ".join(str(line["message"]) for line in server_lines)
    if kind == "gunicorn":
        # The arbiter's start-up, the workers' boot, and the shutdown are all there, as JSON.
        assert "Starting gunicorn" in messages and "Booting worker" in messages and "Shutting down" in messages
    else:
        assert "Started server process" in messages and "Shutting down" in messages
    access = [line for line in lines if _logger_of(line, log_format) == "access"]
    # The launcher polls /healthz until it answers; the example samples probe lines at 1%.
    probes = [line for line in access if "path=/healthz " in line["message"]]
    others = [line for line in access if line not in probes]
    assert sorted(line["message"].split()[1] for line in others) == sorted(f"path={p}" for p, _ in REQUESTS)
    # No second line per request from the servers' own access logs.
    assert not [line for line in lines if "access" in _logger_of(line, log_format) and line not in access]
    assert all("HTTP/1.1" not in str(line["message"]) for line in lines)
    # uvicorn's colour copy of its messages (ANSI codes) is for its own console only.
    assert not [line for line in lines if "color_message" in line or "\x1b" in json.dumps(line)]


def test_uvicorn_config_file_is_the_built_config() -> None:
    """The shipped uvicorn.json is build_logging_config()'s output, with the formatter chosen from the environment."""
    from django_lantern.logging import build_logging_config

    built = build_logging_config(log_format="json", level="INFO", mail_admins=False)
    built["formatters"] = {"lantern": {"()": "django_lantern.logging.schemas.formatter_from_env"}}
    built["handlers"]["console"]["formatter"] = "lantern"
    assert json.loads(UVICORN_LOG_CONFIG.read_text()) == built


def test_module_prints_the_uvicorn_config_path() -> None:
    """`python -m django_lantern.logging.servers uvicorn-config` prints the file's path (for shell use), and
    nothing on stderr: runpy warns when the package imports the module it is asked to run as __main__."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "django_lantern.logging.servers", "uvicorn-config"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tempfile.gettempdir(),
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert Path(done.stdout.strip()) == UVICORN_LOG_CONFIG and UVICORN_LOG_CONFIG.is_file()


def test_runserver_writes_one_line_per_request(tmp_path: Path) -> None:
    """Under runserver the per-request django.server line is gone: the access line, with its id, is the one line."""
    import signal
    import subprocess
    import sys
    import time

    from tests.helpers.servers import EXAMPLE, free_port

    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LANTERN_LOG_FORMAT": "json",
        "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "example")]),
        "DATABASE_URL": "",
        "REDIS_URL": "",
    }
    output = tmp_path / "runserver.log"
    with output.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{port}"],
            cwd=EXAMPLE,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline and proc.poll() is None, output.read_text()
                    time.sleep(0.2)
            assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 200
            assert httpx.get(f"http://127.0.0.1:{port}/missing-page/", timeout=10).status_code == 404
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
    records = [json.loads(line) for line in output.read_text().splitlines() if line.startswith("{")]
    assert not [r for r in records if r["logger"] == "django.server"], records
    for path in ("/", "/missing-page/"):
        lines = [r for r in records if r["logger"] == "access" and f"path={path} " in r["message"]]
        assert len(lines) == 1 and lines[0]["request_id"] not in ("", "-")
