"""django-lantern: the production observability baseline for Django.

Keep this module free of Django model and view imports: it is imported by
settings files (``build_logging_config``) before apps are ready.
"""

from __future__ import annotations

from django_lantern.binding import bind, propagate

__version__ = "0.2.0"

__all__ = ["__version__", "bind", "propagate"]
