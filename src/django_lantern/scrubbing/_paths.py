"""A request path with its secret URL parameters replaced: ``/reset/[redacted]/[redacted]/``.

Django's password reset puts a live token in the path
(``reset/<uidb64>/<token>/``), as do e-mail confirmation, invitation and
magic-login links. No pattern finds such a token (it is a short random
string in a path segment), but the URL pattern names it: the resolved match's
keyword arguments say which segments hold what.

:func:`redact_path` maps the path onto the route segment by segment and
replaces each segment that holds a named parameter. Where the two cannot be
lined up (a regular-expression route, a ``path`` converter that spans
segments), each segment equal to a redacted value is replaced, and failing
that every occurrence of the value: the safe side.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

# "<token>", "<str:token>": the parameter names a route segment holds.
_PARAMETER = re.compile(r"<(?:[^>:]+:)?([^>]+)>")


def redact_path(
    path: str, path_info: str, route: str, kwargs: Mapping[str, object], names: Collection[str], replacement: str
) -> str:
    """``path`` with the segments holding ``kwargs`` named in ``names`` replaced.

    ``path`` is the full path (``SCRIPT_NAME`` included), ``path_info`` the
    part the route was matched against. ``names`` are the parameters to
    redact, among ``kwargs``; the caller has already checked there is one.
    """
    prefix = path[: len(path) - len(path_info)] if path.endswith(path_info) else ""
    segments = path_info.split("/")
    route_segments = ("/" + route.lstrip("^")).split("/")
    if len(route_segments) == len(segments) and "(?P<" not in route:
        changed = False
        for i, pattern in enumerate(route_segments):
            if any(name in names for name in _PARAMETER.findall(pattern)):
                segments[i] = replacement
                changed = True
        if changed:
            return prefix + "/".join(segments)
    values = sorted((str(kwargs[name]) for name in names if str(kwargs[name])), key=len, reverse=True)
    for value in values:
        if value in segments:
            segments = [replacement if segment == value else segment for segment in segments]
        else:
            segments = "/".join(segments).replace(value, replacement).split("/")
    return prefix + "/".join(segments)
