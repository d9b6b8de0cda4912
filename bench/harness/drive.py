"""Calling Django's WSGI and ASGI handlers in-process, the way a server would."""

from __future__ import annotations

import asyncio
import io
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from typing import Any

Environ = dict[str, Any]
Scope = dict[str, Any]
Message = MutableMapping[str, Any]


def environ(path: str = "/data/", headers: dict[str, str] | None = None, method: str = "GET") -> Environ:
    """A WSGI environ as gunicorn builds it for ``GET path`` from 127.0.0.1."""
    env: Environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "lantern-bench/1",
        "HTTP_ACCEPT": "application/json",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in (headers or {}).items():
        env["HTTP_" + name.upper().replace("-", "_")] = value
    return env


class Capture:
    """``start_response`` that keeps the last status and headers (checked once, not timed)."""

    def __init__(self) -> None:
        self.status = ""
        self.headers: list[tuple[str, str]] = []

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        self.status = status
        self.headers = headers
        return _write


def _write(data: bytes) -> None:
    return None


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
    return _write


WsgiApp = Callable[[Environ, Callable[..., Any]], Iterable[bytes]]


def wsgi_once(app: WsgiApp, env: Environ, start_response: Callable[..., Any] = _start_response) -> bytes:
    """One request: a fresh environ copy, the body consumed, ``close()`` called (fires request_finished)."""
    request_env = dict(env)
    request_env["wsgi.input"] = io.BytesIO(b"")
    result = app(request_env, start_response)
    try:
        return b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()


def wsgi_batch(app: WsgiApp, envs: Iterator[Environ], n: int) -> float:
    """Seconds for ``n`` requests, each with the next environ from ``envs``."""
    start = time.perf_counter()
    for _ in range(n):
        request_env = dict(next(envs))
        request_env["wsgi.input"] = io.BytesIO(b"")
        result = app(request_env, _start_response)
        for _chunk in result:
            pass
        result.close()  # type: ignore[attr-defined]
    return time.perf_counter() - start


def scope(path: str = "/data/", headers: dict[str, str] | None = None, method: str = "GET") -> Scope:
    """An ASGI HTTP scope as uvicorn builds it for ``GET path`` from 127.0.0.1."""
    raw_headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"user-agent", b"lantern-bench/1"),
        (b"accept", b"application/json"),
    ]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw_headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


AsgiApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


class AsgiCall:
    """receive/send for one request: the body at once, then no disconnect (Django cancels the wait)."""

    __slots__ = ("body", "sent_body", "status")

    def __init__(self) -> None:
        self.sent_body = False
        self.status = 0
        self.body = b""

    async def receive(self) -> Message:
        if not self.sent_body:
            self.sent_body = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.get_running_loop().create_future()  # until cancelled
        raise AssertionError("unreachable")

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")


async def asgi_once(app: AsgiApp, request_scope: Scope) -> AsgiCall:
    call = AsgiCall()
    await app(dict(request_scope), call.receive, call.send)
    return call


async def _asgi_batch(app: AsgiApp, scopes: Iterator[Scope], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        call = AsgiCall()
        await app(dict(next(scopes)), call.receive, call.send)
    return time.perf_counter() - start


def asgi_batch(loop: asyncio.AbstractEventLoop, app: AsgiApp, scopes: Iterator[Scope], n: int) -> float:
    """Seconds for ``n`` requests driven one after another in ``loop``."""
    return loop.run_until_complete(_asgi_batch(app, scopes, n))
