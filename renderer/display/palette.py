"""PALETTE COLOR: pixel values through the Red/Green/Blue Palette Color LUTs to 8-bit RGB
(PS3.3 C.7.6.3.1.5-6), including Segmented Palette Color LUT Data (C.7.9.2).

Each channel has its own descriptor with the rules every DICOM LUT follows (renderer.display.lut):
0 entries means 65536, values below the first mapped one take the first entry, values past the
last take the last. Entries of 16 bits are scaled to 8 by dropping the low byte.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from renderer.decoding.elements import Elements
from renderer.decoding.stored import StoredFormat, stored_values
from renderer.display.lut import Lut, apply_lut, descriptor, entries, signed_first
from renderer.errors import UnsupportedImage

CHANNELS = ("Red", "Green", "Blue")


@dataclass(frozen=True, slots=True)
class Palette:
    red: Lut
    green: Lut
    blue: Lut


def expand_segmented(data: np.ndarray) -> np.ndarray:
    """Segmented LUT Data (C.7.9.2) to the plain table, as int64.

    Segments are an opcode, a length and a payload: 0 discrete (length values), 1 linear (length
    values ending at the one payload value, from the previous segment's last value, C.7.9.2.2),
    2 indirect (copy `length` segments from an offset, C.7.9.2.3, counted in entries as pydicom
    reads it). The segments follow each other, so one loop reads their layout (real tables hold
    thousands of short ones); numpy then writes all the entries at once.
    """
    words = np.asarray(data, dtype=np.int64)
    w: list[int] = words.tolist()
    # (0, first word, 0, count) for discrete runs, (1, from, to, count) for linear ones
    pieces: list[tuple[int, int, int, int]] = []
    last: int | None = None

    def run(start: int, limit: int | None) -> None:
        nonlocal last
        pos, done = start, 0
        while pos + 1 < len(w) and (limit is None or done < limit):
            opcode, length = w[pos], w[pos + 1]
            pos += 2
            if opcode == 0:
                length = min(length, len(w) - pos)
                if length > 0:
                    pieces.append((0, pos, 0, length))
                    last = w[pos + length - 1]
                pos += length
            elif opcode == 1:
                if last is None or pos >= len(w):
                    raise UnsupportedImage("segmented palette starts with a linear segment")
                if length > 0:
                    pieces.append((1, last, w[pos], length))
                    last = w[pos]
                pos += 1
            elif opcode == 2:
                if limit is not None or last is None or pos + 1 >= len(w):
                    raise UnsupportedImage("segmented palette with a misplaced indirect segment")
                offset = w[pos] | (w[pos + 1] << 16)  # least significant word first
                pos += 2
                run(offset, length)
            else:
                raise UnsupportedImage(f"segmented palette with unknown opcode {opcode}")
            done += 1

    run(0, None)
    if not pieces:
        return np.zeros(0, dtype=np.int64)
    kind, a, b, count = np.array(pieces, dtype=np.int64).T
    segment = np.repeat(np.arange(len(pieces)), count)
    within = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    out = np.empty(len(segment), dtype=np.int64)
    discrete = kind[segment] == 0
    out[discrete] = words[(a[segment] + within)[discrete]]
    linear = ~discrete
    y0, y1, n = a[segment][linear], b[segment][linear], count[segment][linear]
    out[linear] = np.floor(y0 + (y1 - y0) * (within[linear] + 1) / n + 0.5).astype(np.int64)
    return out


@functools.lru_cache(maxsize=8)
def _expanded(raw: bytes, size: str) -> np.ndarray:
    """Expansion takes a loop over the segments (~10 ms for a real 16-bit table); the palette
    is the same for every image of a device, so each worker expands it once."""
    expanded = expand_segmented(np.frombuffer(raw[: len(raw) // 2 * 2], dtype=size))
    table: np.ndarray = np.clip(expanded, 0, 0xFFFF).astype(np.uint16)
    table.flags.writeable = False
    return table


def _channel(ds: Elements, colour: str, signed: bool, little_endian: bool) -> Lut:
    desc_name = f"{colour}PaletteColorLookupTableDescriptor"
    if desc_name not in ds:
        raise UnsupportedImage(f"PALETTE COLOR without the {colour} Palette Color LUT Descriptor")
    desc = ds.get(desc_name)
    count, first, bits = descriptor(desc, f"{colour} Palette Color LUT Descriptor")
    plain = ds.get(f"{colour}PaletteColorLookupTableData")
    segmented = ds.get(f"Segmented{colour}PaletteColorLookupTableData")
    if plain is not None:
        table = entries(plain, count, bits, little_endian)
    elif segmented is not None:
        size = "u1" if bits <= 8 else ("<u2" if little_endian else ">u2")
        table = _expanded(bytes(segmented), size)
    else:
        raise UnsupportedImage(f"PALETTE COLOR without {colour} Palette Color LUT Data")
    # Both are uint16 here: a short table is padded with its last entry.
    if len(table) < count:
        pad = np.full(count - len(table), table[-1] if len(table) else 0, dtype=np.uint16)
        table = np.concatenate([table, pad])
    table = table[:count]
    bits = max(bits, int(table.max()).bit_length())
    return Lut(signed_first(first, signed), bits, table.tobytes())


def palette_from(ds: Elements, *, signed: bool) -> Palette:
    little_endian = bool(ds.original_encoding[1] in (True, None))
    red, green, blue = (_channel(ds, c, signed, little_endian) for c in CHANNELS)
    return Palette(red, green, blue)


def channel_to_uint8(values: np.ndarray, lut: Lut) -> np.ndarray:
    """Entries of `lut.bits` bits to 8: the top 8 bits."""
    shift = max(lut.bits - 8, 0)
    return (values >> shift).astype(np.uint8) if shift else values.astype(np.uint8)


def palette_levels(cells: np.ndarray, palette: Palette, stored: StoredFormat) -> np.ndarray:
    values = stored_values(cells, stored)
    luts = (palette.red, palette.green, palette.blue)
    channels = [channel_to_uint8(apply_lut(values, lut), lut) for lut in luts]
    return np.stack(channels, axis=-1)


@functools.lru_cache(maxsize=16)
def palette_table(
    palette: Palette, stored: StoredFormat, dtype: np.dtype[np.generic]
) -> np.ndarray:
    """The RGB of every possible cell of `dtype`, indexed by the cell's unsigned bits."""
    every_cell = np.arange(1 << (8 * dtype.itemsize), dtype=f"u{dtype.itemsize}")
    table = palette_levels(every_cell.view(dtype), palette, stored)
    table.flags.writeable = False
    return table


def apply_palette(cells: np.ndarray, palette: Palette, stored: StoredFormat) -> np.ndarray:
    dtype = cells.dtype
    if dtype.kind not in "iu" or dtype.itemsize > 2:
        raise UnsupportedImage(f"PALETTE COLOR with {8 * dtype.itemsize}-bit indices")
    table = palette_table(palette, stored, dtype)
    return np.take(table, cells.view(f"u{dtype.itemsize}"), axis=0)
