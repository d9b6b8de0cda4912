"""The example project as ``settings_page`` serves it, with the package's default handler:
the access line is queued in the request and written by the handler's thread
(``NonBlockingStreamHandler``), where ``settings_page`` writes it in the request."""

from benchproj.base import CONFIG, lantern_logging
from benchproj.settings_page import *  # noqa: F403

LOGGING = lantern_logging(CONFIG, handler="queued")
