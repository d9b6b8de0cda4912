"""``{% load lantern %}{% request_id %}``: the current request id in any template.

Django renders ``500.html`` with an empty context (no request, no context
processors), so the id is read from the request context instead, which
``LanternMiddleware`` still holds while the error page is rendered. Users can
then quote the id to support, and it matches every log line of the request.
"""

from __future__ import annotations

from django import template

from django_lantern.context import get_request_id

register = template.Library()


@register.simple_tag
def request_id() -> str:
    """The current request id (``"-"`` outside a request); autoescaped like any value."""
    return get_request_id()
