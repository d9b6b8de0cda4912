"""``settings_lantern`` with a plain ``logging.FileHandler`` carrying the package's formatter and filter.

The handler a project writes in its own ``LOGGING`` dict: ``logging.FileHandler``
with ``django_lantern.logging.formatters.JsonFormatter`` and
``django_lantern.logging.filters.RequestContextFilter``, instead of the
package's ``SafeStreamHandler``.
"""

from benchproj.settings_lantern import *  # noqa: F403
from benchproj.settings_lantern import lantern_logging

LOGGING = lantern_logging("lanternfile", handler="file")
