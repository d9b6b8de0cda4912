"""Fixtures for the Sentry, scrubbing and tracing tests (a plugin loaded by tests/conftest.py): a local Sentry
endpoint, a real sentry-sdk initialised and closed per test, and an
OpenTelemetry tracer provider of our own (never the global one)."""

from __future__ import annotations

import contextlib
import gzip
import json
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from django_lantern import _errors as errors
from django_lantern import scrubbing

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def decode_body(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        import brotli  # type: ignore[import-not-found]

        return bytes(brotli.decompress(body))
    return body


class Recorder:
    """A tiny threaded HTTP server on 127.0.0.1 that keeps every POST body."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, dict[str, str], bytes]] = []
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                body = decode_body(raw, self.headers.get("Content-Encoding", ""))
                with recorder._lock:
                    recorder.bodies.append((self.path, dict(self.headers), body))
                reply = recorder.reply(self.path)
                self.send_response(200)
                self.send_header("Content-Type", reply[0])
                self.send_header("Content-Length", str(len(reply[1])))
                self.end_headers()
                self.wfile.write(reply[1])

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        # close() waits for the serving loop to notice, at most one poll interval (the default is 0.5 s).
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="recorder", daemon=True
        )
        self.thread.start()

    def reply(self, path: str) -> tuple[str, bytes]:
        return "application/json", b"{}"

    def snapshot(self) -> list[tuple[str, dict[str, str], bytes]]:
        with self._lock:
            return list(self.bodies)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def parse_envelope(body: bytes) -> list[tuple[dict[str, Any], bytes]]:
    """Sentry envelope items as (item header, payload)."""
    items: list[tuple[dict[str, Any], bytes]] = []
    _, _, rest = body.partition(b"\n")
    while rest.strip():
        header_line, _, rest = rest.partition(b"\n")
        if not header_line.strip():
            continue
        header = json.loads(header_line)
        length = header.get("length")
        if length is not None:
            payload, rest = rest[:length], rest[length + 1 :]
        else:
            payload, _, rest = rest.partition(b"\n")
        items.append((header, payload))
    return items


class SentryEndpoint(Recorder):
    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.port}/1"

    def envelopes(self) -> list[bytes]:
        return [body for path, _, body in self.snapshot() if path.startswith("/api/1/envelope")]

    def events(self, kind: str = "event") -> list[dict[str, Any]]:
        found = []
        for body in self.envelopes():
            for header, payload in parse_envelope(body):
                if header.get("type") == kind:
                    found.append(json.loads(payload))
        return found

    def everything(self) -> str:
        return "\n".join(body.decode("utf-8", "replace") for body in self.envelopes())


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Traffic to 127.0.0.1 must not be sent to a proxy from the environment."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def sentry_endpoint(no_proxy: None) -> Iterator[SentryEndpoint]:
    endpoint = SentryEndpoint()
    try:
        yield endpoint
    finally:
        endpoint.close()


@pytest.fixture
def sentry(sentry_endpoint: SentryEndpoint, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A factory: ``sentry(**options)`` initialises a real sentry-sdk that sends
    to ``sentry_endpoint``; the client is flushed and closed after the test."""
    import sentry_sdk

    from django_lantern import sentry as lantern_sentry

    monkeypatch.setenv("SENTRY_DSN", sentry_endpoint.dsn)
    monkeypatch.setenv("SENTRY_ENVIRONMENT", "test-env")
    monkeypatch.setenv("SENTRY_RELEASE", "lantern@test")

    def start(**options: Any) -> bool:
        options.setdefault("http_proxy", "")
        return lantern_sentry.init(**options)

    # A fresh isolation and current scope, so tags and processors added by
    # one test (and by Sentry's Django integration) do not reach the next.
    with sentry_sdk.isolation_scope(), sentry_sdk.new_scope():
        try:
            yield start
        finally:
            client = sentry_sdk.get_client()
            with contextlib.suppress(Exception):
                client.flush(timeout=5)
                client.close(timeout=5)
            sentry_sdk.get_global_scope().set_client(None)
            lantern_sentry._pending.clear()
            lantern_sentry.state.enabled = False
            lantern_sentry.state.user_fields = frozenset({"id"})
            lantern_sentry.state.release_given = False


def flush_sentry() -> None:
    import sentry_sdk

    sentry_sdk.flush(timeout=10)


@pytest.fixture
def internal_errors() -> Iterator[dict[str, int]]:
    """``errors.counts`` reset before and after, for "dropped and counted" checks."""
    errors.counts.clear()
    errors._seen.clear()
    yield errors.counts
    errors.counts.clear()
    errors._seen.clear()


@pytest.fixture(autouse=True)
def _fresh_scrubber() -> Iterator[None]:
    scrubbing.get_scrubber.cache_clear()
    yield
    scrubbing.get_scrubber.cache_clear()


@pytest.fixture
def tracer_provider() -> Iterator[Any]:
    """Our own SDK provider with an in-memory exporter, enabled for the
    middleware; the global provider is never touched."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from django_lantern import tracing

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.exporter = exporter  # type: ignore[attr-defined]
    tracing.enable(provider)
    try:
        yield provider
    finally:
        tracing.disable()
        provider.shutdown()
