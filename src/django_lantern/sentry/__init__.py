"""Sentry error tracking through the one scrubber (extra: ``django-lantern[sentry]``).

Call :func:`init` once, from settings or ``wsgi.py``/``asgi.py``::

    import django_lantern.sentry
    django_lantern.sentry.init()          # SENTRY_DSN, SENTRY_ENVIRONMENT, SENTRY_RELEASE

What it adds over a bare ``sentry_sdk.init``:

- every event carries the request id as the ``request_id`` tag and the URL
  route as ``route``. Error events read them from the request context when
  the event is built, so the tag cannot be lost with a discarded scope (the
  django-guid bug); the middleware also sets the tag on the request's
  isolation scope and on its transaction, which end after the middleware;
- the user is reduced to its id (``user_fields`` widens that), with or
  without ``send_default_pii``; the client IP and forwarding headers go too;
- ``before_send`` and ``before_send_transaction`` pass every event through the
  configured scrubber, after honouring Django's ``sensitive_post_parameters``
  and ``sensitive_variables``; if scrubbing fails the event is dropped and the
  failure counted, never sent unscrubbed;
- with performance on, probes and ``/metrics`` start no transaction
  (:mod:`django_lantern.sentry._sampling`); identity fields of request bodies
  and session keys and data in span data stay out (:mod:`django_lantern.sentry._privacy`);
- the error Django raises when uvicorn offers it the lifespan protocol is
  not reported (it is the normal start of every uvicorn process);
- events sentry-sdk gives up on are counted in
  ``lantern_sentry_lost_events_total`` (:mod:`django_lantern.sentry._transport`).

Importing this module never needs sentry-sdk; :func:`init` raises an
``ImportError`` naming the extra when it is missing.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django_lantern._errors import report_internal_error
from django_lantern.context import RequestContext, get_context
from django_lantern.scrubbing import get_scrubber, request_secrets
from django_lantern.sentry._event import Event, add_context, clean_request, reduce_user
from django_lantern.sentry._frames import apply_sensitive_variables
from django_lantern.sentry._own_lines import is_own_line, is_repeat_of_own_line
from django_lantern.sentry._privacy import clean_span_data, personal_data_allowed, redact_identity
from django_lantern.sentry._sampling import make_traces_sampler, with_probe_sampling
from django_lantern.sentry._transport import count_lost_events

__all__ = ["count_lost_events", "init", "make_before_send", "make_traces_sampler"]

MISSING_EXTRA = (
    "django_lantern.sentry needs sentry-sdk, which is not installed; "
    "install it with: pip install 'django-lantern[sentry]'"
)

Hint = dict[str, Any]
EventCallback = Callable[[Event, Hint], "Event | None"]

# What Django's ASGIHandler raises for any scope but "http"; uvicorn's default
# ``--lifespan auto`` offers "lifespan" at every start, and sentry-sdk's ASGI
# wrapper reports the refusal as an error before uvicorn shrugs it off.
LIFESPAN_REFUSAL = "Django can only handle ASGI/HTTP connections, not lifespan."


class _State:
    """Whether :func:`init` ran, and its choices; read by the middleware hook."""

    enabled = False
    user_fields: frozenset[str] = frozenset({"id"})


state = _State()


def init(*, user_fields: Iterable[str] = ("id",), **overrides: Any) -> bool:
    """Initialise sentry-sdk with django-lantern's context and scrubbing.

    ``overrides`` are passed to ``sentry_sdk.init`` and win over the defaults
    (``dsn``, ``environment`` and ``release`` from ``SENTRY_DSN``,
    ``SENTRY_ENVIRONMENT``, ``SENTRY_RELEASE``). A
    ``before_send`` or ``before_send_transaction`` of yours runs first; the
    scrubber always runs last. ``user_fields`` lists the user attributes
    kept on events (``"id"``, ``"username"``, ``"email"``, ``"ip_address"``);
    Sentry only collects the last three when ``send_default_pii`` is on.

    Returns False, and initialises nothing, when no DSN is configured: errors
    are then still logged once, as structured records, by ``django.request``.
    """
    # Imported here, not at module level: projects without the extra can
    # import this module (the middleware does), and pay nothing for it.
    try:
        import sentry_sdk
        from sentry_sdk.integrations.django import DjangoIntegration
    except ImportError as exc:
        raise ImportError(MISSING_EXTRA) from exc

    dsn = overrides.pop("dsn", None) or os.environ.get("SENTRY_DSN") or None
    if not dsn:
        state.enabled = False
        return False
    user_before_send = overrides.pop("before_send", None)
    user_before_send_transaction = overrides.pop("before_send_transaction", None)
    options: dict[str, Any] = {
        "dsn": dsn,
        "environment": os.environ.get("SENTRY_ENVIRONMENT") or None,
        "release": os.environ.get("SENTRY_RELEASE") or None,
        # send_default_pii is left to Sentry (off by default, and deprecated
        # in favour of data_collection since 2.5x): the user is reduced to its
        # id and the event scrubbed either way.
        # "url": transactions named by route ("/tasks/{pk}/edit/"), never by
        # the raw path, which carries ids and sometimes tokens.
        "integrations": [DjangoIntegration(transaction_style="url")],
    }
    options.update(overrides)
    options["before_send"] = make_before_send(user_before_send)
    options["before_send_transaction"] = make_before_send(user_before_send_transaction)
    with_probe_sampling(options)
    state.user_fields = frozenset(user_fields)
    sentry_sdk.init(**options)
    count_lost_events()
    state.enabled = True
    return True


def make_before_send(user_callback: EventCallback | None = None) -> EventCallback:
    """A ``before_send``/``before_send_transaction`` that runs ``user_callback``
    first, then adds the request context and scrubs the event.

    For projects that call ``sentry_sdk.init`` themselves: pass
    ``before_send=make_before_send()`` and ``before_send_transaction=make_before_send()``.
    """

    def before_send(event: Event, hint: Hint) -> Event | None:
        if user_callback is not None:
            result = user_callback(event, hint)
            if result is None:
                return None
            event = result
        try:
            return process_event(event, hint)
        except Exception as exc:
            # Never send what could not be scrubbed: drop it, count it.
            report_internal_error("scrub:sentry", exc)
            return None

    return before_send


def process_event(event: Event, hint: Hint) -> Event | None:
    """Context, user reduction, Django's sensitivity markers, then the scrubber.

    Returns None for the access log's own error-level lines: the failure they
    describe is already an event, and one event per failure is the point.
    """
    if is_own_line(event):
        return None
    if _is_lifespan_refusal(hint):
        return None
    if is_repeat_of_own_line(event, _hinted_exception(hint)):
        return None
    scrubber = get_scrubber()
    ctx = get_context()
    add_context(event, ctx)
    reduce_user(event, ctx, state.user_fields)
    request = ctx.request if ctx is not None else None
    req = event.get("request")
    identities: set[str] = set()
    if isinstance(req, dict):
        clean_request(req, request, scrubber, keep_ip="ip_address" in state.user_fields)
        # As for the user: identity stays out unless both Sentry and init(user_fields=...) let it in.
        keep_identity = bool(state.user_fields - {"id", "ip_address"}) and personal_data_allowed()
        if "data" in req and not keep_identity:
            req["data"] = redact_identity(req["data"], scrubber.replacement, identities)
    clean_span_data(event, identities, scrubber.replacement)
    exc_info = hint.get("exc_info") if isinstance(hint, Mapping) else None
    if exc_info and len(exc_info) == 3 and exc_info[2] is not None:
        apply_sensitive_variables(event, exc_info[1], request, scrubber.replacement)
    scrubbed = scrubber.scrub(event)
    if not isinstance(scrubbed, dict):  # a custom scrubber must keep the shape
        raise TypeError(f"the scrubber returned {type(scrubbed).__name__} for an event")
    # A transaction ends after the middleware, outside the request context:
    # for it, use what ``bind_request`` noted at the start.
    secrets = request_secrets(request) if request is not None else _pop_transaction_secrets(event)
    return scrubber.redact_known(scrubbed, secrets)  # type: ignore[no-any-return]


def _hinted_exception(hint: Hint) -> BaseException | None:
    exc_info = hint.get("exc_info") if isinstance(hint, Mapping) else None
    exc = exc_info[1] if isinstance(exc_info, tuple) and len(exc_info) == 3 else None
    return exc if isinstance(exc, BaseException) else None


def _is_lifespan_refusal(hint: Hint) -> bool:
    exc = _hinted_exception(hint)
    return isinstance(exc, ValueError) and str(exc) == LIFESPAN_REFUSAL


# Per sampled transaction (by span id): the request's secret values, noted at
# the start of the request for ``before_send_transaction``. Bounded, since a
# transaction that is dropped before sending never collects its entry.
_MAX_PENDING = 1024
_pending: OrderedDict[str, tuple[str, ...]] = OrderedDict()
_pending_lock = threading.Lock()


def _note_transaction_secrets(span_id: str, secrets: tuple[str, ...]) -> None:
    with _pending_lock:
        _pending[span_id] = secrets
        while len(_pending) > _MAX_PENDING:
            _pending.popitem(last=False)


def _pop_transaction_secrets(event: Event) -> tuple[str, ...]:
    contexts = event.get("contexts")
    trace = contexts.get("trace") if isinstance(contexts, dict) else None
    span_id = trace.get("span_id") if isinstance(trace, dict) else None
    if not isinstance(span_id, str):
        return ()
    with _pending_lock:
        return _pending.pop(span_id, ())


def bind_request(ctx: RequestContext) -> None:
    """Called by ``LanternMiddleware`` at the start of a request when Sentry is on.

    Tags the request's isolation scope (Sentry's WSGI/ASGI wrappers fork one
    per request, so the tag lives exactly as long as the request) and its
    transaction, which finishes after the middleware has returned.
    """
    try:
        import sentry_sdk

        sentry_sdk.get_isolation_scope().set_tag("request_id", ctx.request_id)
        span = sentry_sdk.get_current_span()
        transaction = getattr(span, "containing_transaction", None) if span is not None else None
        if transaction is not None:
            transaction.set_tag("request_id", ctx.request_id)
            if transaction.sampled and ctx.request is not None:
                secrets = request_secrets(ctx.request)
                if secrets:
                    _note_transaction_secrets(transaction.span_id, secrets)
    except Exception as exc:
        report_internal_error("sentry_bind", exc)
