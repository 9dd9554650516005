"""The access log's cheap parts: the per-second timestamp reads as datetime formats it, and
lines reach the logger in batches, within FLUSH_SECONDS, in order, each batch small enough for
one write to a pipe to keep whole."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from router import access_log


def test_the_cached_clock_reads_as_datetime_formats_it() -> None:
    clock = access_log._Clock()
    for now in (0.0, 1_700_000_000.25, 1_785_000_000.999):
        clock.tick(now)
        local = datetime.fromtimestamp(now).astimezone()
        assert clock.combined == local.strftime("%d/%b/%Y:%H:%M:%S %z")
        assert clock.iso + ".000" + clock.offset == local.replace(microsecond=0).isoformat(
            timespec="milliseconds"
        )


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_lines_are_written_in_batches_within_the_flush_interval() -> None:
    logger = logging.getLogger("wadofarm.test-access")
    records = Records()
    logger.addHandler(records)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    batch = access_log._Batch()

    async def serve() -> list[list[str]]:
        seen = []
        for n in range(3):
            batch.add(logger, f"line {n}")
        seen.append(list(records.messages))  # nothing yet: the batch waits
        await asyncio.sleep(access_log.FLUSH_SECONDS + 0.2)
        seen.append(list(records.messages))
        for n in range(1000):
            batch.add(logger, f"more {n:03d}")  # 9 bytes a line with its newline
        seen.append(list(records.messages))  # each full batch goes at once
        return seen

    try:
        waiting, flushed, full = asyncio.run(serve())
    finally:
        logger.removeHandler(records)
    assert waiting == [] and flushed == ["line 0\nline 1\nline 2"]
    batches = full[1:]
    assert all(len(text) + 1 <= access_log.FLUSH_BYTES for text in batches)  # whole in a pipe
    assert len(batches) == 1000 * 9 // access_log.FLUSH_BYTES  # the rest waits for the timer
    lines = [line for text in batches for line in text.splitlines()]
    assert lines == [f"more {n:03d}" for n in range(len(lines))]
