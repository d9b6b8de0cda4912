"""Finding the authenticated user's id without surprising side effects.

The id comes from what the application itself loaded during the request: the
user (``request.user`` evaluated, ``login()``, ``logout()``) or, failing that,
the session (read by the view or a middleware). Loading either one ourselves
would cost a query, often a new connection, on views that never asked who the
user is, so by default a request whose application read neither has no
``user_id``. ``LANTERN["LOAD_USER"] = True`` restores the lookup, for a
session cookie only, at that cost (docs/logging.md#user_id).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.functional import LazyObject, empty

from django_lantern.conf import get_settings
from django_lantern.context import RequestContext, current

if TYPE_CHECKING:  # django.http imports django.db.models; settings files import this module
    from django.http import HttpRequest

    from django_lantern.conf import LanternSettings


def _id_of(user: Any) -> Any:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return getattr(user, get_settings().user_id_attribute, None)


_NOT_LOADED = object()


def _loaded_user(request: HttpRequest) -> Any:
    """The request's user if it is already loaded, else ``_NOT_LOADED``.

    ``login()`` and ``logout()`` assign ``request.user`` directly, replacing the
    lazy object that AuthenticationMiddleware installed (and its cache, which
    still holds the anonymous user), so the attribute is read first.
    """
    attrs = request.__dict__
    user = attrs.get("user", _NOT_LOADED)
    if isinstance(user, LazyObject):
        # Past ``LazyObject.__getattribute__``, a Python method run on every attribute read.
        wrapped = object.__getattribute__(user, "_wrapped")
        if wrapped is not empty:
            return wrapped
        user = _NOT_LOADED
    if user is _NOT_LOADED:
        user = attrs.get("_cached_user", _NOT_LOADED)
        if user is _NOT_LOADED:
            return attrs.get("_acached_user", _NOT_LOADED)
    return user


def cached_user_id(request: HttpRequest) -> Any:
    """The user's id if the user was already loaded during this request, else None."""
    user = _loaded_user(request)
    return None if user is _NOT_LOADED else _id_of(user)


def known_user_id(ctx: RequestContext) -> Any:
    """The request's user id if it is already known, else None; never loads it.

    For log records and error events: loading the user there could run a query
    inside logging or error reporting, or block an event loop.
    """
    if ctx.user_id is not None:
        return ctx.user_id
    return cached_user_id(ctx.request) if ctx.request is not None else None


def _session_user_id(request: HttpRequest) -> Any:
    """The user id in a session the application already read, else None; never reads it.

    ``SessionBase`` keeps what it loaded in ``_session_cache``; the attribute is
    absent until the first read. The session holds the primary key as a string,
    turned back into the field's type so the id logged is the same whichever
    way it was found. Only for ``USER_ID_ATTRIBUTE`` ``"pk"``: another attribute
    needs the user row.
    """
    session = request.__dict__.get("session")
    if session is None:
        return None
    # From the instance's attributes: ``getattr`` with a default raises and clears an
    # AttributeError inside whenever the session was not read (most requests).
    try:
        loaded = session.__dict__.get("_session_cache")
    except AttributeError:  # a session object without instance attributes
        return None
    if not loaded or not isinstance(loaded, dict):
        return None
    # django.contrib.auth imports the models: not at this module's import (settings files import it).
    from django.contrib.auth import SESSION_KEY, get_user_model

    if SESSION_KEY not in loaded or get_settings().user_id_attribute != "pk":
        return None

    try:
        return get_user_model()._meta.pk.to_python(loaded[SESSION_KEY])
    except Exception:  # a session from another user model: no id rather than a wrong one
        return None


def _has_session_cookie(request: HttpRequest) -> bool:
    return settings.SESSION_COOKIE_NAME in request.COOKIES


def _needs_lookup(request: HttpRequest) -> bool:
    # No ``auser`` means no AuthenticationMiddleware (or a probe answered before it).
    # No session cookie means an anonymous request: do not touch the session.
    return hasattr(request, "auser") and _has_session_cookie(request)


def resolve_user_id(request: HttpRequest, cfg: LanternSettings) -> Any:
    """The authenticated user's id from what the request loaded; with ``LOAD_USER``, loaded
    when a session cookie came in."""
    user = _loaded_user(request)
    if user is not _NOT_LOADED:
        return _id_of(user)
    if not cfg.load_user:
        return _session_user_id(request)
    if not _needs_lookup(request):
        return None
    return _id_of(getattr(request, "user", None))


async def aresolve_user_id(request: HttpRequest, cfg: LanternSettings) -> Any:
    """The async twin of :func:`resolve_user_id`: uses ``await request.auser()``."""
    user = _loaded_user(request)
    if user is not _NOT_LOADED:
        return _id_of(user)
    if not cfg.load_user:
        return _session_user_id(request)
    if not _needs_lookup(request):
        return None
    return _id_of(await request.auser())


def on_logged_out(sender: object, request: HttpRequest | None = None, user: Any = None, **kwargs: object) -> None:
    """``user_logged_out``: keep who logged out as the request's user.

    ``logout()`` replaces ``request.user`` with the anonymous user, so the
    access line would say nobody; Django hands the user over already loaded.
    """
    ctx = current.get()
    if ctx is not None and request is not None and ctx.request is request:
        user_id = _id_of(user)
        if user_id is not None:
            ctx.user_id = user_id
