"""The Python API (`lenet5.load`, `Model.predict`, `Model.read`): every kind of picture a
caller holds gives the answer the command line gives for the same file."""

from __future__ import annotations

import doctest
import io
import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import DATA_DIR, run_cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    from lenet5.data import mnist

    data = mnist.load(DATA_DIR)
    return data.test_images, data.test_labels


@pytest.fixture(scope="module")
def model():
    import lenet5

    return lenet5.load()


def _paper(digit: np.ndarray, scale: int = 4) -> np.ndarray:
    """An MNIST digit as dark ink on white paper, `scale` times larger."""
    return np.kron(255 - digit, np.ones((scale, scale), np.uint8))


def test_load_names_the_model_and_never_imports_paddle_for_onnx() -> None:
    code = "import sys, lenet5; m = lenet5.load(); print(m.name, m.backend, repr(m)); print('paddle' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()
    assert first == "seed onnx lenet5.Model('seed', backend='onnx')"
    assert second == "False"


def test_every_kind_of_picture_gives_the_same_answer(model, digits, tmp_path: Path) -> None:
    images, labels = digits
    grey = _paper(images[0])
    path = tmp_path / "seven.png"
    Image.fromarray(grey).save(path)
    kinds = {
        "path": path,
        "str": str(path),
        "bytes": path.read_bytes(),
        "PIL": Image.open(path),
        "uint8 H x W": grey,
        "uint8 H x W x 3": np.stack([grey] * 3, axis=2),
        "float 0-1": grey.astype(np.float32) / 255,
        "float 0-255": grey.astype(np.float64),
        "H x W x 1": grey[:, :, None],
    }
    answers = {name: model.predict(picture) for name, picture in kinds.items()}
    for name, answer in answers.items():
        assert answer.digit == labels[0], name
        assert answer.box == answers["path"].box, name
        assert answer.probability == pytest.approx(answers["path"].probability, abs=1e-6), name
    cli = json.loads(run_cli("predict", str(path), "--json").stdout)
    assert answers["path"].to_dict() == cli
    assert answers["bytes"].file == "picture" and answers["path"].file == str(path)


def test_a_list_gives_a_list_in_order(model, digits) -> None:
    images, labels = digits
    answers = model.predict([_paper(images[k]) for k in range(6)])
    assert [a.digit for a in answers] == list(labels[:6])
    assert [a.file for a in answers] == [f"picture {k}" for k in range(6)]


def test_read_gives_every_number_with_boxes_in_the_callers_pixels(digits, tmp_path: Path) -> None:
    import lenet5

    images, labels = digits
    indices = [int(np.flatnonzero(labels == d)[0]) for d in (2, 0, 2, 6)]
    line = np.concatenate([_paper(images[k], 5) for k in indices], axis=1)
    page = np.full((line.shape[0] + 80, line.shape[1] + 80), 255, np.uint8)
    page[40:-40, 40:-40] = line
    reading = lenet5.load("reader").read(page)
    assert reading.number == "2026" and len(reading.numbers) == 1
    for k, digit in enumerate(reading.digits):  # each box on its digit's fifth of the line
        x0, _, x1, _ = digit.box
        assert 40 + 140 * k - 5 <= x0 < x1 <= 40 + 140 * (k + 1) + 5, (k, digit.box)
    Image.fromarray(page).save(tmp_path / "year.png")
    cli = json.loads(run_cli("read", str(tmp_path / "year.png"), "--json").stdout)
    assert {k: v for k, v in reading.to_dict().items() if k != "file"} == {k: v for k, v in cli.items() if k != "file"}


@pytest.mark.parametrize(
    ("picture", "message"),
    [
        (np.zeros((3, 4, 5), np.uint8), r"^picture: expected an H x W or H x W x 3 array, got shape \(3, 4, 5\)$"),
        (np.full((20, 20), np.nan), r"^picture: the array holds NaN or infinity$"),
        (np.zeros((0, 5), np.uint8), r"^picture: expected an H x W"),
        (np.array([["a"]]), r"^picture: expected numbers, got an array of <U1$"),
        (12, r"^picture: expected a path, bytes, a PIL image or a numpy array, got int$"),
        (b"not a picture", r"^picture: "),
        (np.full((40, 40), 255, np.uint8), r"^picture: no digit found"),
    ],
)
def test_bad_pictures_are_one_line_errors(model, picture, message: str) -> None:
    import lenet5

    with pytest.raises(lenet5.UserError, match=message):
        model.predict(picture)


def test_one_model_shared_by_threads_answers_as_alone(digits) -> None:
    import lenet5

    images, _ = digits
    shared = lenet5.load("seed", backend="paddle")  # the runtime that is not thread-safe on its own
    pictures = [_paper(images[k]) for k in range(16)]
    alone = [a.probability for a in shared.predict(pictures)]
    together: dict[int, float] = {}

    def work(start: int) -> None:
        for k in range(start, 16, 4):
            together[k] = shared.predict(pictures[k]).probability

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [together[k] for k in range(16)] == alone


@pytest.mark.parametrize("readme", ["README.md", "README.zh-CN.md"])
def test_the_readmes_python_example_runs(readme: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's `pycon` block, run as a doctest (in a folder with the picture it names)."""
    text = (ROOT / readme).read_text()
    blocks = re.findall(r"```pycon\n(.*?)```", text, flags=re.S)
    assert blocks, "no ```pycon block"
    from lenet5.data import mnist

    image = mnist.load(DATA_DIR).test_images[0]
    Image.fromarray(_paper(image)).save(tmp_path / "digit.png")
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        test = doctest.DocTestParser().get_doctest(block, {}, readme, readme, 0)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        out = io.StringIO()
        runner.run(test, out=out.write)
        assert runner.failures == 0, out.getvalue()
        assert runner.tries >= 3
