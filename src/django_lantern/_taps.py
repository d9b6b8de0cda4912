"""Where the operations page (``django_lantern.ops``) listens, off by default.

The request path may not import the page (it sits above every layer), so the
page plugs its listeners in here when it is used. Unplugged, the cost is one
comparison with infinity per request and one ``None`` test per unhandled
exception. A listener only appends to an in-memory buffer: anything slower
happens on the page's own flush thread.
"""

from __future__ import annotations

import math
from collections.abc import Callable

# A request at least this long (seconds) is handed to ``slow_request``; infinity: none is.
slow_after: float = math.inf
# ``slow_request(method, route, status, seconds)``, called in the request's context.
slow_request: Callable[[str, str, int, float], None] | None = None
# ``exception(exc)``, called in the request's context, once per counted unhandled exception.
exception: Callable[[BaseException], None] | None = None


def unplug() -> None:
    """Back to nothing listening (tests, and a page turned off)."""
    global slow_after, slow_request, exception
    slow_after, slow_request, exception = math.inf, None, None
