"""The operations page: what the app is doing, for teams without Grafana (docs/ops.md).

Installed by one URL include, ``path("ops/", include("django_lantern.ops.urls"))``.
"""
