"""A database outage as one component sees it: one log line when it starts, one when it ends."""

from __future__ import annotations

import time

from loguru import logger

from crm.db import is_outage

# What /api answers during an outage tells clients to wait this long before trying again.
RETRY_AFTER_SECS = 5


class OutageLog:
    """Logs a database outage once for a component (the dialer, a worker, the API), not per try.

    A failure that is not an outage (a bug, a refused statement) is not this class's
    business: :meth:`failed` returns False and the caller logs it as it always did.
    """

    def __init__(self, component: str):
        """For ``component`` (named in the log lines)."""
        self.component = component
        self._since: float | None = None
        self._failures = 0

    @property
    def down(self) -> bool:
        """Whether the database is unavailable as far as this component last saw."""
        return self._since is not None

    def failed(self, error: BaseException) -> bool:
        """Note a failure; True when it was the database being unavailable (logged once)."""
        if not is_outage(error):
            return False
        self._failures += 1
        if self._since is None:
            self._since = time.monotonic()
            logger.warning(
                f"{self.component}: database unavailable ({_reason(error)}); "
                "retrying quietly until it is back"
            )
        return True

    def succeeded(self) -> None:
        """Note a success: logs the end of an outage, if there was one."""
        if self._since is None:
            return
        lasted, failures = time.monotonic() - self._since, self._failures
        self._since, self._failures = None, 0
        logger.info(
            f"{self.component}: database back after {lasted:.1f} s ({failures} failed tries)"
        )


def _reason(error: BaseException) -> str:
    # The first line only: SQLAlchemy's next lines hold the statement and its values.
    lines = str(error).splitlines()
    name = error.__class__.__name__
    return f"{name}: {lines[0]}"[:200] if lines else name
