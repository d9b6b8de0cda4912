"""Liveness and readiness: checks, a runner with timeouts, and the views."""
