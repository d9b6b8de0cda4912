"""Which headers an outgoing call carries, and to which hosts.

The request id (under ``REQUEST_ID_HEADER``) is added while a request id is
bound (inside a request, or a ``bind()`` block in a worker); ``traceparent``
and the other headers of the configured OpenTelemetry propagators are added
while tracing is on. With ``LANTERN["OUTBOUND_HOSTS"]`` set they go only to
the hosts it lists: each hop of a redirect is checked, and a header this
module would have added is taken off a hop to any other host.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, MutableMapping
from contextvars import ContextVar

from django_lantern import tracing
from django_lantern._errors import report_internal_error
from django_lantern.conf import get_settings
from django_lantern.context import UNKNOWN, current, get_request_id

_clock = time.perf_counter
# Inside a counted call: a ``RequestsSession`` or ``HTTPXTransport`` whose inner send
# ``instrument()`` also patched is one call, not two.
_in_call: ContextVar[bool] = ContextVar("django_lantern_outbound_call", default=False)


@contextlib.contextmanager
def counted() -> Iterator[None]:
    """One call (one hop), counted with its time in the scope's cost (``_cost.py``)."""
    if _in_call.get():
        yield
        return
    token = _in_call.set(True)
    started = _clock()
    try:
        yield
    finally:
        _in_call.reset(token)
        ctx = current.get()
        if ctx is not None:
            ctx.cost.outbound(_clock() - started)


def host_allowed(host: str | None, allowed: tuple[str, ...] | None) -> bool:
    """Whether ``host`` matches the allowlist (``None``: every host).

    ``"api.example.com"`` matches that host only; ``"*.example.com"`` matches
    its subdomains, not ``example.com`` itself.
    """
    if allowed is None:
        return True
    if not host:
        return False
    host = host.lower().rstrip(".").strip("[]")
    for entry in allowed:
        if entry.startswith("*."):
            if host.endswith(entry[1:]):
                return True
        elif host == entry:
            return True
    return False


def _trace_headers() -> dict[str, str]:
    if tracing.state.tracer is None:
        return {}
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def wanted_headers() -> tuple[dict[str, str], tuple[str, ...] | None]:
    """The headers for the current context and the host allowlist they obey."""
    request_id = get_request_id()
    headers = _trace_headers()
    if request_id == UNKNOWN and not headers:
        return {}, None
    cfg = get_settings()
    if request_id != UNKNOWN:
        headers[cfg.request_id_header] = request_id
    return headers, cfg.outbound_hosts


def apply(headers: MutableMapping[str, str], host: str | None) -> None:
    """Add the context's headers to ``headers`` (a case-insensitive mapping) for a
    call to ``host``, or remove ours from a call to a host outside the allowlist.

    A header the caller set is never overwritten. Never raises: an error here
    is counted and the call goes out as the caller built it.
    """
    try:
        wanted, allowed = wanted_headers()
        if not wanted:
            return
        if host_allowed(host, allowed):
            for name, value in wanted.items():
                if name not in headers:
                    headers[name] = value
        else:
            # A redirect copies the previous hop's headers: drop ours.
            for name, value in wanted.items():
                if headers.get(name) == value:
                    del headers[name]
    except Exception as exc:
        report_internal_error("outbound_headers", exc)
