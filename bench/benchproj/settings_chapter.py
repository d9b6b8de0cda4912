"""The chapter's own code: listings 21.3.1, 21.4 and 21.5, text logs to a file.

Identical to the chapter's ``LOGGING`` except that the ``console`` handler is a
``FileHandler`` (a benchmark must not time a terminal).
"""

from benchproj.base import *  # noqa: F403
from benchproj.base import DEFAULT_MIDDLEWARE, log_file

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "chapter.middleware.RequestIdMiddleware",
    "chapter.access_log_middleware.AccessLogMiddleware",
    *DEFAULT_MIDDLEWARE[1:],
]

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
            "filename": log_file("chapter"),
            "formatter": "verbose",
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"access": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
