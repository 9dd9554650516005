"""Lookup tables as DICOM describes them: the Modality LUT, the VOI LUT and the palettes share
one descriptor and one clamping rule (PS3.3 C.11.1.1, C.11.2.1.1, C.7.6.3.1.5).

LUT Descriptor (0028,3002): number of entries (0 means 2^16), the first input value mapped,
and bits per entry. An input below the first mapped value gives the first entry; an input past
the last mapped value gives the last entry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from renderer.errors import UnsupportedImage


@dataclass(frozen=True, slots=True)
class Lut:
    first: int  # the input value mapped to entry 0
    bits: int  # bits per entry: the output range is 0 .. 2^bits - 1
    data: bytes  # the entries, native uint16 (bytes keep the value hashable for the LUT cache)

    @property
    def table(self) -> np.ndarray:
        return np.frombuffer(self.data, dtype=np.uint16)

    @property
    def max_output(self) -> int:
        return (1 << self.bits) - 1


def descriptor(value: object, name: str) -> tuple[int, int, int]:
    """The three descriptor values, with 0 entries meaning 65536."""
    try:
        entries, first, bits = (int(v) for v in value)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise UnsupportedImage(f"invalid {name}: {value!r}") from None
    if not 1 <= bits <= 16:
        raise UnsupportedImage(f"invalid {name}: {bits} bits per entry")
    # Read as SS (implicit VR with a signed Pixel Representation), a count over 32767 turns
    # negative; the count is unsigned in every case.
    return entries % 65536 or 65536, first, bits


def signed_first(first: int, signed_input: bool) -> int:
    """The first mapped value is US or SS as the input is unsigned or signed; files written with
    VR US for a signed input hold the two's complement, which we undo."""
    if signed_input and first >= 1 << 15:
        return first - (1 << 16)
    return first


def entries(data: object, count: int, bits: int, little_endian: bool) -> np.ndarray:
    """LUT Data as uint16: US values come parsed, OW as raw bytes in the file's byte order.

    8-bit entries may be packed two to a 16-bit word (PS3.3 C.7.6.3.1.6 requires it of the
    palettes, and some writers do it for VOI LUTs): then there are half as many words.
    """
    if isinstance(data, bytes | bytearray):
        if bits <= 8 and len(data) == count:
            return np.frombuffer(data, dtype=np.uint8).astype(np.uint16)
        words = np.frombuffer(data[: len(data) // 2 * 2], dtype="<u2" if little_endian else ">u2")
    else:
        values = [data] if isinstance(data, int) else list(data)  # type: ignore[call-overload]
        words = np.asarray(values, dtype=np.int64).astype(np.uint16)
    if bits <= 8 and len(words) == (count + 1) // 2 and count > 1:
        words = words.astype("<u2").view(np.uint8)[:count]  # unpack, low byte first
    return words.astype(np.uint16)


def lut_from_item(item: Dataset, *, signed_input: bool, little_endian: bool, name: str) -> Lut:
    """One Modality LUT or VOI LUT Sequence item (LUT Descriptor + LUT Data) to a Lut."""
    if "LUTDescriptor" not in item or "LUTData" not in item:
        raise UnsupportedImage(f"{name} item without (0028,3002) LUT Descriptor or LUT Data")
    count, first, bits = descriptor(item.LUTDescriptor, f"(0028,3002) LUT Descriptor of {name}")
    table = entries(item.LUTData, count, bits, little_endian)
    if len(table) < count:
        raise UnsupportedImage(
            f"{name}: (0028,3006) LUT Data has {len(table)} entries, the descriptor says {count}"
        )
    table = table[:count]
    # Some writers declare fewer bits than the entries use; trust the entries then.
    bits = max(bits, int(table.max()).bit_length())
    return Lut(signed_first(first, signed_input), bits, np.ascontiguousarray(table).tobytes())


def apply_lut(values: np.ndarray, lut: Lut) -> np.ndarray:
    """Entry (x - first) for each input x, clamped to the first and the last entry."""
    table = lut.table
    wide = values.astype(np.int64 if values.dtype.kind in "iub" else np.float64, copy=False)
    index = wide - lut.first
    np.clip(index, 0, len(table) - 1, out=index)
    return table[index.astype(np.intp)]
