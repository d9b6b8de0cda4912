"""``settings_lantern`` (the package's own handler) on the project without sessions or auth."""

from benchproj.base import LITE_APPS, LITE_MIDDLEWARE
from benchproj.settings_lantern import *  # noqa: F403
from benchproj.settings_lantern import lantern_logging

INSTALLED_APPS = [*LITE_APPS, "django_lantern"]
MIDDLEWARE = ["django_lantern.middleware.LanternMiddleware", *LITE_MIDDLEWARE]
LOGGING = lantern_logging("litelantern")
