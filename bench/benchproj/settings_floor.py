"""The floor (``benchproj/floor.py``) on ``startproject``'s middleware: bare Django plus that one middleware."""

from benchproj.base import *  # noqa: F403
from benchproj.base import DEFAULT_MIDDLEWARE

MIDDLEWARE = ["benchproj.floor.FloorMiddleware", *DEFAULT_MIDDLEWARE]
