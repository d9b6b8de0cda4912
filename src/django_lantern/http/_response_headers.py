"""What the middleware adds to a response: the request id header (exposed to
browsers when asked), and Django's 4xx/5xx log line written inside the
request's context so it carries the request id; never for a probe. One frame
per request: the header store read for the id is read for the body's length too."""

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
) -> int | None:
    """The request id header (see below), and Django's 4xx/5xx line logged here; returns the
    response's ``Content-Length`` when it is set to a number, read from the same header store."""
    header = cfg.request_id_header
    rid = ctx.request_id
    store = response.headers.__dict__.get("_store")
    length = None
    # The name is an HTTP token (``conf`` validates REQUEST_ID_HEADER) and the id letters,
    # digits and ``._:-`` (``http._request_id.open_context`` chose it): printable ASCII,
    # what Django's header conversion leaves as it is.
    if type(store) is dict:
        # What ``response.headers[name] = value`` stores for such a value, without
        # its per-call conversion, and look-ups that raise no ``KeyError`` when a
        # header is absent.
        store[cfg.request_id_header_key] = (header, rid)
        if cfg.expose_request_id_header:
            exposed = store.get(_EXPOSE_KEY)
            if exposed is None or not exposed[1]:
                store[_EXPOSE_KEY] = (_EXPOSE, header)
            else:
                _expose(response, exposed[1], header)
        sent = store.get("content-length")
        if sent is not None and sent[1].isdigit():
            length = int(sent[1])
    else:  # a response class with headers of its own
        _set_headers_slowly(response, rid, cfg)
        sent = response.get("Content-Length")
        if sent is not None and sent.isdigit():
            length = int(sent)
    if status >= 400:
        _log_error_response(request, response, ctx)
    return length


def _log_error_response(request: HttpRequest, response: HttpResponseBase, ctx: RequestContext) -> None:
    if ctx.probe_route is not None:
        # A probe's 503 is its answer, not an error of the app: on
        # ``django.request`` at ERROR it would mail the admins once per probe
        # during an outage. Marked so that Django skips its own copy too; the
        # access line and the readiness gauges still record it.
        response._has_been_logged = True  # type: ignore[attr-defined]
    elif not getattr(response, "_has_been_logged", False):
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


def _set_headers_slowly(response: HttpResponseBase, rid: str, cfg: LanternSettings) -> None:
    """``REQUEST_ID_HEADER: rid`` (and its exposure) through Django's own setter, which
    encodes or refuses what is not printable ASCII."""
    header = cfg.request_id_header
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
