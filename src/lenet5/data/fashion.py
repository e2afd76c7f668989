"""Fashion-MNIST (Xiao, Rasul and Vollgraf 2017): Zalando's 70,000 pictures of clothes in
ten classes, a drop-in replacement for MNIST in the same IDX files, to show the recipes
beyond digits (`lenet5 train --dataset fashion-mnist`).

The files come from Debian's `dataset-fashion-mnist` package, unpacked without root by
`make fashion-mnist` into data/fashion-mnist/ (git-ignored). lenet5 never downloads them
itself: a missing file is one line naming the make target. The checksums are of the
decompressed IDX bytes of that package (0.0~git20200523.55506a9-1), as for MNIST.
"""

from __future__ import annotations

import os
from pathlib import Path

from lenet5.data.mnist import FILES as MNIST_FILES
from lenet5.data.mnist import Mnist, MnistFile, load_files, missing_files
from lenet5.errors import UserError

NAME = "fashion-mnist"
MAKE_TARGET = "make fashion-mnist"
# The same four file names and counts as MNIST; other contents.
FILES: dict[str, MnistFile] = {
    "train_images": MnistFile(MNIST_FILES["train_images"].name, 60000, "f4a8712d7a061bf5bd6d2ca38dc4d50a", True),
    "train_labels": MnistFile(MNIST_FILES["train_labels"].name, 60000, "9018921c3c673c538a1fc5bad174d6f9", False),
    "test_images": MnistFile(MNIST_FILES["test_images"].name, 10000, "8181f5470baa50b63fa0f6fddb340f0a", True),
    "test_labels": MnistFile(MNIST_FILES["test_labels"].name, 10000, "15d484375f8d13e6eb1aabb0c3f46965", False),
}
# Label k's name, from the dataset's README.
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

_REPO_DATA = Path(__file__).resolve().parents[3] / "data" / NAME


def default_data_dir() -> Path:
    """`$LENET5_FASHION_DATA`, else where `make fashion-mnist` puts the files."""
    env = os.environ.get("LENET5_FASHION_DATA")
    return Path(env) if env else _REPO_DATA


def load(data_dir: str | Path | None = None) -> Mnist:
    """All four files, verified; a missing one is one line naming the make target."""
    folder = Path(data_dir) if data_dir is not None else default_data_dir()
    missing = missing_files(folder, FILES)
    if missing:
        where = "folder" if folder.is_dir() else "folder (does not exist)"
        raise UserError(
            f"{folder}: {NAME} {where} lacks {', '.join(missing)}; run `{MAKE_TARGET}` "
            "(Debian's dataset-fashion-mnist package, unpacked without root)"
        )
    return load_files(folder, FILES)
