"""Compressed series: the same CT stored JPEG 2000 lossless (Orthanc decodes it with its GDCM
plugin) and JPEG baseline 8-bit, as thumbnails and full size, every request a new instance."""

from __future__ import annotations

from bench.scenarios import THUMBNAIL, Scenario, rotating

SCENARIOS = [
    Scenario(
        name="j2k_thumbnails",
        title="JPEG 2000 lossless thumbnails (128x128, cold)",
        kind="j2k",
        profile="cold",
        pick=rotating(THUMBNAIL),
        rate=60.0,
    ),
    Scenario(
        name="j2k_full",
        title="JPEG 2000 lossless full-size (512x512, cold)",
        kind="j2k",
        profile="cold",
        pick=rotating(""),
        rate=60.0,
    ),
    Scenario(
        name="jpeg_thumbnails",
        title="JPEG baseline thumbnails (128x128, cold)",
        kind="jpeg",
        profile="cold",
        pick=rotating(THUMBNAIL),
        rate=300.0,
    ),
    Scenario(
        name="jpeg_full",
        title="JPEG baseline full-size (512x512, cold)",
        kind="jpeg",
        profile="cold",
        pick=rotating(""),
        rate=300.0,
    ),
]
