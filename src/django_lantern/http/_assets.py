"""The one static-asset rule: which requests are for the files a page pulls in, not for pages.

One admin page brings seven to twelve such requests (stylesheets, scripts,
images, fonts), and browsers ask for ``/favicon.ico`` on their own. The access
line (``logging/_access_log.py``) writes them at DEBUG unless the server failed
or was slow (docs/logging.md, "Static files and the favicon"); the metrics
count every one of them.
"""

from __future__ import annotations

from django.conf import settings

from django_lantern._caching import settings_cache

# Asked for by browsers whether or not a page links them.
BROWSER_FETCHED = frozenset({"/favicon.ico", "/apple-touch-icon.png", "/apple-touch-icon-precomposed.png"})


def is_static_asset(path: str) -> bool:
    """True for ``request.path`` under ``STATIC_URL`` or ``MEDIA_URL`` (when they are
    paths of this site, not another host), or a file browsers fetch unasked."""
    return path in BROWSER_FETCHED or path.startswith(_asset_prefixes())


@settings_cache
def _asset_prefixes() -> tuple[str, ...]:
    # Django adds the script prefix to a relative STATIC_URL / MEDIA_URL, as
    # request.path has it. A CDN URL (https://... or //host/...) is served elsewhere.
    urls = (getattr(settings, "STATIC_URL", None), getattr(settings, "MEDIA_URL", None))
    return tuple(
        url for url in urls if isinstance(url, str) and url.startswith("/") and url != "/" and not url.startswith("//")
    )
