"""De-identification for WADO-URI `anonymize=yes` (PS3.18 8.2.10): the PS3.15 Annex E Basic
Application Level Confidentiality Profile, applied by dicognito (names, IDs, dates, addresses and
institutions replaced by plausible fakes, UIDs remapped, private and curve/overlay comments
dropped). One Anonymizer per request: its UID map keeps references inside the object consistent
(an SR's evidence, a KOS's image list), while two requests for the same object do not link."""

from __future__ import annotations

from dicognito.anonymizer import Anonymizer
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

# PS3.15 Table E.1-1 attributes to remove that dicognito keeps (equipment identities).
REMOVED = (
    "DeviceSerialNumber",
    "DeviceUID",
    "PlateID",
    "CassetteID",
    "GantryID",
    "DetectorID",
    "GeneratorID",
    "SourceSerialNumber",
    "StationName",
)
# PS3.16 CID 7050: the profile applied, recorded in the object (PS3.15 E.1.1).
BASIC_PROFILE = ("113100", "DCM", "Basic Application Confidentiality Profile")


def anonymize(ds: Dataset) -> None:
    """De-identify `ds` in place, file meta included, and record that it was."""
    Anonymizer().anonymize(ds)
    _remove(ds)
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "wadofarm anonymize=yes (dicognito)"
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = BASIC_PROFILE
    ds.DeidentificationMethodCodeSequence = Sequence([code])
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "SOPInstanceUID" in ds:
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID


def _remove(ds: Dataset) -> None:
    """The profile's X (remove) attributes dicognito leaves alone, at every level (all Type 3
    where the IODs hold them, so removing them keeps the object valid)."""
    for keyword in REMOVED:
        if keyword in ds:
            delattr(ds, keyword)
    for element in list(ds.values()):
        value = getattr(element, "value", None)
        if isinstance(value, Sequence):
            for item in value:
                _remove(item)


__all__ = ["anonymize"]
