"""Drop-in parity: wadofarm's /wado and Orthanc's own /wado, same UIDs, same picture."""

from __future__ import annotations

import warnings

import pydicom
import pytest

from tests.support import corpus
from tests.support.http import get
from tests.support.images import decode, psnr

MIN_PSNR = 30.0

SINGLE_FRAME = [
    name
    for name, row in corpus.manifest().items()
    if row["decode"] == "ok" and row["NumberOfFrames"] in ("1", "")
]

# Where Orthanc's /wado itself renders wrongly, with the reason; the test checks these still
# differ, so the list cannot outlive the bug it describes.
ORTHANC_CANNOT = "Orthanc 1.10 (DCMTK and GDCM 3.0) cannot decode it: its /wado answers 500"
ORTHANC_WRONG: dict[str, str] = {
    "SC_rgb_rle_16bit.dcm": f"16-bit RGB; {ORTHANC_CANNOT}",
    "SC_ybr_full_422_uncompressed.dcm": f"native YBR_FULL_422; {ORTHANC_CANNOT}",
    "GDCMJ2K_TextGBR.dcm": f"J2K YBR_RCT ('Unsupported output photometric'); {ORTHANC_CANNOT}",
    "US1_J2KI.dcm": f"J2K YBR_ICT; {ORTHANC_CANNOT}",
    "US1_J2KR.dcm": f"J2K YBR_RCT; {ORTHANC_CANNOT}",
    "gdcm-US-ALOKA-16.dcm": f"16-bit segmented palette; {ORTHANC_CANNOT}",
    "HTJ2KLossless_08_RGB.dcm": f"HTJ2K; {ORTHANC_CANNOT}",
    "HTJ2K_08_RGB.dcm": f"HTJ2K; {ORTHANC_CANNOT}",
    "parametric_map_float.dcm": f"Float Pixel Data; {ORTHANC_CANNOT}",
    "J2K_pixelrep_mismatch.dcm": "the codestream is unsigned but Pixel Representation is 1; "
    "Orthanc keeps the unsigned values, so air (-1000 HU) wraps round to white. pydicom "
    "corrects the sign and so do we",
    "JLSL_16_15_1_1F.dcm": "signed 15-bit JPEG-LS: Orthanc reads the negative values as large "
    "positive ones and paints them white",
    "mlut_18.dcm": "Modality LUT Sequence (0028,3000): Orthanc ignores it and windows the raw "
    "stored values; we map them through the table first (PS3.3 C.11.1), as dcmtk does",
}


@pytest.mark.parametrize("name", SINGLE_FRAME)
def test_same_image_as_orthanc_wado(orthanc, wadofarm_orthanc, name) -> None:  # type: ignore[no-untyped-def]
    s = corpus.sample(name)
    params = {
        "requestType": "WADO",
        "studyUID": s.study_uid,
        "seriesUID": s.series_uid,
        "objectUID": s.object_uid,
        # Orthanc's /wado never draws overlay planes (60xx); wadofarm does by default, as dcmtk
        # and dcm4chee do (tests/renderer/test_overlay.py). Orthanc ignores the parameter.
        "overlays": "false",
    }
    theirs = get(orthanc.url + "/wado", params=params)
    ours = get(wadofarm_orthanc.url + "/wado", params=params)
    assert ours.status == 200, ours.text
    assert ours.content_type == "image/jpeg"
    if theirs.status != 200:
        assert name in ORTHANC_WRONG, f"Orthanc answered {theirs.status}: {theirs.text[:200]}"
        return
    a, b = decode(ours.body), decode(theirs.body)
    assert a.shape[:2] == b.shape[:2]
    quality = psnr(a, b)
    if name in ORTHANC_WRONG:
        assert quality < MIN_PSNR, f"Orthanc now agrees ({quality:.1f} dB): drop the exception"
    else:
        assert quality >= MIN_PSNR, f"{quality:.1f} dB"


def _stores_no_window(name: str) -> bool:
    """A grayscale image whose file has no window of its own: its render depends on the route's
    default (PS3.3 C.11.2: no Window Center/Width, no VOI LUT, no functional groups)."""
    row = corpus.manifest()[name]
    if not row["PhotometricInterpretation"].startswith("MONOCHROME"):
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(corpus.sample(name).path, stop_before_pixels=True, force=True)
    return not any(keyword in ds for keyword in VOI_KEYWORDS)


VOI_KEYWORDS = (
    "WindowCenter",
    "VOILUTSequence",
    "SharedFunctionalGroupsSequence",
    "PerFrameFunctionalGroupsSequence",
)
NO_WINDOW = [name for name in SINGLE_FRAME if _stores_no_window(name)]
# Where Orthanc's DICOMweb /rendered itself is wrong, as ORTHANC_WRONG says for its /wado.
RENDERED_WRONG = {name: ORTHANC_WRONG[name] for name in ("JLSL_16_15_1_1F.dcm",)}


@pytest.mark.parametrize("name", NO_WINDOW)
def test_same_image_as_orthanc_rendered_without_a_stored_window(  # type: ignore[no-untyped-def]
    orthanc, wadofarm_orthanc, name
) -> None:
    """Orthanc's DICOMweb plugin stretches the frame's range where the file has no window; so
    do wadofarm's DICOMweb routes by default (its /wado keeps Orthanc's /wado fallback)."""
    s = corpus.sample(name)
    path = f"/dicom-web/studies/{s.study_uid}/series/{s.series_uid}/instances/{s.object_uid}"
    accept = {"Accept": "image/jpeg"}
    theirs = get(orthanc.url + path + "/rendered", headers=accept)
    ours = get(wadofarm_orthanc.url + path + "/rendered", headers=accept)
    assert theirs.status == 200, theirs.text[:200]
    assert ours.status == 200, ours.text
    a, b = decode(ours.body), decode(theirs.body)
    assert a.shape[:2] == b.shape[:2]
    quality = psnr(a, b)
    if name in RENDERED_WRONG:
        assert quality < MIN_PSNR, f"Orthanc now agrees ({quality:.1f} dB): drop the exception"
    else:
        assert quality >= MIN_PSNR, f"{quality:.1f} dB"
    thumbnail = decode(get(wadofarm_orthanc.url + path + "/thumbnail").body)
    assert thumbnail.max() - thumbnail.min() > 128, "the thumbnail uses half the levels or less"
