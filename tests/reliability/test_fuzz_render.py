"""Fuzzing the renderer with mutated corpus files, through the real worker pool: bytes flipped,
overwritten, cut and repeated, and header elements set to hostile values. Every render must end
within the render time-out in an image or in one of the renderer's own errors, and no worker may
die or hang."""

from __future__ import annotations

import asyncio
import io
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import pydicom
import pytest
from hypothesis import event, given, note
from hypothesis import strategies as st
from PIL import Image
from pydicom.dataelem import DataElement

from renderer import errors
from renderer.formats import OutputFormat
from renderer.params import DefaultWindow, Region, RenderParams, RenderResult, Window
from renderer.process.pool import RenderPool
from tests.reliability.fuzz import fuzz_settings
from tests.support import corpus

# One small file per codec and pixel layout (each under 300 kB, so a case is milliseconds).
SEEDS = (
    "CT_small.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_RLE.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "MR_small_jp2klossless.dcm",
    "JPGExtended.dcm",
    "SC_jpeg_no_color_transform.dcm",
    "SC_rgb_jpeg_dcmtk.dcm",
    "SC_rgb_jpeg_gdcm.dcm",
    "SC_rgb_rle_2frame.dcm",
    "SC_ybr_full_422_uncompressed.dcm",
    "693_J2KI.dcm",
    "rtdose.dcm",
    "image_dfl.dcm",
    "emri_small_jpeg_ls_lossless.dcm",
    "JPEGBaseline_1s_1f_u_08_08.dcm",
    "parametric_map_float.dcm",
    "liver.dcm",
    "JLSL_16_15_1_1F.dcm",
    "vlut_04.dcm",
    "examples_palette.dcm",
    "HTJ2K_08_RGB.dcm",
)
RENDER_TIMEOUT = 5.0
# The renderer's verdicts on a bad file; a dead worker or a time-out is a finding.
VERDICTS = (
    errors.NotDicom,
    errors.UnsupportedImage,
    errors.ImageTooLarge,
    errors.FrameOutOfRange,
    errors.OutputTooLarge,
    errors.NotOffered,  # a PDF, HTML or video asked of an object that has none
)
HOSTILE_INTS = [0, 1, 2, 3, 7, 8, 12, 15, 16, 17, 31, 32, 33, 64, 255, 256, 32767, 65535]
HOSTILE_TEXT = ["", "0", "-1", "1e308", "-1e308", "nan", "inf", "abc", "999999999", "1\\2\\3"]
ELEMENTS = {  # keyword: VR and hostile values
    "Rows": ("US", HOSTILE_INTS),
    "Columns": ("US", HOSTILE_INTS),
    "BitsAllocated": ("US", HOSTILE_INTS),
    "BitsStored": ("US", HOSTILE_INTS),
    "HighBit": ("US", HOSTILE_INTS),
    "PixelRepresentation": ("US", [0, 1, 2, 65535]),
    "SamplesPerPixel": ("US", [0, 1, 2, 3, 4, 65535]),
    "PlanarConfiguration": ("US", [0, 1, 2, 65535]),
    "NumberOfFrames": ("IS", HOSTILE_TEXT),
    "PhotometricInterpretation": (
        "CS",
        [
            "",
            "MONOCHROME1",
            "MONOCHROME2",
            "RGB",
            "PALETTE COLOR",
            "YBR_FULL",
            "YBR_FULL_422",
            "YBR_ICT",
            "YBR_RCT",
            "HSV",
            "XYZ",
        ],
    ),
    "WindowCenter": ("DS", HOSTILE_TEXT),
    "WindowWidth": ("DS", HOSTILE_TEXT),
    "RescaleSlope": ("DS", HOSTILE_TEXT),
    "RescaleIntercept": ("DS", HOSTILE_TEXT),
    "VOILUTFunction": ("CS", ["", "LINEAR", "LINEAR_EXACT", "SIGMOID", "BOGUS"]),
    "RedPaletteColorLookupTableDescriptor": ("US", [[0, 0, 8], [65535, 0, 16], [3, 0, 0]]),
}
TRANSFER_SYNTAXES = [
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.5",
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.201",
    "1.2.3.4",
]


@cache
def seed(name: str) -> bytes:
    return corpus.sample(name).path.read_bytes()


@st.composite
def byte_mutant(draw: st.DrawFn) -> bytes:
    """Raw damage: most of it in the first 2 kB, where the header lives."""
    data = bytearray(seed(draw(st.sampled_from(SEEDS))))
    for _ in range(draw(st.integers(1, 6))):
        span = len(data) if draw(st.booleans()) else min(len(data), 2048)
        pos = draw(st.integers(0, max(span - 1, 0)))
        op = draw(st.sampled_from(["flip", "set", "cut", "insert", "repeat", "zero"]))
        note(f"{op} at {pos}")
        if op == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[pos] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0xFF, 0xFE]))
        elif op == "cut":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "repeat":
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 512))]
        else:
            data[pos : pos + draw(st.integers(1, 64))] = bytes(min(64, len(data) - pos))
        if not data:
            break
    return bytes(data)


def mutate(draw: st.DrawFn, ds: pydicom.Dataset) -> None:
    keyword = draw(st.sampled_from([*ELEMENTS, "TransferSyntaxUID", "delete"]))
    note(f"header: {keyword}")
    if keyword == "TransferSyntaxUID":
        ds.file_meta.TransferSyntaxUID = draw(st.sampled_from(TRANSFER_SYNTAXES))
    elif keyword == "delete":
        victim = draw(st.sampled_from([k for k in ELEMENTS if k in ds] or ["Rows"]))
        if victim in ds:
            del ds[victim]
    else:
        vr, values = ELEMENTS[keyword]
        value = draw(st.sampled_from(values))
        tag = pydicom.datadict.tag_for_keyword(keyword)
        if isinstance(value, str):  # as raw bytes: a bad value is the reader's problem
            ds[keyword] = DataElement(tag, "UN", value.encode() + b" " * (len(value) % 2))
        else:
            ds[keyword] = DataElement(tag, vr, value)


@st.composite
def header_mutant(draw: st.DrawFn) -> bytes:
    """A well-formed file whose Image Pixel module lies."""
    name = draw(st.sampled_from(SEEDS))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(io.BytesIO(seed(name)), force=True)
        try:
            for _ in range(draw(st.integers(1, 3))):
                mutate(draw, ds)
            out = io.BytesIO()
            ds.save_as(out)
        except Exception:  # pydicom refuses some values itself; nothing to render then
            event("header mutant pydicom cannot write")
            return seed(name)
    return out.getvalue()


PARAMS = st.builds(
    RenderParams,
    frame=st.sampled_from([0, 0, 0, 0, 1, 2]),
    rows=st.none() | st.integers(1, 600),
    columns=st.none() | st.integers(1, 600),
    region=st.none()
    | st.tuples(st.floats(0, 0.4), st.floats(0, 0.4), st.floats(0.6, 1), st.floats(0.6, 1)).map(
        lambda r: Region(*r)
    ),
    window=st.none()
    | st.tuples(st.floats(-1e5, 1e5), st.floats(1e-3, 1e6)).map(lambda w: Window(*w)),
    output=st.sampled_from(list(OutputFormat)),
    quality=st.integers(1, 100),
    default_window=st.sampled_from(list(DefaultWindow)),
    max_pixels=st.just(20_000_000),
)
CASE = st.tuples(st.one_of(byte_mutant(), header_mutant()), PARAMS)


@dataclass
class Fuzzing:
    loop: asyncio.AbstractEventLoop
    pool: RenderPool
    cases: int = 0
    unnamed: int = 0  # verdicts from the worker's safety net


@pytest.fixture(scope="module")
def fuzzing() -> Iterator[Fuzzing]:
    loop = asyncio.new_event_loop()
    pool = RenderPool(2, render_timeout=RENDER_TIMEOUT, max_queue=8)
    loop.run_until_complete(pool.start())
    state = Fuzzing(loop, pool)
    yield state
    print(
        f"renderer fuzz: {state.cases} mutated files, {pool.stats.restarts} worker restarts, "
        f"{state.unnamed} verdicts from the worker's safety net"
    )
    loop.run_until_complete(pool.close())
    loop.close()


async def timed(pool: RenderPool, data: bytes, params: RenderParams) -> tuple[object, float]:
    started = time.monotonic()
    try:
        result: object = await pool.render(data, params)
    except errors.RenderError as exc:
        result = exc
    return result, time.monotonic() - started


@fuzz_settings(1500)
@given(batch=st.lists(CASE, min_size=2, max_size=2))
def test_mutated_files_end_in_an_image_or_a_verdict(
    fuzzing: Fuzzing, batch: list[tuple[bytes, RenderParams]]
) -> None:
    """Two at a time, one per worker."""

    async def both() -> list[tuple[object, float]]:
        return await asyncio.gather(*(timed(fuzzing.pool, data, params) for data, params in batch))

    outcomes = fuzzing.loop.run_until_complete(both())
    fuzzing.cases += len(batch)
    for (_data, params), (result, seconds) in zip(batch, outcomes, strict=True):
        assert seconds < RENDER_TIMEOUT + 1.0
        if isinstance(result, RenderResult):
            event(f"rendered {result.output.value}")
            if result.output.is_picture:
                with Image.open(io.BytesIO(result.data)) as image:
                    assert image.size == (result.width, result.height)
            elif result.output is OutputFormat.DICOM:  # no transferSyntax: the file itself
                assert bytes(result.data) == _data
            else:  # a document the object holds: a mutant keeps its PDF, report or video
                assert result.data
            continue
        assert isinstance(result, VERDICTS), f"{type(result).__name__}: {result} ({params})"
        event(f"{type(result).__name__}")
        if str(result).startswith("render failed:"):
            # The worker's safety net caught an exception the renderer did not name (pydicom
            # converting a mangled element late, say): still one 415 with the reason, and the
            # worker lives on. Counted, so a run shows how often the net is needed.
            fuzzing.unnamed += 1
            event(f"safety net: {str(result).split(':')[1].strip()}")
