"""A test-only URLconf for the error, scrubbing and tracing tests."""

from __future__ import annotations

import logging

from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

logger = logging.getLogger("tests.errors.views")


@csrf_exempt
def boom(request: HttpRequest) -> HttpResponse:
    """Raises with a token in the message (free text the scrubber must find)."""
    logger.info("about to fail", extra={"form": dict(request.POST.items()), "headers": dict(request.headers)})
    raise ValueError(f"upstream rejected token={request.GET.get('token', '')}")


@sensitive_variables("pin_code")
def _check_pin(pin_code: str, hint: str) -> None:
    # A name the key list does not know: only the decorator marks it.
    raise PermissionError(f"pin check failed ({hint})")


@csrf_exempt
@sensitive_post_parameters("memo")
def marked(request: HttpRequest) -> HttpResponse:
    """``memo`` is secret only because the decorator says so; the pin is
    derived from it, so it appears in no header or body, only in locals."""
    _check_pin(request.POST.get("memo", "")[::-1], "see logs")
    return HttpResponse("unreachable")


def item(request: HttpRequest, pk: int) -> HttpResponse:
    logger.info("item %s", pk)
    return HttpResponse(f"item {pk}")


async def aitem(request: HttpRequest, pk: int) -> HttpResponse:
    logger.info("async item %s", pk)
    return HttpResponse(f"item {pk}")


def fail(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("failed with password=hunter2-secret")


async def afail(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("async failure")


def oauth_callback(request: HttpRequest) -> HttpResponse:
    """An OAuth redirect target that fails: the one-time ``code`` is in the
    query string, the Referer and this frame's ``request`` repr."""
    raise RuntimeError("token exchange failed")


@csrf_exempt
def leaky(request: HttpRequest) -> HttpResponse:
    """Locals that hold credentials under harmless names, then a failure."""
    # Built at run time: the page also shows source lines, which are not secrets.
    upstream = "postgres://app:{}@db.internal/app".format("frame-local-pw-" + str(30 + 1))
    header_copy = dict(request.headers)
    raise RuntimeError(f"cannot reach {upstream.split('@')[1]} ({len(header_copy)} headers)")


def quoted(request: HttpRequest) -> HttpResponse:
    """Quotes the request's own secrets where no key or shape marks them."""
    session = request.COOKIES.get("sessionid", "")
    api_key = request.headers.get("X-Api-Key", "")
    raise LookupError(f"no session {session} for client {api_key}")


def echo(request: HttpRequest) -> HttpResponse:
    """Logs and raises with a value from a harmless parameter: only its shape can mark it."""
    reply = request.GET.get("echo", "")
    logger.warning("upstream replied %s", reply)
    raise RuntimeError(f"upstream rejected {reply}")


urlpatterns = [
    path("errors/boom/", boom),
    path("errors/marked/", marked),
    path("errors/items/<int:pk>/", item),
    path("errors/aitems/<int:pk>/", aitem),
    path("errors/fail/", fail),
    path("errors/afail/", afail),
    path("errors/oauth/callback/", oauth_callback),
    path("errors/leaky/", leaky),
    path("errors/quoted/", quoted),
    path("errors/echo/", echo),
    path(
        "errors/login/",
        csrf_exempt(LoginView.as_view(template_name="registration/login.html", next_page="/errors/items/1/")),
    ),
]
