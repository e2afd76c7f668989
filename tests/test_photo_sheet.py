"""Finding and straightening the sheet in a phone photo (lenet5.photo.sheet), on synthetic
frames whose truth is known: a tilted sheet in perspective on a desk, with its shadow,
vignetting, a light gradient, sometimes a hand's shadow and JPEG."""

from __future__ import annotations

import functools

import cv2
import numpy as np
import pytest

from lenet5.photo import sheet as sheet_module
from lenet5.photo import synth
from lenet5.photo.sheet import (
    Sheet,
    box_to_original,
    box_to_source,
    downscale,
    find_sheet,
    order_corners,
    points_to_original,
    rectify,
)
from lenet5.photo.writing import analyse_writing, find_writing


def _page(seed: int = 0, width: int = 600, height: int = 800) -> synth.Page:
    page = synth.blank_page(width, height, seed=seed)
    synth.write(page, "4271", 90, 200, 50, 4)
    synth.write(page, "358", 300, 420, 50, 4)
    return page


def _distance_to_line(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    direction = (b - a) / np.linalg.norm(b - a)
    normal = np.array([-direction[1], direction[0]])
    return np.abs((points - a) @ normal)


@pytest.mark.parametrize(
    ("desk", "angle", "hand"),
    [
        ("wood", 4.0, False),
        ("grey", -4.0, True),
        ("black", 6.0, False),
        ("textured", -2.5, True),
        ("white", 3.0, False),
    ],
)
def test_corners_within_a_pixel_or_two(desk: str, angle: float, hand: bool) -> None:
    photo = synth.photograph(_page(), (800, 600), angle=angle, tilt=14, desk=desk, hand=hand, seed=3)
    sheet = find_sheet(photo.frame)
    assert sheet is not None
    assert np.abs(sheet.corners - photo.corners).max() < 1.5
    assert sheet.cut == ()
    assert sheet.confidence > 0.5
    assert 0.25 < sheet.area < 0.4


def test_a_white_desk_beside_white_paper_is_found_by_its_edge_and_shadow() -> None:
    # The desk is 8% darker than the paper: no global threshold but the edges separate them.
    photo = synth.photograph(_page(), (800, 600), desk="white", vignette=0.05, gradient=0.05, seed=7)
    sheet = find_sheet(photo.frame)
    assert sheet is not None
    assert np.abs(sheet.corners - photo.corners).max() < 1.5


def test_a_sheet_cut_by_the_frame_keeps_its_three_visible_sides() -> None:
    photo = synth.photograph(_page(), (800, 600), cover=0.8, shift=(0.0, 0.3), desk="wood", seed=5)
    truth = photo.corners
    assert truth[2:, 1].min() > 600  # the bottom corners are out of the picture
    sheet = find_sheet(photo.frame)
    assert sheet is not None
    assert sheet.cut == ("bottom",)
    assert np.abs(sheet.corners[:2] - truth[:2]).max() < 1.5  # TL, TR seen
    # The bottom corners lie on the true left and right sides, at or below the frame's edge.
    assert _distance_to_line(sheet.corners[3:], truth[0], truth[3]).max() < 1.5
    assert _distance_to_line(sheet.corners[2:3], truth[1], truth[2]).max() < 1.5
    assert sheet.corners[2:, 1].min() >= 598


def test_a_sheet_larger_than_the_frame_with_two_sides_in_view() -> None:
    photo = synth.photograph(_page(), (800, 600), cover=1.3, shift=(-0.25, -0.3), desk="black", seed=2)
    sheet = find_sheet(photo.frame)
    assert sheet is not None
    assert set(sheet.cut) == {"left", "top"}
    assert np.abs(sheet.corners[2] - photo.corners[2]).max() < 1.5  # the one corner in view


@pytest.mark.parametrize("seed", [0, 2, 4])
def test_a_white_sheet_on_a_pale_desk_is_found_by_its_straight_edges(seed: int) -> None:
    # The desk is 4% darker than the paper and the vignette darkens the corners by more
    # than that: the faint outline has gaps and encloses no region, but its sides are
    # still straight lines of small steps with the paper on one hand.
    photo = synth.photograph(_page(), (800, 600), desk="pale", vignette=0.45, seed=seed)
    sheet = find_sheet(photo.frame)
    assert sheet is not None
    assert sheet.cut == ()
    assert np.abs(sheet.corners - photo.corners).max() < 1.5


@pytest.mark.parametrize("desk", ["wood", "black"])
def test_a_sheet_filling_the_frame_but_for_its_bottom_edge(desk: str) -> None:
    # Only the bottom side is in view: the frame's borders stand in for the other three,
    # so the desk below is cut off and none of it reaches the writing finder.
    page = _page()
    synth.write(page, "16", 200, 700, 50, 4)
    photo = synth.photograph(page, (800, 600), cover=2.4, shift=(0.02, -0.8), angle=3, tilt=5, desk=desk, seed=1)
    truth = photo.corners
    assert truth[2, 0] > 799 and truth[3, 0] < 0 and truth[:2, 1].max() < 0  # one side in the frame
    sheet = find_sheet(photo.frame)
    assert sheet is not None
    assert set(sheet.cut) == {"left", "top", "right"}
    assert _distance_to_line(sheet.corners[2:], truth[2], truth[3]).max() < 1.5
    rectified = rectify(photo.frame, sheet)
    writing = analyse_writing(rectified.image)
    assert not writing.mask[-3:].any()  # no desk along the bottom
    assert [len(line.words) for line in writing.lines] == [1]  # the "16"


def test_a_side_that_is_a_fold_or_a_grid_line_has_paper_again_beyond_it() -> None:
    # Profiles across a side (paper inside, to the left): on a vignette falling outward by
    # 0.5 grey levels per px, a step down to a desk 8% darker, and a fold (light, then
    # shade for 2 px) with paper again beyond it. Both fall as steeply and, over the
    # band, by more than MIN_CONTRAST; only the desk departs from the paper's trend.
    x = np.arange(-60, 61, dtype=np.float64)
    paper = 200 - 0.5 * x
    desk = np.where(x < 0, paper, 0.92 * paper)
    fold = paper + np.select([(x >= -2) & (x < 0), (x >= 0) & (x < 2)], [6.0, -14.0], 0.0)
    profiles = cv2.GaussianBlur(np.array([desk, fold], np.float32), (0, 0), sigmaX=1.0, sigmaY=0.01)
    offset, step, inside, outside, _, expected = sheet_module._steps(profiles, 8, 24)
    assert np.abs(offset).max() <= 1.5 and step.min() >= sheet_module.MIN_STEP
    assert ((inside - outside) / inside).min() > sheet_module.MIN_CONTRAST
    departure = (expected - outside) / inside
    assert departure[0] > 0.06  # the desk
    assert departure[1] < 0.02  # the fold


def test_a_printed_box_on_the_sheet_is_not_the_sheet() -> None:
    page = _page()
    synth.rectangle(page, (40, 60, 560, 740), 3)
    photo = synth.photograph(page, (800, 600), desk="grey", seed=4)
    sheet = find_sheet(photo.frame)
    assert sheet is not None
    assert np.abs(sheet.corners - photo.corners).max() < 1.5


def _vignetted(picture: np.ndarray) -> np.ndarray:
    height, width = picture.shape
    ys, xs = np.mgrid[0:height, 0:width]
    light = 1 - 0.2 * (((xs - width / 2) / width) ** 2 + ((ys - height / 2) / height) ** 2)
    return np.clip(picture * light, 0, 255).astype(np.uint8)


@functools.cache
def _mnist() -> np.ndarray:
    from lenet5.data import mnist

    return mnist.load().test_images[:100]


def _mnist_digit(index: int, size: int) -> np.ndarray:
    return cv2.resize(_mnist()[index], (size, size), interpolation=cv2.INTER_CUBIC)


def _close_up() -> np.ndarray:
    page = synth.blank_page(800, 600, seed=1)
    synth.write(page, "4271", 80, 250, 90, 6)
    synth.write(page, "35", 420, 480, 90, 6)
    return _vignetted(page.image)


def _printed_form() -> np.ndarray:
    page = synth.blank_page(800, 600, seed=2)
    synth.rectangle(page, (120, 100, 680, 500), 3)
    for y in range(180, 500, 80):
        synth.line(page, (120, y), (679, y), "table", 2, 60)
    for x in (300, 480):
        synth.line(page, (x, 100), (x, 499), "table", 2, 60)
    synth.write(page, "16", 340, 300, 50, 4)
    return _vignetted(page.image)


@pytest.mark.parametrize(
    "picture",
    [
        pytest.param(_close_up, id="writing-fills-the-frame"),
        pytest.param(lambda: np.full((600, 800), 245, np.uint8), id="blank-canvas"),
        pytest.param(lambda: _vignetted(np.full((600, 800), 250.0)), id="vignetted-canvas"),
        pytest.param(lambda: _mnist_digit(0, 420), id="white-on-black-digit"),
        pytest.param(lambda: 255 - _mnist_digit(3, 420), id="digit-on-white"),
        pytest.param(lambda: (110 + 0.5 * _mnist_digit(5, 500)).astype(np.uint8), id="digit-on-grey"),
        pytest.param(_printed_form, id="printed-table-close-up"),
        pytest.param(lambda: synth.photograph(_page(), (180, 135), seed=1).frame, id="tiny-photo"),
    ],
)
def test_no_sheet_in_view(picture) -> None:
    assert find_sheet(picture()) is None


def test_rectified_sheet_is_upright_with_no_edge_left() -> None:
    page = _page()
    photo = synth.photograph(page, (800, 600), angle=-5, tilt=18, desk="wood", hand=True, seed=8)
    sheet = find_sheet(photo.frame)
    assert sheet is not None
    rectified = rectify(photo.frame, sheet)
    height, width = rectified.image.shape
    assert height <= 600 and width <= 800
    assert abs(width / height - 600 / 800) < 0.03  # the page's aspect
    writing = analyse_writing(rectified.image)
    ink = writing.mask.astype(bool)
    edge = np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]])
    assert not edge.any()  # neither the sheet's edge nor the desk reaches the output
    assert len(writing.lines) == 2


def test_word_boxes_map_back_onto_the_digits_in_the_frame() -> None:
    page = _page()
    photo = synth.photograph(page, (800, 600), angle=4, tilt=14, desk="grey", seed=9)
    sheet = find_sheet(photo.frame)
    assert sheet is not None
    rectified = rectify(photo.frame, sheet)
    lines = find_writing(rectified.image)
    found = [box_to_source(word.box, rectified.homography) for line in lines for word in line.words]
    truth = [photo.to_frame(box) for box in page.marks["text"]]
    assert len(found) == len(truth)
    for got, expected in zip(found, truth, strict=True):
        assert np.abs(np.subtract(got, expected)).max() <= 3, (got, expected)


def test_a_large_frame_is_found_on_its_downscaled_copy() -> None:
    photo = synth.photograph(_page(), (2560, 1920), desk="wood", jpeg=None, seed=3)
    small, scale = downscale(photo.frame)
    assert max(small.shape) == 1024 and scale == pytest.approx(2560 / 1024)
    sheet = find_sheet(small)
    assert sheet is not None
    assert np.abs(points_to_original(sheet.corners, scale) - photo.corners).max() < 4  # one analysed pixel


def test_boxes_scale_to_the_original_picture_outward() -> None:
    assert box_to_original((10, 20, 30, 40), 2.5) == (25, 50, 75, 100)
    assert box_to_original((1, 1, 3, 3), 1.5) == (1, 1, 5, 5)  # 1.5..4.5 widened to whole pixels
    assert box_to_original((0, 0, 500, 500), 4.0, shape=(1000, 1500)) == (0, 0, 1500, 1000)
    assert box_to_source((5, 6, 7, 8), np.eye(3)) == (5, 6, 7, 8)
    shifted = np.array([[1, 0, 10.0], [0, 1, -2.0], [0, 0, 1]])
    assert box_to_source((5, 6, 7, 8), shifted) == (15, 4, 17, 6)


def test_corners_are_ordered_clockwise_from_the_top_left() -> None:
    square = np.array([[100, 10], [0, 0], [5, 90], [110, 100]], float)
    assert order_corners(square).tolist() == [[0, 0], [100, 10], [110, 100], [5, 90]]


def test_debug_overlays_draw_on_a_copy() -> None:
    from lenet5.photo.debug import draw_sheet, draw_writing

    photo = synth.photograph(_page(), (800, 600), desk="grey", seed=1)
    sheet = find_sheet(photo.frame)
    framed = draw_sheet(photo.frame, sheet)
    assert framed.shape == (600, 800, 3) and (framed[..., 2] > framed[..., 1] + 100).any()  # the red outline
    rectified = rectify(photo.frame, sheet)
    boxed = draw_writing(rectified.image, analyse_writing(rectified.image))
    assert boxed.shape == (*rectified.image.shape, 3) and (boxed[..., 0] > boxed[..., 2] + 100).any()  # blue boxes
    assert draw_sheet(photo.frame, None).shape == (600, 800, 3)


def test_a_close_up_digits_straight_stroke_is_no_side_of_a_sheet() -> None:
    """Paper filling the frame, a "1" and a "4" on it: the 1's long straight stroke is a sharp
    edge with paper inside, but paper again beyond it, so no sheet is cut out of the close-up."""
    close_up = np.full((160, 345), 235, np.uint8)
    cv2.line(close_up, (160, 30), (150, 130), 35, 12)  # the 1
    cv2.line(close_up, (230, 30), (215, 95), 35, 11)  # the 4
    cv2.line(close_up, (215, 95), (290, 95), 35, 11)
    cv2.line(close_up, (270, 50), (262, 130), 35, 11)
    assert find_sheet(close_up) is None


def test_a_sheet_cut_by_the_frame_has_no_mirrored_marks_beyond_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # The sheet runs 100 px past the top of a 600 x 200 frame; a printed mark lies at the
    # frame's top edge. Mirroring the picture there would draw a second mark above it.
    picture = np.full((600, 200), 200, np.uint8)
    picture[0:12, 80:120] = 30  # the mark, cut by the frame
    corners = np.array([[10.0, -100.0], [189.0, -100.0], [189.0, 489.0], [10.0, 489.0]])
    # Found cut, or not (its corners fitted beyond the frame all the same: a photo's
    # "Name:" label at the frame's edge was read as a digit from its own reflection).
    for found in (Sheet(corners, 1.0, 0.9, cut=("top",)), Sheet(corners, 1.0, 0.9)):
        cut = rectify(picture, found, margin=0.0, min_margin=0)
        # Rows 0..99 of the straightened sheet are beyond the frame; row 100 is the frame's top.
        assert cut.image[:95].min() > 150, "a mark was mirrored beyond the frame"
        assert cut.image[100:110, 75:105].min() < 60  # the mark itself is kept
    monkeypatch.setattr(sheet_module, "_blank_beyond_the_frame", lambda *args: None)
    mirrored = rectify(picture, Sheet(corners, 1.0, 0.9, cut=("top",)), margin=0.0, min_margin=0)
    assert mirrored.image[88:99, 75:105].min() < 60  # what the mirror alone draws there


def test_a_sheet_inside_the_frame_is_straightened_without_blanking(monkeypatch: pytest.MonkeyPatch) -> None:
    # The page's four corners inside the picture: nothing of it lies beyond the frame, and the
    # extra warp that finds what does is not made (a sheet in view costs no more than before).
    picture = np.full((600, 200), 200, np.uint8)
    picture[0:12, 80:120] = 30
    calls: list[int] = []
    monkeypatch.setattr(sheet_module, "_blank_beyond_the_frame", lambda *args: calls.append(1))
    inside = np.array([[0.0, 0.0], [199.0, 0.0], [199.0, 599.0], [0.0, 599.0]])
    rectify(picture, Sheet(inside, 1.0, 0.9), margin=0.0, min_margin=0)
    assert calls == []
    beyond = inside + [[-1.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]  # one corner a pixel out
    rectify(picture, Sheet(beyond, 1.0, 0.9), margin=0.0, min_margin=0)
    assert calls == [1]
