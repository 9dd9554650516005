"""Stored values from pixel cells (PS3.5 8.1.1): masking above Bits Stored, High Bit below the
top of the cell, and sign extension from Bits Stored, at hand-computed cells."""

from __future__ import annotations

import numpy as np
import pytest

from renderer.decoding.stored import StoredFormat, stored_format, stored_values


@pytest.mark.parametrize(
    ("cell", "dtype", "fmt", "value"),
    [
        (0x0123, "u2", StoredFormat(12, False), 0x123),
        (0xF123, "u2", StoredFormat(12, False), 0x123),  # an overlay in bits 12-15 is dropped
        (0x0FFF, "u2", StoredFormat(12, True), -1),  # bit 11 is the sign
        (0x0800, "u2", StoredFormat(12, True), -2048),
        (0x07FF, "u2", StoredFormat(12, True), 2047),
        (0xA7FF, "u2", StoredFormat(12, True), 2047),  # garbage above is not a sign
        (-1, "i2", StoredFormat(12, True), -1),  # the decoder already sign-extended: unchanged
        (0x7FFF, "i2", StoredFormat(16, True), 32767),
        (-32768, "i2", StoredFormat(16, True), -32768),
        ((0x155 << 4) | 0xC007, "u2", StoredFormat(10, False, low_bit=4), 0x155),  # High Bit 13
        (0x3FF << 4, "u2", StoredFormat(10, True, low_bit=4), -1),
        (0xFF, "u1", StoredFormat(8, False), 255),
        (0xFF, "u1", StoredFormat(7, True), -1),
        (0xFFFFFFFF, "u4", StoredFormat(32, True), -1),
        (0xFFFFFFFF, "u4", StoredFormat(32, False), 4294967295),
        (-5, "i4", StoredFormat(32, True), -5),
        (1, "u1", StoredFormat(1, False), 1),
    ],
)
def test_stored_value_of_a_cell(cell: int, dtype: str, fmt: StoredFormat, value: int) -> None:
    cells = np.array([cell]).astype(dtype)
    assert stored_values(cells, fmt).tolist() == [value]


@pytest.mark.parametrize(
    ("allocated", "stored", "high_bit", "signed", "expected"),
    [
        (16, 12, 11, False, StoredFormat(12, False, 0)),
        (16, 12, 15, True, StoredFormat(12, True, 4)),
        (16, 20, 19, False, StoredFormat(16, False, 0)),  # more stored than allocated: the cell
        (16, 12, 2, False, StoredFormat(12, False, 0)),  # High Bit below Bits Stored: the usual
        (8, 8, 7, False, StoredFormat(8, False, 0)),
    ],
)
def test_format_from_the_image_pixel_module(
    allocated: int, stored: int, high_bit: int, signed: bool, expected: StoredFormat
) -> None:
    assert stored_format(allocated, stored, high_bit, signed) == expected


@pytest.mark.parametrize(
    ("fmt", "dtype", "identity"),
    [
        (StoredFormat(16, True), "i2", True),
        (StoredFormat(16, False), "u2", True),
        (StoredFormat(16, True), "u2", False),  # same bits, different reading
        (StoredFormat(12, False), "u2", False),
        (StoredFormat(8, False, low_bit=0), "u1", True),
    ],
)
def test_identity_means_no_work(fmt: StoredFormat, dtype: str, identity: bool) -> None:
    assert fmt.is_identity_for(np.dtype(dtype)) is identity
    every = np.arange(2 ** (8 * np.dtype(dtype).itemsize), dtype=f"u{np.dtype(dtype).itemsize}")
    cells = every.view(dtype)
    assert np.array_equal(stored_values(cells, fmt), cells.astype(np.int64)) is identity
