"""Personal data that the scrubber's secret rules do not catch, kept out of Sentry events.

Used by :func:`django_lantern.sentry.process_event` for errors and
transactions alike:

- **identity fields of a form or JSON body** (``username``, ``email``,
  ``phone``, names, the user model's ``USERNAME_FIELD`` and ``EMAIL_FIELD``):
  replaced unless the client sends personal data (``send_default_pii``, or
  ``data_collection`` with ``user_info``). A login POST otherwise sent the
  username in every transaction's ``request.data``. The values removed are
  also removed wherever they reappear as a whole SQL parameter;
- **sessions in span and breadcrumb data**: the parameters of every query
  whose text mentions "session" (``django_session`` or a custom session
  table; a few other queries lose their parameters too, the safe side) are
  replaced, since they carry the session key and the session data; cache
  keys of Django's cache-backed sessions lose the key;
- **SQL literals in query breadcrumbs and spans**: sentry-sdk records the
  statement as written, with any literal inlined by raw SQL, ``extra()`` or
  a migration. The text goes through the scrubber of our own query spans
  (:func:`django_lantern.scrubbing._sql.scrub_sql`, same cap), so Sentry and
  the traces show the same ``?``.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from django_lantern.conf import get_settings
from django_lantern.scrubbing._patterns import normalise_key
from django_lantern.scrubbing._sql import scrub_sql

# Fragments of body field names that identify a person, compared like the
# scrubber's keys (case-folded, without "-", "_", "." and spaces).
IDENTITY_KEY_FRAGMENTS = (
    "username", "email", "login", "phone", "mobile", "firstname", "lastname", "fullname",
    "displayname", "surname", "givenname", "address", "birth",
)  # fmt: skip
MAX_DEPTH = 8

_SESSION_SQL = re.compile(r"session", re.IGNORECASE)
# Django's cache and cached_db session backends key entries by these
# prefixes followed by the session key.
_SESSION_CACHE_KEY = re.compile(r"(django\.contrib\.sessions\.cache(?:d_db)?)[A-Za-z0-9]+")


@functools.cache
def _user_model_fields() -> frozenset[str]:
    try:
        from django.contrib.auth import get_user_model

        model = get_user_model()
        names = (getattr(model, "USERNAME_FIELD", ""), getattr(model, "EMAIL_FIELD", ""))
        return frozenset(normalise_key(n) for n in names if isinstance(n, str) and n)
    except Exception:
        # No auth app, or apps not ready: the fragments above still apply.
        return frozenset()


def is_identity_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    normalised = normalise_key(key)
    return normalised in _user_model_fields() or any(f in normalised for f in IDENTITY_KEY_FRAGMENTS)


def personal_data_allowed() -> bool:
    """Whether the running Sentry client was told to send personal data."""
    try:
        import sentry_sdk

        client = sentry_sdk.get_client()
        if client.should_send_default_pii():
            return True
        collection = client.options.get("data_collection")
        return bool(isinstance(collection, dict) and collection.get("provided_by_user") and collection.get("user_info"))
    except Exception:
        return False


def redact_identity(data: Any, replacement: str, found: set[str], _depth: int = 0) -> Any:
    """``data`` with identity fields' values replaced; the string values go into ``found``."""
    if _depth >= MAX_DEPTH:
        return data
    if isinstance(data, dict):
        out: dict[Any, Any] = {}
        for key, value in data.items():
            if is_identity_key(key):
                _collect(value, found)
                out[key] = replacement
            else:
                out[key] = redact_identity(value, replacement, found, _depth + 1)
        return out
    if isinstance(data, list):
        return [redact_identity(v, replacement, found, _depth + 1) for v in data]
    return data


def _collect(value: Any, found: set[str]) -> None:
    if isinstance(value, str) and value:
        found.add(value)
    elif isinstance(value, list):
        for item in value[:64]:
            _collect(item, found)


def clean_span_data(event: dict[str, Any], known: set[str], replacement: str) -> None:
    """Sessions and ``known`` values out of the spans and breadcrumbs of ``event``."""
    spans = event.get("spans")
    crumbs = event.get("breadcrumbs")
    crumb_list = crumbs.get("values") if isinstance(crumbs, dict) else crumbs
    for items, text_key in ((spans, "description"), (crumb_list, "message")):
        if not isinstance(items, list):
            continue
        for item in items:
            if isinstance(item, dict):
                _clean_item(item, text_key, known, replacement)


def _default_vendor() -> str:
    try:
        from django.db import connection

        return str(connection.vendor)
    except Exception:
        return "postgresql"


def _is_query(item: dict[str, Any], text_key: str) -> bool:
    """A query breadcrumb (category ``query``) or a query span (op ``db``), as sentry-sdk records them."""
    return item.get("category") == "query" if text_key == "message" else item.get("op") == "db"


def _scrub_query(item: dict[str, Any], text_key: str, data: object) -> None:
    text = item.get(text_key)
    if not isinstance(text, str):
        return
    vendor = data.get("db.system") if isinstance(data, dict) else None
    limit = get_settings().tracing_query_max_length
    item[text_key] = scrub_sql(text, limit, vendor if isinstance(vendor, str) else _default_vendor())


def _clean_item(item: dict[str, Any], text_key: str, known: set[str], replacement: str) -> None:
    data = item.get("data")
    if _is_query(item, text_key):
        _scrub_query(item, text_key, data)
    text = item.get(text_key)
    if isinstance(data, dict) and "db.params" in data:
        if isinstance(text, str) and _SESSION_SQL.search(text):
            data["db.params"] = replacement
        elif known:
            data["db.params"] = _replace_known(data["db.params"], known, replacement)
    if isinstance(text, str) and "django.contrib.sessions" in text:
        item[text_key] = _SESSION_CACHE_KEY.sub(rf"\1{replacement}", text)
    if isinstance(data, dict):
        item["data"] = _strip_cache_keys(data, replacement)


def _replace_known(value: Any, known: set[str], replacement: str, _depth: int = 0) -> Any:
    if isinstance(value, str):
        return replacement if value in known else value
    if _depth < MAX_DEPTH and isinstance(value, list):
        return [_replace_known(v, known, replacement, _depth + 1) for v in value]
    if _depth < MAX_DEPTH and isinstance(value, dict):
        return {k: _replace_known(v, known, replacement, _depth + 1) for k, v in value.items()}
    return value


def _strip_cache_keys(value: Any, replacement: str, _depth: int = 0) -> Any:
    if isinstance(value, str):
        return _SESSION_CACHE_KEY.sub(rf"\1{replacement}", value) if "django.contrib.sessions" in value else value
    if _depth < MAX_DEPTH and isinstance(value, list):
        return [_strip_cache_keys(v, replacement, _depth + 1) for v in value]
    if _depth < MAX_DEPTH and isinstance(value, dict):
        return {k: _strip_cache_keys(v, replacement, _depth + 1) for k, v in value.items()}
    return value
