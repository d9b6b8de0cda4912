"""The example project (``example/config/settings.py``) as ``make run`` serves it, for the page stage.

Unchanged except where a benchmark must differ: a scratch SQLite database and
static root under ``BENCH_TMP``, and ``LOGGING`` built as in ``settings_lantern``:
``build_logging_config`` with its handler writing in the request thread
(``nonblocking=False``) to an open file. ``settings_pagequeued`` keeps the
package's default, queued handler instead. ``settings_pagebare`` is
the same project with django-lantern removed.
"""

import sys
from pathlib import Path

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "example"
if str(EXAMPLE_DIR) not in sys.path:
    sys.path.insert(0, str(EXAMPLE_DIR))

from config.settings import *  # noqa: E402, F403

from benchproj.base import CONFIG, TMP, lantern_logging  # noqa: E402

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(TMP / "page.sqlite3")}}
STATIC_ROOT = TMP / "page-static"
LOGGING = lantern_logging(CONFIG)
