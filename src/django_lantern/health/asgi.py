"""An ASGI handler that answers ``/healthz`` and ``/readyz`` without a thread per probe.

Django's ``ASGIHandler`` sends ``request_started`` and ``request_finished``
around every request, and their receivers are sync (``close_old_connections``),
so each request runs them in a thread of its own (asgiref's
``ThreadSensitiveContext``): under a probe storm uvicorn held about one thread
per probe in flight (656 during 400 probes a second). Probes touch no request
thread's database connection, so this handler skips those signals for them
and runs the middleware chain directly on the event loop, where
``LanternMiddleware`` answers the probe (request id, access line and metrics
included). Every other request goes through Django's handler unchanged.

It also speaks the lifespan protocol, which Django's handler refuses: at
shutdown (uvicorn sends it on SIGTERM once the requests in flight are done)
it flushes pending error events and spans, as gunicorn's ``worker_exit`` hook
does (``django_lantern.shutdown.flush``), so spans a batch processor still
holds are not lost with the process. At start-up it starts the process's
run-time log level poller (``django_lantern.logging._levels_apply``).

    # asgi.py
    from django_lantern.health.asgi import get_asgi_application
    application = get_asgi_application()
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import django
from django.core.handlers.asgi import ASGIHandler

from django_lantern.conf import get_settings
from django_lantern.health._drain import server_stopping
from django_lantern.http._probes import HEALTHZ, READYZ, probe_kind
from django_lantern.logging import _levels_apply

__all__ = ["LanternASGIHandler", "get_asgi_application"]


class LanternASGIHandler(ASGIHandler):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "http" and self._is_probe(scope):
            await self._answer_probe(scope, send)
            return
        if scope.get("type") == "lifespan":
            await self._lifespan(receive, send)
            return
        await super().__call__(scope, receive, send)

    @staticmethod
    async def _lifespan(receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message.get("type") == "lifespan.startup":
                _levels_apply.ensure_running()  # run-time log levels reach a worker before its first request
                await send({"type": "lifespan.startup.complete"})
            elif message.get("type") == "lifespan.shutdown":
                try:
                    # The flush waits on the network (bounded): off the event loop.
                    await asyncio.to_thread(server_stopping.send_robust, sender=LanternASGIHandler)
                finally:
                    await send({"type": "lifespan.shutdown.complete"})
                return

    @staticmethod
    def _is_probe(scope: dict[str, Any]) -> bool:
        try:
            cfg = get_settings()
        except Exception:  # invalid settings: let Django's handler answer (and report) it
            return False
        if scope.get("root_path"):
            return False  # mounted under a prefix: the middleware sees path_info, keep Django's handling
        path = scope.get("path")
        return isinstance(path, str) and probe_kind(path, cfg) in (HEALTHZ, READYZ)

    async def _answer_probe(self, scope: dict[str, Any], send: Any) -> None:
        # A probe's body (if any) is never read: GET and HEAD carry none, other methods get 405.
        request, error_response = self.create_request(scope, io.BytesIO())
        response = await self.get_response_async(request) if request is not None else error_response
        if response is not None:
            await self.send_response(response, send)


def get_asgi_application() -> LanternASGIHandler:
    """``django.core.asgi.get_asgi_application()`` with probes answered on the event loop."""
    django.setup(set_prefix=False)
    return LanternASGIHandler()
