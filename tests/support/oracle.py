"""Independent renderers for the oracle tests: dcmtk's dcm2pnm family (Debian `dcmtk`), with
GDCM's gdcmconv (Debian `libgdcm-tools`) decoding what free dcmtk cannot (JPEG 2000) and
expanding segmented palettes, which dcmtk does not read.

Each render runs a real process on a real file and returns the PGM/PPM it wrote, at native
size, 8 bits. In CI a missing program fails the test (tests/support/tools.py).
"""

from __future__ import annotations

import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image

from tests.support.tools import require_program

JPEG = {
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
}
JPEG_LS = {"1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"}
JPEG_2000 = {
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.92",
    "1.2.840.10008.1.2.4.93",
}
TIMEOUT = 120  # seconds for one external render; the largest corpus file takes well under 1


@dataclass(frozen=True)
class Rendered:
    image: np.ndarray | None
    error: str  # the program's complaint when it wrote nothing
    route: str  # which programs made it, for messages


def header(path: Path) -> pydicom.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path, stop_before_pixels=True, force=True)


def _run(command: list[str]) -> str:
    """Run one program; its complaint (last line of stderr, else stdout) on failure."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    if done.returncode == 0:
        return ""
    text = (done.stderr or done.stdout).strip()
    return text.splitlines()[-1] if text else f"exit status {done.returncode}"


def _prepare(path: Path, workdir: Path) -> tuple[Path, str, str]:
    """The file dcmtk should read, the route taken, and an error if preparing failed."""
    ds = header(path)
    ts = str(ds.file_meta.get("TransferSyntaxUID", ""))
    if ts in JPEG_2000:
        out = workdir / f"{path.stem}.gdcm-raw.dcm"
        error = _run([require_program("gdcmconv"), "--raw", str(path), str(out)])
        return out, "gdcmconv --raw | dcm2pnm", error
    if "SegmentedRedPaletteColorLookupTableData" in ds:
        out = workdir / f"{path.stem}.gdcm-lut.dcm"
        error = _run([require_program("gdcmconv"), "--decompress-lut", str(path), str(out)])
        return out, "gdcmconv --decompress-lut | dcm2pnm", error
    return path, "", ""


def dcmtk_render(
    path: Path,
    workdir: Path,
    frame: int = 0,
    args: tuple[str, ...] = (),
    overlays: bool = True,
) -> Rendered:
    """dcmtk's 8-bit rendering of frame `frame` (0-based) with extra dcm2pnm options (`+Wi 1`,
    `+Ww c w`, `+Wm`, `+Wfs`...). Overlays are drawn as dcmtk draws them by default (every
    plane; graphics replaced at full white, ROI surroundings dimmed), as wadofarm does; `-O`
    when `overlays` is False."""
    workdir.mkdir(parents=True, exist_ok=True)
    source, route, error = _prepare(path, workdir)
    if error:
        return Rendered(None, error, route)
    ts = str(header(source).file_meta.get("TransferSyntaxUID", ""))
    tool = "dcmj2pnm" if ts in JPEG else "dcml2pnm" if ts in JPEG_LS else "dcm2pnm"
    route = f"{route.replace('dcm2pnm', tool) if route else tool} {' '.join(args)}".strip()
    out = workdir / f"{path.stem}.{frame}.pnm"
    out.unlink(missing_ok=True)
    shown = () if overlays else ("-O",)
    command = [require_program(tool), "-q", *shown, "+F", str(frame + 1), *args, str(source)]
    error = _run([*command, str(out)])
    if error or not out.exists():
        return Rendered(None, error or "no output written", route)
    with Image.open(out) as image:
        return Rendered(np.asarray(image), "", route)
