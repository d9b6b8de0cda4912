"""The readiness check contract: ``ReadinessCheck`` and the one error type its ``run()`` raises.

A check's ``run()`` returns on success and raises on failure. ``CheckFailed``
carries a message that is safe to show in the ``/readyz`` body; any other
exception is logged and reported generically, so a host name, SQL text or a
traceback never reaches the body.
"""

from __future__ import annotations


class CheckFailed(Exception):
    """Raise from ``run()`` with a short, public reason (no hosts, no secrets)."""


class ReadinessCheck:
    """Subclass and implement ``run()``. ``name`` appears in the body's ``checks``."""

    #: ``db``, ``cache`` or ``custom``: the body's summary key it counts towards.
    kind = "custom"
    #: Seconds; ``None`` means ``LANTERN["READINESS_TIMEOUT"]``.
    timeout: float | None = None
    #: The timeout the runner enforces for this check (set by the runner).
    budget: float = 0.5
    #: False: a failure is reported in the body but never turns ``/readyz`` 503
    #: (also set by ``LANTERN["READINESS_NON_CRITICAL"]``).
    critical: bool = True
    #: The name a class listed in ``READINESS_CHECKS`` gets; ``None``: ``custom:<ClassName>``.
    check_name: str | None = None

    def __init__(self, name: str) -> None:
        self.name = name

    def run(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        """Release what ``run()`` keeps between runs; called in the worker thread when it stops."""

    def prepare(self) -> None:
        """Called once, before the first attempt's deadline is set: slow one-off set-up goes here."""

    def interrupt(self) -> None:
        """Unblock a ``run()`` that outlived its deadline; called from another thread, at most once per run.

        The built-in database check shuts its socket down. The default does
        nothing: the attempt stays in flight, probes report "timeout" without
        waiting for it, and a new attempt starts once it returns.
        """

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
