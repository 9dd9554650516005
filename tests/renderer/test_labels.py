"""annotation=patient,technique (renderer/annotation/labels.py, fonts.py): which lines, decoded
through the character set, drawn in their corners, in a font with their glyphs, legible at any
size."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image, ImageDraw
from pydicom.data import get_charset_files

from renderer.annotation import labels
from renderer.annotation.fonts import font_for
from renderer.formats import OutputFormat
from renderer.params import RenderParams, Window
from renderer.pipeline import render
from tests.support import synthetic

PNG = RenderParams(output=OutputFormat.PNG)
BOTH = ("patient", "technique")


def japanese(path: Path) -> Path:
    return synthetic.write(
        path,
        synthetic.one(np.zeros((synthetic.ROWS, synthetic.COLUMNS), np.int64) + 100),
        bits_allocated=16,
        bits_stored=12,
        WindowCenter=2048,
        WindowWidth=4096,
        SpecificCharacterSet=["", "ISO 2022 IR 87"],
        PatientName="Yamada^Tarou=山田^太郎=やまだ^たろう",
        PatientBirthDate="19700101",
        PatientSex="M",
        SeriesNumber=3,
        InstanceNumber=7,
        SliceThickness=2.5,
        KVP=120,
        Exposure=200,
    )


def anonymous(path: Path) -> Path:
    return synthetic.write(
        path,
        synthetic.one(np.zeros((synthetic.ROWS, synthetic.COLUMNS), np.int64) + 100),
        bits_allocated=16,
        bits_stored=12,
        WindowCenter=2048,
        WindowWidth=4096,
        PatientName="",
        PatientID="",
        PatientBirthDate="",
        PatientSex="",
    )


def ours(path: Path, params: RenderParams) -> np.ndarray:
    with Image.open(io.BytesIO(render(str(path), params).data)) as picture:
        return np.asarray(picture)


def test_japanese_patient_lines(tmp_path: Path) -> None:
    ds = pydicom.dcmread(japanese(tmp_path / "jp.dcm"))
    assert labels.patient_lines(ds) == [
        "Yamada Tarou",
        "山田 太郎",
        "ID WADOFARM-SYNTHETIC",
        "1970-01-01 M",
    ]


def test_technique_lines(tmp_path: Path) -> None:
    ds = pydicom.dcmread(japanese(tmp_path / "jp.dcm"))
    assert labels.technique_lines(ds, 0, 1, "C 40 W 400") == [
        "CT",
        "Se 3 Im 7",
        "C 40 W 400",
        "2.5 mm",
        "120 kV 200 mAs",
    ]
    assert labels.technique_lines(ds, 4, 10, "")[1] == "Se 3 Im 7 Fr 5/10"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("chrGreek.dcm", "Διονυσιος"), ("chrRuss.dcm", "Люкceмбypг"), ("chrH31.dcm", "山田 太郎")],
)
def test_character_sets_of_pydicoms_samples(name: str, expected: str) -> None:
    ds = pydicom.dcmread(get_charset_files(name)[0])
    assert expected in labels.patient_lines(ds)


@pytest.mark.parametrize("text", ["山田", "Διονυσιος", "Люксембург", "Tarou"])
def test_every_script_has_glyphs(text: str) -> None:
    """Each character draws a shape of its own, not the missing-glyph box."""
    face = font_for(text, 24)

    def glyph(ch: str) -> bytes:
        canvas = Image.new("L", (40, 40))
        ImageDraw.Draw(canvas).text((4, 4), ch, font=face, fill=255)
        return canvas.tobytes()

    missing = glyph("\U0010fffd")  # a private-use code point: no font draws it
    for ch in text:
        assert glyph(ch) != missing, ch


def test_text_in_its_corners(tmp_path: Path) -> None:
    """On a flat dark image: patient text top left, technique top right, nothing below."""
    path = japanese(tmp_path / "jp.dcm")
    params = dataclasses.replace(PNG, rows=240)
    plain = ours(path, params)
    drawn = ours(path, dataclasses.replace(params, annotation=BOTH))
    changed = drawn != plain
    height, width = changed.shape
    assert changed[: height // 3, : width // 3].sum() > 100
    assert changed[: height // 3, -width // 4 :].sum() > 100
    assert not changed[height // 2 :, :].any()
    only_patient = ours(path, dataclasses.replace(params, annotation=("patient",))) != plain
    assert only_patient[: height // 3, : width // 3].any()
    assert not only_patient[:, -width // 5 :].any()


def test_anonymised_patient_shows_nothing(tmp_path: Path) -> None:
    path = anonymous(tmp_path / "anon.dcm")
    plain = ours(path, PNG)
    assert np.array_equal(ours(path, dataclasses.replace(PNG, annotation=("patient",))), plain)
    assert not np.array_equal(ours(path, dataclasses.replace(PNG, annotation=BOTH)), plain)


def test_text_scales_with_the_output(tmp_path: Path) -> None:
    """The patient block grows with the output: legible in a thumbnail, not lost in a full view."""
    path = japanese(tmp_path / "jp.dcm")

    def block_height(rows: int) -> int:
        params = dataclasses.replace(PNG, rows=rows)
        changed = ours(path, dataclasses.replace(params, annotation=("patient",))) != ours(
            path, params
        )
        return int(np.nonzero(changed.any(axis=1))[0].max())

    small, large = block_height(96), block_height(960)
    assert small >= 4 * 8  # four lines of at least 8 pixels
    assert large > 5 * small


def test_the_window_used_is_shown(tmp_path: Path) -> None:
    path = japanese(tmp_path / "jp.dcm")
    header = pydicom.dcmread(path)
    assert header.WindowCenter == 2048
    from renderer.annotation.labels import window_text
    from renderer.files.stored_file import StoredFile

    head = StoredFile(str(path)).header(0, 10**8)
    assert window_text(head, PNG) == "C 2048 W 4096"
    assert window_text(head, dataclasses.replace(PNG, window=Window(40, 400))) == "C 40 W 400"
