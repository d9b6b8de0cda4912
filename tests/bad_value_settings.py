"""The example's settings with a LANTERN value of the wrong type: the process must refuse to start."""

from config.settings import *  # noqa: F403

LANTERN = {"READINESS_TIMEOUT": "fast"}
