"""Prometheus metrics: families, the request recorder, instrumentation and views."""

from django_lantern.metrics import _workers

# Before any module of this package imports prometheus_client, which fixes its
# single- or multi-process mode on import: in a worker of a multi-worker
# gunicorn or uvicorn, choose the shared directory (or record why not).
_workers.decide()
