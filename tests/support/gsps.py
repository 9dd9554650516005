"""Grayscale Softcopy Presentation States written with pydicom (PS3.3 A.33.1), for an image file:
the attributes dcmtk's dcmpsmk writes (which dcmp2pgm requires), plus whatever a case adds --
VOI items per image or frame, a Presentation LUT, rotation and flip, a displayed area, shutters,
overlays of the state and activations of the image's, graphic layers and annotations.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

GSPS = "1.2.840.10008.5.1.4.1.1.11.1"


def image_ref(image: Dataset, frames: Sequence[int] = ()) -> Dataset:
    ref = Dataset()
    ref.ReferencedSOPClassUID = image.SOPClassUID
    ref.ReferencedSOPInstanceUID = image.SOPInstanceUID
    if frames:
        ref.ReferencedFrameNumber = [str(f) for f in frames] if len(frames) > 1 else str(frames[0])
    return ref


def voi_item(
    image: Dataset,
    center: float | None = None,
    width: float | None = None,
    frames: Sequence[int] = (),
    lut: Dataset | None = None,
    function: str | None = None,
) -> Dataset:
    """A Softcopy VOI LUT Sequence item for `image` (and `frames`, 1-based)."""
    item = Dataset()
    item.ReferencedImageSequence = [image_ref(image, frames)]
    if lut is not None:
        item.VOILUTSequence = [lut]
    else:
        item.WindowCenter, item.WindowWidth = center, width
        if function:
            item.VOILUTFunction = function
    return item


def area_item(
    tlhc: tuple[int, int],
    brhc: tuple[int, int],
    mode: str = "SCALE TO FIT",
    magnification: float | None = None,
    spacing: tuple[float, float] | None = None,
) -> Dataset:
    """A Displayed Area Selection Sequence item for every image of the state (column\\row)."""
    item = Dataset()
    item.DisplayedAreaTopLeftHandCorner = list(tlhc)
    item.DisplayedAreaBottomRightHandCorner = list(brhc)
    item.PresentationSizeMode = mode
    if mode == "MAGNIFY":
        item.PresentationPixelMagnificationRatio = magnification or 1.0
    elif spacing is not None:
        item.PresentationPixelSpacing = list(spacing)
    else:
        item.PresentationPixelAspectRatio = [1, 1]
    return item


def graphic(
    kind: str, points: Sequence[float], units: str = "PIXEL", filled: bool = False
) -> Dataset:
    item = Dataset()
    item.GraphicAnnotationUnits = units
    item.GraphicDimensions = 2
    item.NumberOfGraphicPoints = len(points) // 2
    item.GraphicData = [float(p) for p in points]
    item.GraphicType = kind
    item.GraphicFilled = "Y" if filled else "N"
    return item


def text(
    value: str,
    box: tuple[float, float, float, float] | None = None,
    units: str = "PIXEL",
    anchor: tuple[float, float] | None = None,
) -> Dataset:
    item = Dataset()
    item.UnformattedTextValue = value
    if box is not None:
        item.BoundingBoxAnnotationUnits = units
        item.BoundingBoxTopLeftHandCorner = [float(box[0]), float(box[1])]
        item.BoundingBoxBottomRightHandCorner = [float(box[2]), float(box[3])]
        item.BoundingBoxTextHorizontalJustification = "LEFT"
    if anchor is not None:
        item.AnchorPointAnnotationUnits = units
        item.AnchorPoint = [float(anchor[0]), float(anchor[1])]
        item.AnchorPointVisibility = "N"
    return item


def annotation(
    layer: str,
    graphics: Sequence[Dataset] = (),
    texts: Sequence[Dataset] = (),
    refs: Sequence[Dataset] = (),
) -> Dataset:
    item = Dataset()
    if refs:
        item.ReferencedImageSequence = list(refs)
    item.GraphicLayer = layer
    if graphics:
        item.GraphicObjectSequence = list(graphics)
    if texts:
        item.TextObjectSequence = list(texts)
    return item


def layer(name: str, order: int = 1, gray: int | None = None) -> Dataset:
    item = Dataset()
    item.GraphicLayer = name
    item.GraphicLayerOrder = order
    if gray is not None:
        item.GraphicLayerRecommendedDisplayGrayscaleValue = gray
    return item


def write_state(
    path: Path,
    image_path: Path,
    *,
    frames: Sequence[int] = (),
    voi: Sequence[Dataset] = (),
    shape: str | None = "IDENTITY",
    presentation_lut: Dataset | None = None,
    rotation: int | None = None,
    flip: bool | None = None,
    area: Dataset | None = None,
    rescale: tuple[float, float] | None = None,
    layers: Sequence[Dataset] = (),
    annotations: Sequence[Dataset] = (),
    elements: Sequence[tuple[int, str, Any]] = (),
    **attributes: Any,
) -> Path:
    """A GSPS for the image at `image_path` (its `frames`, 1-based, or all of it)."""
    image = pydicom.dcmread(image_path, stop_before_pixels=True)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = GSPS
    ds.SOPClassUID = GSPS
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.InstanceCreationDate, ds.InstanceCreationTime = "20260101", "120000"
    ds.StudyDate, ds.StudyTime = "20260101", "120000"
    ds.AccessionNumber = ""
    ds.Modality = "PR"
    ds.Manufacturer = "wadofarm tests"
    ds.ReferringPhysicianName = ""
    series = Dataset()
    series.ReferencedImageSequence = [image_ref(image, frames)]
    series.SeriesInstanceUID = image.SeriesInstanceUID
    ds.ReferencedSeriesSequence = [series]
    ds.PatientName = image.get("PatientName", "") or "WADOFARM^TEST"
    ds.PatientID = image.get("PatientID", "")
    ds.PatientBirthDate, ds.PatientSex = "", ""
    ds.StudyInstanceUID = image.StudyInstanceUID
    ds.SeriesInstanceUID = generate_uid()
    ds.StudyID, ds.SeriesNumber, ds.InstanceNumber = "1", 1, 1
    if rescale is not None:
        ds.RescaleIntercept, ds.RescaleSlope = rescale[1], rescale[0]
        ds.RescaleType = "US"
    if voi:
        ds.SoftcopyVOILUTSequence = DicomSequence(list(voi))
    ds.DisplayedAreaSelectionSequence = [
        area if area is not None else area_item((1, 1), (int(image.Columns), int(image.Rows)))
    ]
    ds.ContentLabel = "WADOFARM"
    ds.ContentDescription = ""
    ds.PresentationCreationDate, ds.PresentationCreationTime = "20260101", "120000"
    ds.ContentCreatorName = ""
    if rotation is not None:
        ds.ImageRotation = rotation
    if flip is not None:
        ds.ImageHorizontalFlip = "Y" if flip else "N"
    if layers:
        ds.GraphicLayerSequence = list(layers)
    if annotations:
        ds.GraphicAnnotationSequence = list(annotations)
    if presentation_lut is not None:
        ds.PresentationLUTSequence = [presentation_lut]
    elif shape is not None:
        ds.PresentationLUTShape = shape
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    for tag, vr, value in elements:
        ds.add_new(tag, vr, value)
    ds.save_as(path, enforce_file_format=True)
    return path
