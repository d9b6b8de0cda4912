"""The chapter's own code: listings 21.3.1, 21.4 and 21.5, text logs to a file.

Identical to the chapter's ``LOGGING`` except that the ``console`` handler is a
``FileHandler`` (a benchmark must not time a terminal).
"""

from benchproj.base import *  # noqa: F403
from benchproj.base import CONFIG, DEFAULT_MIDDLEWARE, log_file


def chapter_middleware(middleware: list[str]) -> list[str]:
    """The chapter's two middleware right after ``SecurityMiddleware``, as the listings place them."""
    return [
        middleware[0],
        "chapter.middleware.RequestIdMiddleware",
        "chapter.access_log_middleware.AccessLogMiddleware",
        *middleware[1:],
    ]


MIDDLEWARE = chapter_middleware(DEFAULT_MIDDLEWARE)

LOG_LEVEL = "INFO"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "simple": {"format": "%(levelname)s %(name)s %(message)s"},
        "verbose": {"format": "%(asctime)s %(levelname)s %(name)s request_id=%(request_id)s %(message)s"},
    },
    "filters": {"request_id": {"()": "chapter.logging_filters.RequestIdLogFilter"}},
    "handlers": {
        "console": {
            "class": "logging.FileHandler",
            "filename": log_file(CONFIG),  # "chapter", or "litechapter" when imported there
            "formatter": "verbose",
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"access": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
