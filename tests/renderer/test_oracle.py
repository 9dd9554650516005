"""An independent renderer as the oracle: every sample file we render, rendered again by dcmtk
(dcm2pnm / dcmj2pnm / dcml2pnm; JPEG 2000 decoded by GDCM first, segmented palettes expanded by
GDCM first) with the same frame and window, must match our lossless 8-bit output at native size
to PSNR >= 45 dB. The synthetic files cover what the corpus lacks (tests/support/synthetic.py).

Variants: "stored" (the file's own VOI: dcmtk picks it with +Wi 1 / +Wl 1; enhanced objects'
Frame VOI LUT, which dcmtk does not read, and the Orthanc fallback width 2^BitsStored are passed
as +Ww), "minmax" (files without a VOI: our MINMAX fallback against +Wm), "linear" and "sigmoid"
(a request window, against +Ww c w and +Ww c w +Wfs). Multi-frame objects also render their last
frame.

dcmtk truncates the continuous output level to 8 bits where we round it to nearest, so about
half the pixels of a windowed image differ by one level: about 51 dB. Anything worse than 45 dB
is a real difference.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.pixels import apply_modality_lut

from renderer.formats import OutputFormat
from renderer.params import DefaultWindow, RenderParams, VoiFunction, Window
from renderer.pipeline import render
from tests.support import corpus, synthetic
from tests.support.images import psnr
from tests.support.oracle import dcmtk_render, header

MIN_PSNR = 45.0
LARGE = 1_200_000  # pixels: bigger files get the "stored" variants only, to keep CI short

HTJ2K = "High-Throughput JPEG 2000: neither free dcmtk nor GDCM 3.0 decodes it"
BIG_ENDIAN_32 = (
    "32-bit cells in OW, Explicit VR Big Endian: dcmtk assembles each value from its two 16-bit "
    "words in the wrong order (it reports values up to 4292345870 where the Little Endian copy "
    "rtdose.dcm holds 795000..1254000); we read the same values as in that copy"
)
# Where the oracle cannot render a file or renders it wrongly, and why. The test checks that each
# exception is still needed, so the list cannot outlive the problem it describes.
EXCEPTIONS: dict[str, str] = {
    "eCT_Supplemental.dcm": "Supplemental Palette Color LUT (Pixel Presentation COLOR): dcmtk "
    "shows the image gray; we colour the stored values in the palette's range (PS3.3 "
    "C.7.6.19). tests/renderer/test_colour.py checks the colours and the gray rest against dcmtk",
    "HTJ2KLossless_08_RGB.dcm": HTJ2K,
    "HTJ2K_08_RGB.dcm": HTJ2K,
    "parametric_map_float.dcm": "Float Pixel Data (7FE0,0008): dcmtk 3.6.7 does not read it "
    "('Missing attribute') and GDCM cannot convert it",
    "pydicom-rtdose_expb.dcm": BIG_ENDIAN_32,
    "pydicom-rtdose_expb_1frame.dcm": BIG_ENDIAN_32,
    "pydicom-SC_rgb_jpeg.dcm": "dcmtk cannot parse the file ('premature end of stream'); "
    "pydicom and GDCM read it",
}


@dataclass(frozen=True)
class Case:
    name: str  # sample name, or "synthetic-<case>"
    path: Path | None  # None: a synthetic file, written by the fixture
    frame: int
    variant: str  # stored, minmax, linear, sigmoid

    @property
    def id(self) -> str:
        return f"{self.name}[{self.variant}" + (f",frame{self.frame + 1}]" if self.frame else "]")


def _grayscale(ds: pydicom.Dataset) -> bool:
    return str(ds.get("PhotometricInterpretation", "")).startswith("MONOCHROME")


def _frame_voi(ds: pydicom.Dataset, frame: int) -> pydicom.Dataset | None:
    """The Frame VOI LUT item of an enhanced object (per-frame, else shared), if it has one."""
    groups = []
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame and frame < len(per_frame):
        groups.append(per_frame[frame])
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        groups.append(shared[0])
    for group in groups:
        seq = group.get("FrameVOILUTSequence")
        if seq and "WindowCenter" in seq[0]:
            return seq[0]  # type: ignore[no-any-return]
    return None


def _has_voi(ds: pydicom.Dataset, frame: int) -> bool:
    return "WindowCenter" in ds or "VOILUTSequence" in ds or _frame_voi(ds, frame) is not None


def _first(value: object) -> float:
    return float(value[0] if isinstance(value, pydicom.multival.MultiValue) else value)  # type: ignore[arg-type,index]


def stored_args(ds: pydicom.Dataset, frame: int) -> tuple[str, ...]:
    """How dcmtk is told to use what the file says (or the Orthanc fallback when it says
    nothing): these are the standard's and Orthanc's rules, stated here independently."""
    if not _grayscale(ds):
        return ()
    if "WindowCenter" in ds:
        return ("+Wi", "1")
    if "VOILUTSequence" in ds:
        return ("+Wl", "1")
    item = _frame_voi(ds, frame)
    if item is not None:
        args = ("+Ww", str(_first(item.WindowCenter)), str(_first(item.WindowWidth)))
        return (*args, "+Wfs") if item.get("VOILUTFunction") == "SIGMOID" else args
    if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
        return ("+Wm",)
    bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 16)))
    if ds.get("ModalityLUTSequence"):
        bits = int(ds.ModalityLUTSequence[0].LUTDescriptor[2])
    width = 2**bits
    return ("+Ww", str(width / 2), str(width))


def request_window(path: Path) -> Window:
    """A window that cuts both ends of the frame's range, taken from pydicom's own decode and
    modality LUT (a third implementation, only used to choose the numbers)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path, force=True)
        values = apply_modality_lut(pydicom.pixels.pixel_array(ds, index=0), ds)
    lo, hi = float(np.min(values)), float(np.max(values))
    return Window(center=lo + 0.45 * (hi - lo), width=max(0.5 * (hi - lo), 2.0))


def corpus_cases() -> list[Case]:
    cases: list[Case] = []
    for s in corpus.samples():
        if not corpus.decodable(s.name):
            continue
        ds = header(s.path)
        frames = max(int(ds.get("NumberOfFrames", 1) or 1), 1)
        cases.append(Case(s.name, s.path, 0, "stored"))
        if frames > 1:
            cases.append(Case(s.name, s.path, frames - 1, "stored"))
        if not _grayscale(ds) or s.name in EXCEPTIONS:
            continue
        if not _has_voi(ds, 0):
            cases.append(Case(s.name, s.path, 0, "minmax"))
        if int(ds.Rows) * int(ds.Columns) <= LARGE:
            cases += [Case(s.name, s.path, 0, "linear"), Case(s.name, s.path, 0, "sigmoid")]
    return cases


def synthetic_cases() -> list[Case]:
    cases = []
    for name in synthetic.CASES:
        frames = 3 if name == "bits1_frames" else 1
        cases += [Case(f"synthetic-{name}", None, f, "stored") for f in range(frames)]
        if name in NO_STORED_VOI:  # "stored" is the 2^BitsStored fallback: also try MINMAX
            cases.append(Case(f"synthetic-{name}", None, 0, "minmax"))
    return cases


NO_STORED_VOI = ("int32_signed", "bits1_frames")


@pytest.fixture(scope="session")
def synthetic_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("synthetic")
    return {f"synthetic-{n}": build(folder / f"{n}.dcm") for n, build in synthetic.CASES.items()}


def ours(path: Path, params: RenderParams) -> np.ndarray:
    with Image.open(io.BytesIO(render(str(path), params).data)) as image:
        return np.asarray(image)


def compare(case: Case, path: Path, workdir: Path) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Our image, dcmtk's (None if it could not render) and dcmtk's route or complaint."""
    ds = header(path)
    params = RenderParams(frame=case.frame, output=OutputFormat.PNG)
    args: tuple[str, ...] = stored_args(ds, case.frame)
    if case.variant == "minmax":
        params = RenderParams(output=OutputFormat.PNG, default_window=DefaultWindow.MINMAX)
        args = ("+Wm",)
    elif case.variant in ("linear", "sigmoid"):
        window = request_window(path)
        args = ("+Ww", repr(window.center), repr(window.width))
        if case.variant == "sigmoid":
            window = Window(window.center, window.width, VoiFunction.SIGMOID)
            args = (*args, "+Wfs")
        params = RenderParams(output=OutputFormat.PNG, window=window)
    theirs = dcmtk_render(path, workdir, case.frame, args)
    return (
        ours(path, params),
        theirs.image,
        theirs.route + (f": {theirs.error}" * bool(theirs.error)),
    )


@pytest.mark.parametrize("case", corpus_cases() + synthetic_cases(), ids=lambda c: c.id)
def test_matches_dcmtk(case: Case, synthetic_files: dict[str, Path], tmp_path: Path) -> None:
    path = case.path or synthetic_files[case.name]
    image, reference, route = compare(case, path, tmp_path)
    if case.name in EXCEPTIONS:
        still_needed = reference is None or psnr(image, reference) < MIN_PSNR
        assert still_needed, f"dcmtk now renders {case.name} like us ({route}): drop the exception"
        return
    assert reference is not None, f"dcmtk could not render it: {route}"
    assert image.shape[:2] == reference.shape[:2], route
    quality = psnr(image, reference)
    assert quality >= MIN_PSNR, f"{quality:.1f} dB against {route}"


def test_exceptions_name_real_samples() -> None:
    names = {s.name for s in corpus.samples()}
    assert set(EXCEPTIONS) <= names


def test_non_square_pixels_scale_like_dcmtk(
    synthetic_files: dict[str, Path], tmp_path: Path
) -> None:
    """Pixel Spacing 0.5\\1.0: pixels half as tall as wide. dcmtk's +a honours the aspect when
    scaling; our rows/columns box does too, so both make the same size from 64 columns."""
    path = synthetic_files["synthetic-non_square_pixels"]
    theirs = dcmtk_render(path, tmp_path, 0, ("+Wi", "1", "+a", "+Sxv", "32"))
    assert theirs.image is not None, theirs.error
    result = render(str(path), RenderParams(columns=32, output=OutputFormat.PNG))
    assert (result.height, result.width) == theirs.image.shape[:2] == (12, 32)
