"""``lantern`` plus the operations page included (``django_lantern.ops.urls``): its recording is on.

The tiny view is neither slow nor failing, so what this adds to ``lantern`` is
what every ordinary request pays for the page: the tap checks on the request
path (the flush thread runs beside, on its own clock).
"""

from benchproj.settings_lantern import *  # noqa: F403

ROOT_URLCONF = "benchproj.urls_ops"
