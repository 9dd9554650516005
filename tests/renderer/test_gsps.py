"""Rendering through a Grayscale Softcopy Presentation State (renderer/presented.py, gsps.py,
shutter.py, annotate.py).

What dcmtk's dcmp2pgm applies of a state -- its VOI (window or LUT, per image and frame), its
Modality LUT, Presentation LUT Shape INVERSE or a Presentation LUT table, the bitmap shutter,
the rotation and the flip -- is checked against it at native size (>= 45 dB). dcmp2pgm draws
neither geometric shutters nor the displayed area nor graphic annotations, and in dcmtk 3.6.7 it
does not burn activated overlays into its output either (its output is the same with and
without them): those are checked by pixel expectations from PS3.3 (1-based, edges inclusive).
A golden image of a state with every kind of annotation is checked in.
"""

from __future__ import annotations

import dataclasses
import io
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset

from renderer.errors import NotAPresentationState, NotReferenced
from renderer.formats import OutputFormat
from renderer.params import PresentationRef, RenderParams
from renderer.pipeline import render
from tests.support import gsps, overlays, synthetic
from tests.support.images import psnr
from tests.support.tools import require_program

MIN_PSNR = 45.0
ROWS, COLUMNS = synthetic.ROWS, synthetic.COLUMNS
GOLDEN = Path(__file__).parent / "golden" / "gsps_annotations.png"
PNG = RenderParams(output=OutputFormat.PNG)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gsps")


@pytest.fixture(scope="module")
def image(folder: Path) -> Path:
    """A 12-bit ramp with a window of its own (which a state's VOI replaces)."""
    return synthetic.write(
        folder / "image.dcm",
        synthetic.one(synthetic.ramp(0, 4095)),
        bits_allocated=16,
        bits_stored=12,
        WindowCenter=2048,
        WindowWidth=4096,
    )


@pytest.fixture(scope="module")
def cine(folder: Path) -> Path:
    cells = np.stack([synthetic.ramp(0, 4095, seed=k) for k in range(3)])
    return synthetic.write(
        folder / "cine.dcm",
        cells,
        bits_allocated=16,
        bits_stored=12,
        WindowCenter=2048,
        WindowWidth=4096,
    )


@pytest.fixture(scope="module")
def with_overlays(folder: Path) -> Path:
    return synthetic.write(
        folder / "overlays.dcm",
        synthetic.one(synthetic.ramp(0, 4095)),
        bits_allocated=16,
        bits_stored=12,
        WindowCenter=2048,
        WindowWidth=4096,
        elements=overlays.plane(0x6000, overlays.shapes(ROWS, COLUMNS, seed=1))
        + overlays.plane(0x6002, overlays.shapes(ROWS, COLUMNS, seed=2)),
    )


def uid(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def through(
    image_path: Path, state: Path, params: RenderParams = PNG, frame: int = 0
) -> np.ndarray:
    ref = PresentationRef(uid(state), uid(image_path), str(state))
    params = dataclasses.replace(params, presentation=ref, frame=frame)
    with Image.open(io.BytesIO(render(str(image_path), params).data)) as picture:
        return np.asarray(picture)


def dcmp2pgm(image_path: Path, state: Path, frame: int = 0) -> np.ndarray:
    out = state.with_suffix(f".{frame}.pgm")
    program = require_program("dcmp2pgm")
    done = subprocess.run(
        [program, "-p", str(state), "-f", str(frame + 1), str(image_path), str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with Image.open(out) as picture:
        return np.asarray(picture)


def state(folder: Path, name: str, image_path: Path, **options: object) -> Path:
    return gsps.write_state(folder / f"{name}.pr.dcm", image_path, **options)  # type: ignore[arg-type]


def ds(path: Path) -> Dataset:
    return pydicom.dcmread(path, stop_before_pixels=True)


def voi(image_path: Path, center: float = 1500, width: float = 2000) -> list[Dataset]:
    return [gsps.voi_item(ds(image_path), center, width)]


def sqrt_lut(entries: int, first: int, bits: int) -> Dataset:
    item = Dataset()
    item.add_new(0x00283002, "US", [entries, first, bits])
    table = np.rint((np.arange(entries) / (entries - 1)) ** 0.5 * ((1 << bits) - 1))
    item.add_new(0x00283006, "US", [int(v) for v in table])
    return item


# (name, options for write_state given the image path) for the oracle cases on the ramp.
def oracle_cases(path: Path) -> dict[str, dict[str, object]]:
    cases: dict[str, dict[str, object]] = {
        "window": {"voi": voi(path)},
        "voi_lut": {"voi": [gsps.voi_item(ds(path), lut=sqrt_lut(2000, 500, 12))]},
        "inverse": {"voi": voi(path), "shape": "INVERSE"},
        "state_rescale": {"voi": voi(path, 2000, 3000), "rescale": (2.0, -1000.0)},
        "presentation_lut": {
            "voi": voi(path, 2000, 3000),
            "presentation_lut": sqrt_lut(4096, 0, 12),
            "shape": None,
        },
        "bitmap_shutter": {
            "voi": voi(path),
            "ShutterShape": "BITMAP",
            "ShutterOverlayGroup": 0x6000,
            "ShutterPresentationValue": 30000,
            "elements": overlays.plane(0x6000, overlays.shapes(ROWS, COLUMNS, seed=20)),
        },
    }
    for rotation in (0, 90, 180, 270):
        for flip in (False, True):
            cases[f"rotate{rotation}{'_flip' if flip else ''}"] = {
                "voi": voi(path),
                "rotation": rotation,
                "flip": flip,
            }
    return cases


ORACLE = [
    "window",
    "voi_lut",
    "inverse",
    "state_rescale",
    "presentation_lut",
    "bitmap_shutter",
    *(f"rotate{r}{f}" for r in (0, 90, 180, 270) for f in ("", "_flip")),
]


@pytest.mark.parametrize("name", ORACLE)
def test_matches_dcmp2pgm(name: str, image: Path, folder: Path) -> None:
    path = state(folder, name, image, **oracle_cases(image)[name])
    ours, theirs = through(image, path), dcmp2pgm(image, path)
    assert ours.shape == theirs.shape
    assert psnr(ours, theirs) >= MIN_PSNR


@pytest.mark.parametrize("frame", [0, 1, 2])
def test_voi_per_frame_matches_dcmp2pgm(frame: int, cine: Path, folder: Path) -> None:
    """Three Softcopy VOI items: frame 1 has one window, frame 2 another, frame 3 a VOI LUT."""
    image_ds = ds(cine)
    items = [
        gsps.voi_item(image_ds, 1000, 1500, frames=[1]),
        gsps.voi_item(image_ds, 3000, 800, frames=[2]),
        gsps.voi_item(image_ds, frames=[3], lut=sqrt_lut(3000, 800, 12)),
    ]
    path = state(folder, "per_frame", cine, voi=items)
    ours, theirs = through(cine, path, frame=frame), dcmp2pgm(cine, path, frame)
    assert psnr(ours, theirs) >= MIN_PSNR
    if frame:
        assert psnr(ours, through(cine, path, frame=0)) < 30  # a different window indeed


def test_bitmap_shutter_holds_the_presentation_value(image: Path, folder: Path) -> None:
    bits = overlays.shapes(ROWS, COLUMNS, seed=20)
    options = oracle_cases(image)["bitmap_shutter"]
    shut = through(image, state(folder, "bitmap", image, **options))
    plain = through(image, state(folder, "bitmap_plain", image, voi=voi(image)))
    assert (shut[bits] == 30000 * 255 // 65535).all()
    assert np.array_equal(shut[~bits], plain[~bits])


SHUTTERS = {
    "rectangular": {
        "ShutterShape": "RECTANGULAR",
        "ShutterLeftVerticalEdge": 10,
        "ShutterRightVerticalEdge": 50,
        "ShutterUpperHorizontalEdge": 5,
        "ShutterLowerHorizontalEdge": 40,
    },
    "circular": {
        "ShutterShape": "CIRCULAR",
        "CenterOfCircularShutter": [24, 32],
        "RadiusOfCircularShutter": 15,
    },
    "polygonal": {
        "ShutterShape": "POLYGONAL",
        "VerticesOfThePolygonalShutter": [5, 5, 5, 60, 45, 60, 45, 5],
    },
    "rectangular_and_circular": {
        "ShutterShape": ["RECTANGULAR", "CIRCULAR"],
        "ShutterLeftVerticalEdge": 20,
        "ShutterRightVerticalEdge": 64,
        "ShutterUpperHorizontalEdge": 1,
        "ShutterLowerHorizontalEdge": 48,
        "CenterOfCircularShutter": [24, 32],
        "RadiusOfCircularShutter": 20,
    },
}


def shown_mask(name: str) -> np.ndarray:
    """Where each shutter shows the image, from PS3.3 C.7.6.11 (1-based, edges inclusive)."""
    y, x = np.mgrid[1 : ROWS + 1, 1 : COLUMNS + 1]
    if name == "rectangular":
        return (x >= 10) & (x <= 50) & (y >= 5) & (y <= 40)
    if name == "circular":
        return (y - 24) ** 2 + (x - 32) ** 2 <= 15**2
    if name == "polygonal":
        return (x >= 5) & (x <= 60) & (y >= 5) & (y <= 45)
    return (x >= 20) & ((y - 24) ** 2 + (x - 32) ** 2 <= 20**2)


@pytest.mark.parametrize("name", list(SHUTTERS))
def test_geometric_shutters(name: str, image: Path, folder: Path) -> None:
    options = {**SHUTTERS[name], "ShutterPresentationValue": 0xFFFF}
    shut = through(image, state(folder, f"shutter_{name}", image, voi=voi(image), **options))
    plain = through(image, state(folder, "shutter_plain", image, voi=voi(image)))
    shown = shown_mask(name)
    assert (shut[~shown] == 255).all()
    assert np.array_equal(shut[shown], plain[shown])


def test_shutter_value_is_not_inverted(image: Path, folder: Path) -> None:
    """The Shutter Presentation Value is a P-value: an INVERSE state does not invert it."""
    options = {**SHUTTERS["rectangular"], "ShutterPresentationValue": 0}
    shut = through(
        image, state(folder, "shutter_inverse", image, voi=voi(image), shape="INVERSE", **options)
    )
    assert (shut[~shown_mask("rectangular")] == 0).all()


def test_activated_overlays_only(with_overlays: Path, folder: Path) -> None:
    """The image's plane 6002 is activated and shows; 6000 is not and does not; the state's
    own plane 6004 (20x20 at 10,10) shows in its layer's gray."""
    own_bits = overlays.shapes(20, 20, seed=3)
    elements = (
        (0x60021001, "CS", "L1"),  # activates the image's plane 6002
        *overlays.plane(0x6004, own_bits, origin=(10, 10)),
        (0x60041001, "CS", "L2"),  # shows the state's own plane
    )
    layers = [gsps.layer("L1"), gsps.layer("L2", 2, gray=0x8000)]
    path = state(
        folder,
        "activate",
        with_overlays,
        voi=voi(with_overlays),
        layers=layers,
        elements=elements,
    )
    image = through(with_overlays, path)
    plain = through(
        with_overlays, state(folder, "activate_none", with_overlays, voi=voi(with_overlays))
    )
    shown = overlays.shapes(ROWS, COLUMNS, seed=2)
    own = np.zeros((ROWS, COLUMNS), bool)
    own[9:29, 9:29] = own_bits
    assert (image[shown & ~own] == 255).all()
    assert (image[own] == 0x8000 * 255 // 65535).all()
    untouched = ~shown & ~own
    assert np.array_equal(image[untouched], plain[untouched])
    assert not (plain[overlays.shapes(ROWS, COLUMNS, seed=1)] == 255).all()


def test_overlays_false_drops_activated_overlays(with_overlays: Path, folder: Path) -> None:
    path = state(
        folder,
        "activate_off",
        with_overlays,
        voi=voi(with_overlays),
        layers=[gsps.layer("L1")],
        elements=((0x60021001, "CS", "L1"),),
    )
    off = dataclasses.replace(PNG, overlays=False)
    plain = through(
        with_overlays, state(folder, "plain_off", with_overlays, voi=voi(with_overlays))
    )
    assert np.array_equal(through(with_overlays, path, off), plain)


# Displayed area (C.10.4): column\row, 1-based, inclusive, possibly past the image.
def test_displayed_area_crops(image: Path, folder: Path) -> None:
    plain = through(image, state(folder, "area_plain", image, voi=voi(image)))
    area = gsps.area_item((11, 6), (40, 30))
    part = through(image, state(folder, "area_crop", image, voi=voi(image), area=area))
    assert np.array_equal(part, plain[5:30, 10:40])


def test_displayed_area_past_the_edges_is_black(image: Path, folder: Path) -> None:
    plain = through(image, state(folder, "area_plain", image, voi=voi(image)))
    area = gsps.area_item((-9, -4), (COLUMNS + 10, ROWS + 5))
    shown = through(image, state(folder, "area_pad", image, voi=voi(image), area=area))
    assert shown.shape == (ROWS + 10, COLUMNS + 20)
    assert np.array_equal(shown[5 : 5 + ROWS, 10 : 10 + COLUMNS], plain)
    border = np.ones(shown.shape, bool)
    border[5 : 5 + ROWS, 10 : 10 + COLUMNS] = False
    assert (shown[border] == 0).all()


@pytest.mark.parametrize(
    ("mode", "magnification", "box", "shape"),
    [
        ("SCALE TO FIT", None, {}, (25, 30)),
        ("SCALE TO FIT", None, {"rows": 100}, (100, 120)),
        ("TRUE SIZE", None, {}, (25, 30)),
        ("MAGNIFY", 2.0, {}, (50, 60)),
        ("MAGNIFY", 2.0, {"columns": 15}, (12, 15)),
    ],
)
def test_displayed_area_sizing(
    mode: str,
    magnification: float | None,
    box: dict[str, int],
    shape: tuple[int, int],
    image: Path,
    folder: Path,
) -> None:
    """SCALE TO FIT fills the output box (native size without one); TRUE SIZE has no display
    to measure, so it shows a stored pixel per output pixel; MAGNIFY multiplies the area by its
    ratio when no box is asked, and the box wins when one is."""
    area = gsps.area_item((11, 6), (40, 30), mode, magnification)
    path = state(folder, f"area_{mode}", image, voi=voi(image), area=area)
    shown = through(image, path, dataclasses.replace(PNG, **box))
    assert shown.shape == shape
    if mode == "MAGNIFY" and not box:
        plain = through(image, state(folder, "area_plain", image, voi=voi(image)))
        halved = shown.reshape(25, 2, 30, 2).mean(axis=(1, 3))  # bilinear: about the area
        assert psnr(halved, plain[5:30, 10:40]) >= 30


def test_displayed_area_then_rotation(image: Path, folder: Path) -> None:
    """The area is chosen in stored-image coordinates, then rotated with the image."""
    plain = through(image, state(folder, "area_plain", image, voi=voi(image)))
    area = gsps.area_item((11, 6), (40, 30))
    turned = through(
        image, state(folder, "area_rot", image, voi=voi(image), area=area, rotation=90, flip=False)
    )
    assert np.array_equal(turned, np.rot90(plain[5:30, 10:40], k=-1))


# Graphic annotations (C.10.5): drawn after scaling, white unless the layer says otherwise.
def annotated(image: Path, folder: Path, name: str, *items: Dataset, **options: object) -> Path:
    graphics = [i for i in items if "GraphicType" in i]
    texts = [i for i in items if "UnformattedTextValue" in i]
    return state(
        folder,
        name,
        image,
        voi=voi(image, 2048, 8192),  # a dim image: every lit pixel is a mark
        layers=[gsps.layer("MARKS")],
        annotations=[gsps.annotation("MARKS", graphics, texts)],
        **options,
    )


def lit(picture: np.ndarray) -> np.ndarray:
    return picture == 255


def test_polyline_pixels_are_lit(image: Path, folder: Path) -> None:
    line = gsps.graphic("POLYLINE", [5.5, 10.5, 55.5, 10.5, 55.5, 40.5])
    shown = through(image, annotated(image, folder, "polyline", line))
    assert lit(shown)[10, 5:56].all() and lit(shown)[10:41, 55].all()
    assert not lit(shown)[20:30, 20:40].any()


def test_circle_is_a_ring(image: Path, folder: Path) -> None:
    ring = gsps.graphic("CIRCLE", [32.0, 24.0, 32.0, 12.0])
    shown = lit(through(image, annotated(image, folder, "circle", ring)))
    assert not shown[24, 32] and not shown[20:28, 28:36].any()
    assert shown[12, 31:33].any() and shown[36, 31:33].any()
    assert shown[23:25, 20].any() and shown[23:25, 44].any()


def test_filled_ellipse_and_point(image: Path, folder: Path) -> None:
    ellipse = gsps.graphic("ELLIPSE", [10.0, 24.0, 30.0, 24.0, 20.0, 19.0, 20.0, 29.0], filled=True)
    point = gsps.graphic("POINT", [50.0, 10.0])
    shown = lit(through(image, annotated(image, folder, "ellipse", ellipse, point)))
    assert shown[20:28, 14:26].all()  # filled inside
    assert not shown[24, 33:40].any()  # past the major axis
    assert shown[10, 47:53].all() and shown[7:13, 50].all()  # the point's cross


def test_display_units_follow_the_displayed_area(image: Path, folder: Path) -> None:
    """DISPLAY units are fractions of the area as shown: (0.5,0)-(0.5,1) is its middle column,
    whatever the output size."""
    line = gsps.graphic("POLYLINE", [0.5, 0.0, 0.5, 1.0], units="DISPLAY")
    path = annotated(image, folder, "display", line)
    for box, column in (({}, 32), ({"columns": 128}, 64)):
        shown = lit(through(image, path, dataclasses.replace(PNG, **box)))
        assert shown[:, column - 1 : column + 1].any(axis=1).mean() > 0.9


def test_pixel_units_follow_rotation_and_scaling(image: Path, folder: Path) -> None:
    """A horizontal line on stored row 10 becomes a vertical one at output column 38 after a
    clockwise quarter turn (48 rows: x = 48 - 10), twice as far at twice the size."""
    line = gsps.graphic("POLYLINE", [5.0, 10.0, 60.0, 10.0])
    path = annotated(image, folder, "rotated_line", line, rotation=90, flip=False)
    shown = lit(through(image, path))
    assert shown.shape == (COLUMNS, ROWS)
    assert shown[6:60, 37:39].any(axis=1).all()
    big = lit(through(image, path, dataclasses.replace(PNG, rows=128)))
    assert big[12:120, 75:78].any(axis=1).all()


def test_text_lands_in_its_corner(image: Path, folder: Path) -> None:
    label = gsps.text("R", box=(0.8, 0.0, 1.0, 0.25), units="DISPLAY")
    shown = lit(
        through(image, annotated(image, folder, "text", label), dataclasses.replace(PNG, rows=192))
    )
    height, width = shown.shape
    corner = shown[: height // 4, int(width * 0.8) :]
    assert corner.sum() > 20
    assert shown[height // 4 :, :].sum() == 0 and shown[:, : int(width * 0.8)].sum() == 0


def test_golden_annotations(image: Path, folder: Path) -> None:
    """Every kind of mark at once, against the image checked in (a font change may move text
    pixels a little: 35 dB)."""
    items = [
        gsps.graphic("POLYLINE", [4.0, 4.0, 60.0, 4.0, 60.0, 44.0, 4.0, 44.0, 4.0, 4.0]),
        gsps.graphic("INTERPOLATED", [8.0, 40.0, 20.0, 20.0, 32.0, 36.0, 44.0, 16.0]),
        gsps.graphic("CIRCLE", [40.0, 24.0, 40.0, 14.0]),
        gsps.graphic("ELLIPSE", [10.0, 12.0, 26.0, 12.0, 18.0, 8.0, 18.0, 16.0]),
        gsps.graphic("POINT", [52.0, 38.0]),
        gsps.text("L", box=(0.02, 0.7, 0.2, 0.95), units="DISPLAY"),
    ]
    path = annotated(image, folder, "golden", *items)
    shown = through(image, path, dataclasses.replace(PNG, rows=240))
    if not GOLDEN.exists():
        GOLDEN.parent.mkdir(exist_ok=True)
        Image.fromarray(shown).save(GOLDEN)
        pytest.fail(f"wrote {GOLDEN}: look at it, commit it, run again")
    with Image.open(GOLDEN) as golden:
        assert psnr(shown, np.asarray(golden)) >= 35


def test_state_not_referencing_the_image(image: Path, cine: Path, folder: Path) -> None:
    path = state(folder, "elsewhere", cine, voi=voi(cine))
    with pytest.raises(NotReferenced) as caught:
        through(image, path)
    assert uid(path) in caught.value.reason and uid(image) in caught.value.reason


def test_state_for_other_frames(cine: Path, folder: Path) -> None:
    path = state(folder, "frame2", cine, frames=[2], voi=voi(cine))
    through(cine, path, frame=1)
    with pytest.raises(NotReferenced, match="frame 3"):
        through(cine, path, frame=2)


def test_an_image_is_not_a_presentation_state(image: Path, cine: Path) -> None:
    with pytest.raises(NotAPresentationState, match="not a presentation state"):
        through(image, cine)


def test_broken_graphics_are_skipped(image: Path, folder: Path) -> None:
    """Graphic Data that is not finite is skipped; the rest of the state still applies."""
    broken = gsps.graphic("POLYLINE", [0.0, 0.0, 10.0, 10.0])
    broken.GraphicData = [0.0, float("nan"), 1e30, 5.0]
    line = gsps.graphic("POLYLINE", [5.5, 10.5, 55.5, 10.5])
    shown = lit(through(image, annotated(image, folder, "broken", broken, line)))
    assert shown[10, 5:56].all() and shown.sum() == shown[10].sum()


def test_a_huge_displayed_area_is_refused_before_allocation(image: Path, folder: Path) -> None:
    from renderer.errors import OutputTooLarge

    area = gsps.area_item((-200000, -200000), (200000, 200000))
    path = state(folder, "huge_area", image, voi=voi(image), area=area)
    with pytest.raises(OutputTooLarge, match="displayed area"):
        through(image, path)


def test_a_change_of_state_reuses_the_decoded_frame(
    image: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the worker's frame cache on, a second state for the same image renders from the
    cached frame: the image is neither fetched nor decoded again."""
    from renderer import presented
    from renderer.files import frames

    monkeypatch.setattr(frames, "CACHE", frames.FrameCache(64 * 2**20))
    first = through(image, state(folder, "cache_a", image, voi=voi(image)))

    def no_read(*args: object, **kwargs: object) -> None:
        raise AssertionError("the image was read again")

    monkeypatch.setattr(presented, "StoredFile", no_read)
    second = through(image, state(folder, "cache_b", image, voi=voi(image), shape="INVERSE"))
    assert np.array_equal(second, 255 - first)


def test_corner_annotations_through_a_state(image: Path, folder: Path) -> None:
    """annotation=patient applies to a render through a state too: text top left only."""
    path = state(folder, "labels", image, voi=voi(image), rotation=90, flip=False)
    params = dataclasses.replace(PNG, rows=256)
    plain = through(image, path, params)
    labelled = through(image, path, dataclasses.replace(params, annotation=("patient",)))
    changed = labelled != plain
    height, width = changed.shape
    assert changed[: height // 4, : width // 2].sum() > 50
    assert not changed[height // 2 :].any()
