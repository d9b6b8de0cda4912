"""Real servers with sentry-sdk's own WSGI/ASGI wrappers, posting to a local envelope endpoint.

gunicorn (gthread) and uvicorn (default ``--lifespan auto``) serve the example
with ``traces_sample_rate=1.0``. Every wait is a bounded poll; the one time
bound (the exit flush) is the one the behaviour is about: one wait, not two.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from tests.helpers.integrations import SentryEndpoint
from tests.helpers.servers import BIN, EXAMPLE, ROOT, Server, run_server, whole_lines

pytestmark = pytest.mark.server

USERNAME = "server-user-5521"
PASSWORD = "server-pass-8834-x"
OAUTH_CODE = "oauth-code-9d8e7f6a5b"
CSRF = "Zq7RkV2mW9xT4pL8sN3bH6cJ1dF5gY0a"
PROBES = ("/healthz", "/readyz", "/metrics")
PROBE_ROUNDS = 334  # 1,002 probe requests, as many as in the report of the overflow
SERVERS = {
    "gunicorn-gthread": ("gunicorn", ["--worker-class", "gthread", "--threads", "4", "--workers", "1"]),
    "uvicorn": ("uvicorn", []),
}
T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if result is not None:
            return result
        time.sleep(0.2)
    pytest.fail(f"gave up waiting for {what}")


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database with one user, shared by this module's servers."""
    path = tmp_path_factory.mktemp("sentry-server") / "db.sqlite3"
    env = {**base_env(path), "LANTERN_TEST_SENTRY_DSN": ""}
    manage = [str(BIN / "python"), "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=EXAMPLE, env=env, check=True, timeout=180)
    create = f"from django.contrib.auth.models import User; User.objects.create_user({USERNAME!r}, None, {PASSWORD!r})"
    subprocess.run([*manage, "shell", "-c", create], cwd=EXAMPLE, env=env, check=True, timeout=60)
    return path


def base_env(database: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "OTEL_"))}
    return {
        **env,
        "DJANGO_SETTINGS_MODULE": "tests.server.sentry_settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "example")]),
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": "",  # SQLite and local memory: nothing shared with other runs
        "REDIS_URL": "",
        "SQLITE_PATH": str(database),
        "LANTERN_LOG_FORMAT": "json",
        "NO_PROXY": "127.0.0.1,localhost",
    }


@contextlib.contextmanager
def serving(kind: str, database: Path, endpoint: SentryEndpoint, **extra: str) -> Iterator[Server]:
    program, args = SERVERS[kind]
    env = {**base_env(database), "LANTERN_TEST_SENTRY_DSN": endpoint.dsn, **extra}
    with run_server(program, args=args, env=env) as server:
        yield server


def stop(server: Server, timeout: float = 60.0) -> float:
    """SIGTERM and wait for the process to end; the seconds it took."""
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=timeout)
    return time.monotonic() - started


def transactions(endpoint: SentryEndpoint) -> list[str]:
    return sorted(t["transaction"] for t in endpoint.events("transaction"))


@pytest.mark.parametrize("kind", SERVERS)
def test_probes_send_no_transactions(kind: str, database: Path, sentry_endpoint: SentryEndpoint) -> None:
    """1,002 probes and 3 requests: Sentry receives the 3 transactions and nothing for the probes."""
    with serving(kind, database, sentry_endpoint) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        for _ in range(PROBE_ROUNDS):
            for path in PROBES:
                assert client.get(path).status_code == 200
        for pk in (1, 2, 3):
            assert client.get(f"/errors/items/{pk}/").status_code == 200
        wait_for(lambda: len(transactions(sentry_endpoint)) >= 3 or None, "the request transactions")
        metrics = client.get("/metrics").text
        stop(server)
    assert transactions(sentry_endpoint) == ["/errors/items/{pk}/"] * 3
    assert "lantern_sentry_lost_events_total{" not in metrics  # nothing lost, nothing counted


# Every form of probe path the one probe rule (django_lantern/http/_probes.py) knows.
READINESS_FORMS = (
    "/readyz/db:default",
    "/readyz/cache:default/",
    "/readyz?exclude=db:default",
    "/readyz/?exclude=cache:default",
    "/healthz/",
    "/metrics/",
)


def server_spans(path: Path) -> list[str]:
    if not path.exists():
        return []
    # Polled while the server writes: a half-written last line waits for the next poll.
    lines = [json.loads(line) for line in whole_lines(path.read_text()).splitlines() if line.strip()]
    return sorted(span["name"] for span in lines if span["kind"] == "SERVER")


@pytest.mark.parametrize("kind", SERVERS)
def test_readiness_per_check_and_filtered_start_no_span_and_no_transaction(
    kind: str, database: Path, sentry_endpoint: SentryEndpoint, tmp_path: Path
) -> None:
    """/readyz/<check> and /readyz?exclude=... (with and without the slash) are probes: with
    Sentry performance and OpenTelemetry tracing both on, neither a server span nor a Sentry
    transaction starts for them, while the two ordinary requests get one of each."""
    spans = tmp_path / "spans.jsonl"
    with (
        serving(kind, database, sentry_endpoint, LANTERN_TEST_SPAN_FILE=str(spans)) as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
    ):
        for _ in range(3):
            for path in READINESS_FORMS:
                assert client.get(path).status_code == 200, path
        for pk in (1, 2):
            assert client.get(f"/errors/items/{pk}/").status_code == 200
        wait_for(lambda: len(transactions(sentry_endpoint)) >= 2 or None, "the request transactions")
        wait_for(lambda: len(server_spans(spans)) >= 2 or None, "the request spans")
        stop(server)
    assert transactions(sentry_endpoint) == ["/errors/items/{pk}/"] * 2
    assert server_spans(spans) == ["GET /errors/items/<int:pk>/"] * 2


@pytest.mark.parametrize("kind", SERVERS)
def test_no_identity_session_or_oauth_code_reaches_sentry(
    kind: str, database: Path, sentry_endpoint: SentryEndpoint
) -> None:
    """A login POST and a failing OAuth callback: the username, the new session key, the
    session data and the one-time code appear in no envelope."""
    with serving(kind, database, sentry_endpoint) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        client.cookies.set("csrftoken", CSRF)
        login = client.post(
            "/errors/login/",
            data={"username": USERNAME, "password": PASSWORD},
            headers={"X-CSRFToken": CSRF},
        )
        assert login.status_code == 302, login.text[:500]
        session_key = login.cookies["sessionid"]
        referer = f"https://idp.example.com/authorize?code={OAUTH_CODE}"
        callback = client.get(f"/errors/oauth/callback/?code={OAUTH_CODE}&state=s1", headers={"Referer": referer})
        assert callback.status_code == 500
        wait_for(lambda: (len(transactions(sentry_endpoint)) >= 2 and sentry_endpoint.events()) or None, "events")
        stop(server)
    with sqlite3.connect(database) as db:
        (session_data,) = db.execute(
            "SELECT session_data FROM django_session WHERE session_key = ?", [session_key]
        ).fetchone()
    text = sentry_endpoint.everything()
    login_transaction = next(t for t in sentry_endpoint.events("transaction") if t["transaction"] == "/errors/login/")
    assert login_transaction["request"]["data"]["username"] == "[redacted]"
    assert any("django_session" in (s.get("description") or "") for s in login_transaction["spans"])
    for private in (USERNAME, PASSWORD, session_key, session_data, OAUTH_CODE):
        assert private not in text, f"{private!r} reached Sentry"


def test_uvicorn_lifespan_refusal_is_not_reported(database: Path, sentry_endpoint: SentryEndpoint) -> None:
    """uvicorn's default --lifespan auto offers the lifespan scope at every start. lantern's ASGI
    handler answers it (Django's own refuses it, which sentry-sdk's ASGI wrapper captured), and
    no lifespan event reaches Sentry: the only event is the request's error."""
    with serving("uvicorn", database, sentry_endpoint) as server:
        assert httpx.get(server.url + "/errors/fail/", timeout=10).status_code == 500
        wait_for(lambda: sentry_endpoint.events() or None, "the request's error event")
        assert "unsupported" not in server.output()  # uvicorn's words for an app that refuses lifespan
        stop(server)
    messages = [v.get("value", "") for e in sentry_endpoint.events() for v in e["exception"]["values"]]
    assert messages == ["failed with password=[redacted]"]
    assert "not lifespan" not in sentry_endpoint.everything()


class StalledEndpoint(SentryEndpoint):
    """Accepts envelopes and answers none of them (until closed): Sentry is unreachable."""

    def __init__(self) -> None:
        self.release = threading.Event()
        super().__init__()
        self.server.daemon_threads = True

    def reply(self, path: str) -> tuple[str, bytes]:
        self.release.wait(60)
        return "application/json", b"{}"

    def close(self) -> None:
        self.release.set()
        super().close()


@pytest.fixture
def stalled_endpoint(no_proxy: None) -> Iterator[StalledEndpoint]:
    endpoint = StalledEndpoint()
    try:
        yield endpoint
    finally:
        endpoint.close()


SDK_SHUTDOWN_TIMEOUT = 10.0  # sentry-sdk's own exit wait, made long to see whether it is paid


def test_exit_flush_waits_once_and_says_what_is_pending(database: Path, stalled_endpoint: StalledEndpoint) -> None:
    """Sentry unreachable at exit: the worker waits lantern's flush timeout (2 s) once, not that
    and sentry-sdk's shutdown_timeout again, and the exit line counts the events still pending."""
    extra = {"LANTERN_TEST_SENTRY_SHUTDOWN_TIMEOUT": str(SDK_SHUTDOWN_TIMEOUT)}
    with serving("gunicorn-gthread", database, stalled_endpoint, **extra) as server:
        assert httpx.get(server.url + "/errors/fail/", timeout=10).status_code == 500
        wait_for(lambda: stalled_endpoint.snapshot() or None, "the event to be on its way")
        took = stop(server)
    output = server.output()
    match = re.search(r"lantern: exit flush \(2\.0s\): sentry (\d+) still pending", output)
    assert match, output[-3000:]
    assert int(match.group(1)) >= 1
    assert "flushed at exit" not in output
    # One wait (2 s) plus start-up and teardown; both waits would be over 12 s.
    assert took < SDK_SHUTDOWN_TIMEOUT - 2.0, f"stopping took {took:.1f}s"


def _stream(server: Server, path: str) -> None:
    with (
        httpx.Client(base_url=server.url, timeout=10) as client,
        client.stream("GET", path) as response,
        contextlib.suppress(httpx.HTTPError),  # the failing body ends the connection early
    ):
        for _ in response.iter_bytes():
            pass


@pytest.mark.parametrize("kind", SERVERS)
def test_a_stream_that_raises_is_one_event(kind: str, database: Path, sentry_endpoint: SentryEndpoint) -> None:
    """A streaming body raising midway (sync, and async under uvicorn): exactly one error event
    per failed request, whichever wrappers (sentry-sdk's ASGI/WSGI, the logging integration) see it."""
    paths = ["/stream/fail/"] if kind.startswith("gunicorn") else ["/stream/fail/", "/astream/fail/"]
    with serving(kind, database, sentry_endpoint) as server:
        for path in paths:
            _stream(server, path)
        wait_for(lambda: len(sentry_endpoint.events()) >= len(paths) or None, "the error events")
        # Any second event is sent as soon as the first: the server's exit flush gives it every chance.
        stop(server)
    events = sentry_endpoint.events()
    # The failure is the last exception of each event (under uvicorn a sync body's error is
    # chained to the TypeError Django's ASGI handler met when it first tried `async for`).
    found = sorted((e["request"]["url"], e["exception"]["values"][-1]["value"]) for e in events)
    assert found == [(server.url + path, "generator failed mid-stream") for path in sorted(paths)], found
