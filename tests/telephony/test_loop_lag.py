"""The event loop's lateness, as /healthz reports it: a blocked loop shows, an idle one does not."""

from __future__ import annotations

import asyncio
import time

from telephony.loop_lag import LoopLag


async def test_a_loop_blocked_for_a_while_reports_it():
    lag = LoopLag(tick=0.01)
    assert lag.report() == {"maxMs": None, "p99Ms": None}  # nothing measured yet
    lag.start()
    await asyncio.sleep(0.05)
    time.sleep(0.4)  # a handler that holds the loop: every call's audio waits this long
    await asyncio.sleep(0.05)
    report = lag.report()
    await lag.stop()
    assert report["maxMs"] >= 350, report
    assert report["p99Ms"] <= report["maxMs"]


async def test_an_idle_loop_is_not_late():
    lag = LoopLag(tick=0.01)
    lag.start()
    await asyncio.sleep(0.3)
    report = lag.report()
    await lag.stop()
    assert report["maxMs"] is not None and report["p99Ms"] < 150, report  # a busy box wakes late


async def test_the_report_covers_only_the_last_window():
    lag = LoopLag(tick=0.01, window=0.1)
    lag.start()
    await asyncio.sleep(0.03)
    time.sleep(0.4)
    await asyncio.sleep(0.3)  # well past the window: the blocked tick has left it
    report = lag.report()
    await lag.stop()
    assert report["maxMs"] < 350, report
