"""The in-flight registry: the requests this process is serving now.

``LanternMiddleware`` adds its request's exchange on entry and removes it in
``finally``: one dict write and one delete per request, nothing else on the
hot path. The value says where the request runs: the thread's ident under
WSGI (the thread that runs the view), the ``asyncio`` task under ASGI (a sync
view then runs in a thread of asgiref's that only the dump, never a request,
looks for). Readers (the worker-timeout lines, the stuck-request watcher, the
thread dump) take a copy, which is atomic, and read each exchange's
``ctx`` (request id, route), ``request`` and ``started`` (``perf_counter``).
"""

from __future__ import annotations

from typing import Any

# exchange -> thread ident (int) or asyncio.Task
INFLIGHT: dict[Any, Any] = {}


def snapshot() -> dict[Any, Any]:
    """The requests in flight now (a copy: the registry changes under the reader)."""
    return INFLIGHT.copy()
