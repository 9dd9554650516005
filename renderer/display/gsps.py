"""A Grayscale Softcopy Presentation State (PS3.3 A.33.1), read into the frozen value that one
render of one image frame through it needs: only the items that apply to that image and frame.

Each item of the Softcopy VOI LUT, Displayed Area Selection and Graphic Annotation Sequences
applies to the images (and frames) of its Referenced Image Sequence, or to every image of the
state when it has none (C.10.4, C.11.8, C.10.5). The state's Presentation LUT (C.11.6), Spatial
Transformation (C.10.6), Display Shutter and Bitmap Display Shutter (C.7.6.11, C.7.6.15), its
own overlay planes and the activation of the image's ones (C.11.7 Overlay Activation: an
image's overlay shows only when the state names its group with an Overlay Activation Layer) and
its graphic layers' grayscale (C.10.7) apply to every image it references.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.uid import UID

from renderer.decoding.decode import ImageInfo
from renderer.decoding.elements import Elements
from renderer.display.lut import Lut, lut_from_item
from renderer.display.modality import Modality, modality_for_frame
from renderer.display.overlay import FIRST_GROUP, LAST_GROUP, OverlayPlane, read_planes
from renderer.display.presentation import lut_shape
from renderer.display.shutter import Shutter
from renderer.display.voi import Voi, stored_voi
from renderer.errors import NotAPresentationState, NotReferenced

GSPS = "1.2.840.10008.5.1.4.1.1.11.1"
PRESENTATION_STATES = "1.2.840.10008.5.1.4.1.1.11."
ACTIVATION_LAYER = 0x1001  # (60xx,1001) Overlay Activation Layer
WHITE = 255
COORDINATE_LIMIT = 1e6  # pixels or fractions past this are taken for errors
OPEN = Shutter()  # nothing hidden


@dataclass(frozen=True, slots=True)
class DisplayedArea:
    """C.10.4: the area of the stored image shown, 1-based pixel columns and rows (may extend
    past the image), and how it is sized."""

    left: int
    top: int
    right: int
    bottom: int
    mode: str = "SCALE TO FIT"  # or TRUE SIZE, MAGNIFY
    magnification: float = 1.0
    aspect: float | None = None  # presentation pixel height over width, when stated


@dataclass(frozen=True, slots=True)
class Graphic:
    """A graphic object (C.10.5.1.2): points as x\\y, in stored-image pixels (0,0 the top-left
    corner of the first pixel) or, `display` units, fractions of the displayed area."""

    kind: str  # POINT, POLYLINE, INTERPOLATED, CIRCLE, ELLIPSE
    points: tuple[tuple[float, float], ...]
    display: bool = False
    filled: bool = False
    level: int = WHITE


@dataclass(frozen=True, slots=True)
class Text:
    """A text object (C.10.5.1.1): in its bounding box, else at its anchor point."""

    text: str
    box: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1
    box_display: bool = False
    anchor: tuple[float, float] | None = None
    anchor_display: bool = False
    anchor_visible: bool = False
    level: int = WHITE


@dataclass(frozen=True, slots=True)
class Presentation:
    uid: str
    modality: Modality | None = None  # the state's Modality LUT, else the image's
    voi: Voi | None = None  # the state's VOI for this frame, else the image's
    shape: str = "IDENTITY"  # Presentation LUT Shape
    lut: Lut | None = None  # a Presentation LUT Sequence table instead of a shape
    rotation: int = 0  # clockwise degrees, 0/90/180/270
    flip: bool = False  # horizontal, after the rotation (C.10.6.1.1)
    area: DisplayedArea | None = None
    shutter: Shutter = OPEN
    overlays: tuple[OverlayPlane, ...] = ()  # the state's own activated planes
    image_overlays: frozenset[int] = frozenset()  # groups of the image's planes activated
    overlay_level: dict[int, int] | None = None  # group -> gray of its graphic layer
    graphics: tuple[Graphic, ...] = ()
    texts: tuple[Text, ...] = ()


def read_state(data: bytes) -> Dataset:
    try:
        return pydicom.dcmread(io.BytesIO(data), force=True)
    except (InvalidDicomError, Exception) as exc:  # pydicom raises many types on garbage
        raise NotAPresentationState(
            f"the presentation state is not readable DICOM: {exc}"
        ) from None


def _applies(item: Elements, image_uid: str, frame: int) -> bool:
    """Whether an item with an optional Referenced Image Sequence covers the image and frame."""
    refs = item.get("ReferencedImageSequence")
    if not refs:
        return True
    return any(_references(ref, image_uid, frame) for ref in refs)


def _references(ref: Elements, image_uid: str, frame: int) -> bool:
    if str(ref.get("ReferencedSOPInstanceUID", "")) != image_uid:
        return False
    frames = ref.get("ReferencedFrameNumber")
    if frames in (None, ""):
        return True
    numbers = frames if isinstance(frames, MultiValue | list | tuple) else [frames]
    return any(_int(n) == frame + 1 for n in numbers)


def _int(value: object, default: int = 0) -> int:
    try:
        return int(value)  # type: ignore[call-overload,no-any-return]
    except (TypeError, ValueError):
        return default


def _floats(value: object) -> list[float]:
    """A numeric element's values; none at all when any is unusable (not a number, infinite,
    or beyond COORDINATE_LIMIT), so a broken item is skipped rather than drawn wrongly."""
    if value is None:
        return []
    values = value if isinstance(value, MultiValue | list | tuple) else [value]
    try:
        numbers = [float(v) for v in values]  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return []
    if not all(math.isfinite(n) and abs(n) <= COORDINATE_LIMIT for n in numbers):
        return []
    return numbers


def referenced_image(ds: Dataset) -> str | None:
    """The first image a Grayscale Softcopy Presentation State references; None for any other
    object."""
    if str(ds.get("SOPClassUID", "")) != GSPS:
        return None
    for series in ds.get("ReferencedSeriesSequence") or []:
        for ref in series.get("ReferencedImageSequence") or []:
            uid = str(ref.get("ReferencedSOPInstanceUID", "") or "")
            if uid:
                return uid
    return None


def check_references(ds: Dataset, uid: str, image_uid: str, frame: int) -> None:
    """The state must be a GSPS and list the image (and frame) in its Referenced Series
    Sequence (C.11.11 Presentation State Relationship)."""
    sop_class = str(ds.get("SOPClassUID", ""))
    if sop_class != GSPS:
        what = UID(sop_class).name if sop_class else "an object without a SOP Class UID"
        if sop_class.startswith(PRESENTATION_STATES):
            raise NotAPresentationState(
                f"presentationUID {uid} is a {what}; only Grayscale Softcopy Presentation "
                "States are applied"
            )
        raise NotAPresentationState(f"presentationUID {uid} is not a presentation state ({what})")
    for series in ds.get("ReferencedSeriesSequence") or []:
        for ref in series.get("ReferencedImageSequence") or []:
            if _references(ref, image_uid, frame):
                return
    raise NotReferenced(
        f"presentation state {uid} does not reference image {image_uid}"
        + (f" frame {frame + 1}" if frame else "")
    )


def presentation_for(
    ds: Dataset, uid: str, image_uid: str, frame: int, info: ImageInfo
) -> Presentation:
    """What of state `ds` applies to frame `frame` (0-based) of image `image_uid`."""
    check_references(ds, uid, image_uid, frame)
    signed = info.stored.signed
    modality: Modality | None = None
    if "ModalityLUTSequence" in ds or "RescaleSlope" in ds or "RescaleIntercept" in ds:
        modality = modality_for_frame(ds, 0, signed=signed)
    voi: Voi | None = None
    for item in ds.get("SoftcopyVOILUTSequence") or []:
        if _applies(item, image_uid, frame):
            voi = stored_voi(item, 0, signed=signed or _negative(modality))
            break
    lut = None
    plut = ds.get("PresentationLUTSequence")
    if plut and "LUTData" in plut[0]:
        little_endian = bool(ds.original_encoding[1] in (True, None))
        lut = lut_from_item(
            plut[0], signed_input=False, little_endian=little_endian, name="Presentation LUT"
        )
    levels = _layer_levels(ds)
    own, activated, overlay_level, shutter_group = _overlays(ds, info, levels)
    return Presentation(
        uid=uid,
        modality=modality,
        voi=voi,
        shape=lut_shape(ds) or "IDENTITY",
        lut=lut,
        rotation=_int(ds.get("ImageRotation"), 0) % 360 // 90 * 90,
        flip=str(ds.get("ImageHorizontalFlip", "N")).strip().upper() == "Y",
        area=_area(ds, image_uid, frame),
        shutter=_shutter(ds, info, shutter_group),
        overlays=own,
        image_overlays=activated,
        overlay_level=overlay_level,
        graphics=_graphics(ds, image_uid, frame, levels),
        texts=_texts(ds, image_uid, frame, levels),
    )


def _negative(modality: Modality | None) -> bool:
    return modality is not None and not isinstance(modality, Lut) and modality.intercept < 0


def _area(ds: Dataset, image_uid: str, frame: int) -> DisplayedArea | None:
    for item in ds.get("DisplayedAreaSelectionSequence") or []:
        if not _applies(item, image_uid, frame):
            continue
        tlhc = _floats(item.get("DisplayedAreaTopLeftHandCorner"))
        brhc = _floats(item.get("DisplayedAreaBottomRightHandCorner"))
        if len(tlhc) != 2 or len(brhc) != 2:
            return None
        aspect = None
        spacing = _floats(item.get("PresentationPixelSpacing"))
        ratio = _floats(item.get("PresentationPixelAspectRatio"))
        if len(spacing) == 2 and spacing[0] > 0 and spacing[1] > 0:
            aspect = spacing[0] / spacing[1]
        elif len(ratio) == 2 and ratio[0] > 0 and ratio[1] > 0:
            aspect = ratio[0] / ratio[1]
        magnification = _floats(item.get("PresentationPixelMagnificationRatio")) or [1.0]
        return DisplayedArea(
            left=int(tlhc[0]),
            top=int(tlhc[1]),
            right=int(brhc[0]),
            bottom=int(brhc[1]),
            mode=str(item.get("PresentationSizeMode", "SCALE TO FIT")).strip().upper(),
            magnification=magnification[0] if magnification[0] > 0 else 1.0,
            aspect=aspect,
        )
    return None


def _layer_levels(ds: Dataset) -> dict[str, int]:
    """Each graphic layer's Recommended Display Grayscale Value as an 8-bit level."""
    levels = {}
    for layer in ds.get("GraphicLayerSequence") or []:
        value = layer.get("GraphicLayerRecommendedDisplayGrayscaleValue")
        if value is not None:
            levels[str(layer.get("GraphicLayer", ""))] = _int(value, 65535) * 255 // 65535
    return levels


def _overlays(
    ds: Dataset, info: ImageInfo, levels: dict[str, int]
) -> tuple[tuple[OverlayPlane, ...], frozenset[int], dict[int, int], int | None]:
    """The state's own activated planes, the image groups it activates, each activated
    group's layer gray, and the group a bitmap shutter uses."""
    shutter_group = None
    if "ShutterOverlayGroup" in ds:
        shutter_group = _int(ds.ShutterOverlayGroup, -1)
    own_planes = {plane.group: plane for plane in read_planes(ds, info) if plane.data is not None}
    own, activated, level = [], set(), {}
    for group in range(FIRST_GROUP, LAST_GROUP + 1, 2):
        layer = ds.get((group << 16) | ACTIVATION_LAYER)
        if layer is None or group == shutter_group:
            continue
        level[group] = levels.get(str(layer.value).strip(), WHITE)
        if group in own_planes:
            own.append(own_planes[group])
        else:
            activated.add(group)
    return tuple(own), frozenset(activated), level, shutter_group


def _shutter(ds: Dataset, info: ImageInfo, shutter_group: int | None) -> Shutter:
    shapes = str(ds.get("ShutterShape", "") or "").upper().split("\\")
    shapes = [s.strip() for s in shapes]
    value = ds.get("ShutterShape")
    if isinstance(value, MultiValue):
        shapes = [str(v).strip().upper() for v in value]
    rectangle = circle = None
    polygon: tuple[tuple[int, int], ...] = ()
    if "RECTANGULAR" in shapes:
        rectangle = (
            _int(ds.get("ShutterLeftVerticalEdge"), 1),
            _int(ds.get("ShutterRightVerticalEdge"), info.columns),
            _int(ds.get("ShutterUpperHorizontalEdge"), 1),
            _int(ds.get("ShutterLowerHorizontalEdge"), info.rows),
        )
    if "CIRCULAR" in shapes:
        centre = [int(v) for v in _floats(ds.get("CenterOfCircularShutter"))]
        if len(centre) == 2:
            circle = (centre[0], centre[1], _int(ds.get("RadiusOfCircularShutter"), 0))
    if "POLYGONAL" in shapes:
        vertices = [int(v) for v in _floats(ds.get("VerticesOfThePolygonalShutter"))]
        polygon = tuple(zip(vertices[0::2], vertices[1::2], strict=False))
    bitmap = None
    if "BITMAP" in shapes and shutter_group is not None:
        bitmap = next((p for p in read_planes(ds, info) if p.group == shutter_group), None)
    return Shutter(
        rectangle=rectangle,
        circle=circle,
        polygon=polygon,
        bitmap=bitmap,
        value=_int(ds.get("ShutterPresentationValue"), 0),
    )


def _graphics(
    ds: Dataset, image_uid: str, frame: int, levels: dict[str, int]
) -> tuple[Graphic, ...]:
    found = []
    for annotation in ds.get("GraphicAnnotationSequence") or []:
        if not _applies(annotation, image_uid, frame):
            continue
        level = levels.get(str(annotation.get("GraphicLayer", "")), WHITE)
        for item in annotation.get("GraphicObjectSequence") or []:
            data = _floats(item.get("GraphicData"))
            points = tuple(zip(data[0::2], data[1::2], strict=False))
            if not points:
                continue
            found.append(
                Graphic(
                    kind=str(item.get("GraphicType", "POLYLINE")).strip().upper(),
                    points=points,
                    display=str(item.get("GraphicAnnotationUnits", "PIXEL")).upper() == "DISPLAY",
                    filled=str(item.get("GraphicFilled", "N")).strip().upper() == "Y",
                    level=level,
                )
            )
    return tuple(found)


def _texts(ds: Dataset, image_uid: str, frame: int, levels: dict[str, int]) -> tuple[Text, ...]:
    found = []
    for annotation in ds.get("GraphicAnnotationSequence") or []:
        if not _applies(annotation, image_uid, frame):
            continue
        level = levels.get(str(annotation.get("GraphicLayer", "")), WHITE)
        for item in annotation.get("TextObjectSequence") or []:
            text = str(item.get("UnformattedTextValue", "") or "")
            tlhc = _floats(item.get("BoundingBoxTopLeftHandCorner"))
            brhc = _floats(item.get("BoundingBoxBottomRightHandCorner"))
            anchor = _floats(item.get("AnchorPoint"))
            found.append(
                Text(
                    text=text,
                    box=(tlhc[0], tlhc[1], brhc[0], brhc[1])
                    if len(tlhc) == 2 and len(brhc) == 2
                    else None,
                    box_display=str(item.get("BoundingBoxAnnotationUnits", "")).upper()
                    == "DISPLAY",
                    anchor=(anchor[0], anchor[1]) if len(anchor) == 2 else None,
                    anchor_display=str(item.get("AnchorPointAnnotationUnits", "")).upper()
                    == "DISPLAY",
                    anchor_visible=str(item.get("AnchorPointVisibility", "N")).upper() == "Y",
                    level=level,
                )
            )
    return tuple(found)


__all__ = ["DisplayedArea", "Graphic", "Presentation", "Text", "presentation_for", "read_state"]
