"""Sentry error tracking through the one scrubber (extra: ``django-lantern[sentry]``).

Call :func:`init` once, from settings or ``wsgi.py``/``asgi.py``::

    import django_lantern.sentry
    django_lantern.sentry.init()          # SENTRY_DSN, SENTRY_ENVIRONMENT; the release as /statusz shows it

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
from typing import TYPE_CHECKING, Any, NamedTuple

from django_lantern._errors import report_internal_error
from django_lantern._release import identity
from django_lantern.context import RequestContext, get_context
from django_lantern.scrubbing import get_scrubber, known_secrets, noted_path, request_secrets
from django_lantern.sentry._event import Event, add_context, clean_request, reduce_user
from django_lantern.sentry._frames import apply_sensitive_variables
from django_lantern.sentry._own_lines import is_own_line, is_repeat_of_own_line
from django_lantern.sentry._privacy import clean_span_data, personal_data_allowed, redact_identity
from django_lantern.sentry._sampling import make_traces_sampler, with_probe_sampling
from django_lantern.sentry._transport import count_lost_events

if TYPE_CHECKING:
    from django.http import HttpRequest

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
    release_given = False  # init(release=...): the caller's choice, not ours to question


state = _State()


def init(*, user_fields: Iterable[str] = ("id",), **overrides: Any) -> bool:
    """Initialise sentry-sdk with django-lantern's context and scrubbing.

    ``overrides`` are passed to ``sentry_sdk.init`` and win over the defaults
    (``dsn`` from ``SENTRY_DSN``; ``environment`` and ``release`` as ``/statusz``
    shows them, see ``docs/status.md``). A
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
    state.release_given = "release" in overrides
    user_before_send = overrides.pop("before_send", None)
    user_before_send_transaction = overrides.pop("before_send_transaction", None)
    found = identity()
    options: dict[str, Any] = {
        "dsn": dsn,
        # The one identity: None lets sentry-sdk look for its own, as without lantern.
        "environment": found.environment,
        "release": found.release,
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


def release_disagreement() -> tuple[object, str] | None:
    """(Sentry's release, the process's) when :func:`init` chose a release other than the one
    resolved now: it ran before settings were loaded, so ``LANTERN["RELEASE"]`` was not read."""
    ours = identity().release
    if not state.enabled or state.release_given or ours is None:
        return None
    import sentry_sdk

    theirs = sentry_sdk.get_client().options.get("release")
    return None if theirs == ours else (theirs, ours)


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
    # A transaction ends after the middleware, outside the request context:
    # for it, use what the middleware noted while the request ran.
    pending = _pop_transaction(event) if request is None else None
    noted = noted_path(request)
    path = noted.path if noted is not None else pending.path if pending is not None else None
    req = event.get("request")
    identities: set[str] = set()
    if isinstance(req, dict):
        clean_request(req, request, scrubber, keep_ip="ip_address" in state.user_fields, path=path)
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
    task_secrets = ctx.secrets if ctx is not None else ()
    secrets = pending.secrets if pending is not None else known_secrets(request, task_secrets)
    return scrubber.redact_known(scrubbed, secrets)  # type: ignore[no-any-return]


def _hinted_exception(hint: Hint) -> BaseException | None:
    exc_info = hint.get("exc_info") if isinstance(hint, Mapping) else None
    exc = exc_info[1] if isinstance(exc_info, tuple) and len(exc_info) == 3 else None
    return exc if isinstance(exc, BaseException) else None


def _is_lifespan_refusal(hint: Hint) -> bool:
    exc = _hinted_exception(hint)
    return isinstance(exc, ValueError) and str(exc) == LIFESPAN_REFUSAL


class _Pending(NamedTuple):
    """What ``before_send_transaction`` needs from a request that has ended."""

    secrets: tuple[str, ...]
    path: str | None


# Per sampled transaction (by span id): the request's secret values and its
# redacted path, noted at the start of the request and again once its URL is
# resolved. Bounded, since a transaction dropped before sending never
# collects its entry.
_MAX_PENDING = 1024
_pending: OrderedDict[str, _Pending] = OrderedDict()
_pending_lock = threading.Lock()


def _note_transaction(span_id: str, pending: _Pending) -> None:
    with _pending_lock:
        _pending[span_id] = pending
        while len(_pending) > _MAX_PENDING:
            _pending.popitem(last=False)


def _pop_transaction(event: Event) -> _Pending | None:
    contexts = event.get("contexts")
    trace = contexts.get("trace") if isinstance(contexts, dict) else None
    span_id = trace.get("span_id") if isinstance(trace, dict) else None
    if not isinstance(span_id, str):
        return None
    with _pending_lock:
        return _pending.pop(span_id, None)


def _sampled_transaction() -> Any:
    import sentry_sdk

    span = sentry_sdk.get_current_span()
    return getattr(span, "containing_transaction", None) if span is not None else None


def bind_request(ctx: RequestContext) -> None:
    """Called by ``LanternMiddleware`` at the start of a request when Sentry is on.

    Tags the request's isolation scope (Sentry's WSGI/ASGI wrappers fork one
    per request, so the tag lives exactly as long as the request) and its
    transaction, which finishes after the middleware has returned.
    """
    try:
        import sentry_sdk

        sentry_sdk.get_isolation_scope().set_tag("request_id", ctx.request_id)
        transaction = _sampled_transaction()
        if transaction is not None:
            transaction.set_tag("request_id", ctx.request_id)
            if transaction.sampled and ctx.request is not None:
                secrets = request_secrets(ctx.request)
                if secrets:
                    _note_transaction(transaction.span_id, _Pending(secrets, None))
    except Exception as exc:
        report_internal_error("sentry_bind", exc)


def note_resolved(request: HttpRequest, path: str) -> None:
    """Called by ``LanternMiddleware`` when the URL's parameters made a redacted
    path: the transaction, sent after the request, shows that path and loses
    the parameters' values wherever else they appear."""
    try:
        transaction = _sampled_transaction()
        if transaction is not None and transaction.sampled:
            _note_transaction(transaction.span_id, _Pending(request_secrets(request), path))
    except Exception as exc:
        report_internal_error("sentry_bind", exc)
