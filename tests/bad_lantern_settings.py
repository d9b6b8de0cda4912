"""The example's settings with an unknown LANTERN key: the process must refuse to start."""

from config.settings import *  # noqa: F403

LANTERN = {"REQUEST_ID_HEADDER": "X-Request-Id"}
