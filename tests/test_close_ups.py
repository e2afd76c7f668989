"""`predict` on a close-up: a photo of one digit with no sheet in view (issue #27: "with no
sheet in view, go on as today"), and the rendering of a small digit cut from a photographed
page. Synthetic close-ups (lenet5.data.synthetic_photos), MNIST test digits."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import DATA_DIR
from lenet5.infer.backends import load_backend
from lenet5.infer.photo import find_page, photo_digit
from lenet5.photo import synth
from lenet5.vision.page import equivalent_width, soft_ink, soft_word_ink, stroke_width

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def model():
    return load_backend(None)


def _read(model, image: Image.Image) -> int | None:
    from lenet5.errors import UserError

    try:
        digit = photo_digit(image).digit
    except UserError:
        return None
    return int(np.argmax(model.probabilities(model.meta.normalize(digit[None]))[0]))


def test_predict_reads_close_ups_as_the_close_up_finder_does(model) -> None:
    """A digit filling a picture, or cut by its edge, was "no digit found" for the page's
    writing finder (its strokes as wide as its background closing, its ends furniture):
    on these 60 pictures it read 48 (the close-up finder: 60)."""
    from lenet5.data.synthetic_photos import PhotoStyle, photo_set

    photos = photo_set(60, seed=1, style=PhotoStyle(dark_on_light=True))
    right = sum(_read(model, image) == label for label, image in photos)
    assert right >= 58, right


@pytest.fixture(scope="module")
def shadowed():
    """Close-ups with a hard shadow across (bench/photo_accuracy.py's "shadow", seed 1)."""
    from lenet5.data.synthetic_photos import condition_set

    return condition_set("shadow", 43, seed=1)


def test_a_hard_shadow_across_a_close_up_is_no_sheet(model, shadowed) -> None:
    """A shadow's straight edge across a close-up is a sharp step with darker "desk" beyond
    it: a sheet with one side of its own, unless the digit's strokes on the far side say it
    is paper (sheet._desk_beyond). Taken for a sheet, the digit beyond it was lost: 11 of
    these 30 pictures were read right."""
    right = sum(_read(model, image) == label for label, image in shadowed[:30])
    assert right >= 26, right


@pytest.mark.parametrize("index", [28, 42])
def test_a_shadow_edge_beside_the_digit_is_no_sheet(model, shadowed, index) -> None:
    """A hard shadow whose edge runs just beside the digit: the lit part passed as a sheet
    with one side of its own and nothing written beyond it, the digit touched the page's
    edge and was furniture ("no digit found"). People leave a margin at a sheet's edge
    (sheet._written_to_its_side)."""
    label, image = shadowed[index]
    assert find_page(image).rectified is None
    assert _read(model, image) == label


def test_a_page_whose_edge_went_unseen_is_still_read_as_a_page(model) -> None:
    """A ruled sheet on a white desk (bench/desk_photos.py, an MNIST test 5, scaled to
    1000 px) whose edges the sheet finder cannot see: the close-up finder joins the rules,
    the margin and the sheet's edges into one "digit" the size of the picture (read "0"),
    so the page's writing finder reads it."""
    image = Image.open(HERE / "data" / "sheet_edge_unseen.jpg")
    found = photo_digit(image)
    x0, y0, x1, y1 = found.box
    assert (x1 - x0) * (y1 - y0) < 0.05 * image.width * image.height, found.box
    assert _read(model, image) == 5


def _blurred_ring() -> tuple[np.ndarray, np.ndarray]:
    """A 14 x 16 px "0" with a line about 2 px wide, blurred as a phone blurs a small digit:
    its ink strength (0..1) and the mask of what passes a low ink threshold (0.15)."""
    canvas = np.zeros((64, 56), np.float32)
    cv2.ellipse(canvas, (28 * 16, 32 * 16), (20 * 16, 24 * 16), 0, 0, 360, 1.0, 8, cv2.LINE_AA, 4)
    canvas = cv2.GaussianBlur(canvas, (0, 0), 4.0)
    small = cv2.resize(canvas, (14, 16), interpolation=cv2.INTER_AREA)
    small /= small.max()
    return small, (small > 0.15).astype(np.uint8)


def test_equivalent_width_measures_a_blurred_line_not_its_rims() -> None:
    """A line blurred: the mask at a low threshold is about twice as wide as the line, the
    ink's own measure within a pixel of it."""
    canvas = np.zeros((60, 80), np.float32)
    cv2.line(canvas, (10, 30), (70, 30), 1.0, 3)
    true_width = canvas.sum() / 61  # the line covers 61 columns
    ink = cv2.GaussianBlur(canvas, (0, 0), 1.5)
    mask = (ink > 0.1).astype(np.uint8)
    assert stroke_width(mask) >= true_width + 3
    assert abs(equivalent_width(ink, mask) - true_width) <= 1.0


def test_a_small_blurred_zero_keeps_its_loop() -> None:
    """Thinned by the mask's width, a small soft 0 wore down to a few dots; thinned by the
    width its ink holds, every part of the ring is still there around an empty middle."""
    ink, mask = _blurred_ring()
    kept = soft_word_ink(ink, mask, 0.15)
    worn = soft_ink(ink, mask, 0.15)
    height, width = kept.shape
    ys, xs = np.mgrid[0:height, 0:width]
    angle = np.arctan2(ys - (height - 1) / 2, xs - (width - 1) / 2)
    starts = np.linspace(-np.pi, np.pi, 8, endpoint=False)
    sectors = [kept[(angle >= a) & (angle < a + np.pi / 4)].max() for a in starts]
    assert min(sectors) > 0.8, sectors
    assert kept[height // 2, width // 2] < 0.2
    assert worn.sum() < 0.3 * kept.sum()  # what the mask's width left of it


def _arc(bend: float, length: float = 36.0, width: int = 1) -> np.ndarray:
    """A hair's mask: a line `width` px wide along an arc turning by `bend` radians."""
    canvas = np.zeros((90, 90), np.uint8)
    t = np.linspace(0.0, 1.0, 24)
    radius = length / bend
    points = np.stack([45 + radius * np.sin(bend * (t - 0.5)), 45 + radius * (1 - np.cos(bend * (t - 0.5)))], 1)
    cv2.polylines(canvas, [np.round(points * 16).astype(np.int32)], False, 255, width, cv2.LINE_AA, 4)
    return canvas > 127


def test_an_arc_is_a_hair_and_a_digit_is_not() -> None:
    from lenet5.data import mnist
    from lenet5.infer.photo import is_hair
    from lenet5.vision.pen import thin

    assert all(is_hair(_arc(bend)) for bend in (1.0, 1.4, 2.0))
    assert not is_hair(_arc(0.05))  # nearly straight: a 1 may be drawn so
    ring = np.zeros((60, 60), np.uint8)
    cv2.circle(ring, (30, 30), 18, 255, 2)
    assert not is_hair(ring > 0)  # a 0 closes its circle
    data = mnist.load(DATA_DIR)
    drawn = [thin((image > 100).astype(np.uint8)) > 0 for image in data.test_images[:1000]]
    assert sum(is_hair(mask) for mask in drawn) <= 2  # digits drawn as 1 px lines (a 7 and a 9)


def test_a_hair_is_no_handwriting_beside_a_typed_digit() -> None:
    """A page with one typed 4 and a hair as dark: the hair was the only "handwriting", so
    the digit was looked for in it (the typed glyph was set aside as print)."""
    page = synth.blank_page(600, 800, seed=11)
    synth.print_text(page, "4", 280, 430, height=36)
    hair = _arc(1.3, 60.0).astype(np.float32)
    region = page.image[150:240, 380:470]
    region[:] = region * (1 - hair) + 30.0 * hair
    photo = synth.photograph(page, (900, 700), angle=3.0, desk="wood", seed=4)
    image = Image.fromarray(photo.frame)
    found = photo_digit(image)
    x0, y0, x1, y1 = photo.to_frame(page.marks["print"][0])
    assert found.box[0] < x1 and x0 < found.box[2] and found.box[1] < y1 and y0 < found.box[3], found.box
    assert _read(load_backend(None), image) == 4


def test_a_small_marker_digit_with_a_solid_loop_is_read_from_the_page() -> None:
    """A small 9 written with a marker, its loop filled in: the closer look at the finer
    picture took the solid loop for paper (3 of these 6 read as 8, 7, 5); its strokes are a
    fifth of its height wide, so the page's own rendering is used (FINE_BOLD)."""
    from lenet5.data import mnist

    data = mnist.load(DATA_DIR)
    model = load_backend(None)
    nines = np.flatnonzero(data.test_labels == 9)[:6]
    for index in nines:
        page = synth.blank_page(600, 800, seed=13)
        filled = (data.test_images[index] > 60).astype(np.uint8)
        cv2.floodFill(filled, np.zeros((30, 30), np.uint8), (0, 0), 2)  # the outside, so the loop stays filled
        solid = cv2.dilate((filled != 2).astype(np.uint8), np.ones((2, 2), np.uint8))
        ink = cv2.resize(solid.astype(np.float32), (34, 34), interpolation=cv2.INTER_AREA)
        region = page.image[380:414, 260:294]
        region[:] = region * (1 - ink) + 35.0 * ink
        photo = synth.photograph(page, (2000, 1500), angle=3.0, desk="wood", seed=5)
        assert _read(model, Image.fromarray(photo.frame)) == 9, index
