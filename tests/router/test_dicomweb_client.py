"""wadofarm as the whole DICOMweb root of a real client written by others (`dicomweb-client`, over
`requests`), in front of the session's real Orthanc: search, metadata, instances, frames,
rendered images and thumbnails, then every RetrieveURL and BulkDataURI in the answers followed
back through wadofarm, each compared with asking Orthanc directly. Twice: with a base URL as
written in the docs, and with one ending in `/` (the client then sends `//studies/...`).

dicomweb-client sends `Host` without the port (`Host: 127.0.0.1`), so the URLs Orthanc writes
for it lack the port, straight from Orthanc as through wadofarm: wadofarm runs here with
`--public-url`, as the README says to run it for such clients."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.uid import generate_uid

from tests.conftest import LoadedOrthanc
from tests.support import corpus
from tests.support.http import get
from tests.support.multipart import parts
from tests.support.series import Series
from tests.support.server import Wadofarm

MULTIFRAME = "rtdose.dcm"  # 15 frames, uncompressed: frames are served as stored
# As stored (transfer-syntax=*), as dicomweb-client asks for instances by default: a request that
# makes Orthanc 1.10.1 transcode runs the GDCM plugin on a web thread, whose stack it now and then
# overflows (a segfault: seen in dmesg, Orthanc gone).
AS_STORED = {"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'}
# Bulk data and frames as stored; dicomweb-client's default, multipart/related; type="*/*", is a
# 400 from Orthanc 1.10.1 itself.
OCTETS_AS_STORED = (("application/octet-stream", "*"),)


@dataclass(frozen=True)
class Clients:
    ours: DICOMwebClient  # through wadofarm
    direct: DICOMwebClient  # straight to Orthanc
    wadofarm: str  # wadofarm's root URL
    orthanc: str  # Orthanc's root URL

    def rebased(self, url: str) -> str:
        """A URL Orthanc wrote for wadofarm, as it would have written it for its own clients."""
        assert url.startswith(self.wadofarm + "/dicom-web/"), url
        return self.orthanc + url.removeprefix(self.wadofarm)

    def base(self) -> str:
        """The client's base URL, as it joins paths to it (`/dicom-web/` gives `//studies`)."""
        return str(self.ours.base_url)


@pytest.fixture(scope="module")
def wadofarm_public(
    tmp_path_factory: pytest.TempPathFactory, orthanc: LoadedOrthanc
) -> Iterator[Wadofarm]:
    """wadofarm in front of the session's Orthanc, told the URL its clients use; with
    --proxy-writes, as the client stores instances through it."""
    log = tmp_path_factory.mktemp("wadofarm-public") / "wadofarm.log"
    server = Wadofarm(["--orthanc", orthanc.url, "--workers", "1", "--proxy-writes"], log)
    server.args += ["--public-url", server.url]
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["/dicom-web", "/dicom-web/"], ids=["base", "base-slash"])
def clients(
    request: pytest.FixtureRequest, wadofarm_public: Wadofarm, orthanc: LoadedOrthanc
) -> Iterator[Clients]:
    ours = DICOMwebClient(url=wadofarm_public.url + request.param)
    direct = DICOMwebClient(url=orthanc.url + "/dicom-web")
    yield Clients(ours, direct, wadofarm_public.url, orthanc.url)
    ours._session.close()
    direct._session.close()


def test_client_host_lacks_the_port(
    wadofarm_orthanc: Wadofarm, orthanc: LoadedOrthanc, orthanc_series: Series
) -> None:
    """Why --public-url: without it, the URLs written for dicomweb-client (Host: 127.0.0.1)
    lack the port, as straight from Orthanc."""
    for root in (wadofarm_orthanc.url, orthanc.url):
        client = DICOMwebClient(url=root + "/dicom-web")
        [series] = client.search_for_series(orthanc_series.study_uid)
        assert _retrieve_url(series).startswith("http://127.0.0.1/dicom-web/studies/")
        client._session.close()


def _uid(item: dict[str, dict[str, list[str]]], tag: str) -> str:
    return item[tag]["Value"][0]


def _retrieve_url(item: dict[str, dict[str, list[str]]]) -> str:
    return _uid(item, "00081190")  # Retrieve URL


def _without_urls(item: dict[str, dict[str, list[str]]]) -> str:
    return repr(sorted((tag, value) for tag, value in item.items() if tag != "00081190"))


def test_search(clients: Clients, orthanc_series: Series) -> None:
    """QIDO-RS for studies, series and instances: Orthanc's answers, URLs pointing at wadofarm."""
    patient = {"PatientID": orthanc_series.patient_id}
    studies = clients.ours.search_for_studies(search_filters=patient)
    assert [_uid(s, "0020000D") for s in studies] == [orthanc_series.study_uid]
    series = clients.ours.search_for_series(orthanc_series.study_uid)
    assert [_uid(s, "0020000E") for s in series] == [orthanc_series.series_uid]
    instances = clients.ours.search_for_instances(
        orthanc_series.study_uid, orthanc_series.series_uid
    )
    uids = {_uid(i, "00080018") for i in instances}
    assert uids == {m.object_uid for m in orthanc_series.members}
    direct = clients.direct.search_for_instances(
        orthanc_series.study_uid, orthanc_series.series_uid
    )
    for item in instances:
        assert _retrieve_url(item).startswith(clients.wadofarm + "/dicom-web/studies/")
    # Orthanc's answer but for the URLs (straight from Orthanc, dicomweb-client's get no port)
    assert sorted(map(_without_urls, instances)) == sorted(map(_without_urls, direct))


def test_every_retrieve_url_leads_back_through_wadofarm(
    clients: Clients, orthanc_series: Series
) -> None:
    """Each RetrieveURL of the study, its series and its instances, fetched through wadofarm:
    200, and the same instances as Orthanc's own answer."""
    study, series = orthanc_series.study_uid, orthanc_series.series_uid
    found = [
        *clients.ours.search_for_studies(search_filters={"StudyInstanceUID": study}),
        *clients.ours.search_for_series(study),
        *clients.ours.search_for_instances(study, series),
    ]
    urls = [_retrieve_url(item) for item in found]
    assert len(urls) == 2 + len(orthanc_series.members)
    for url in urls:
        ours = requests.get(url, headers=AS_STORED, timeout=60)
        direct = requests.get(clients.rebased(url), headers=AS_STORED, timeout=60)
        assert ours.status_code == direct.status_code == 200, url
        assert "content-location" not in {k.lower() for k in ours.headers}
        got = parts(ours.headers["Content-Type"], ours.content)
        assert sorted(got) == sorted(parts(direct.headers["Content-Type"], direct.content))
        assert got and all(part[128:132] == b"DICM" for part in got)


def _bulk_uris(dataset: dict[str, dict[str, object]]) -> Iterator[str]:
    """Every BulkDataURI in a DICOM JSON dataset, in sequences too."""
    for element in dataset.values():
        if "BulkDataURI" in element:
            yield str(element["BulkDataURI"])
        if element.get("vr") == "SQ":
            for item in element.get("Value", []):  # type: ignore[attr-defined]
                yield from _bulk_uris(item)


def test_metadata_and_every_bulk_data_uri(clients: Clients, orthanc_series: Series) -> None:
    """WADO-RS metadata at the three levels, then each BulkDataURI in it retrieved by the client
    through wadofarm: the same bytes as from Orthanc."""
    study, series = orthanc_series.study_uid, orthanc_series.series_uid
    member = orthanc_series.members[0]
    assert len(clients.ours.retrieve_study_metadata(study)) == len(orthanc_series.members)
    one = clients.ours.retrieve_instance_metadata(study, series, member.object_uid)
    assert _uid(one, "00080018") == member.object_uid
    metadata = clients.ours.retrieve_series_metadata(study, series)
    uris = [uri for dataset in metadata for uri in _bulk_uris(dataset)]
    pixels = [uri for uri in uris if uri.endswith("/bulk/7fe00010")]
    assert pixels, uris  # the smallest ones Orthanc writes inline
    octets = OCTETS_AS_STORED
    for uri in uris:
        ours = clients.ours.retrieve_bulkdata(uri, media_types=octets)
        direct = clients.direct.retrieve_bulkdata(clients.rebased(uri), media_types=octets)
        assert ours == direct, uri
        assert ours and all(ours), uri


def test_instance_and_frames(clients: Clients, orthanc_series: Series) -> None:
    """WADO-RS instances (as stored) and frames of a multi-frame instance, as Orthanc gives them."""
    study, series = orthanc_series.study_uid, orthanc_series.series_uid
    for member in orthanc_series.members:
        ours = clients.ours.retrieve_instance(study, series, member.object_uid)
        direct = clients.direct.retrieve_instance(study, series, member.object_uid)
        assert ours.SOPInstanceUID == member.object_uid
        assert ours == direct
    sample = corpus.sample(MULTIFRAME)
    uids = (sample.study_uid, sample.series_uid, sample.object_uid)
    numbers, octets = [1, 8, 15], OCTETS_AS_STORED
    frames = clients.ours.retrieve_instance_frames(*uids, frame_numbers=numbers, media_types=octets)
    assert len(frames) == 3 and len({bytes(f) for f in frames}) == 3
    direct = clients.direct.retrieve_instance_frames(
        *uids, frame_numbers=numbers, media_types=octets
    )
    assert frames == direct


def _wadofarms(url: str) -> bytes:
    """An image wadofarm itself rendered (it names the cache tier that answered)."""
    reply = get(url)
    assert reply.status == 200, (url, reply.text)
    assert "x-wadofarm-cache" in reply.headers, url
    return reply.body


def test_rendered_and_thumbnails_are_wadofarms(clients: Clients, orthanc_series: Series) -> None:
    """Rendered instance, frame and series through the client, and thumbnails through its
    session: wadofarm's images (before issue 12, a base ending in `/` reached Orthanc's)."""
    study, series = orthanc_series.study_uid, orthanc_series.series_uid
    member = orthanc_series.middle
    png = ("image/png",)
    normal = f"{clients.wadofarm}/dicom-web/studies/{study}/series/{series}"
    instance = f"{normal}/instances/{member.object_uid}"
    assert clients.ours.retrieve_instance_rendered(
        study, series, member.object_uid, media_types=png
    ) == _wadofarms(f"{instance}/rendered?accept=image/png")
    assert clients.ours.retrieve_instance_frames_rendered(
        study, series, member.object_uid, frame_numbers=[1], media_types=png
    ) == _wadofarms(f"{instance}/frames/1/rendered?accept=image/png")
    assert clients.ours.retrieve_series_rendered(study, series, media_types=png) == _wadofarms(
        f"{normal}/rendered?accept=image/png"
    )
    base = clients.base()
    for target in (
        f"studies/{study}",
        f"studies/{study}/series/{series}",
        f"studies/{study}/series/{series}/instances/{member.object_uid}",
    ):
        thumbnail = clients.ours._session.get(f"{base}/{target}/thumbnail", timeout=60)
        assert thumbnail.status_code == 200, target
        assert "X-Wadofarm-Cache" in thumbnail.headers, target
        assert thumbnail.content == _wadofarms(f"{clients.wadofarm}/dicom-web/{target}/thumbnail")


def test_store_instances(clients: Clients, catalogue: dict[str, Path]) -> None:
    """STOW-RS by the client through wadofarm (the 13 MB cine goes chunked: above the client's
    1 MB chunk size), then the instance read back from Orthanc directly: the same file."""
    for name in ("CT_small.dcm", "GREYSCALE_CINE.dcm"):
        dataset = pydicom.dcmread(catalogue[name])
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        answer = clients.ours.store_instances([dataset])
        [item] = answer.ReferencedSOPSequence
        assert item.ReferencedSOPInstanceUID == dataset.SOPInstanceUID
        # The answer's Retrieve URLs, the study's and the instance's, lead back to wadofarm.
        for url in (answer.RetrieveURL, item.RetrieveURL):
            assert url.startswith(clients.wadofarm + "/dicom-web/studies/"), url
            assert requests.get(url, headers=AS_STORED, timeout=60).status_code == 200, url
        stored = clients.direct.retrieve_instance(
            dataset.StudyInstanceUID, dataset.SeriesInstanceUID, dataset.SOPInstanceUID
        )
        assert stored.PixelData == dataset.PixelData
        assert stored == dataset
