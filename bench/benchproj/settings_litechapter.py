"""The chapter's own code on the project without sessions or auth (compared with ``litebare``)."""

from benchproj.base import LITE_APPS, LITE_MIDDLEWARE
from benchproj.settings_chapter import *  # noqa: F403
from benchproj.settings_chapter import chapter_middleware

INSTALLED_APPS = list(LITE_APPS)
MIDDLEWARE = chapter_middleware(LITE_MIDDLEWARE)
