"""Colour to 8-bit RGB: YBR_FULL (PS3.3 C.7.6.3.1.2) at hand-computed points, deep samples
scaled, and PALETTE COLOR lookups (C.7.6.3.1.5-6) including segmented tables (C.7.9.2)."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset

from renderer.decoding.stored import StoredFormat
from renderer.display.color import render_color, scale_to_uint8, ybr_full_to_rgb
from renderer.display.palette import apply_palette, expand_segmented, palette_from
from renderer.errors import UnsupportedImage

EIGHT = StoredFormat(8, False)


@pytest.mark.parametrize(
    ("ybr", "rgb"),
    [
        ((128, 128, 128), (128, 128, 128)),  # no chroma: grey
        ((100, 128, 200), (201, 49, 100)),  # R = 100+1.402*72 = 200.944; G = 100-0.714136*72
        ((255, 255, 0), (76, 255, 255)),  # R = 255-1.402*128 = 75.544; G, B clamp at 255
        ((0, 0, 0), (0, 135, 0)),  # G = 0.344136*128 + 0.714136*128 = 135.459; R, B clamp at 0
        ((76, 85, 255), (254, 0, 0)),  # R = 76+1.402*127 = 254.054, G = 0.103, B = -0.196
        ((115, 78, 178), (185, 97, 26)),  # G = 115 + 0.344136*50 - 0.714136*50 = 96.5 exactly
    ],
)
def test_ybr_full_to_rgb_at_hand_computed_points(
    ybr: tuple[int, int, int], rgb: tuple[int, int, int]
) -> None:
    eight = np.array([[ybr]], dtype=np.uint8)
    assert ybr_full_to_rgb(eight, EIGHT)[0, 0].tolist() == list(rgb)
    # 16-bit samples, 12 stored, run the float equations: the same colour, scaled back to 8 bits
    deep = (np.array([[ybr]], dtype=np.uint16) << 4) | 0x8  # halfway between 8-bit steps
    expected = [min(255, (c << 4 | 0x8) >> 4) for c in rgb]
    assert ybr_full_to_rgb(deep, StoredFormat(12, False))[0, 0].tolist() == pytest.approx(
        expected, abs=1
    )


def test_the_8_bit_tables_give_exactly_the_rounded_equations() -> None:
    y, cb, cr = (
        a.ravel() for a in np.meshgrid(np.arange(0, 256, 5), np.arange(256), np.arange(256))
    )
    ybr = np.stack([y, cb, cr], axis=-1).astype(np.uint8)[None]
    # the equations in exact decimal arithmetic (millionths), rounded half up
    wide = ybr[0].astype(np.int64)
    yy, bb, rr = wide[:, 0] * 10**6, wide[:, 1] - 128, wide[:, 2] - 128
    exact = [yy + 1_402_000 * rr, yy - 344_136 * bb - 714_136 * rr, yy + 1_772_000 * bb]
    expected = np.clip((np.stack(exact, axis=-1) + 500_000) // 10**6, 0, 255)
    assert np.array_equal(ybr_full_to_rgb(ybr, EIGHT)[0], expected)


@pytest.mark.parametrize(
    ("sample", "fmt", "level"),
    [
        (4095, StoredFormat(12, False), 255),
        (16, StoredFormat(12, False), 1),
        (0xF010, StoredFormat(12, False), 1),  # garbage above Bits Stored is masked first
        (65535, StoredFormat(16, False), 255),
        (0x8000_0000, StoredFormat(32, False), 128),
        (200, StoredFormat(8, False), 200),
    ],
)
def test_deep_colour_keeps_its_top_8_bits(sample: int, fmt: StoredFormat, level: int) -> None:
    dtype = "u1" if fmt.bits_stored == 8 else "u2" if fmt.bits_stored <= 16 else "u4"
    assert scale_to_uint8(np.array([sample]).astype(dtype), fmt).tolist() == [level]


def test_segmented_palette_expansion() -> None:
    data = np.array(
        [
            *(0, 3, 10, 20, 30),  # discrete: 10 20 30
            *(1, 2, 50),  # linear to 50 in 2 steps: 40 50
            *(2, 1, 0, 0),  # indirect: 1 segment from offset 0 (the discrete one again)
            *(1, 4, 10),  # linear from 30 down to 10 in 4 steps: 25 20 15 10
        ]
    )
    assert expand_segmented(data).tolist() == [10, 20, 30, 40, 50, 10, 20, 30, 25, 20, 15, 10]


@pytest.mark.parametrize("data", [[1, 2, 50], [0, 1, 5, 9, 1, 1]])
def test_malformed_segmented_palettes_are_refused(data: list[int]) -> None:
    with pytest.raises(UnsupportedImage, match="segment"):
        expand_segmented(np.array(data))


def _palette(first: int, bits: int, tables: list[list[int]], segmented: bool = False) -> Dataset:
    ds = Dataset()
    for colour, table in zip(("Red", "Green", "Blue"), tables, strict=True):
        count = len(table) if not segmented else 0
        ds.add_new(f"{colour}PaletteColorLookupTableDescriptor", "US", [count, first, bits])
        raw = np.array(table, dtype="<u1" if bits == 8 else "<u2").tobytes()
        keyword = f"Segmented{colour}" if segmented else colour
        ds.add_new(f"{keyword}PaletteColorLookupTableData", "OW", raw + b"\0" * (len(raw) % 2))
    return ds


@pytest.mark.parametrize(
    ("index", "rgb"),
    [
        (0, (1, 30, 200)),  # below the first mapped value (2): the first entry
        (2, (1, 30, 200)),
        (3, (2, 20, 100)),
        (4, (3, 10, 0)),
        (200, (3, 10, 0)),  # past the last entry: the last entry
    ],
)
def test_palette_lookup_with_8_bit_packed_entries(index: int, rgb: tuple[int, ...]) -> None:
    ds = _palette(2, 8, [[1, 2, 3], [30, 20, 10], [200, 100, 0]])
    cells = np.array([[index]], dtype=np.uint8)
    assert apply_palette(cells, palette_from(ds, signed=False), EIGHT)[0, 0].tolist() == list(rgb)


def test_palette_16_bit_entries_keep_their_top_byte_and_16_bit_indices_work() -> None:
    ds = _palette(0, 16, [[0x0000, 0xABCD, 0xFFFF]] * 3)
    cells = np.array([[0, 1, 2, 60000]], dtype=np.uint16)
    out = apply_palette(cells, palette_from(ds, signed=False), StoredFormat(16, False))
    assert out[0, :, 0].tolist() == [0x00, 0xAB, 0xFF, 0xFF]


def test_segmented_palette_lookup() -> None:
    segments = [0, 2, 0x0000, 0x1000, 1, 2, 0x3000]  # 0, 0x10, 0x20, 0x30 (>> 8)
    ds = _palette(0, 16, [segments] * 3, segmented=True)
    cells = np.array([[0, 1, 2, 3, 9]], dtype=np.uint8)
    out = apply_palette(cells, palette_from(ds, signed=False), EIGHT)
    assert out[0, :, 1].tolist() == [0x00, 0x10, 0x20, 0x30, 0x30]


def test_a_palette_without_data_names_what_is_missing() -> None:
    ds = _palette(0, 8, [[1, 2]] * 3)
    del ds.GreenPaletteColorLookupTableData
    with pytest.raises(UnsupportedImage, match="Green Palette Color LUT Data"):
        palette_from(ds, signed=False)


def test_unknown_photometric_interpretations_are_named() -> None:
    cells = np.zeros((2, 2, 3), np.uint8)
    with pytest.raises(UnsupportedImage, match=r"\(0028,0004\) Photometric Interpretation CMYK"):
        render_color(None, EIGHT, "CMYK", cells, (slice(None), slice(None)))
