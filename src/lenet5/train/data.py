"""What a run trains and is judged on: the splits of MNIST, Fashion-MNIST or an image
folder of the user's own pictures, with the reader's junk pieces and lines when the
settings ask for them, normalised for the network."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lenet5.data import fashion, mnist
from lenet5.data.image_folder import load_folder
from lenet5.data.normalize import NETWORK_INPUTS, NORMALIZATIONS, Normalization
from lenet5.data.splits import Split, Splits, make_splits
from lenet5.settings import TrainSettings


@dataclass(frozen=True)
class TrainingData:
    normalize: Normalization
    train: Split  # raw uint8 digits (and junk pieces): what distortions start from
    x_train: np.ndarray  # normalised
    y_train: np.ndarray
    val: Split
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    digits_test: Split  # the test digits without junk pieces: what a model folder is scored on
    train_lines: list[Any] | None = None  # lines of digits for the line passes (lenet5.reader.line_training)
    val_lines: list[Any] | None = None
    source: str = "mnist"  # mnist, fashion-mnist, or the image folder's path
    test_is_val: bool = False  # an image folder without DIR/test: the test scores are the validation pictures'


def load_training_data(settings: TrainSettings, echo: Callable[[str], None]) -> TrainingData:
    """The splits the settings describe; every random choice derives from the seed, so a
    resumed run rebuilds exactly the same data."""
    data, val_size, test_is_val = _dataset(settings, echo)
    splits = make_splits(data, val_size, settings.train_limit, settings.test_limit)
    digits_test = splits.test
    if settings.pen > 0:
        splits = _with_pen(splits, settings.pen, settings.seed, echo)
    train_lines, val_lines = _lines(splits, settings, echo) if settings.line_epochs else (None, None)
    if settings.junk > 0:
        splits = _with_junk(splits, settings.junk, settings.segmented, settings.seed)
    normalize = NORMALIZATIONS[NETWORK_INPUTS[settings.model]]
    return TrainingData(
        normalize=normalize,
        train=splits.train,
        x_train=normalize(splits.train.images),
        y_train=splits.train.labels,
        val=splits.val,
        x_val=normalize(splits.val.images),
        y_val=splits.val.labels,
        x_test=normalize(splits.test.images),
        y_test=splits.test.labels,
        digits_test=digits_test,
        train_lines=train_lines,
        val_lines=val_lines,
        source=settings.data if settings.data is not None else settings.dataset,
        test_is_val=test_is_val,
    )


def _dataset(settings: TrainSettings, echo: Callable[[str], None]) -> tuple[mnist.Mnist, int, bool]:
    """The training and test pictures, how many of the training ones (the last) validate,
    and whether the test pictures are the validation ones: MNIST, Fashion-MNIST, or an image
    folder read as `lenet5 predict` reads pictures."""
    if settings.data is not None:
        from lenet5.infer.predict import IMAGE_SUFFIXES  # what `predict` takes for a picture in a folder

        folder = load_folder(settings.data, _predict_digit, IMAGE_SUFFIXES, settings.seed)
        echo(f"Read {settings.data}: " + ", ".join(f"{n} {part}" for part, n in folder.counts.items()) + " pictures")
        for note in folder.notes:
            echo(note)
        return folder.data, folder.val_size, folder.test_is_val
    if settings.dataset == fashion.NAME:
        return fashion.load(settings.data_dir), settings.val_size, False
    return mnist.load(settings.data_dir, allow_download=settings.download), settings.val_size, False


def _predict_digit(path: Path) -> np.ndarray:
    """A picture -> its 28x28 digit, by `lenet5 predict`'s own path (the page, its writing,
    the most prominent handwritten digit), so a model trained on a folder sees pictures as
    it will later be asked about them."""
    from lenet5.infer.photo import read_photo_digit

    return read_photo_digit(path, str(path)).digit


# Pen widths in MNIST px: what `lenet5 read` makes of a ballpoint's or gel pen's strokes
# (thin strokes are brought to 0.12-0.14 of the digit's height, 2.4-2.8 px of MNIST's 20,
# vision/page.py and reader/segment.py; a gel pen's can stay up to about 0.18).
PEN_WIDTHS = (2.0, 3.6)


def _with_pen(splits: Splits, share: float, seed: int, echo: Callable[[str], None]) -> Splits:
    """The training split with `share` of its digits redrawn once as a pen of even width
    draws them (vision/pen.py); chosen and sized by generators of the seed. Validation and
    test keep MNIST's own digits, so a run's scores stay comparable with runs without it."""
    from lenet5.vision.pen import redraw_as_pen

    rng = np.random.default_rng([seed, 7])
    chosen = np.flatnonzero(rng.random(len(splits.train)) < share)
    echo(f"Redrawing {len(chosen)} training digits as a pen draws them")
    images = splits.train.images.copy()
    images[chosen] = redraw_as_pen(images[chosen], rng.uniform(*PEN_WIDTHS, len(chosen)))
    return Splits(Split(images, splits.train.labels), splits.val, splits.test)


def _with_junk(splits: Splits, share: float, segmented: float, seed: int) -> Splits:
    """Each split plus junk pieces made from its own digits (so none of the test digits'
    ink reaches training), with generators derived from the seed and the split."""
    from lenet5.reader.pieces import with_junk

    parts = {}
    for number, name in enumerate(("train", "val", "test")):
        part = getattr(splits, name)
        parts[name] = Split(*with_junk(part.images, part.labels, share, [seed, 5, number], segmented))
    return Splits(**parts)


def _lines(splits: Splits, settings: TrainSettings, echo: Callable[[str], None]) -> tuple[list[Any], list[Any]]:
    """Lines of training digits for the line passes and of validation digits to choose
    the epoch kept, from generators derived from the seed (a resumed run makes the same)."""
    from lenet5.reader.line_training import VALIDATION_LINES, make_lines

    echo(f"Segmenting {settings.lines} training lines and {VALIDATION_LINES} validation lines for the line passes")
    seed = settings.seed
    train = make_lines(splits.train.images, splits.train.labels, settings.lines, np.random.default_rng([seed, 6, 0]))
    val = make_lines(splits.val.images, splits.val.labels, VALIDATION_LINES, np.random.default_rng([seed, 6, 1]))
    return train, val
