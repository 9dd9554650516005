"""Instances that crashed or hung a render worker, refused for a while without a render.

A failed render is rightly not cached, so without this one bad file requested in a loop would
kill and restart a worker on every request: a cheap denial of service. After a crash or a
time-out on an instance, requests for it get the same status and reason at once, for
--quarantine-seconds, without reaching a worker; then it is tried again.
"""

from __future__ import annotations

import logging
import time

from renderer.errors import RenderError, RenderTimeout, WorkerCrashed
from router.cache import BoundedDict

logger = logging.getLogger(__name__)

CAUGHT = (WorkerCrashed, RenderTimeout)  # what a render costs a worker for
INSTANCES = 10_000  # quarantined instances remembered at most


class Quarantine:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.refused = 0  # requests answered from quarantine (for /metrics)
        self.added = 0  # instances put in quarantine (for /metrics)
        self._until: BoundedDict[str, tuple[float, RenderError]] = BoundedDict(INSTANCES)

    def check(self, object_uid: str) -> None:
        """Raise the failure that quarantined this instance, if its quarantine still runs."""
        held = self._until.get(object_uid)
        if held is None:
            return
        until, error = held
        left = until - time.monotonic()
        if left <= 0:
            self._until.pop(object_uid)
            return
        self.refused += 1
        raise type(error)(
            f"{error.reason} (quarantined: not rendered again for {left:.0f}s, "
            "--quarantine-seconds)"
        )

    def add(self, object_uid: str, error: RenderError) -> None:
        """Quarantine an instance after `error`, if it is a failure that cost a worker."""
        if self.seconds <= 0 or not isinstance(error, CAUGHT):
            return
        if self._until.get(object_uid) is None:
            self.added += 1
            logger.warning(
                "instance %s quarantined for %gs: %s", object_uid, self.seconds, error.reason
            )
        self._until.put(object_uid, (time.monotonic() + self.seconds, error))
