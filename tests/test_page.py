"""Finding the digit on real-looking pages (lenet5.vision.page), checked without a model: the
digit read back from a difficult page must match the same digit read from a clean one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from conftest import DATA_DIR
from lenet5.cli import main
from lenet5.vision.preprocess import analyse


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    from lenet5.data import mnist

    return mnist.load(DATA_DIR).test_images


def _page(size: tuple[int, int], paper: float = 235.0) -> np.ndarray:
    return np.full((size[1], size[0]), paper, dtype=np.float32)


def _place(
    page: np.ndarray, digit: np.ndarray, box: tuple[int, int, int, int], ink: float = 30.0
) -> tuple[int, int, int, int]:
    """Paste an MNIST digit as dark ink into `box` (x0, y0, x1, y1) of a float page; return
    the box of its ink (MNIST digits have a margin around it)."""
    x0, y0, x1, y1 = box
    alpha = np.asarray(Image.fromarray(digit).resize((x1 - x0, y1 - y0), Image.Resampling.BICUBIC), np.float32) / 255
    alpha = np.clip(alpha, 0, 1)
    page[y0:y1, x0:x1] = page[y0:y1, x0:x1] * (1 - alpha) + ink * alpha
    rows, cols = np.nonzero(alpha > 0.25)
    return x0 + cols.min(), y0 + rows.min(), x0 + cols.max() + 1, y0 + rows.max() + 1


def _read(page: np.ndarray):
    return analyse(Image.fromarray(np.clip(page, 0, 255).astype(np.uint8)), "page")


def _similarity(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(np.corrcoef(a, b)[0, 1])


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union


def _reference(digit: np.ndarray) -> np.ndarray:
    page = _page((300, 300))
    _place(page, digit, (75, 75, 225, 225))
    return _read(page).digit


@pytest.mark.parametrize("index", [0, 1, 2, 3, 4])
def test_light_falling_off_across_the_page(digits: np.ndarray, index: int) -> None:
    page = _page((900, 700))
    _place(page, digits[index], (300, 200, 560, 460))
    xs = np.mgrid[0:700, 0:900][1]
    page *= 1.0 - 0.6 * xs / 900  # the right side gets 40% of the light
    assert _similarity(_read(page).digit, _reference(digits[index])) > 0.85


@pytest.mark.parametrize("index", [5, 6, 7])
def test_hard_shadow_beside_the_digit(digits: np.ndarray, index: int) -> None:
    page = _page((800, 800))
    ink_box = _place(page, digits[index], (420, 250, 700, 530))
    page[:, :380] *= 0.45  # a hand's shadow over the left half
    result = _read(page)
    assert _similarity(result.digit, _reference(digits[index])) > 0.85
    assert _iou(result.box, ink_box) > 0.7


@pytest.mark.parametrize(("index", "shadowed"), [(11, 0.6), (12, 0.75), (13, 0.9)])
def test_a_shadow_over_most_of_the_page_and_across_the_digit(digits: np.ndarray, index: int, shadowed: float) -> None:
    """The shadow's edge runs through the digit and covers most of the page, so the median
    grey is shadowed paper and the lit paper is the picture's bright tail: the ink must
    still be read as dark (before, this page was read as light ink on a dark ground)."""
    from lenet5.vision import page as finder

    page = _page((800, 800))
    ink_box = _place(page, digits[index], (260, 260, 540, 540))
    edge = int(800 * shadowed)
    page[:, :edge] *= 0.45  # the edge crosses the digit for 0.6; the digit is all in shadow otherwise
    gray = np.clip(page, 0, 255).astype(np.uint8)
    assert finder.is_dark_ink(gray)
    result = _read(page)
    assert _iou(result.box, ink_box) > 0.7, result.box
    assert _similarity(result.digit, _reference(digits[index])) > 0.85


def test_light_ink_on_an_unevenly_lit_dark_ground_is_still_light(digits: np.ndarray) -> None:
    from lenet5.vision import page as finder

    board = np.full((600, 800), 40.0, np.float32) * (1.0 + 0.5 * np.mgrid[0:600, 0:800][1] / 800)  # 40 -> 60
    board += np.random.default_rng(0).normal(0, 3, board.shape)
    chalk = np.asarray(Image.fromarray(digits[14]).resize((260, 260), Image.Resampling.BICUBIC), np.float32) / 255
    board[170:430, 270:530] = board[170:430, 270:530] * (1 - chalk) + 220 * chalk
    gray = np.clip(board, 0, 255).astype(np.uint8)
    assert not finder.is_dark_ink(gray)
    read = analyse(Image.fromarray(gray), "board").digit
    assert _similarity(read, _reference(digits[14])) > 0.85


@pytest.mark.parametrize("index", [8, 9, 10])
def test_small_digit_on_a_big_page_with_clutter(digits: np.ndarray, index: int) -> None:
    page = _page((2400, 1800))
    box = _place(page, digits[index], (1500, 900, 1580, 980))  # an 80 px digit: 0.15% of the page
    rng = np.random.default_rng(index)
    for _ in range(30):  # specks
        y, x = rng.integers(0, 1800), rng.integers(0, 2400)
        page[y : y + 3, x : x + 3] = 120
    for y in range(100, 1800, 110):  # ruled lines
        if not 850 < y < 1030:
            page[y : y + 3] = 190
    page[:, :60] = 20  # the dark table beside the sheet
    result = _read(page)
    assert _iou(result.box, box) > 0.6, result.box
    assert _similarity(result.digit, _reference(digits[index])) > 0.8


def test_pen_thin_strokes_are_thickened() -> None:
    """A 7 drawn with a 2 px pen on a 300 px digit comes out with MNIST-like strokes, not a hairline."""

    def seven(pen: int) -> np.ndarray:
        image = Image.new("L", (420, 420), 240)
        ImageDraw.Draw(image).line([(90, 60), (330, 60), (180, 370)], fill=20, width=pen)
        return analyse(image, "seven").digit

    thin, normal = seven(2), seven(36)
    assert (thin > 127).sum() > 0.6 * (normal > 127).sum()
    assert _similarity(thin, normal) > 0.8


def test_pieces_of_one_digit_are_joined(digits: np.ndarray) -> None:
    """A 5 whose top bar is drawn apart from the rest is read as one digit."""
    image = Image.new("L", (400, 400), 240)
    draw = ImageDraw.Draw(image)
    draw.line([(150, 90), (270, 90)], fill=20, width=14)  # the detached bar
    draw.line([(150, 112), (145, 190)], fill=20, width=14)
    draw.arc([(120, 160), (280, 320)], start=-100, end=150, fill=20, width=14)
    result = analyse(image, "five")
    assert result.box[1] <= 90 and result.box[3] >= 300 and result.other_digits == 0


def test_several_digits_are_flagged(digits: np.ndarray, tmp_path: Path, capsys) -> None:
    page = _page((900, 300))
    for i, x in enumerate((80, 300, 520)):
        _place(page, digits[i], (x, 60, x + 180, 240))
    Image.fromarray(page.astype(np.uint8)).save(tmp_path / "number.png")
    assert _read(page).other_digits >= 2
    assert main(["predict", str(tmp_path / "number.png"), "--json"]) == 0  # the shipped model
    row = json.loads(capsys.readouterr().out)
    assert "digits" in row["warning"]
    assert main(["predict", str(tmp_path / "number.png")]) == 0
    assert "warning: " in capsys.readouterr().err


def test_the_box_is_in_the_original_pictures_pixels(digits: np.ndarray) -> None:
    page = _page((3000, 2000))  # larger than the 1024 px working size
    box = _place(page, digits[3], (1800, 600, 2300, 1100))
    assert _iou(_read(page).box, box) > 0.8


def test_load_digit_passes_on_the_name_and_the_pixel_limit() -> None:
    import io

    from lenet5.errors import UserError
    from lenet5.vision.preprocess import load_digit

    with pytest.raises(UserError, match=r"^holiday\.png: empty file$"):
        load_digit(b"", name="holiday.png")
    buffer = io.BytesIO()
    Image.new("L", (100, 100), 255).save(buffer, format="PNG")
    with pytest.raises(UserError, match=r"^scan\.png: image too large \(100x100, limit 2,500 pixels\)$"):
        load_digit(buffer.getvalue(), name="scan.png", max_pixels=2500)


@pytest.mark.parametrize("pen", [2, 16])
def test_the_stroke_width_is_measured_once_per_pass(monkeypatch: pytest.MonkeyPatch, pen: int) -> None:
    """The distance transform behind the stroke width is a good part of the time on a small
    picture: the digit's is measured once per pass (the solidity check's, reused), two
    passes when the strokes are thin against the picture (pen 2), and the digit comes out
    exactly as when the width is measured afresh wherever it is used."""
    from lenet5.vision import page

    image = Image.new("L", (300, 300), 245)
    ImageDraw.Draw(image).line([(90, 70), (210, 70), (130, 240)], fill=20, width=pen)
    gray = np.asarray(image)
    measure = page.stroke_width
    calls = []
    monkeypatch.setattr(page, "stroke_width", lambda pieces: calls.append(pieces.shape) or measure(pieces))
    found = page.find_digit(gray)
    assert len(calls) == (2 if pen == 2 else 1), calls
    monkeypatch.setattr(
        page, "_group_width", lambda labels, group, box, _widths: page.stroke_width(page._pieces(labels, group, box))
    )
    afresh = page.find_digit(gray)
    assert len(calls) == (6 if pen == 2 else 3)  # measured again for the group, in each pass
    np.testing.assert_array_equal(found.ink, afresh.ink)
    assert found.box == afresh.box and 80 < found.box[0] < 100 and 200 < found.box[2] < 220


def test_the_fast_ink_strength_of_bytes_equals_the_float_arithmetic() -> None:
    """Every pair of 8-bit grey and background levels: OpenCV's byte-to-float division gives
    exactly the float32 values of 1 - g / max(bg, 1) clipped to 0..1, the slow path's formula."""
    from lenet5.vision.page import reflectance_strength

    gray = np.tile(np.arange(256, dtype=np.uint8), (256, 1))
    background = gray.T.copy()
    expected = np.clip(1.0 - gray.astype(np.float32) / np.maximum(background.astype(np.float32), 1.0), 0.0, 1.0)
    got = reflectance_strength(gray, background)
    assert got.dtype == np.float32 and np.array_equal(got, expected)
    assert got[0, 0] == 1.0 and got[200, 100] == pytest.approx(0.5) and got[100, 200] == 0.0


def test_blobs_found_in_the_inks_bounding_box_keep_page_coordinates() -> None:
    """Labels and boxes are the page's, wherever the ink lies; an empty page has none."""
    from lenet5.vision.page import find_blobs

    mask = np.zeros((40, 60), dtype=np.uint8)
    mask[5:9, 30:33] = 1
    mask[20:35, 50:52] = 1
    mask[39, 0] = 1
    strength = mask.astype(np.float32) * 0.5
    labels, blobs = find_blobs(mask, strength)
    boxes = sorted((b.x0, b.y0, b.x1, b.y1, b.area, b.mass) for b in blobs)
    assert boxes == [(0, 39, 1, 40, 1, 0.5), (30, 5, 33, 9, 12, 6.0), (50, 20, 52, 35, 30, 15.0)]
    for blob in blobs:
        assert (labels[blob.y0 : blob.y1, blob.x0 : blob.x1] == blob.index).sum() == blob.area
    assert labels.shape == mask.shape and (labels > 0).sum() == mask.sum()
    empty_labels, none = find_blobs(np.zeros((10, 10), np.uint8), np.zeros((10, 10), np.float32))
    assert none == [] and not empty_labels.any()


# A "1" in ballpoint from a synthetic desk photo (bench/desk_photos.py, seed 1, desk_digit 490),
# 46 x 31, packed bits. In `lenet5 predict` OpenCV's exact distance transform returned it with
# last-bit noise that changed from call to call, and its stroke width came out 19 or 20 px by
# turns (so the same photo gave two digits; a folder read on workers differed from one read
# in one process).
_TIED_ONE = bytes.fromhex(
    "00f200000ff800003ffc0000fffc0003fffc0007fffe001ffffe003fffff007fffff00fffffe01ffffff83ffffff8fffffff0fff"
    "ffff9fffffff1fffffff1ffffffe3ffffffc3ffffff87ffffff0ffffffe0ffffffc1ffffff83ffffff07fffffe07fffffc0ffffff8"
    "03fffff003ffffe007ffffc007ffff8001ffff0003fffe0007fffc0007fff80003fff00003ffe00007ffc00003ff800003ff000003"
    "fe000003fc000000f8000001f0000000e0000000c0"
)


@pytest.mark.parametrize("phase", [0, 1])
def test_the_stroke_width_ignores_the_distances_last_bit(monkeypatch: pytest.MonkeyPatch, phase: int) -> None:
    import cv2

    from lenet5.vision import page

    mask = np.unpackbits(np.frombuffer(_TIED_ONE, np.uint8))[: 46 * 31].reshape(46, 31)
    exact = page.stroke_width(mask)
    plain = cv2.distanceTransform

    def wobbly(*args: object) -> np.ndarray:  # what OpenCV sometimes returns: one ulp up on some pixels
        distance = plain(*args)
        ys, xs = np.indices(distance.shape)
        up = (ys + xs) % 2 == phase
        distance[up] = np.nextafter(distance[up], np.float32(np.inf))
        return distance

    monkeypatch.setattr(page.cv2, "distanceTransform", wobbly)
    assert page.stroke_width(mask) == exact
