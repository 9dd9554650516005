"""The quarantine's rules on their own: strikes, one trial at a time, quarantine on two."""

from __future__ import annotations

import asyncio

import pytest

from renderer.errors import PoolOverloaded, RenderTimeout, WorkerCrashed
from router.quarantine import Quarantine

UID = "1.2.3"
DIED = WorkerCrashed("the render worker died (exit code -9)")


async def test_a_render_that_came_back_lets_renders_run_side_by_side() -> None:
    q = Quarantine(60)
    async with q.turn(UID) as trial:
        assert trial  # nothing known of it yet: a trial
        q.acquit(UID)
    async with q.turn(UID) as first, q.turn(UID) as second:
        assert not first and not second  # both at once, no waiting


async def test_an_unproven_instance_renders_one_at_a_time() -> None:
    q = Quarantine(60)
    order: list[str] = []

    async def render(name: str, pause: float) -> bool:
        async with q.turn(UID) as trial:
            order.append(f"{name} in")
            await asyncio.sleep(pause)
            order.append(f"{name} out")
            q.acquit(UID)
            return trial

    trials = await asyncio.gather(render("a", 0.05), render("b", 0), render("c", 0))
    assert order[:2] == ["a in", "a out"]  # the others waited for the first one's verdict
    assert trials == [True, False, False]  # and then went side by side


async def test_one_death_is_retried_and_a_second_on_the_trial_quarantines() -> None:
    q = Quarantine(60)
    async with q.turn(UID) as trial:
        assert q.struck(UID, DIED, trial, None) is None  # retry it
    assert q.retried == 1 and q.added == 0
    async with q.turn(UID) as trial:
        answer = q.struck(UID, DIED, trial, DIED)
    assert isinstance(answer, WorkerCrashed)
    assert "again when retried on another worker" in answer.reason
    assert "quarantined, no render for 60s" in answer.reason
    assert q.added == 1
    with pytest.raises(WorkerCrashed, match=r"not rendered: quarantined, \d+s more"):
        async with q.turn(UID):
            pass
    assert q.refused == 1


async def test_a_render_that_comes_back_clears_a_strike() -> None:
    q = Quarantine(60)
    for _ in range(5):  # a worker killed from outside now and then: never quarantined
        async with q.turn(UID) as trial:
            assert q.struck(UID, DIED, trial, None) is None
        async with q.turn(UID):
            q.acquit(UID)
    assert q.added == 0


async def test_deaths_outside_a_trial_never_quarantine_by_themselves() -> None:
    """Renders already running when the first died (several workers killed at once) each
    count, but only a trial, alone on its worker, convicts."""
    q = Quarantine(60)
    async with q.turn(UID):
        q.acquit(UID)
    for _ in range(3):
        assert q.struck(UID, DIED, False, None) is None
    assert q.added == 0
    async with q.turn(UID) as trial:
        assert trial  # struck: the next render is a trial
        answer = q.struck(UID, DIED, trial, None)
    assert answer is not None and "the second worker it cost within 60s" in answer.reason


async def test_waiters_on_a_trial_that_ends_in_quarantine_are_refused() -> None:
    q = Quarantine(60)
    entered = asyncio.Event()

    async def convicted() -> None:
        async with q.turn(UID) as trial:
            assert q.struck(UID, DIED, trial, None) is None
        async with q.turn(UID) as trial:
            entered.set()
            await asyncio.sleep(0.02)
            answer = q.struck(UID, DIED, trial, DIED)
            assert answer is not None

    async def waiter() -> None:
        await entered.wait()
        async with q.turn(UID):
            raise AssertionError("rendered a quarantined instance")

    first = asyncio.ensure_future(convicted())
    waiting = [asyncio.ensure_future(waiter()) for _ in range(3)]
    await first
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, WorkerCrashed) and "not rendered" in r.reason for r in results)


async def test_a_timeout_counts_as_a_death_and_says_so() -> None:
    q = Quarantine(60)
    hung = RenderTimeout("render took longer than 30s")
    async with q.turn(UID) as trial:
        assert q.struck(UID, hung, trial, None) is None
    async with q.turn(UID) as trial:
        answer = q.struck(UID, hung, trial, hung)
    assert isinstance(answer, RenderTimeout) and "longer than 30s" in answer.reason


async def test_zero_seconds_retries_but_never_quarantines() -> None:
    q = Quarantine(0)
    for _ in range(3):
        async with q.turn(UID) as trial:
            assert q.struck(UID, DIED, trial, None) is None
        async with q.turn(UID) as trial:
            answer = q.struck(UID, DIED, trial, DIED)
        assert answer is not None and "quarantined" not in answer.reason
    assert q.added == 0


async def test_a_quarantine_ends_and_the_instance_is_tried_again() -> None:
    q = Quarantine(0.2)
    for earlier in (None, DIED):
        async with q.turn(UID) as trial:
            answer = q.struck(UID, DIED, trial, earlier)
    assert answer is not None and q.added == 1
    await asyncio.sleep(0.25)
    async with q.turn(UID) as trial:
        assert trial  # tried again, alone
        q.acquit(UID)


async def test_a_state_and_its_image_are_accused_together_not_apart() -> None:
    q = Quarantine(60)
    pair = ("1.2.3.state", UID)
    for earlier in (None, DIED):
        async with q.turn(pair) as trial:
            q.struck(pair, DIED, trial, earlier)
    assert q.added == 1
    async with q.turn(UID) as trial:  # the image alone is not accused
        assert trial


async def test_renders_waiting_for_a_trial_count_against_the_queue() -> None:
    """Past --max-queue a request is refused at once (503), also while it would wait for the
    first render of an instance: waiting for a trial is waiting for a worker."""
    q = Quarantine(60, room=lambda: 2)
    release = asyncio.Event()

    async def render() -> None:
        async with q.turn(UID):
            await release.wait()
            q.acquit(UID)

    trial = asyncio.ensure_future(render())
    await asyncio.sleep(0)
    waiting = [asyncio.ensure_future(render()) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(PoolOverloaded, match="--max-queue"):
        async with q.turn(UID):
            pass
    release.set()
    await asyncio.gather(trial, *waiting)
    assert q.waiting == 0
