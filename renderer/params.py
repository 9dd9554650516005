"""Values that cross the process boundary between the router and a render worker."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass

from renderer.formats import OutputFormat

# An encoded image: bytes where it is made; on the router, a read-only view of the one buffer
# the worker's reply was received into (renderer.process.wire), never copied again.
Encoded = bytes | memoryview


LocalSource = bytes | str  # the file's bytes, or a path a worker may read itself


@dataclass(frozen=True, slots=True)
class HttpSource:
    """A stored file a worker GETs itself (renderer.files.http_client). `key` names its content
    (Orthanc's instance ID) for the worker's caches; `authorization` is the header value, if the
    server wants one."""

    base: str  # scheme://host:port[/prefix], no credentials
    path: str  # e.g. /instances/{id}/file
    key: str
    timeout: float = 10.0
    authorization: str | None = None


RenderSource = LocalSource | HttpSource  # what a worker is sent: bytes, a path, or a URL


class DefaultWindow(enum.Enum):
    """What to window with when neither the request nor the file says."""

    ORTHANC = "orthanc"  # width 2^BitsStored, centre width/2: byte parity with Orthanc's /wado
    MINMAX = "minmax"  # the frame's range after the modality LUT


class VoiFunction(enum.Enum):
    """VOI LUT Function (0028,1056), PS3.3 C.11.2.1.2: how a window maps values to levels."""

    LINEAR = "LINEAR"
    LINEAR_EXACT = "LINEAR_EXACT"
    SIGMOID = "SIGMOID"


@dataclass(frozen=True, slots=True)
class Window:
    center: float
    width: float
    function: VoiFunction = VoiFunction.LINEAR


@dataclass(frozen=True, slots=True)
class Region:
    """A crop in fractions of the image, (0,0) top-left, (1,1) bottom-right."""

    xmin: float
    ymin: float
    xmax: float
    ymax: float


@dataclass(frozen=True, slots=True)
class PixelRegion:
    """A crop in pixels (PS3.18 8.3.5.1.3 viewport sx,sy,sw,sh), (0,0) top-left: what a
    DICOMweb viewport asks instead of a WADO-URI region in fractions.

    None for a side means "to the image's edge"; a negative width or height flips the
    rendered image horizontally or vertically.
    """

    x: int = 0
    y: int = 0
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True, slots=True)
class PresentationRef:
    """A presentation state to render the image through (WADO-URI presentationUID): its UID,
    the image's (which the state must reference) and where the worker reads the state."""

    uid: str
    image_uid: str
    source: RenderSource


@dataclass(frozen=True, slots=True)
class Deidentify:
    """WADO-URI anonymize=yes, as the server takes it (renderer.files.anonymize)."""

    max_bytes: int = 32 * 2**20  # larger objects are refused (413): --anonymize-max-mb
    keep_burned_in: bool = False  # serve pixels that may hold burned-in text anyway


@dataclass(frozen=True, slots=True)
class RenderParams:
    frame: int = 0  # 0-based
    output: OutputFormat = OutputFormat.JPEG
    rows: int | None = None  # the output box; None means "follow the other one / native"
    columns: int | None = None
    region: Region | None = None
    pixel_region: PixelRegion | None = None  # a crop in pixels instead of `region`
    window: Window | None = None
    quality: int = 90
    animate: bool = False  # GIF: every frame of a multi-frame object, not just `frame`
    default_window: DefaultWindow = DefaultWindow.ORTHANC
    max_pixels: int = 100_000_000
    # A thumbnail of a whole JPEG 2000 or JPEG baseline frame decodes at reduced resolution (the
    # codec's own low-pass, before the window); False decodes in full and averages after it.
    reduced_decode: bool = True
    charset: str = "utf-8"  # of text outputs (HTML), as the client named it
    transfer_syntax: str | None = None  # of a DICOM output (WADO-URI transferSyntax)
    anonymize: Deidentify | None = None  # WADO-URI anonymize=yes: de-identify the output
    # What else the client accepts, in order, should the object not offer `output` (a PDF
    # asked of a folder of images and reports, say); the result says which was made.
    alternatives: tuple[OutputFormat, ...] = ()
    overlays: bool = True  # burn the overlay planes (60xx) in, as dcmtk and dcm4chee do
    presentation: PresentationRef | None = None
    annotation: tuple[
        str, ...
    ] = ()  # corner text: "patient", "technique" (renderer.annotation.labels)


def etag_for(data: Encoded) -> str:
    """The strong ETag of an encoded image: a hash of its bytes, so equal bytes get equal tags
    whichever worker made them and whichever router answers."""
    return '"' + hashlib.blake2b(data, digest_size=16).hexdigest() + '"'


@dataclass(frozen=True, slots=True)
class ShowsImage:
    """A worker's answer for a Grayscale Softcopy Presentation State asked for as an image: it
    shows this image (the first it references), which the router renders through it."""

    image_uid: str


@dataclass(frozen=True, slots=True)
class RenderResult:
    data: Encoded
    output: OutputFormat
    width: int
    height: int
    stored_rows: int
    stored_columns: int
    frames: int
    pixel_aspect: float = 1.0  # a stored pixel's height over its width, for the size arithmetic
    # etag_for(data): computed here, in the worker that made the bytes, when not given; the
    # router is given the worker's and never hashes the bytes itself.
    etag: str = ""

    def __post_init__(self) -> None:
        if not self.etag:
            object.__setattr__(self, "etag", etag_for(self.data))

    # Whether a render of it without a window in the request takes the default window (a
    # grayscale frame that stores none): the router keys such renders by the default too.
    default_window: bool = True


Answer = RenderResult | ShowsImage  # what a worker answers a job with, besides a RenderError
