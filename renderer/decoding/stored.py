"""Stored pixel values: the bits of each pixel cell that hold the value (PS3.5 8.1.1).

A pixel cell is Bits Allocated wide; only Bits Stored of them, ending at High Bit, carry the
value, and the others may hold anything (old files keep overlays there). Pixel Representation 1
means the value is two's complement in Bits Stored bits, so the sign comes from bit High Bit, not
from the top of the cell (PS3.3 C.7.6.3.1.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class StoredFormat:
    bits_stored: int
    signed: bool
    low_bit: int = 0  # High Bit + 1 - Bits Stored: the lowest bit of the value in the cell

    def is_identity_for(self, dtype: np.dtype[np.generic]) -> bool:
        """True when the decoder's integers already are the stored values."""
        return (
            self.low_bit == 0
            and self.bits_stored == 8 * dtype.itemsize
            and (dtype.kind == "i") == self.signed
        )

    @property
    def min_value(self) -> int:
        return -(1 << (self.bits_stored - 1)) if self.signed else 0

    @property
    def max_value(self) -> int:
        return (1 << (self.bits_stored - 1)) - 1 if self.signed else (1 << self.bits_stored) - 1


def stored_format(
    bits_allocated: int, bits_stored: int, high_bit: int, signed: bool
) -> StoredFormat:
    """The format from the Image Pixel module, with out-of-range values clamped to the cell."""
    bits_stored = min(max(bits_stored, 1), bits_allocated)
    low_bit = high_bit + 1 - bits_stored
    if not 0 <= low_bit <= bits_allocated - bits_stored:
        low_bit = 0  # High Bit inconsistent with Bits Stored: assume the usual HighBit = Stored-1
    return StoredFormat(bits_stored, signed, low_bit)


def stored_values(cells: np.ndarray, fmt: StoredFormat) -> np.ndarray:
    """Pixel cells (any integer dtype, as decoded) to their values, as int64.

    value = (cell >> low_bit) & (2^BitsStored - 1), then, when signed, bit BitsStored-1 is the
    sign: v - 2^BitsStored where it is set (the xor/subtract form keeps it branch-free).
    """
    values = cells.astype(np.int64)
    if fmt.low_bit:
        values >>= fmt.low_bit
    bits = fmt.bits_stored
    if bits < 64:
        values &= (1 << bits) - 1
        if fmt.signed:
            sign = 1 << (bits - 1)
            values ^= sign
            values -= sign
    return values
