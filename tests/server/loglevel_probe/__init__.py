"""An app for tests/server/test_loglevel.py: a view and a Celery task that log ``myapp.probe`` at DEBUG.

The logger is created here, at app loading, as an app's module-level logger
would be; so ``manage.py lantern_loglevel myapp.probe ...`` knows the name.
"""

from __future__ import annotations

import logging

probe = logging.getLogger("myapp.probe")
