"""``lanternops`` with the page's flush thread held off (``ops/_record.FLUSH_SECONDS`` an hour).

Against ``lanternops`` it splits the page's cost in two: what a request pays
(the taps) and what the flush thread's rounds (a heartbeat, a batch, the
minute's registry snapshot) add to the process, which callgrind counts too.
"""

from benchproj.settings_lanternops import *  # noqa: F403

BENCH_BEFORE_SETUP = "benchproj.hooks.hold_ops_flush"
