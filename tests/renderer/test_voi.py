"""VOI: the window functions of PS3.3 C.11.2.1.2 at hand-computed points, the VOI LUT, and which
VOI a file's header yields."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import Tag

from renderer.display.lut import Lut
from renderer.display.voi import apply_voi, fallback_window, stored_voi, voi_function
from renderer.params import DefaultWindow, VoiFunction, Window

LINEAR, EXACT, SIGMOID = VoiFunction.LINEAR, VoiFunction.LINEAR_EXACT, VoiFunction.SIGMOID


@pytest.mark.parametrize(
    ("window", "x", "level"),
    [
        # LINEAR, c=100 w=21: the ramp runs over (c-0.5-(w-1)/2, c-0.5+(w-1)/2] = (89.5, 109.5]
        (Window(100, 21), 0, 0.0),
        (Window(100, 21), 89.5, 0.0),  # the lower edge itself is ymin
        (Window(100, 21), 90, 6.375),  # ((90-99.5)/20+0.5)*255
        (Window(100, 21), 99.5, 127.5),  # the middle is c-0.5, not c
        (Window(100, 21), 109, 248.625),
        (Window(100, 21), 109.5, 255.0),
        (Window(100, 21), 1e6, 255.0),
        # LINEAR with w = 1: a threshold at c - 0.5
        (Window(10, 1), 9.5, 0.0),
        (Window(10, 1), 9.51, 255.0),
        # LINEAR_EXACT, c=100 w=20: (x-c)/w*255 + 127.5 over (90, 110]
        (Window(100, 20, EXACT), 89, 0.0),
        (Window(100, 20, EXACT), 90, 0.0),
        (Window(100, 20, EXACT), 95, 63.75),
        (Window(100, 20, EXACT), 100, 127.5),
        (Window(100, 20, EXACT), 110, 255.0),
        (Window(100, 20, EXACT), 111, 255.0),
        (Window(100, 0.5, EXACT), 100.2, 229.5),  # widths below 1 are fine for LINEAR_EXACT
        # SIGMOID, c=100 w=20: 255/(1+exp(-4(x-c)/w)); the midpoint is c exactly
        (Window(100, 20, SIGMOID), 100, 127.5),
        (Window(100, 20, SIGMOID), 105, 186.41993755065124),  # 255/(1+e^-1)
        (Window(100, 20, SIGMOID), 95, 68.58006244934876),  # 255/(1+e^1)
        (Window(100, 20, SIGMOID), 102, 152.66535332867525),
        (Window(100, 20, SIGMOID), -1e6, 0.0),
        (Window(100, 20, SIGMOID), 1e6, 255.0),
    ],
)
def test_window_functions_at_hand_computed_points(window: Window, x: float, level: float) -> None:
    assert apply_voi(np.array([x]), window)[0] == pytest.approx(level, abs=1e-9)


def test_the_default_function_is_linear_so_old_windows_keep_their_meaning() -> None:
    assert Window(40, 400) == Window(40, 400, VoiFunction.LINEAR)


@pytest.mark.parametrize(
    ("x", "level"),
    [
        (-50, 0.0),  # below the first mapped input: the first entry
        (100, 0.0),
        (101, 255.0 / 4095),  # entry 1 = 1 of a 12-bit range
        (200, 800 * 255.0 / 4095),  # entry 100 = 800
        (611, 255.0),  # the last entry
        (5000, 255.0),  # past it: still the last entry
    ],
)
def test_voi_lut_scales_entries_by_their_bit_depth_and_clamps(x: float, level: float) -> None:
    table = np.minimum(np.arange(512) * 8, 4095).astype(np.uint16)  # 512 entries from input 100
    table[1], table[511] = 1, 4095
    lut = Lut(first=100, bits=12, data=table.tobytes())
    assert apply_voi(np.array([x], dtype=np.float64), lut)[0] == pytest.approx(level)


@pytest.mark.parametrize(
    ("text", "function"),
    [("LINEAR", LINEAR), ("LINEAR_EXACT", EXACT), ("SIGMOID", SIGMOID), ("", LINEAR),
     ("sigmoid ", SIGMOID), ("BOGUS", LINEAR), (None, LINEAR)],
)  # fmt: skip
def test_voi_lut_function_values(text: str | None, function: VoiFunction) -> None:
    assert voi_function(text) is function


def _window_item(center: object, width: object, function: str | None = None) -> Dataset:
    item = Dataset()
    item.WindowCenter, item.WindowWidth = center, width
    if function:
        item.VOILUTFunction = function
    return item


def _lut_item(first: int) -> Dataset:
    item = Dataset()
    item.add_new(0x00283002, "US", [2, first, 8])
    item.add_new(0x00283006, "US", [0, 255])
    return item


def test_first_of_several_stored_windows_with_its_function() -> None:
    ds = _window_item([40, 400], [400, 2000], "SIGMOID")
    assert stored_voi(ds, 0, signed=False) == Window(40, 400, SIGMOID)


def test_a_stored_window_is_preferred_to_a_stored_voi_lut() -> None:
    ds = _window_item(40, 400)
    ds.VOILUTSequence = [_lut_item(0)]
    assert stored_voi(ds, 0, signed=False) == Window(40, 400)
    del ds.WindowCenter
    assert stored_voi(ds, 0, signed=False) == Lut(0, 8, np.array([0, 255], np.uint16).tobytes())


def test_voi_lut_first_value_is_signed_when_the_input_can_be_negative() -> None:
    ds = Dataset()
    ds.VOILUTSequence = [_lut_item(65535 - 99)]  # -100 written as US
    found = stored_voi(ds, 0, signed=True)
    assert isinstance(found, Lut) and found.first == -100
    found = stored_voi(ds, 0, signed=False)
    assert isinstance(found, Lut) and found.first == 65436


def test_enhanced_objects_take_the_frame_voi_per_frame_then_shared_then_top_level() -> None:
    ds = _window_item(1, 10)
    shared = Dataset()
    shared.FrameVOILUTSequence = [_window_item(2, 20)]
    ds.SharedFunctionalGroupsSequence = [shared]
    frames = [Dataset(), Dataset()]
    frames[1].FrameVOILUTSequence = [_window_item(3, 30, "LINEAR_EXACT")]
    ds.PerFrameFunctionalGroupsSequence = frames
    assert stored_voi(ds, 1, signed=False) == Window(3, 30, EXACT)
    assert stored_voi(ds, 0, signed=False) == Window(2, 20)
    del ds.SharedFunctionalGroupsSequence
    assert stored_voi(ds, 0, signed=False) == Window(1, 10)


@pytest.mark.parametrize(("center", "width"), [("", 400), (40, ""), (40, 0), (40, -5)])
def test_unusable_stored_windows_are_ignored(center: object, width: object) -> None:
    assert stored_voi(_window_item(center, width), 0, signed=False) is None


def test_a_window_centre_pydicom_cannot_parse_is_ignored() -> None:
    ds = _window_item(40, 400)
    tag = Tag(0x00281050)
    ds[tag] = RawDataElement(tag, "DS", 2, b"x ", 0, False, True)  # as read from a bad file
    assert stored_voi(ds, 0, signed=False) is None


@pytest.mark.parametrize(
    ("mode", "bits", "span", "expected"),
    [
        (DefaultWindow.ORTHANC, 12, (-5.0, 9.0), Window(2048, 4096)),
        (DefaultWindow.ORTHANC, 1, None, Window(1, 2)),
        (DefaultWindow.MINMAX, 12, (-10.0, 30.0), Window(10, 40, EXACT)),  # -10 black, 30 white
        (DefaultWindow.MINMAX, 12, (7.0, 7.0), Window(7.5, 1)),  # flat frame: all black
        (DefaultWindow.MINMAX, 12, None, Window(2048, 4096)),
    ],
)
def test_fallback_windows(
    mode: DefaultWindow, bits: int, span: tuple[float, float] | None, expected: Window
) -> None:
    assert fallback_window(mode, bits, span) == expected
