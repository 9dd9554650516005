"""Instances that killed or hung render workers, refused for a while without a render: on
evidence that the file is the cause, not on one dead worker.

A failed render is rightly not cached, so without this one bad file requested in a loop would
kill and restart a worker on every request: a cheap denial of service. But a worker also dies
of things that are not its file's fault (the OOM killer picking the biggest process, an
operator's kill -9), and one death then must not take a good image offline for everyone.

So a render whose worker died or ran past --render-timeout is a *strike* against what it
rendered (the instance, or the pair of a presentation state and its image: a worker that died
while two instances were involved does not count against either alone), and the render is
retried once, on another worker (its own is being replaced), for every request that waited on
it. While a strike stands the renders of it go one at a time: one *trial* at a time, the others
waiting for its verdict. A render that comes back (an image, or an error the worker answered)
clears the strikes. A trial that kills or hangs its worker with another strike standing
within --quarantine-seconds quarantines it: requests for it get that failure at once, with no
render, for --quarantine-seconds; then it is tried again.

Renders of an instance no render has come back from yet also go one at a time, so a file that
kills every worker that opens it, asked for by many clients at once, costs two worker restarts
(the first render and its retry) per --quarantine-seconds, not one per worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Hashable

from renderer.errors import PoolOverloaded, RenderError, RenderTimeout, WorkerCrashed
from router.cache import BoundedDict

logger = logging.getLogger(__name__)

CAUGHT = (WorkerCrashed, RenderTimeout)  # what a render costs a worker for
INSTANCES = 10_000  # quarantined or struck instances remembered at most
ACQUITTED = 100_000  # instances a render came back from, remembered at most

# What a strike is against: an instance's UID, or (state UID, image UID).
Accused = Hashable


def describe(accused: Accused) -> str:
    if isinstance(accused, tuple):
        return f"image {accused[1]} through presentation state {accused[0]}"
    return f"instance {accused}"


class Quarantine:
    def __init__(self, seconds: float, room: Callable[[], int] | None = None) -> None:
        """`room`: how many more renders may wait (--max-queue less the render queue); the
        renders waiting for a trial count among them, so past --max-queue a request is
        refused at once, as the render queue does."""
        self.seconds = seconds
        self.room = room
        self.waiting = 0  # renders waiting for a trial's verdict
        self.refused = 0  # requests answered from quarantine (for /metrics)
        self.added = 0  # instances put in quarantine (for /metrics)
        self.retried = 0  # renders tried again after their worker died or hung (for /metrics)
        self._until: BoundedDict[Accused, tuple[float, RenderError]] = BoundedDict(INSTANCES)
        self._strikes: BoundedDict[Accused, list[float]] = BoundedDict(INSTANCES)
        self._acquitted: BoundedDict[Accused, bool] = BoundedDict(ACQUITTED)
        self._trials: dict[Accused, asyncio.Future[None]] = {}

    def check(self, accused: Accused) -> None:
        """Raise the failure that quarantined it, if its quarantine still runs."""
        held = self._until.get(accused)
        if held is None:
            return
        until, error = held
        left = until - time.monotonic()
        if left <= 0:
            self._until.pop(accused)
            return
        self.refused += 1
        raise type(error)(
            f"not rendered: quarantined, {left:.0f}s more (--quarantine-seconds), after "
            f"{error.reason}"
        )

    @contextlib.asynccontextmanager
    async def turn(self, accused: Accused) -> AsyncIterator[bool]:
        """Until it may be rendered: at once if a render of it came back since its last strike,
        else when no other trial of it runs (True: this render is the trial). Raises the
        quarantine's failure instead, if it is (or, after the wait, has been) quarantined."""
        trial = await self._wait(accused)
        try:
            yield trial
        finally:
            if trial:
                done = self._trials.pop(accused, None)
                if done is not None and not done.done():
                    done.set_result(None)

    async def _wait(self, accused: Accused) -> bool:
        while True:
            self.check(accused)
            if self._acquitted.get(accused):
                return False
            running = self._trials.get(accused)
            if running is None:
                self._trials[accused] = asyncio.get_running_loop().create_future()
                return True
            if self.room is not None and self.waiting >= self.room():
                raise PoolOverloaded(
                    f"render queue is full ({self.waiting} waiting for a first render of the "
                    "same instance, --max-queue)"
                )
            self.waiting += 1
            try:
                await asyncio.shield(running)  # one caller leaving does not end the trial
            finally:
                self.waiting -= 1

    def acquit(self, accused: Accused) -> None:
        """A render of it came back from a worker: it does not kill workers."""
        if self._strikes.get(accused) is not None:
            self._strikes.pop(accused)
            logger.info("%s rendered after a worker died on it: not its fault", describe(accused))
        self._acquitted.put(accused, True)

    def struck(
        self, accused: Accused, error: RenderError, trial: bool, earlier: RenderError | None
    ) -> RenderError | None:
        """A render of it killed or hung its worker (`error`); `earlier`: this request's first
        such failure, when this was its retry. None: retry it (once). Else the failure to
        answer: quarantined if this was a trial and another strike stands."""
        now = time.monotonic()
        self._acquitted.pop(accused)
        strikes = [t for t in self._strikes.get(accused) or [] if now - t < self.seconds]
        strikes.append(now)
        self._strikes.put(accused, strikes)
        if trial and len(strikes) >= 2 and self.seconds > 0:
            return self._add(accused, error, earlier)
        if earlier is None:
            self.retried += 1
            logger.warning(
                "%s: %s; trying it once more on another worker", describe(accused), error.reason
            )
            return None
        return type(error)(f"{earlier.reason}, and again when retried on another worker")

    def _add(
        self, accused: Accused, error: RenderError, earlier: RenderError | None
    ) -> RenderError:
        if earlier is not None:
            reason = f"{earlier.reason}, and again when retried on another worker"
        else:
            reason = f"{error.reason}, the second worker it cost within {self.seconds:g}s"
        answer = type(error)(
            f"{reason}: quarantined, no render for {self.seconds:g}s (--quarantine-seconds)"
        )
        if self._until.get(accused) is None:
            self.added += 1
            logger.warning("%s quarantined for %gs: %s", describe(accused), self.seconds, reason)
        self._until.put(accused, (time.monotonic() + self.seconds, type(error)(reason)))
        self._strikes.pop(accused)
        return answer
