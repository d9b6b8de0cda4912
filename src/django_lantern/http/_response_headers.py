"""What the middleware adds to a response: the request id header (exposed to
browsers when asked), and Django's 4xx/5xx log line written inside the
request's context so it carries the request id; never for a probe."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase
from django.utils.log import log_response

from django_lantern.conf import LanternSettings
from django_lantern.context import RequestContext


def decorate(
    request: HttpRequest,
    response: HttpResponseBase,
    ctx: RequestContext,
    cfg: LanternSettings,
    status: int,
) -> None:
    """The request id header, and Django's 4xx/5xx line logged here (see below)."""
    add_headers(response, ctx.request_id, cfg)
    if status >= 400 and ctx.probe_route is not None:
        # A probe's 503 is its answer, not an error of the app: on
        # ``django.request`` at ERROR it would mail the admins once per probe
        # during an outage. Marked so that Django skips its own copy too; the
        # access line and the readiness gauges still record it.
        response._has_been_logged = True  # type: ignore[attr-defined]
    elif status >= 400 and not getattr(response, "_has_been_logged", False):
        # Django logs 4xx/5xx responses on ``django.request`` after the
        # middleware chain returns, outside this context; logging it
        # here, once, gives that line the request id. Django then
        # sees ``_has_been_logged`` and skips its own copy.
        log_response(
            "%s: %s",
            response.reason_phrase,
            ctx.path,
            response=response,  # type: ignore[arg-type]  # any HttpResponseBase works
            request=request,
        )


def add_headers(response: HttpResponseBase, rid: str, cfg: LanternSettings) -> None:
    """``REQUEST_ID_HEADER: rid``, listed in ``Access-Control-Expose-Headers`` when configured."""
    header = cfg.request_id_header
    store = response.headers.__dict__.get("_store")
    # Printable ASCII name and value: what Django's header conversion leaves as it is.
    if type(store) is dict and header.isascii() and header.isprintable() and rid.isascii() and rid.isprintable():
        # What ``response.headers[name] = value`` stores for a value it accepts
        # unchanged (printable ASCII, no line break), without its per-call
        # conversion, and a look-up that raises no ``KeyError`` when the header is absent.
        store[header.lower()] = (header, rid)
        if cfg.expose_request_id_header:
            exposed = store.get(_EXPOSE_KEY)
            if exposed is None or not exposed[1]:
                store[_EXPOSE_KEY] = (_EXPOSE, header)
            else:
                _expose(response, exposed[1], header)
        return
    response.headers[header] = rid
    if cfg.expose_request_id_header:
        exposed = response.headers.get(_EXPOSE)
        if not exposed:
            response.headers[_EXPOSE] = header
        else:
            _expose(response, exposed, header)


_EXPOSE = "Access-Control-Expose-Headers"
_EXPOSE_KEY = _EXPOSE.lower()


def _expose(response: HttpResponseBase, exposed: str, header: str) -> None:
    """``header`` added to an ``Access-Control-Expose-Headers`` the view set, unless it lists it."""
    if header.lower() not in (h.strip().lower() for h in exposed.split(",")):
        response.headers[_EXPOSE] = f"{exposed}, {header}"
