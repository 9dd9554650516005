"""A lean reader for the plain DICOM files a viewer farm mostly serves: the attributes the display
pipeline reads and where the Pixel Data value lies, in one pass over the bytes (PS3.10 7.1 file
format, PS3.5 7.1 data elements), without building a pydicom Dataset: ~10 us for a 512x512 CT
slice, against ~0.3 ms for pydicom to parse it and ~0.2 ms more to convert the attributes.

"Plain" means: a preamble and "DICM"; a meta group naming Explicit or Implicit VR Little Endian,
JPEG baseline or JPEG 2000 (whose data sets are Explicit VR Little Endian); one frame in Pixel
Data (7FE0,0010), the only pixel element; none of the attributes that need pydicom's whole model
(Modality and VOI LUT Sequences, functional groups, palettes, overlay planes); the attributes
read carry the VR the standard gives them and values that parse; tags in ascending order.
Anything else gives None, and the caller parses the file with pydicom: the same result, only
slower.

Values convert as pydicom converts them (US to int, DS to float or a list of floats, IS to int,
CS with trailing padding stripped), so one header builder (renderer.display.header) reads either;
tests/renderer/test_part10.py checks the two agree on every corpus file the reader accepts.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from pydicom.datadict import dictionary_VR
from pydicom.uid import (
    JPEG2000,
    UID,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
)

from renderer.decoding.decode import transfer_syntax_uid

PREAMBLE = 128
MAGIC = b"DICM"
UNDEFINED = 0xFFFFFFFF
ITEM, ITEM_END, SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
PIXEL_DATA = 0x7FE00010
PIXEL_GROUP_LENGTH = 0x7FE00000
CHARACTER_SET = 0x00080005

# Transfer syntaxes whose data set this reader walks; the encapsulated ones only for their
# header and codestream (renderer.decoding.reduced decodes those; anything else goes to pydicom).
EXPLICIT = (ExplicitVRLittleEndian, JPEGBaseline8Bit, JPEG2000Lossless, JPEG2000)
READABLE = (*EXPLICIT, ImplicitVRLittleEndian)

# Explicit VRs with a 2-byte reserved field and a 4-byte length (PS3.5 Table 7.1-1).
LONG_VRS = frozenset(
    b"OB OD OF OL OV OW SQ SV UC UN UR UT UV".split()
)  # fmt: skip
VRS = LONG_VRS | frozenset(
    b"AE AS AT CS DA DS DT FD FL IS LO LT PN SH SL SS ST TM UI UL US".split()
)  # fmt: skip

# What the header builder reads: tag -> (keyword, VR).
ATTRIBUTES: dict[int, tuple[str, str]] = {
    0x00181164: ("ImagerPixelSpacing", "DS"),
    0x00182010: ("NominalScannedPixelSpacing", "DS"),
    0x00280002: ("SamplesPerPixel", "US"),
    0x00280004: ("PhotometricInterpretation", "CS"),
    0x00280006: ("PlanarConfiguration", "US"),
    0x00280008: ("NumberOfFrames", "IS"),
    0x00280010: ("Rows", "US"),
    0x00280011: ("Columns", "US"),
    0x00280030: ("PixelSpacing", "DS"),
    0x00280034: ("PixelAspectRatio", "IS"),
    0x00280100: ("BitsAllocated", "US"),
    0x00280101: ("BitsStored", "US"),
    0x00280102: ("HighBit", "US"),
    0x00280103: ("PixelRepresentation", "US"),
    0x00281050: ("WindowCenter", "DS"),
    0x00281051: ("WindowWidth", "DS"),
    0x00281052: ("RescaleIntercept", "DS"),
    0x00281053: ("RescaleSlope", "DS"),
    0x00281056: ("VOILUTFunction", "CS"),
    0x20500020: ("PresentationLUTShape", "CS"),
}
# Read by the header builder too, but only pydicom models them: a file with any is declined,
# so for an accepted file they are absent.
DECLINED = {
    0x7FE00008: "FloatPixelData",
    0x7FE00009: "DoubleFloatPixelData",
    0x00283000: "ModalityLUTSequence",
    0x00283010: "VOILUTSequence",
    0x52009229: "SharedFunctionalGroupsSequence",
    0x52009230: "PerFrameFunctionalGroupsSequence",
    0x00281101: "RedPaletteColorLookupTableDescriptor",  # a Supplemental Palette, in grayscale
    0x00282000: "ICCProfile",
}
OVERLAY_GROUPS = (0x6000, 0x601E)  # 60xx, even groups (PS3.3 C.9.2)
KEYWORDS = frozenset(keyword for keyword, _ in ATTRIBUTES.values()) | frozenset(DECLINED.values())

_EXPLICIT_SHORT = struct.Struct("<HH2sH")
_U32 = struct.Struct("<I")
_TAG_LENGTH = struct.Struct("<HHI")


class Declined(Exception):
    """The file is not plain: pydicom reads it."""


class Attributes:
    """The header values of a plain file by keyword, answering `get` and `in` as a pydicom
    Dataset does for these keywords. Asking for any other keyword is a bug (the reader would
    not know whether the file has it), so it raises."""

    __slots__ = ("_values", "original_encoding")

    def __init__(self, values: dict[str, Any], implicit: bool) -> None:
        self._values = values
        self.original_encoding = (implicit, True)  # (implicit VR, little endian), as pydicom's

    def _check(self, keyword: str) -> None:
        if keyword not in KEYWORDS:
            raise KeyError(f"the lean reader does not read {keyword}")

    def get(self, keyword: str, default: Any = None) -> Any:
        self._check(keyword)
        return self._values.get(keyword, default)

    def __contains__(self, keyword: object) -> bool:
        self._check(str(keyword))
        return keyword in self._values


@dataclass(frozen=True, slots=True)
class Plain:
    attributes: Attributes
    transfer_syntax: UID
    data: bytes  # the whole file: the pixel data is a view into it
    pixel_start: int
    pixel_stop: int

    @property
    def pixel_data(self) -> memoryview:
        """The Pixel Data value: native cells, or the encapsulated items (PS3.5 A.4) up to the
        Sequence Delimitation Item, as pydicom's `ds.PixelData` holds them."""
        return memoryview(self.data)[self.pixel_start : self.pixel_stop]


def read(data: bytes) -> Plain | None:
    """The plain file's header and pixel data location, or None when pydicom must read it."""
    try:
        return _read(data)
    except (Declined, struct.error, UnicodeDecodeError, ValueError, RecursionError):
        return None


def _read(data: bytes) -> Plain:
    if data[PREAMBLE : PREAMBLE + 4] != MAGIC:
        raise Declined("no preamble")
    transfer_syntax, pos = _meta(data, PREAMBLE + 4)
    if transfer_syntax not in READABLE:
        raise Declined(f"transfer syntax {transfer_syntax}")
    explicit = transfer_syntax in EXPLICIT
    encapsulated = transfer_syntax_uid(transfer_syntax).is_encapsulated
    if not explicit and data[pos + 4 : pos + 6] in VRS:
        raise Declined("implicit VR announced, explicit VR found")  # pydicom guesses; we don't
    values: dict[str, Any] = {}
    pixels: tuple[int, int] | None = None
    last = -1
    end = len(data)
    while pos < end:
        tag, vr, length, pos = _element(data, pos, explicit)
        if tag <= last:
            raise Declined("tags out of order")
        last = tag
        if tag == PIXEL_DATA:
            if explicit and vr not in (b"OB", b"OW"):
                raise Declined("Pixel Data VR")
            if length == UNDEFINED:
                if not encapsulated:
                    raise Declined("undefined length native Pixel Data")
                stop = _items_end(data, pos)
                pixels, pos = (pos, stop), stop + 8
                continue
            if encapsulated or pos + length > end:
                raise Declined("Pixel Data length")
            pixels, pos = (pos, pos + length), pos + length
            continue
        if tag == PIXEL_GROUP_LENGTH:
            pass  # (7FE0,0000), as some writers add: nothing to read
        elif tag >> 16 in (0x0002, 0x7FE0, 0xFFFE) or tag in DECLINED:
            raise Declined(f"element ({tag >> 16:04X},{tag & 0xFFFF:04X})")
        elif OVERLAY_GROUPS[0] <= tag >> 16 <= OVERLAY_GROUPS[1] and not tag >> 16 & 1:
            raise Declined("an overlay plane")  # renderer.display.overlay reads them from pydicom
        if vr == b"SQ" or length == UNDEFINED:
            pos = _past_value(data, pos, tag, vr, length, explicit)
            continue
        if pos + length > end:
            raise Declined("truncated element")
        if tag == CHARACTER_SET and b"\x00" in data[pos : pos + length].rstrip(b" \x00"):
            raise Declined("NUL in (0008,0005)")  # pydicom reads it at once, and fails on it
        known = ATTRIBUTES.get(tag)
        if known is not None:
            keyword, expected = known
            if explicit and vr.decode("ascii") != expected:
                raise Declined(f"{keyword} has VR {vr!r}")
            values[keyword] = _value(data[pos : pos + length], expected)
        pos += length
    if pixels is None:
        raise Declined("no Pixel Data")
    if values.get("NumberOfFrames", 1) != 1:
        raise Declined("more than one frame")
    if values.get("PhotometricInterpretation") == "PALETTE COLOR":
        raise Declined("a palette")  # pydicom reads the LUTs
    syntax = transfer_syntax_uid(transfer_syntax)
    return Plain(Attributes(values, not explicit), syntax, data, *pixels)


def _meta(data: bytes, pos: int) -> tuple[str, int]:
    """The Transfer Syntax UID of the File Meta Information group (always Explicit VR Little
    Endian, PS3.10 7.1) and where the data set starts."""
    transfer_syntax = None
    while pos + 8 <= len(data) and data[pos : pos + 2] == b"\x02\x00":
        tag, _, length, start = _element(data, pos, True)
        if length == UNDEFINED or start + length > len(data):
            raise Declined("meta element length")
        if tag == 0x00020010:
            transfer_syntax = data[start : start + length].decode("ascii").rstrip("\x00 ")
        pos = start + length
    if transfer_syntax is None:
        raise Declined("no Transfer Syntax UID")
    return transfer_syntax, pos


def _element(data: bytes, pos: int, explicit: bool) -> tuple[int, bytes, int, int]:
    """Tag, VR (b"" when implicit), value length and where the value starts."""
    if not explicit:
        group, element, length = _TAG_LENGTH.unpack_from(data, pos)
        return group << 16 | element, b"", length, pos + 8
    group, element, vr, length = _EXPLICIT_SHORT.unpack_from(data, pos)
    if group == 0xFFFE:  # item and delimitation tags carry no VR (PS3.5 7.5)
        (length,) = _U32.unpack_from(data, pos + 4)
        return group << 16 | element, b"", length, pos + 8
    if vr in LONG_VRS:
        (length,) = _U32.unpack_from(data, pos + 8)
        return group << 16 | element, vr, length, pos + 12
    if vr not in VRS:
        raise Declined(f"unknown VR {vr!r}")
    return group << 16 | element, vr, length, pos + 8


def _items_end(data: bytes, pos: int) -> int:
    """Where the Sequence Delimitation Item ends an encapsulated Pixel Data value whose items
    all have defined lengths (PS3.5 A.4)."""
    while True:
        tag, _, length, pos = _element(data, pos, False)
        if tag == SEQUENCE_END:
            return pos - 8
        if tag != ITEM or length == UNDEFINED or pos + length > len(data):
            raise Declined("malformed encapsulated Pixel Data")
        pos += length


def _past_value(data: bytes, pos: int, tag: int, vr: bytes, length: int, explicit: bool) -> int:
    """Where the value that starts at `pos` ends. Sequences are walked item by item (PS3.5
    7.5), so that lengths that do not add up are noticed, as pydicom notices them; a UN value
    of undefined length is a sequence in Implicit VR (PS3.5 6.2.2)."""
    if length == UNDEFINED:
        _check_undefined(tag, vr)
    if vr == b"SQ" or length == UNDEFINED:
        return _past_sequence(data, pos, length, explicit and vr != b"UN")
    return pos + length


def _check_undefined(tag: int, vr: bytes) -> None:
    """An Implicit VR element of undefined length is a sequence only if the data dictionary
    says so (or does not know the tag); pydicom reads anything else another way."""
    if vr:
        return
    try:
        known = dictionary_VR(tag)
    except KeyError:
        return
    if known not in ("SQ", "UN"):
        raise Declined(f"undefined length for a {known} element")


def _past_sequence(data: bytes, pos: int, length: int, explicit: bool) -> int:
    end = None if length == UNDEFINED else pos + length
    while end is None or pos < end:
        tag, _, item_length, pos = _element(data, pos, False)
        if tag == SEQUENCE_END and end is None:
            return pos
        if tag != ITEM:
            raise Declined("malformed sequence")
        item_end = None if item_length == UNDEFINED else pos + item_length
        while item_end is None or pos < item_end:
            tag, vr, value_length, pos = _element(data, pos, explicit)
            if tag == ITEM_END and item_end is None:
                break
            pos = _past_value(data, pos, tag, vr, value_length, explicit)
        if item_end is not None and pos != item_end:
            raise Declined("an item's elements overrun its length")
    if pos != end:
        raise Declined("a sequence's items overrun its length")
    return pos


def _value(raw: bytes, vr: str) -> Any:
    """One value as pydicom converts it; anything unusual (several values where pydicom would
    give a MultiValue of US or CS, empty values, text that does not parse) is declined."""
    if vr == "US":
        if len(raw) != 2:
            raise Declined("US value length")
        return int.from_bytes(raw, "little")
    text = raw.decode("ascii").rstrip(" \x00")
    if not text:
        raise Declined("empty value")
    if vr == "CS":
        if "\\" in text:
            raise Declined("multi-valued CS")
        return text
    parts = text.split("\\")
    if any(not part.strip() for part in parts):
        raise Declined("empty number")
    numbers: list[Any] = [float(part) if vr == "DS" else int(part) for part in parts]
    return numbers[0] if len(numbers) == 1 else numbers


__all__ = ["Attributes", "Plain", "read"]
