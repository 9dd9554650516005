"""De-identification for WADO-URI `anonymize=yes` (PS3.18 8.2.10): PS3.15 Annex E's Basic
Application Level Confidentiality Profile, attribute by attribute, from the standard's own table
(renderer.files.deid_table), and the refusals that keep it honest.

Why our own table: of the libraries on the package index, dicognito replaces names, IDs and
dates with plausible fakes but keeps what it does not know to be identifying (private elements,
Patient Comments, descriptions, age, weight, sex...), so it is not the profile; dicom-anonymizer
follows the table's columns but applies them to the top level of the data set only (a name in a
sequence stays), keeps one UID map for the life of the process (two answers link, and the map
grows in a long-lived worker), writes 00010101 where the table says remove a date, and prints to
stdout; deid applies recipes, not the table. What remains is short: the table as data,
applied at every depth of the data set, with a fresh UID map per answer.

What is applied (and recorded: Patient Identity Removed YES, De-identification Method and its
Code Sequence naming the Basic Profile, 113100, and nothing else):

- every private element removed (the Retain Safe Private Option is not offered), and the file
  meta's Source, Sending and Receiving AE Titles and Private Information (the file is written
  anew);
- X removed, Z emptied, D replaced by a dummy value of the element's VR, U replaced by a new
  UID (the same new UID for the same old one within the answer, so an object's references to
  itself and its series hold; a new map for every answer, so two answers do not link);
- where the table says "X unless the IOD needs it" (X/Z, X/D, Z/D, X/Z/D), the element is
  emptied (Z) or given a dummy (D) rather than removed, so the object stays valid whatever its
  IOD needs; X/Z/U* sequences keep their items, de-identified in turn (their UIDs remapped);
- a sequence the profile keeps or does not list is de-identified item by item.

The pixels are not touched (the Clean Pixel Data Option is not offered), so an image whose
pixels may hold burned-in text is refused (`check_pixels`): Burned In Annotation YES, or absent
for the modalities where burned-in text is common (US, SC, XA, ES, OT), unless the server says
it keeps burned-in text (`Deidentify.keep_burned_in`). Overlays (60xx) are removed by the
profile and never burned into a render of a de-identified answer; neither are a presentation
state's graphic annotations (Graphic Annotation Sequence: D).
"""

from __future__ import annotations

from collections.abc import Iterable

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from renderer.errors import SourceTooLarge, WouldIdentify
from renderer.files.deid_table import BASIC, GROUPS
from renderer.params import Deidentify

# PS3.16 CID 7050: the profile applied, recorded in the object (PS3.15 E.1.1).
BASIC_PROFILE = ("113100", "DCM", "Basic Application Confidentiality Profile")
METHOD = "PS3.15 E.1-1 Basic Profile; X/Z as Z; X/D, Z/D, X/Z/D as D"
# Modalities whose images commonly carry burned-in text: refused when Burned In Annotation is
# absent (issue 25).
BURNED_IN_LIKELY = frozenset({"US", "SC", "XA", "ES", "OT"})
DUMMY_TEXT = "ANONYMIZED"
DUMMIES: dict[str, object] = {
    "DA": "19000101",
    "TM": "000000",
    "DT": "19000101000000",
    "AS": "000D",
    "DS": "0",
    "IS": "0",
    "UR": "http://anonymized.invalid",
    "AT": 0,
}
# The file meta's word on who wrote or sent the file (a station's AE title, often its name):
# not in the table, but the de-identified file is written anew here, so it goes.
WRITER = (
    "SourceApplicationEntityTitle",
    "SendingApplicationEntityTitle",
    "ReceivingApplicationEntityTitle",
    "PrivateInformationCreatorUID",
    "PrivateInformation",
)
NUMBERS = frozenset({"US", "SS", "UL", "SL", "FL", "FD", "UV", "SV"})
BYTES = frozenset({"OB", "OW", "OD", "OF", "OL", "OV", "UN"})
# What each of the table's actions becomes here (see the module docstring).
CHOSEN = {"X/Z": "Z", "X/D": "D", "Z/D": "D", "X/Z/D": "D", "X/Z/U*": "U*"}


def action(tag: int) -> str | None:
    """The Basic Profile's action for an element, or None when the table does not list it."""
    found = BASIC.get(tag)
    if found is not None:
        return CHOSEN.get(found, found)
    group, element = tag >> 16, tag & 0xFFFF
    for group_value, group_mask, element_value, element_mask, act in GROUPS:
        if group & group_mask == group_value and element & element_mask == element_value:
            return act
    return None


def anonymize(ds: Dataset) -> None:
    """De-identify `ds` in place, file meta included, and record that it was."""
    uids: dict[str, str] = {}
    ds.remove_private_tags()  # at every depth
    _apply(ds, uids)
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        _apply(meta, uids)
        for keyword in WRITER:
            if keyword in meta:
                delattr(meta, keyword)
        if not ds.get("SOPInstanceUID"):  # a file without one is written with a new one
            ds.SOPInstanceUID = generate_uid(prefix=None)
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        if "MediaStorageSOPClassUID" not in meta and ds.get("SOPClassUID"):
            meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = METHOD
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = BASIC_PROFILE
    ds.DeidentificationMethodCodeSequence = Sequence([code])
    ds.LongitudinalTemporalInformationModified = "REMOVED"  # dates emptied or replaced


def _apply(ds: Dataset, uids: dict[str, str]) -> None:
    for tag in list(ds.keys()):
        element = ds[tag]
        act = action(int(tag))
        if act == "X":
            del ds[tag]
        elif act == "Z":
            element.value = [] if element.VR == "SQ" else None
        elif act == "D":
            _dummy(element, uids)
        elif act == "U" or (act == "U*" and element.VR == "UI"):
            element.value = _remapped(element.value, uids)
        elif act == "U*" and element.VR != "SQ":
            element.value = None
        elif element.VR == "SQ":  # kept (K, U*, or not listed): its items in turn
            for item in element.value or ():
                _apply(item, uids)


def _dummy(element: DataElement, uids: dict[str, str]) -> None:
    """D: a non-empty value of the element's VR that says nothing."""
    vr = element.VR
    if vr == "SQ":
        element.value = [Dataset()]
    elif vr == "UI":
        element.value = _remapped(element.value, uids)
    elif vr in DUMMIES:
        element.value = DUMMIES[vr]
    elif vr in NUMBERS:
        element.value = 0
    elif vr in BYTES:
        element.value = b"\x00\x00"
    else:  # AE, CS, LO, LT, PN, SH, ST, UC, UT
        element.value = DUMMY_TEXT


def _remapped(value: object, uids: dict[str, str]) -> object:
    """A new UID for each old one, the same within this answer."""
    if value is None or value == "":
        return value
    if isinstance(value, Iterable) and not isinstance(value, str):
        return [_remapped(one, uids) for one in value]
    old = str(value)
    new = uids.get(old)
    if new is None:
        new = uids[old] = generate_uid(prefix=None)  # 2.25.<a random UUID>
    return new


def check_size(size: int, policy: Deidentify) -> None:
    """SourceTooLarge (413) for an object over the limit: de-identifying one parses it whole."""
    if size > policy.max_bytes:
        raise SourceTooLarge(
            f"the object is {size} bytes; anonymize=yes takes objects up to "
            f"{policy.max_bytes} bytes (--anonymize-max-mb)"
        )


def check_pixels(ds: Dataset, policy: Deidentify) -> None:
    """WouldIdentify (403) for pixels that may hold burned-in text (see the module docstring)."""
    if policy.keep_burned_in:
        return
    burned = str(ds.get("BurnedInAnnotation", "") or "").strip().upper()
    modality = str(ds.get("Modality", "") or "").strip().upper()
    if burned == "YES":
        raise WouldIdentify(
            "anonymize=yes: the image says its pixels hold burned-in text (Burned In "
            "Annotation YES), which de-identification does not remove (--anonymize-keeps-"
            "burned-in serves it anyway)"
        )
    if not burned and modality in BURNED_IN_LIKELY:
        raise WouldIdentify(
            f"anonymize=yes: a {modality} image that does not say whether its pixels hold "
            "burned-in text (no Burned In Annotation) may, and de-identification does not "
            "remove it (--anonymize-keeps-burned-in serves it anyway)"
        )


__all__ = ["action", "anonymize", "check_pixels", "check_size"]
