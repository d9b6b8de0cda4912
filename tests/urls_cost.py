"""Views that run a known number of queries, for the request-cost tests (``tests/test_request_cost.py``).

``/<mode>/<n>/`` runs ``n`` queries (``SELECT %s`` with distinct parameters, so
none repeats) in one of four ways: a sync view, an async view (the queries in
asgiref's thread), a streaming body (one query per chunk), and inside
``transaction.atomic``. ``/repeat/`` runs one statement three times with the
same parameter and once with another; ``/cache/`` hits and misses the cache.
"""

from __future__ import annotations

from collections.abc import Iterator

from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import include, path


def run_queries(n: int, first: int = 0) -> None:
    with connection.cursor() as cursor:
        for i in range(first, first + n):
            cursor.execute("SELECT %s", [i])
            cursor.fetchone()


def sync_view(request: HttpRequest, n: int) -> HttpResponse:
    run_queries(n)
    return HttpResponse(f"ran {n}")


async def async_view(request: HttpRequest, n: int) -> HttpResponse:
    await sync_to_async(run_queries)(n)
    return HttpResponse(f"ran {n}")


def streaming_view(request: HttpRequest, n: int) -> StreamingHttpResponse:
    def body() -> Iterator[bytes]:
        yield b"start\n"
        for i in range(n):
            run_queries(1, first=i)
            yield b"row\n"

    return StreamingHttpResponse(body())


@transaction.atomic
def atomic_view(request: HttpRequest, n: int) -> HttpResponse:
    run_queries(n)
    return HttpResponse(f"ran {n}")


def repeat_view(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        for value in (7, 7, 8, 7):
            cursor.execute("SELECT %s", [value])
    return HttpResponse("repeated")


def cache_view(request: HttpRequest) -> HttpResponse:
    cache.set("cost-present", 1)
    cache.get("cost-present")
    cache.get("cost-absent")
    cache.get_many(["cost-present", "cost-absent", "cost-absent-2"])
    return HttpResponse("cached")


def outbound_view(request: HttpRequest) -> HttpResponse:
    """Two calls through lantern's httpx transport, one through its requests session (with
    ``instrument()`` on, its inner send is patched too: still one call)."""
    import httpx
    import requests

    from django_lantern import outbound

    mock = httpx.MockTransport(lambda req: httpx.Response(200, text="fine"))
    with httpx.Client(transport=outbound.HTTPXTransport(mock)) as client:
        client.get("http://upstream.test/a")
        client.get("http://upstream.test/b")

    class Canned(requests.adapters.BaseAdapter):
        def send(self, req: requests.PreparedRequest, **kwargs: object) -> requests.Response:
            response = requests.Response()
            response.status_code, response.request, response._content = 200, req, b"fine"
            return response

        def close(self) -> None:
            pass

    session = outbound.RequestsSession()
    session.mount("http://", Canned())
    session.get("http://upstream.test/c")
    return HttpResponse("called")


VIEWS = {"sync": sync_view, "async": async_view, "streaming": streaming_view, "atomic": atomic_view}

urlpatterns = [
    *(path(f"{mode}/<int:n>/", view) for mode, view in VIEWS.items()),
    path("repeat/", repeat_view),
    path("cache/", cache_view),
    path("outbound/", outbound_view),
    path("", include("django_lantern.urls")),
]
