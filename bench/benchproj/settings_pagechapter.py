"""The example project with the chapter's own code in lantern's place: ``settings_pagebare`` plus the
chapter's two middleware (right after ``SecurityMiddleware``, as its listings place them) and its ``LOGGING``."""

from benchproj.settings_chapter import LOGGING as CHAPTER_LOGGING
from benchproj.settings_chapter import chapter_middleware
from benchproj.settings_pagebare import *  # noqa: F403
from benchproj.settings_pagebare import MIDDLEWARE

MIDDLEWARE = chapter_middleware(MIDDLEWARE)
LOGGING = CHAPTER_LOGGING
