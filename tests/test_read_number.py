"""Reading whole numbers (`lenet5 read`, /api/read): each segmentation case, the JSON, the
boxes, the command line's bad-input rules and the segmentation graph's path search."""

from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import DATA_DIR, run_cli
from lenet5.data import mnist

# MNIST test digits, one per class, that the shipped reader reads right on their own: the
# cases below test segmentation, not recognition.
DIGITS = {0: 3, 1: 2, 2: 1, 3: 18, 4: 4, 5: 15, 6: 11, 7: 0, 8: 61, 9: 7}
SCALE = 5  # MNIST pixels -> picture pixels


@pytest.fixture(scope="module")
def reader():
    from lenet5.infer.backends import load_backend

    return load_backend("reader")


@pytest.fixture(scope="module")
def test_images() -> np.ndarray:
    return mnist.load(DATA_DIR).test_images


def _ink(images: np.ndarray, digit: int) -> np.ndarray:
    image = images[DIGITS[digit]].astype(np.float32) / 255
    rows, cols = np.flatnonzero(image.max(axis=1) > 0), np.flatnonzero(image.max(axis=0) > 0)
    return image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _compose(
    parts: list[np.ndarray], gaps: list[int], tops: list[int] | None = None
) -> tuple[Image.Image, list[tuple[int, int, int, int]]]:
    """Crops side by side at MNIST scale (`gaps[k]` px before part k+1; negative overlaps),
    photographed dark on light at SCALE; returns the picture and each part's true box."""
    tops = tops or [0] * len(parts)
    height = max(t + p.shape[0] for t, p in zip(tops, parts, strict=True)) + 12
    width = sum(p.shape[1] for p in parts) + sum(max(0, g) for g in gaps) + 12
    canvas = np.zeros((height, width), dtype=np.float32)
    boxes = []
    x = 6
    for k, part in enumerate(parts):
        if k:
            x += gaps[k - 1]
        y = 6 + tops[k]
        region = canvas[y : y + part.shape[0], x : x + part.shape[1]]
        np.maximum(region, part, out=region)
        boxes.append((x * SCALE, y * SCALE, (x + part.shape[1]) * SCALE, (y + part.shape[0]) * SCALE))
        x += part.shape[1]
    big = cv2.resize(canvas, (width * SCALE, height * SCALE), interpolation=cv2.INTER_CUBIC)
    photo = 235 - np.clip(big, 0, 1) * 200
    return Image.fromarray(photo.astype(np.uint8)), boxes


def _read(reader, image: Image.Image) -> str:
    from lenet5.reader.read import read_number

    return read_number(reader, image).number


def test_separated_digits(reader, test_images: np.ndarray) -> None:
    image, _ = _compose([_ink(test_images, d) for d in (2, 0, 2, 6)], [6, 5, 7])
    assert _read(reader, image) == "2026"


def test_gaps_of_a_pixel_with_overlapping_boxes(reader, test_images: np.ndarray) -> None:
    # Slanted neighbours one pixel apart: their boxes overlap, their ink does not touch.
    image, _ = _compose([_ink(test_images, d) for d in (4, 7, 3)], [1, 1])
    assert _read(reader, image) == "473"


def _touching(parts: list[np.ndarray]) -> Image.Image:
    """Two digits brought together until their ink is one blob, and one pixel more."""
    for overlap in range(1, 12):
        image, _ = _compose(parts, [-overlap])
        count, _ = cv2.connectedComponents((np.asarray(image) < 120).astype(np.uint8))
        if count - 1 == 1:
            return _compose(parts, [-overlap - 1])[0]
    raise AssertionError("the digits never touched")


@pytest.mark.parametrize(
    "pair",
    [
        "23",
        "50",
        "47",
        "38",
        # The 7's stem runs through the 4's left stroke: read "771" until cuts followed the
        # seam between touching strokes and the reader learnt from its own cuts.
        "74",
    ],
)
def test_touching_pair_is_split(reader, test_images: np.ndarray, pair: str) -> None:
    image = _touching([_ink(test_images, int(d)) for d in pair])
    count, _ = cv2.connectedComponents((np.asarray(image) < 120).astype(np.uint8))
    assert count - 1 == 1  # the two digits really are one blob of ink
    assert _read(reader, image) == pair


def test_broken_five_is_one_digit(reader, test_images: np.ndarray) -> None:
    five = _ink(test_images, 5).copy()
    # Cut the 5's top bar off its body: a gap of two rows under the bar's row band.
    bar_rows = np.flatnonzero(five[:, five.shape[1] // 2 :].max(axis=1) > 0)[:4]
    five[bar_rows[-1] + 1 : bar_rows[-1] + 3, :] = 0
    count, _ = cv2.connectedComponents((five > 0.2).astype(np.uint8))
    assert count - 1 >= 2  # really broken
    image, _ = _compose([_ink(test_images, 3), five, _ink(test_images, 8)], [6, 6])
    assert _read(reader, image) == "358"


def test_a_one_next_to_a_zero(reader, test_images: np.ndarray) -> None:
    image, _ = _compose([_ink(test_images, 1), _ink(test_images, 0)], [2])
    assert _read(reader, image) == "10"


def test_digits_of_different_heights(reader, test_images: np.ndarray) -> None:
    small = cv2.resize(_ink(test_images, 7), None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    large = cv2.resize(_ink(test_images, 9), None, fx=1.3, fy=1.3, interpolation=cv2.INTER_CUBIC)
    image, _ = _compose([_ink(test_images, 4), small, large], [6, 6], tops=[4, 12, 0])
    assert _read(reader, image) == "479"


def test_slanted_digits(reader, test_images: np.ndarray) -> None:
    """Numbers written slanted either way read about as well as upright ones. Measured on
    60 numbers of three random test digits, not on one: a single slanted example ("618")
    was read right by the reader shipped before #27's pen training and as "1018" by the one
    after it, while on 300 slanted numbers they read 293 and 291 right; on these 60, upright
    57 and 57, slanted +0.25: 57 and 57, -0.25: 58 and 56 (docs/results.md)."""
    labels = mnist.load(DATA_DIR).test_labels

    def slant(part: np.ndarray, shear: float) -> np.ndarray:
        h, w = part.shape
        extra = int(abs(shear) * h) + 1
        matrix = np.float32([[1, shear, extra if shear < 0 else 0], [0, 1, 0]])
        return cv2.warpAffine(part, matrix, (w + extra, h))

    def crop(index: int) -> np.ndarray:
        image = test_images[index].astype(np.float32) / 255
        rows, cols = np.flatnonzero(image.max(axis=1) > 0), np.flatnonzero(image.max(axis=0) > 0)
        return image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]

    rng = np.random.default_rng(3)
    numbers = [[int(i) for i in rng.integers(0, len(labels), 3)] for _ in range(60)]

    def right(shear: float) -> int:
        return sum(
            _read(reader, _compose([slant(crop(i), shear) for i in picks], [4, 4])[0])
            == "".join(str(labels[i]) for i in picks)
            for picks in numbers
        )

    upright = right(0.0)
    assert upright >= 54
    for shear in (0.25, -0.25):
        assert right(shear) >= upright - 3, shear


def test_boxes_are_in_the_original_pictures_pixels(reader, test_images: np.ndarray) -> None:
    """A picture far larger than the working size: each box still lands on its digit."""
    from lenet5.reader.read import read_number

    image, truth = _compose([_ink(test_images, d) for d in (5, 1, 9)], [8, 8])
    big = image.resize((image.width * 4, image.height * 4), Image.Resampling.BICUBIC)
    truth = [tuple(4 * v for v in box) for box in truth]
    reading = read_number(reader, big)
    assert reading.number == "519"
    for got, want in zip((d.box for d in reading.digits), truth, strict=True):
        ix = max(0, min(got[2], want[2]) - max(got[0], want[0]))
        iy = max(0, min(got[3], want[3]) - max(got[1], want[1]))
        union = (got[2] - got[0]) * (got[3] - got[1]) + (want[2] - want[0]) * (want[3] - want[1]) - ix * iy
        assert ix * iy / union > 0.6, (got, want)


def test_best_path_is_the_least_total_cost() -> None:
    from lenet5.reader.graph import best_path

    # Pieces 0,1,2: reading 0-1 as one digit and 2 alone beats every other grouping.
    costs = {(0, 1): 1.0, (1, 2): 1.0, (2, 3): 0.1, (0, 2): 0.5, (1, 3): 5.0, (0, 3): 3.0}
    assert best_path(costs, 4) == [(0, 2), (2, 3)]
    costs[(0, 3)] = 0.4
    assert best_path(costs, 4) == [(0, 3)]


def test_an_arc_may_hold_a_digit_one_and_a_half_line_heights_wide() -> None:
    """A slanted 5 whose bar reaches far right is one candidate digit (at 1.3 line heights
    it was not, and was read as two); nothing much wider is."""
    from lenet5.reader.segment import Piece, _arcs

    def block(x0: int, x1: int, y0: int = 10, y1: int = 50) -> Piece:
        return Piece(np.ones((y1 - y0, x1 - x0), dtype=bool), x0, y0, x1, y1)

    body, bar = block(0, 40), block(35, 60, 8, 14)  # together 60 px: 1.5 line heights of 40
    assert (0, 2) in _arcs([body, bar], height=40)
    assert (0, 2) not in _arcs([body, block(35, 70, 8, 14)], height=40)  # 70 px: 1.75


def test_cli_json_annotate_and_bad_files(tmp_path: Path, test_images: np.ndarray) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    image, _ = _compose([_ink(test_images, d) for d in (3, 1, 4)], [6, 6])
    image.save(folder / "pi.png")
    (folder / "notes.txt").write_text("not a picture")  # passed over in a folder
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    theirs = tmp_path / "out" / "broken.read.png"
    theirs.parent.mkdir()
    result = run_cli("read", str(folder), "--json", "--annotate", str(tmp_path / "out"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    rows = {Path(row["file"]).name: row for row in map(json.loads, result.stdout.splitlines())}
    assert set(rows) == {"pi.png", "broken.png"}
    assert set(rows["broken.png"]) == {"file", "error"}
    pi = rows["pi.png"]
    assert set(pi) == {"file", "number", "confidence", "digits", "numbers", "sheet"} and pi["number"] == "314"
    assert [n["number"] for n in pi["numbers"]] == ["314"] and pi["sheet"] is False
    assert 0 < pi["confidence"] <= 1
    assert pi["confidence"] == pi["numbers"][0]["confidence"]  # the reading's posterior (lenet5.reader.graph)
    for d in pi["digits"]:
        assert set(d) == {"digit", "probability", "box"} and len(d["box"]) == 4
        x0, y0, x1, y1 = d["box"]
        assert 0 <= x0 < x1 <= image.width and 0 <= y0 < y1 <= image.height
    annotated = Image.open(tmp_path / "out" / "pi.read.png")
    assert annotated.size == image.size and annotated.info.get("Software") == "lenet5"
    # The annotation differs from the picture on each digit's box edge (the box is drawn).
    diff = np.abs(np.asarray(annotated.convert("L"), dtype=np.int16) - np.asarray(image, dtype=np.int16))
    for d in pi["digits"]:
        x0, y0, x1, y1 = d["box"]
        assert diff[y0 + (y1 - y0) // 2, max(0, x0 - 1) : x0 + 3].max() > 50
    # Text output: FILE  NUMBER  (CONFIDENCE); someone else's file in --annotate is refused.
    theirs.write_bytes(b"mine")
    text = run_cli("read", str(folder / "pi.png"), "--annotate", str(tmp_path / "out"))
    assert text.returncode == 0
    assert text.stdout.split()[:2] == [str(folder / "pi.png"), "314"]
    refused = run_cli("read", str(folder / "broken.png"), str(folder / "pi.png"), "--annotate", str(tmp_path / "out"))
    assert refused.returncode == 1 and theirs.read_bytes() == b"mine"


def test_api_read(reader, test_images: np.ndarray, trained_run: Path) -> None:
    import base64

    from fastapi.testclient import TestClient

    from lenet5.serve.app import create_app

    client = TestClient(create_app(trained_run))  # /api/read uses the shipped reader by default
    image, _ = _compose([_ink(test_images, d) for d in (2, 7)], [6])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    png = buffer.getvalue()
    answers = [
        client.post("/api/read", content=png, headers={"Content-Type": "image/png"}),
        client.post("/api/read", json={"image": base64.b64encode(png).decode()}),
        client.post("/api/read", files={"file": ("n.png", png, "image/png")}),
    ]
    for answer in answers:
        assert answer.status_code == 200
        body = answer.json()
        assert body["number"] == "27" and len(body["digits"]) == 2
        assert set(body) == {"file", "number", "confidence", "digits", "numbers", "sheet", "model", "latency_ms"}
    blank = client.post("/api/read", content=b"not an image", headers={"Content-Type": "image/png"})
    assert blank.status_code == 422 and blank.json()["code"] == "bad_image"


def test_a_cut_follows_the_seam_where_two_strokes_touch(monkeypatch) -> None:
    """Two boxes drawn side by side, their walls' soft edges overlapping in a fainter seam:
    the cheapest cut runs down the seam (crossing only faint ink), not through a box
    (crossing its top and bottom walls, 8 px of full ink), though the seam is 40 rows long."""
    from lenet5.reader import segment

    wall = np.array([0.5, 1.0, 1.0, 0.5], dtype=np.float32)  # a 4 px stroke with soft edges
    ink = np.zeros((40, 79), dtype=np.float32)
    for left in (0, 39):  # the second box's left wall starts on the first's right edge
        box = np.zeros((40, 40), dtype=np.float32)
        box[:, :4] = box[:, -4:] = wall
        box[:4, :] = box[-4:, :] = wall[:, None]
        box[:, 0] = box[:, -1] = 0.5  # rounded corners: the outer edge is soft all the way down
        np.maximum(ink[:, left : left + 40], box, out=ink[:, left : left + 40])
    assert ink[:, 39].tolist() == [0.5] * 40  # the seam
    monkeypatch.setitem(segment.CUTS, True, (0.5, 0.1))  # only the cheapest cut
    (cut,) = segment._cut_paths(ink, 40.0)
    assert np.all(np.abs(cut - 39) <= 1)


def test_touching_digits_at_different_baselines_count_as_one_digit_high() -> None:
    """The line height, which scales every rule of the segmentation, comes from the
    blobs' heights. Two touching 40 px digits, one 16 px lower: the blob's box is 56 px
    tall, but it stands for digits 40 px high. A lone digit keeps its box's height, and so
    does one digit wider than high (a wide 2), whose short columns are not a second digit."""
    from lenet5.reader.segment import _line_height
    from lenet5.vision import page

    mask = np.zeros((80, 300), dtype=np.uint8)
    mask[10:50, 20:65] = 1  # a 45 x 40 "digit": full columns
    mask[26:66, 63:108] = 1  # its neighbour, 16 px lower, touching it
    mask[12:52, 140:170] = 1  # a lone digit, 40 px high
    mask[12:52, 200:206] = 1  # a wide "2": a stroke down, then a long bar along the bottom
    mask[46:52, 200:252] = 1
    labels, blobs = page.find_blobs(mask, mask.astype(np.float32))
    pair, lone, wide_two = sorted(blobs, key=lambda b: b.x0)
    assert (pair.height, lone.height, wide_two.height) == (56, 40, 40)
    assert pair.width > 1.5 * pair.height and 1.1 * wide_two.height < wide_two.width < 1.4 * wide_two.height
    assert _line_height(labels, [pair]) == pytest.approx(40, abs=1)
    assert _line_height(labels, [lone]) == 40
    assert _line_height(labels, [wide_two]) == 40
    assert _line_height(labels, [pair, lone, wide_two]) == pytest.approx(40, abs=1)


def test_cut_pieces_share_out_every_pixel_of_ink_exactly_once() -> None:
    """Over-segmentation loses nothing: the pieces of a cut blob cover its pixels, each once
    (a cut that dropped a column would take ink from the digits and move their boxes)."""
    from lenet5.reader.segment import over_segment
    from lenet5.vision.page import find_blobs

    digits = [mnist.load(DATA_DIR).test_images[DIGITS[d]] for d in (0, 3, 8)]
    line = np.zeros((28, 70), np.uint8)
    for i, digit in enumerate(digits):  # 21 px apart: each touches the next
        line[:, 21 * i : 21 * i + 28] = np.maximum(line[:, 21 * i : 21 * i + 28], digit)
    mask = (line > 100).astype(np.uint8)
    labels, blobs = find_blobs(mask, line.astype(np.float32) / 255)
    pieces = over_segment(labels, line.astype(np.float32) / 255, blobs, height=20.0)
    assert len(pieces) > len(blobs)  # the touching digits were cut
    covered = np.zeros(line.shape, np.int32)
    for piece in pieces:
        covered[piece.y0 : piece.y1, piece.x0 : piece.x1] += piece.mask
        assert piece.mask[0].any() and piece.mask[-1].any() and piece.mask[:, 0].any() and piece.mask[:, -1].any()
    assert covered.max() == 1
    assert np.array_equal(covered > 0, labels > 0)


def test_a_thin_digit_that_fills_its_word_is_still_a_digit() -> None:
    """A word cut from a page comes cleaned of page edges; a pen's thin "1" as tall as its
    canvas, thickened to MNIST's proportion, reaches the canvas's border and must not be
    taken for a page edge there (it was: "no number found" on single digits of desk photos)."""
    import cv2

    from lenet5.reader.segment import segment_ink

    ink = np.zeros((120, 60), np.float32)
    cv2.line(ink, (30, 4), (30, 115), 1.0, 2)
    cv2.line(ink, (30, 4), (18, 20), 1.0, 2)
    assert len(segment_ink(ink, 0.3, furniture=False).pieces) == 1


def test_best_path_of_a_given_length() -> None:
    from lenet5.reader.graph import best_path

    costs = {(0, 1): 1.0, (1, 2): 1.0, (2, 3): 1.0, (0, 2): 0.5, (1, 3): 3.0, (0, 3): 0.1}
    assert best_path(costs, 4) == [(0, 3)]
    assert best_path(costs, 4, length=1) == [(0, 3)]
    assert best_path(costs, 4, length=2) == [(0, 2), (2, 3)]  # 1.5 against (0,1),(1,3): 4.0
    assert best_path(costs, 4, length=3) == [(0, 1), (1, 2), (2, 3)]
    with pytest.raises(ValueError, match="cannot be read as 4 digits"):
        best_path(costs, 4, length=4)


def test_read_digits_and_min_confidence(tmp_path: Path, test_images: np.ndarray) -> None:
    image, _ = _compose([_ink(test_images, d) for d in (2, 0, 2, 6)], [6, 5, 7])
    image.save(tmp_path / "year.png")
    year = str(tmp_path / "year.png")
    assert run_cli("read", year, "--digits", "4").stdout.split()[1] == "2026"
    result = run_cli("read", year, "--digits", "3")  # four digits well apart: no grouping makes three
    assert result.returncode == 1 and "year.png: no number found of 3 digits" in result.stderr
    assert run_cli("read", year, "--min-confidence", "0.05").returncode == 0
    result = run_cli("read", year, "--min-confidence", "1")
    assert result.returncode == 1 and "no number read with confidence 1 or more (best: 0." in result.stderr
    for flag, value, message in (("--digits", "0", "at least 1"), ("--min-confidence", "1.5", "from 0 to 1")):
        bad = run_cli("read", year, flag, value)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr
