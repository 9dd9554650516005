"""Small DICOM files written with pydicom for the cases the real corpus lacks: garbage above
Bits Stored, High Bit below the top of the cell, LUT sequences that clamp, SIGMOID, Presentation
LUT Shape, 32-bit and 1-bit cells, Planar Configuration 1, native YBR_FULL, 8- and 16-bit
palettes, non-square pixels. The oracle test renders each with dcmtk too.

Cells are given exactly as they go on disk (numpy, any integer dtype); the writer only orders
their bytes. Content is deterministic: smooth ramps plus seeded noise, covering the whole range.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, generate_uid

CT = "1.2.840.10008.5.1.4.1.1.2"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
ROWS, COLUMNS = 48, 64


def ramp(
    low: int, high: int, shape: tuple[int, ...] = (ROWS, COLUMNS), seed: int = 0
) -> np.ndarray:
    """Values from `low` to `high` (inclusive): a diagonal ramp with noise, as int64."""
    rows, columns = shape[:2]
    y, x = np.mgrid[0:rows, 0:columns]
    base = (x / max(columns - 1, 1) * 0.7 + y / max(rows - 1, 1) * 0.3) * (high - low) + low
    noise = np.random.default_rng(seed).normal(0, (high - low) * 0.02, size=(rows, columns))
    values = np.clip(np.rint(base + noise), low, high).astype(np.int64)
    values[0, 0], values[-1, -1] = low, high
    if len(shape) == 3:
        values = np.stack([np.roll(values, k * 7, axis=1) for k in range(shape[2])], axis=-1)
    return values


def garbage(shape: tuple[int, ...], low_bit: int, bits: int, seed: int = 1) -> np.ndarray:
    """Random bits in bit positions low_bit .. low_bit+bits-1, to OR into cells."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 1 << bits, size=shape, dtype=np.int64) << low_bit


def write(
    path: Path,
    cells: np.ndarray,
    *,
    bits_allocated: int,
    bits_stored: int,
    high_bit: int | None = None,
    signed: bool = False,
    photometric: str = "MONOCHROME2",
    big_endian: bool = False,
    planar: int = 0,
    sop_class: str = CT,
    elements: tuple[tuple[int, str, object], ...] = (),
    **attributes: object,
) -> Path:
    """One image file. `cells` is frames x rows x columns (x samples); 1-bit cells are packed
    LSB first across frames, as PS3.5 8.1.1 packs them. `elements` are (tag, VR, value) for what
    has no keyword (repeating groups such as overlays, 60xx)."""
    samples = 3 if photometric in ("RGB", "YBR_FULL") else 1
    frames, rows, columns = cells.shape[:3]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian if big_endian else ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.PatientID = "WADOFARM-SYNTHETIC"
    ds.Modality = "CT" if sop_class == CT else "OT"
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = photometric
    if samples == 3:
        ds.PlanarConfiguration = planar
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.BitsAllocated = bits_allocated
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1 if high_bit is None else high_bit
    ds.PixelRepresentation = int(signed)
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    for tag, vr, value in elements:
        ds.add_new(tag, vr, value)
    ds.PixelData = _pixel_bytes(cells, bits_allocated, samples, planar, big_endian)
    ds["PixelData"].VR = "OB" if bits_allocated <= 8 else "OW"
    ds.save_as(path, enforce_file_format=True, little_endian=not big_endian, implicit_vr=False)
    return path


def _pixel_bytes(
    cells: np.ndarray, bits_allocated: int, samples: int, planar: int, big_endian: bool
) -> bytes:
    if bits_allocated == 1:
        packed = np.packbits(cells.astype(np.uint8).reshape(-1) & 1, bitorder="little")
        return _even(packed.tobytes())
    if samples == 3 and planar == 1:
        cells = np.moveaxis(cells, -1, -3)  # RRR...GGG...BBB per frame
    width = bits_allocated // 8
    order = ">" if big_endian else "<"
    raw = (cells.astype(np.int64) & ((1 << bits_allocated) - 1)).astype(f"{order}u{width}")
    return _even(raw.tobytes())


def _even(data: bytes) -> bytes:
    return data + b"\0" * (len(data) % 2)


def lut_item(first: int, table: np.ndarray, bits: int, *, signed_first: bool) -> Dataset:
    """A Modality/VOI LUT Sequence item; the descriptor's second value is SS when signed."""
    item = Dataset()
    item.add_new(0x00283002, "SS" if signed_first else "US", [len(table) % 65536, first, bits])
    item.add_new(0x00283006, "US", [int(v) for v in table])
    return item


def palette(first: int, tables: list[np.ndarray], bits: int) -> dict[str, object]:
    """Red/Green/Blue Palette Color LUT descriptors and OW data (8-bit entries packed)."""
    attributes: dict[str, object] = {}
    for colour, table in zip(("Red", "Green", "Blue"), tables, strict=True):
        attributes[f"{colour}PaletteColorLookupTableDescriptor"] = [len(table) % 65536, first, bits]
        raw = table.astype("<u1" if bits == 8 else "<u2").tobytes()
        attributes[f"{colour}PaletteColorLookupTableData"] = _even(raw)
    return attributes


def one(cells: np.ndarray) -> np.ndarray:
    """A single frame as the frames x rows x columns the writer takes."""
    return cells[None]


# The cases, each a function of the output path. Windows are stated in the files (so the oracle
# uses dcmtk's +Wi 1) unless a case is about the fallback.
def masked_unsigned(path: Path) -> Path:
    cells = ramp(0, 4095) | garbage((ROWS, COLUMNS), 12, 4)  # an old overlay in bits 12-15
    return write(
        path, one(cells), bits_allocated=16, bits_stored=12, WindowCenter=1800, WindowWidth=2600
    )


def signed_sign_extended(path: Path) -> Path:
    cells = (ramp(-2048, 2047) & 0xFFF) | garbage((ROWS, COLUMNS), 12, 4)
    return write(
        path,
        one(cells),
        bits_allocated=16,
        bits_stored=12,
        signed=True,
        RescaleSlope=2,
        RescaleIntercept=-1000,
        WindowCenter=-900,
        WindowWidth=5000,
    )


def high_bit_not_top(path: Path) -> Path:
    cells = (ramp(0, 1023) << 4) | garbage((ROWS, COLUMNS), 0, 4) | garbage((ROWS, COLUMNS), 14, 2)
    return write(
        path,
        one(cells),
        bits_allocated=16,
        bits_stored=10,
        high_bit=13,
        WindowCenter=500,
        WindowWidth=700,
    )


def modality_lut(path: Path) -> Path:
    inputs = np.arange(-500, 1500)
    table = np.rint(np.sqrt(inputs - inputs[0]) * 1400).astype(np.int64)  # 0 .. ~62600
    item = lut_item(-500, table, 16, signed_first=True)
    return write(
        path,
        one(ramp(-2048, 2047) & 0xFFFF),  # runs past both ends of the table
        bits_allocated=16,
        bits_stored=12,
        signed=True,
        ModalityLUTSequence=[item],
        WindowCenter=40000,
        WindowWidth=30000,
    )


def voi_lut(path: Path) -> Path:
    inputs = np.arange(512)
    table = np.rint((inputs / 511.0) ** 0.5 * 4095).astype(np.int64)  # 12-bit entries
    return write(
        path,
        one(ramp(0, 1023)),  # below 100 and above 611 clamp
        bits_allocated=16,
        bits_stored=10,
        VOILUTSequence=[lut_item(100, table, 12, signed_first=False)],
    )


def voi_lut_signed_input(path: Path) -> Path:
    table = np.rint(np.linspace(0, 255, 700) ** 1.2 / 255**0.2).astype(np.int64)
    return write(
        path,
        one(ramp(0, 2000)),
        bits_allocated=16,
        bits_stored=12,
        RescaleSlope=1,
        RescaleIntercept=-1024,
        VOILUTSequence=[lut_item(-600, table, 8, signed_first=True)],
    )


def sigmoid_stored(path: Path) -> Path:
    return write(
        path,
        one(ramp(0, 4095)),
        bits_allocated=16,
        bits_stored=12,
        WindowCenter=2000,
        WindowWidth=1500,
        VOILUTFunction="SIGMOID",
    )


def mono2_inverse(path: Path) -> Path:
    return write(
        path,
        one(ramp(0, 4095)),
        bits_allocated=16,
        bits_stored=12,
        WindowCenter=2048,
        WindowWidth=3000,
        PresentationLUTShape="INVERSE",
    )


def mono1_signed(path: Path) -> Path:
    return write(
        path,
        one(ramp(-1000, 3000) & 0xFFFF),
        bits_allocated=16,
        bits_stored=16,
        signed=True,
        photometric="MONOCHROME1",
        WindowCenter=1000,
        WindowWidth=3000,
    )


def mono1_identity(path: Path) -> Path:
    return write(
        path,
        one(ramp(0, 255)),
        bits_allocated=8,
        bits_stored=8,
        photometric="MONOCHROME1",
        PresentationLUTShape="IDENTITY",
        WindowCenter=128,
        WindowWidth=200,
    )


def int32_signed(path: Path) -> Path:
    return write(
        path,
        one(ramp(-3_000_000, 2_000_000) & 0xFFFFFFFF),
        bits_allocated=32,
        bits_stored=32,
        signed=True,
        RescaleSlope=0.001,
        RescaleIntercept=0,
    )


def bits1_frames(path: Path) -> Path:
    rng = np.random.default_rng(7)
    frames = (rng.random((3, 5, 7)) > 0.5).astype(np.int64)  # 35 bits: frames start mid-byte
    return write(path, frames, bits_allocated=1, bits_stored=1, sop_class=SECONDARY_CAPTURE)


def big_endian_signed(path: Path) -> Path:
    return write(
        path,
        one(ramp(-1024, 3071) & 0xFFFF),
        bits_allocated=16,
        bits_stored=16,
        signed=True,
        big_endian=True,
        RescaleSlope=1,
        RescaleIntercept=-24,
        WindowCenter=40,
        WindowWidth=400,
    )


def rgb_planar(path: Path) -> Path:
    return write(
        path,
        one(ramp(0, 255, (ROWS, COLUMNS, 3))),
        bits_allocated=8,
        bits_stored=8,
        photometric="RGB",
        planar=1,
        sop_class=SECONDARY_CAPTURE,
    )


def ybr_full(path: Path) -> Path:
    return write(
        path,
        one(ramp(0, 255, (ROWS, COLUMNS, 3), seed=3)),
        bits_allocated=8,
        bits_stored=8,
        photometric="YBR_FULL",
        sop_class=SECONDARY_CAPTURE,
    )


def rgb_12_bit(path: Path) -> Path:
    return write(
        path,
        one(ramp(0, 4095, (ROWS, COLUMNS, 3), seed=4)),
        bits_allocated=16,
        bits_stored=12,
        photometric="RGB",
        sop_class=SECONDARY_CAPTURE,
    )


def palette_8_bit(path: Path) -> Path:
    index = np.arange(200)
    tables = [index + 50, 255 - index, (index * 7) % 256]
    return write(
        path,
        one(ramp(0, 255)),  # below 10 and above 209 clamp
        bits_allocated=8,
        bits_stored=8,
        photometric="PALETTE COLOR",
        sop_class=SECONDARY_CAPTURE,
        **palette(10, [t.astype(np.int64) for t in tables], 8),
    )


def palette_16_bit(path: Path) -> Path:
    index = np.arange(4096)
    tables = [index * 16, 65535 - index * 16, (index * 97) % 65536]
    return write(
        path,
        one(ramp(0, 5000)),  # past the last entry clamps
        bits_allocated=16,
        bits_stored=16,
        photometric="PALETTE COLOR",
        sop_class=SECONDARY_CAPTURE,
        **palette(0, [t.astype(np.int64) for t in tables], 16),
    )


def non_square_pixels(path: Path) -> Path:
    return write(
        path,
        one(ramp(0, 4095)),
        bits_allocated=16,
        bits_stored=12,
        PixelSpacing=[0.5, 1.0],  # rows 0.5 mm apart, columns 1 mm: pixels half as tall as wide
        WindowCenter=2048,
        WindowWidth=4096,
    )


Builder = Callable[[Path], Path]

CASES: dict[str, Builder] = {
    builder.__name__: builder
    for builder in (
        masked_unsigned,
        signed_sign_extended,
        high_bit_not_top,
        modality_lut,
        voi_lut,
        voi_lut_signed_input,
        sigmoid_stored,
        mono2_inverse,
        mono1_signed,
        mono1_identity,
        int32_signed,
        bits1_frames,
        big_endian_signed,
        rgb_planar,
        ybr_full,
        rgb_12_bit,
        palette_8_bit,
        palette_16_bit,
        non_square_pixels,
    )
}
