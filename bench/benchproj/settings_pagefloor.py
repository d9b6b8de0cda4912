"""The example project with the floor (``benchproj/floor.py``) in lantern's place:
``settings_pagebare`` plus that one middleware, first."""

from benchproj.settings_pagebare import *  # noqa: F403
from benchproj.settings_pagebare import MIDDLEWARE

MIDDLEWARE = ["benchproj.floor.FloorMiddleware", *MIDDLEWARE]
