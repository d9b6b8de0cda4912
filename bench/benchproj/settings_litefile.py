"""``settings_lanternfile`` (plain ``FileHandler``) on the project without sessions or auth."""

from benchproj.settings_lantern import lantern_logging
from benchproj.settings_litelantern import *  # noqa: F403

LOGGING = lantern_logging("litefile", handler="file")
