"""The number reader's training data: lines of digits with each pixel's digit known
(data/number_lines.py), the pieces the reader's own segmentation cuts from them and their
labels (reader/pieces.py), and the hand-made junk beside them (reader/junk.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import DATA_DIR
from lenet5.data import mnist
from lenet5.reader.junk import JUNK_LABEL
from lenet5.reader.lines import compose_line, crop, enlarge_owner, photograph
from lenet5.reader.pieces import UNLABELLED, arc_labels, ink_shares, segmented_pieces, with_junk
from lenet5.reader.segment import segment


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    data = mnist.load(DATA_DIR)
    return data.train_images[:3000], data.train_labels[:3000]


def _components(line: np.ndarray) -> int:
    count, _ = cv2.connectedComponents((line > 0.2).astype(np.uint8), connectivity=8)
    return count - 1


def _nearest_ink_gap(owner: np.ndarray, line: np.ndarray, a: int, b: int) -> int:
    """The fewest columns between digit a's ink and digit b's ink in any row (negative: overlap)."""
    ink = line > 0.2
    gaps = []
    for row_owner, row_ink in zip(owner, ink, strict=True):
        left = np.flatnonzero(row_ink & (row_owner == a))
        right = np.flatnonzero(row_ink & (row_owner == b))
        if len(left) and len(right):
            gaps.append(right.min() - left.max() - 1)
    return min(gaps)


def test_crop_is_the_digits_box_as_ink_0_to_1():
    image = np.zeros((28, 28), dtype=np.uint8)
    image[5:9, 10:13] = 255
    image[7, 14] = 51
    cropped = crop(image)
    assert cropped.shape == (4, 5)
    assert cropped.dtype == np.float32
    assert cropped.max() == 1.0
    assert cropped[2, 4] == pytest.approx(0.2)


@pytest.mark.parametrize("spacing", ["separated", "close", "touching"])
def test_every_inked_pixel_has_its_digit(digits, spacing):
    images, _labels = digits
    rng = np.random.default_rng(3)
    parts = [crop(images[k]) for k in range(4)]
    line, owner = compose_line(parts, spacing, rng)
    assert owner.shape == line.shape
    assert np.all(owner[line > 0] >= 0)
    assert np.all(line[owner < 0] == 0)
    assert set(np.unique(owner[owner >= 0])) == {0, 1, 2, 3}
    # Each digit keeps its own ink where nothing overlaps it: its pixel count is its own.
    for k, part in enumerate(parts):
        assert np.count_nonzero(owner == k) <= np.count_nonzero(part)
        assert np.count_nonzero(owner == k) >= 0.7 * np.count_nonzero(part)


def test_spacings_are_what_they_say(digits):
    images, _labels = digits
    parts = [crop(images[k]) for k in (1, 2)]  # two digits that are one blob each at 0.2
    assert [_components(p) for p in parts] == [1, 1]
    for distance in (1, 2, 3):
        line, owner = compose_line(parts, "close", np.random.default_rng(0), (distance, distance + 1))
        assert _nearest_ink_gap(owner, line, 0, 1) == distance
        assert _components(line) == 2
        line, owner = compose_line(parts, "touching", np.random.default_rng(0), (distance, distance + 1))
        assert _components(line) == 1
        line, owner = compose_line(parts, "separated", np.random.default_rng(0), (distance + 4, distance + 5))
        columns = [np.flatnonzero((owner == k).any(axis=0)) for k in (0, 1)]
        assert columns[1].min() - columns[0].max() - 1 == distance + 4


def test_the_owner_map_lies_on_the_photographs_ink(digits):
    images, _labels = digits
    rng = np.random.default_rng(5)
    line, owner = compose_line([crop(images[k]) for k in range(3)], "close", rng)
    for scale in (2, 3, 6):
        photo = photograph(line, np.random.default_rng(1), scale)
        big = enlarge_owner(owner, scale)
        assert big.shape == photo.shape
        strong = cv2.resize(line, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST) > 0.9
        strong = np.pad(strong, (photo.shape[0] - strong.shape[0]) // 2)
        assert np.all(big[strong] >= 0)
        assert photo[strong].mean() < 110  # dark ink where the map says a digit is
        assert photo[big < 0].mean() > 170  # light paper elsewhere


def test_arc_labels_follow_the_shares():
    coverage = np.array([[0.95, 0.0], [0.95, 0.6], [0.5, 0.0], [0.75, 0.1], [0.85, 0.2], [0.95, 1.0], [0.0, 0.82]])
    purity = np.array([[1.0, 0.0], [0.61, 0.39], [1.0, 0.0], [0.95, 0.05], [0.81, 0.19], [0.85, 0.15], [0.0, 1.0]])
    labels = arc_labels(coverage, purity, np.array([7, 3]))
    # whole and pure: the digit; a pair: junk; half a digit: junk; in between: left out; a
    # digit with a sliver of its neighbour: the digit; a whole thin digit swallowed beside
    # another, though little of the ink: junk; most of the second digit: that digit
    assert labels.tolist() == [7, JUNK_LABEL, JUNK_LABEL, UNLABELLED, 7, JUNK_LABEL, 3]


def test_the_reader_s_own_arcs_are_labelled_by_their_ink(digits):
    images, labels = digits
    picks = [3, 4]  # a "1" and a "9", one pixel apart: each one piece, and an arc of both
    line, owner = compose_line([crop(images[k]) for k in picks], "close", np.random.default_rng(0), (1, 2))
    found = segment(photograph(line, np.random.default_rng(0), 3))
    assert found.arcs == [(0, 1), (0, 2), (1, 2)]
    coverage, purity = ink_shares(found, enlarge_owner(owner, 3), 2)
    np.testing.assert_allclose(coverage, [[1, 0], [1, 1], [0, 1]], atol=0.02)
    np.testing.assert_allclose(purity[[0, 2]], [[1, 0], [0, 1]], atol=0.02)
    assert 0.3 < purity[1, 0] < 0.5  # the pair: the thin "1" is less of its ink than the "9"
    assert arc_labels(coverage, purity, labels[picks]).tolist() == [labels[3], JUNK_LABEL, labels[4]]


def test_segmented_pieces_are_reader_pieces_with_labels(digits):
    images, labels = digits
    pieces, piece_labels = segmented_pieces(images, labels, 400, np.random.default_rng(0))
    assert pieces.shape == (400, 28, 28)
    assert pieces.dtype == np.uint8
    assert piece_labels.dtype == labels.dtype
    assert set(np.unique(piece_labels)) <= set(range(11))
    assert abs(np.mean(piece_labels == JUNK_LABEL) - 0.5) < 0.05
    assert len(set(piece_labels[piece_labels != JUNK_LABEL].tolist())) == 10
    # MNIST conventions: ink bright on black, in the middle of the 28x28 field
    assert pieces.max() == 255
    assert pieces[:, :, :3].mean() < 0.2 * pieces[:, :, 10:18].mean()
    again, again_labels = segmented_pieces(images, labels, 400, np.random.default_rng(0))
    np.testing.assert_array_equal(pieces, again)
    np.testing.assert_array_equal(piece_labels, again_labels)


def test_with_junk_adds_every_kind_of_piece(digits):
    images, labels = digits
    images, labels = images[:400], labels[:400]
    _plain_images, plain_labels = with_junk(images, labels, 0.5, 1)
    assert len(plain_labels) == 400 + 200 + 100
    assert np.sum(plain_labels == JUNK_LABEL) == 200
    more_images, more_labels = with_junk(images, labels, 0.5, 1, segmented=0.25)
    assert len(more_labels) == 400 + 200 + 100 + 100
    assert 200 < np.sum(more_labels == JUNK_LABEL) < 300
    assert more_images.shape == (800, 28, 28)
    # Every digit given is still there, once.
    rows = {row.tobytes() for row in more_images}
    assert all(image.tobytes() in rows for image in images)
    unchanged_images, unchanged_labels = with_junk(images, labels, 0.0, 1, segmented=0.5)
    assert unchanged_images is images and unchanged_labels is labels


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"junk": 0.0, "segmented": 0.5}, "--segmented needs --junk"),
        ({"junk": 0.5, "segmented": 2.5}, "--segmented 2.5: must be between 0 and 2"),
        ({"junk": 0.5, "segmented": -0.1}, "--segmented -0.1: must be between 0 and 2"),
    ],
)
def test_training_refuses_a_senseless_share_of_reader_pieces(overrides, message):
    from conftest import tiny_config
    from lenet5.errors import UserError

    with pytest.raises(UserError, match=message):
        tiny_config(**overrides)
    tiny_config(junk=0.5, segmented=2.0)  # the edges are allowed
    tiny_config(junk=0.5, segmented=0.0)


def test_the_reader_recipe_trains_on_its_own_cuts():
    from lenet5.settings import recipe

    assert recipe("reader").junk == 0.5
    assert recipe("reader").segmented == 0.5
    assert recipe("strong").segmented == 0.0 and recipe("seed").segmented == 0.0


def test_the_command_line_passes_the_share_on(tmp_path):
    from conftest import run_cli

    result = run_cli("train", "--recipe", "strong", "--segmented", "0.5", "--out", str(tmp_path / "run"))
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == ["error: --segmented needs --junk: the pieces it adds are partly junk"]
    assert not (tmp_path / "run").exists()
