"""A synthetic CT series that looks like a chest scan to the codecs and the display pipeline.

512x512 signed 16-bit slices with Rescale Slope/Intercept and a Window Center/Width (PS3.3
C.8.2.1, C.11.2): air, a body ellipse of soft tissue, two lungs whose size follows the slice
position, a spine and ribs of bone, a circular field of view padded with -2000, and a little
noise, so that lossless JPEG 2000 compresses it about as well as a real CT. The same slices are
also written JPEG 2000 lossless and JPEG baseline (8-bit, coarser rescale: baseline cannot hold
16 bits). Files are cached by content version, so repeat runs skip generation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import simplejpeg
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    generate_uid,
)

logger = logging.getLogger(__name__)

VERSION = 2  # bump when the content changes, so cached files are rebuilt
SIZE = 512
CACHE = Path.home() / ".cache" / "wadofarm-bench"  # generated series, kept between runs
KINDS = ("native", "j2k", "jpeg")  # uncompressed, JPEG 2000 lossless, JPEG baseline 8-bit
ROOT = "1.2.826.0.1.3680043.8.498."  # pydicom's UID root


@dataclass(frozen=True, slots=True)
class Series:
    kind: str
    study_uid: str
    series_uid: str
    object_uids: tuple[str, ...]
    files: tuple[Path, ...]


def phantom(z: float, rng: np.random.Generator) -> np.ndarray:
    """Hounsfield units of one slice at relative height z in 0..1."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    x = (x - SIZE / 2) / (SIZE / 2)
    y = (y - SIZE / 2) / (SIZE / 2)
    hu = np.full((SIZE, SIZE), -1000.0, dtype=np.float32)
    body = (x / 0.86) ** 2 + (y / 0.62) ** 2 < 1
    hu[body] = 40.0 + 25.0 * np.cos(6 * x[body]) * np.sin(4 * y[body])  # fat/muscle texture
    fat = body & ((x / 0.80) ** 2 + (y / 0.56) ** 2 > 1)
    hu[fat] = -90.0
    lung_scale = 0.16 + 0.08 * np.sin(np.pi * z)  # lungs widest mid-series
    for side in (-1, 1):
        lung = ((x - side * 0.4) / lung_scale) ** 2 + ((y + 0.02) / (lung_scale * 1.7)) ** 2 < 1
        hu[lung] = -820.0 + 40.0 * np.sin(20 * x[lung] + 13 * y[lung] + 9 * z)
    heart = ((x + 0.08) / 0.22) ** 2 + ((y + 0.05) / 0.2) ** 2 < 1
    hu[heart] = 35.0 + 150.0 * (z > 0.55) * (z < 0.7)  # contrast in some slices
    spine = (x / 0.09) ** 2 + ((y - 0.42) / 0.08) ** 2 < 1
    hu[spine] = 700.0
    angle = np.arctan2(y, x)
    radius = np.hypot(x / 0.84, y / 0.60)
    ribs = (np.abs(radius - 0.93) < 0.025) & (np.sin(10 * angle + 3 * z) > 0.6) & body
    hu[ribs] = 900.0
    hu += rng.normal(0.0, 12.0, hu.shape).astype(np.float32)
    hu[(x**2 + y**2) > 1.0] = -2000.0  # outside the reconstruction circle: padding
    return hu


def _dataset(index: int, study_uid: str, series_uid: str, object_uid: str, kind: str) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = UID(object_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = object_uid
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.PatientName = "Bench^Synthetic"
    ds.PatientID = "WADOFARM-BENCH"
    ds.Modality = "CT"
    ds.SeriesDescription = f"synthetic chest CT ({kind})"
    ds.SeriesNumber = 1 + KINDS.index(kind)
    ds.InstanceNumber = index + 1
    ds.SliceThickness = "1.25"
    ds.ImagePositionPatient = [-250, -250, -index * 1.25]
    ds.Rows = ds.Columns = SIZE
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.WindowCenter = "40"
    ds.WindowWidth = "400"
    return ds


def write_slice(index: int, count: int, kind: str, uids: tuple[str, str, str], path: Path) -> None:
    study_uid, series_uid, object_uid = uids
    rng = np.random.default_rng(index)  # the same anatomy and noise in every kind
    hu = phantom(index / max(1, count - 1), rng)
    ds = _dataset(index, study_uid, series_uid, object_uid, kind)
    if kind == "jpeg":
        # 8 HU per level: -1024..1016 HU in 0..255, padding clipped to 0.
        stored = np.clip(np.rint((hu + 1024.0) / 8.0), 0, 255).astype(np.uint8)
        ds.BitsAllocated = ds.BitsStored = 8
        ds.HighBit = 7
        ds.PixelRepresentation = 0
        ds.RescaleSlope, ds.RescaleIntercept = "8", "-1024"
        ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
        jpeg = simplejpeg.encode_jpeg(stored[:, :, None], 90, colorspace="GRAY")
        ds.PixelData = encapsulate([bytes(jpeg)])
        ds["PixelData"].VR = "OB"
        ds.LossyImageCompression = "01"
        ds.LossyImageCompressionMethod = "ISO_10918_1"
    else:
        stored = np.rint(hu + 1024.0).astype(np.int16)
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.RescaleSlope, ds.RescaleIntercept = "1", "-1024"
        ds.PixelPaddingValue = -976  # -2000 HU
        ds.PixelData = stored.tobytes()
        if kind == "j2k":
            ds.compress(JPEG2000Lossless, stored, generate_instance_uid=False)
    ds.save_as(path, enforce_file_format=True)


def _uids(count: int, kind: str) -> tuple[str, str, tuple[str, ...]]:
    """Deterministic UIDs, so a cached series is the same objects run after run."""
    seed = f"wadofarm-bench-v{VERSION}-{count}-{kind}"
    study = generate_uid(ROOT, [seed, "study"])
    series = generate_uid(ROOT, [seed, "series"])
    objects = tuple(generate_uid(ROOT, [seed, str(i)]) for i in range(count))
    return study, series, objects


def build(cache: Path, count: int, kind: str) -> Series:
    """The series of `count` slices of one kind, written under `cache` unless already there."""
    folder = cache / f"series-v{VERSION}-{count}-{kind}"
    study, series, objects = _uids(count, kind)
    files = tuple(folder / f"{i:04d}.dcm" for i in range(count))
    if not all(path.exists() for path in files):
        folder.mkdir(parents=True, exist_ok=True)
        logger.info("writing %d %s slices to %s", count, kind, folder)
        for i, path in enumerate(files):
            if not path.exists():
                partial = path.with_suffix(".part")
                write_slice(i, count, kind, (study, series, objects[i]), partial)
                partial.rename(path)
    return Series(kind, study, series, objects, files)
