"""``path("ops/", include("django_lantern.ops.urls"))``: the operations page, staff only.

Including these URLs is what turns the page's recording on in each process
that loads the URLconf (``ops/_record.start``): recent exceptions, slow
requests and ``lantern.db`` insights, flushed to the cache off the request path.
"""

from __future__ import annotations

from django.urls import path

from django_lantern.ops import _record, _view

__all__ = ["app_name", "urlpatterns"]

app_name = "lantern_ops"
urlpatterns = [path("", _view.ops, name="ops")]

_record.start()
