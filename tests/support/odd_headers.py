"""Files that break a rule of the Image Pixel module or of the file format, yet whose pixels have
one reading, so Orthanc renders them: a Type 1 attribute missing or empty, a value of the wrong
case or out of range, no file meta information. Each is made with pydicom from a synthetic
12-bit ramp that carries its own window, so every renderer uses the same one.
"""

from __future__ import annotations

import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset

from tests.support import synthetic

WINDOW = {"WindowCenter": 2048, "WindowWidth": 4096}


@dataclass(frozen=True)
class OddFile:
    name: str
    path: Path
    frames: int

    @property
    def dataset(self) -> Dataset:
        return dcmread(self.path, force=True)


def _ramp_file(path: Path, frames: int = 1) -> Path:
    cells = np.stack([synthetic.ramp(0, 4095, seed=k) for k in range(frames)])
    return synthetic.write(path, cells, bits_allocated=16, bits_stored=12, **WINDOW)


def _rgb_file(path: Path) -> Path:
    cells = synthetic.ramp(0, 255, (synthetic.ROWS, synthetic.COLUMNS, 3))[None]
    return synthetic.write(path, cells, bits_allocated=8, bits_stored=8, photometric="RGB")


def _edit(path: Path, change: Callable[[Dataset], None], *, file_format: bool = True) -> None:
    ds = dcmread(path)
    change(ds)
    ds.save_as(path, enforce_file_format=file_format)


def _delete(*keywords: str) -> Callable[[Dataset], None]:
    def change(ds: Dataset) -> None:
        for keyword in keywords:
            delattr(ds, keyword)

    return change


def _set(**values: object) -> Callable[[Dataset], None]:
    def change(ds: Dataset) -> None:
        for keyword, value in values.items():
            setattr(ds, keyword, value)

    return change


def _without_meta(path: Path, *, implicit: bool) -> None:
    """The bare data set: no preamble, no "DICM", no group 0002 (PS3.10 7.1 made optional by
    older writers)."""
    ds = dcmread(path)
    ds.file_meta = Dataset()
    ds.save_as(path, implicit_vr=implicit, little_endian=True, enforce_file_format=False)
    data = path.read_bytes()
    if data[128:132] == b"DICM":
        path.write_bytes(data[132:])


def _without_meta_uids(ds: Dataset) -> None:
    del ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID


def _edited(
    change: Callable[[Dataset], None],
    frames: int = 1,
    *,
    rgb: bool = False,
    file_format: bool = True,
) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        _edit(_rgb_file(path) if rgb else _ramp_file(path, frames), change, file_format=file_format)

    return make


def _bare(implicit: bool) -> Callable[[Path], None]:
    return lambda path: _without_meta(_ramp_file(path), implicit=implicit)


# name: (frames to compare, how the file is made)
CASES: dict[str, tuple[int, Callable[[Path], None]]] = {
    "multiframe_no_pixel_representation_samples": (
        3,
        _edited(_delete("PixelRepresentation", "SamplesPerPixel"), frames=3),
    ),
    "no_pixel_representation_samples": (
        1,
        _edited(_delete("PixelRepresentation", "SamplesPerPixel")),
    ),
    "no_photometric": (1, _edited(_delete("PhotometricInterpretation"))),
    "empty_pixel_representation": (1, _edited(_set(PixelRepresentation=None))),
    "lower_case_photometric": (1, _edited(_set(PhotometricInterpretation="monochrome2"))),
    "bits_stored_past_bits_allocated": (1, _edited(_set(BitsStored=17))),
    # Two frames of data; Orthanc sees one (wadofarm serves both), so only the first is compared.
    "empty_number_of_frames": (1, _edited(_set(NumberOfFrames=None), frames=2)),
    "rgb_no_samples_planar": (
        1,
        _edited(_delete("SamplesPerPixel", "PlanarConfiguration"), rgb=True),
    ),
    "no_media_storage_uids": (1, _edited(_without_meta_uids, file_format=False)),
    "no_file_meta_explicit": (1, _bare(implicit=False)),
    "no_file_meta_implicit": (1, _bare(implicit=True)),
}


def _retyped(tags: tuple[int, ...], vr: bytes) -> Callable[[Path], None]:
    """The ramp file with the Explicit VR of the Image Pixel elements `tags` (group 0028, short
    VRs) rewritten as `vr`: SS for US is a wrong VR; UN keeps a 4-byte length (PS3.5 7.1.2), as
    a file that went through an Implicit VR hop and back carries them."""

    def make(path: Path) -> None:
        data = bytearray(_ramp_file(path).read_bytes())
        out = bytearray()
        pos = data.find(b"\x28\x00")  # the first group 0028 element (the meta group has none)
        out += data[:pos]
        while data[pos : pos + 2] == b"\x28\x00":
            (group, element), old, (length,) = (
                struct.unpack_from("<HH", data, pos),
                bytes(data[pos + 4 : pos + 6]),
                struct.unpack_from("<H", data, pos + 6),
            )
            value = data[pos + 8 : pos + 8 + length]
            tag = group << 16 | element
            if tag not in tags or old == vr:
                out += data[pos : pos + 8 + length]
            elif vr == b"UN":
                out += struct.pack("<HH", group, element) + b"UN\0\0" + struct.pack("<I", length)
                out += value
            else:
                out += struct.pack("<HH", group, element) + vr + struct.pack("<H", length) + value
            pos += 8 + length
        out += data[pos:]
        path.write_bytes(bytes(out))

    return make


IMAGE_PIXEL = tuple(range(0x00280002, 0x00280104))  # Samples per Pixel .. Pixel Representation
# Files whose header has odd VRs: wadofarm reads them as it reads the intact file. Orthanc 1.10
# (with the GDCM plugin) aborts on rendering the first (a GDCM assertion on the VR of Rows), and
# windows the second as if Bits Stored were missing: these are compared with the ramp itself.
ODD_VRS: dict[str, Callable[[Path], None]] = {
    "rows_with_vr_ss": _retyped((0x00280010,), b"SS"),
    "image_pixel_as_un": _retyped(IMAGE_PIXEL, b"UN"),
}


def build(folder: Path) -> dict[str, OddFile]:
    """Every odd file, written into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, make in ODD_VRS.items():
        path = folder / f"{name}.dcm"
        make(path)
        files[name] = OddFile(name, path, 1)
    for name, (frames, make) in CASES.items():
        path = folder / f"{name}.dcm"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom's, about the values set on purpose
            make(path)
        files[name] = OddFile(name, path, frames)
    return files
