"""Prometheus metrics: families, the request recorder, instrumentation and views."""
