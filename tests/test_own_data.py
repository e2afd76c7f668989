"""Training on your own data (issue #29): an image folder (`train --data`), fine-tuning
(`train --from`), and Fashion-MNIST (`train --dataset fashion-mnist`)."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import DATA_DIR, one_error_line, quiet, tiny_config
from lenet5.cli import main
from lenet5.data import fashion, image_folder
from lenet5.data.mnist import MnistFile
from lenet5.errors import UserError

SUFFIXES = frozenset({".png", ".jpg"})


def _write_folder(root: Path, parts: dict[str, int]) -> None:
    """`count` pictures per digit in each part: real MNIST test digits as dark ink on a
    light page, enlarged, as a scan of someone's digit would be."""
    from lenet5.data import mnist

    data = mnist.load(DATA_DIR)
    taken = 0
    for part, count in parts.items():
        for digit in range(10):
            folder = root / part / str(digit)
            folder.mkdir(parents=True)
            for k, index in enumerate(np.flatnonzero(data.test_labels == digit)[taken : taken + count]):
                page = np.pad(255 - data.test_images[index], 10, constant_values=255)
                Image.fromarray(page).resize((144, 144), Image.Resampling.BILINEAR).save(folder / f"{k}.png")
        taken += count


def _indexed_reader(path: Path) -> np.ndarray:
    """A stand-in for predict's reader: the picture's number (its file name) as its pixels,
    so a test can tell which picture landed where."""
    return np.full((28, 28), int(path.stem), dtype=np.uint8)


def _layout(root: Path, parts: dict[str, dict[str, int]]) -> None:
    """Empty files named 0.png, 1.png, ... in class folders (read by _indexed_reader)."""
    number = 0
    for part, classes in parts.items():
        for name, count in classes.items():
            folder = root / part / name
            folder.mkdir(parents=True)
            for _ in range(count):
                (folder / f"{number}.png").write_bytes(b"")
                number += 1


# --- the image folder ---------------------------------------------------------------------


def test_an_image_folder_trains_one_tiny_epoch_and_writes_a_run(tmp_path: Path, capsys) -> None:
    data, run = tmp_path / "mine", tmp_path / "run"
    _write_folder(data, {"train": 4})  # 40 pictures, no val/ and no test/
    flags = ["--epochs", "1", "--batch-size", "8", "--no-progress"]
    assert main(["train", "--data", str(data), "--out", str(run), *flags]) == 0
    out = capsys.readouterr().out
    assert "no val folder; 4 of the training pictures (seeded) choose the epoch kept" in out
    assert "the test scores are of the validation pictures" in out
    config = json.loads((run / "config.json").read_text())
    assert config["splits"] == {"train": 36, "val": 4, "test": 4}
    assert config["data"] == {"source": str(data), "test_is_val": True}
    summary = json.loads((run / "summary.json").read_text())
    assert summary["test_is_val"] is True and summary["test_accuracy"] == summary["val_accuracy"]
    assert (run / "model" / "model.onnx").is_file() or (run / "model" / "inference.pdiparams").is_file()
    card = (run / "model" / "README.md").read_text()
    assert "the folder's validation pictures (it has no test/)" in card and "| `dataset` |" not in card


def test_the_folder_is_read_as_predict_reads_pictures(tmp_path: Path) -> None:
    """The training digits are exactly what `lenet5 predict` makes of each picture."""
    from lenet5.infer.photo import read_photo_digit
    from lenet5.train.data import load_training_data

    data = tmp_path / "mine"
    _write_folder(data, {"train": 1, "val": 1})
    loaded = load_training_data(tiny_config(data=str(data), data_dir=None, val_size=5000), quiet)
    first = sorted((data / "train" / "0").iterdir())[0]
    assert np.array_equal(loaded.train.images[0], read_photo_digit(first, str(first)).digit)
    assert loaded.train.labels.tolist() == list(range(10)) and loaded.val.labels.tolist() == list(range(10))
    assert loaded.test_is_val and np.array_equal(loaded.digits_test.images, loaded.val.images)  # no test/


def test_val_and_test_folders_are_used_as_given(tmp_path: Path) -> None:
    _layout(tmp_path, {"train": {"3": 2, "5": 2}, "val": {"3": 1}, "test": {"5": 1, "9": 1}})
    found = image_folder.load_folder(tmp_path, _indexed_reader, SUFFIXES, seed=0)
    assert found.counts == {"train": 4, "val": 1, "test": 2} and found.val_size == 1 and not found.test_is_val
    # The validation pictures last (make_splits holds out the last val_size), in file order.
    assert found.data.train_images[:, 0, 0].tolist() == [0, 1, 2, 3, 4]
    assert found.data.train_labels.tolist() == [3, 3, 5, 5, 3]
    assert found.data.test_labels.tolist() == [5, 9]


def test_the_hold_out_is_a_seeded_tenth_disjoint_from_training(tmp_path: Path) -> None:
    _layout(tmp_path, {"train": {str(d): 5 for d in range(10)}})
    a = image_folder.load_folder(tmp_path, _indexed_reader, SUFFIXES, seed=0)
    b = image_folder.load_folder(tmp_path, _indexed_reader, SUFFIXES, seed=0)
    c = image_folder.load_folder(tmp_path, _indexed_reader, SUFFIXES, seed=1)
    ids = a.data.train_images[:, 0, 0]
    train, val = set(ids[: -a.val_size].tolist()), set(ids[-a.val_size :].tolist())
    assert a.val_size == 5 and a.counts["train"] == 45 and not train & val and len(train | val) == 50
    assert np.array_equal(ids, b.data.train_images[:, 0, 0])  # the same seed, the same hold-out
    assert not np.array_equal(ids, c.data.train_images[:, 0, 0])
    assert a.test_is_val and np.array_equal(a.data.test_images, a.data.train_images[-5:])


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({}, "{root}: no train folder (expected {root}/train/<digit>/ holding pictures)"),
        ({"train": {}}, "{root}/train: no class folders (expected {root}/train/0 ... {root}/train/9"),
        ({"train": {"3": 1, "cat": 1}}, "{root}/train/cat: class folders are named after their digit, 0 to 9"),
        ({"train": {"3": 1, "12": 1}}, "{root}/train/12: class folders are named after their digit, 0 to 9"),
        ({"train": {"3": 1, "4": 0}}, "{root}/train/4: empty class folder (no .jpg/.png pictures)"),
        ({"train": {"3": 2}, "val": {"x": 1}}, "{root}/val/x: class folders are named after their digit"),
    ],
)
def test_a_bad_folder_is_one_line_naming_it(tmp_path: Path, layout: dict, message: str) -> None:
    root = tmp_path / "mine"
    root.mkdir()
    _layout(root, layout)
    if layout.get("train") == {}:
        (root / "train").mkdir()
    with pytest.raises(UserError) as caught:
        image_folder.load_folder(root, _indexed_reader, SUFFIXES, seed=0)
    assert str(caught.value).startswith(message.format(root=root))


def test_a_stray_picture_and_a_missing_folder_are_named(tmp_path: Path) -> None:
    _layout(tmp_path, {"train": {"3": 2}})
    (tmp_path / "train" / "notes.txt").write_text("mine")  # not a picture: passed over, and said so
    found = image_folder.load_folder(tmp_path, _indexed_reader, SUFFIXES, seed=0)
    assert found.notes[0] == f"{tmp_path / 'train'}: passed over 1 file(s) that are not pictures"
    (tmp_path / "train" / "7.png").write_bytes(b"")
    with pytest.raises(UserError, match=r"train/7\.png: pictures go in a folder named after their digit"):
        image_folder.load_folder(tmp_path, _indexed_reader, SUFFIXES, seed=0)
    with pytest.raises(UserError, match="nowhere: no such folder of pictures"):
        image_folder.load_folder(tmp_path / "nowhere", _indexed_reader, SUFFIXES, seed=0)


def test_an_unreadable_picture_stops_training_with_one_line(tmp_path: Path, capsys) -> None:
    data = tmp_path / "mine"
    _write_folder(data, {"train": 1})
    bad = data / "train" / "4" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: {bad}: ") and line.endswith("fix or remove it")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--dataset", "fashion-mnist"], "--data and --dataset fashion-mnist: choose one"),
        (["--val-size", "10"], "--val-size: with --data the validation pictures are DIR/val"),
        (["--data-dir", "x"], "--data-dir and --download are for the MNIST files"),
    ],
)
def test_flags_that_do_not_go_with_a_folder_are_refused(tmp_path: Path, capsys, flags: list, message: str) -> None:
    assert main(["train", "--data", str(tmp_path), *flags, "--out", str(tmp_path / "run")]) == 2
    assert one_error_line(capsys.readouterr().err).startswith(f"error: {message}")


# --- fine-tuning: --from ---------------------------------------------------------------------


def _probabilities(net, x: np.ndarray) -> np.ndarray:
    import paddle

    net.eval()
    with paddle.no_grad():
        return net.probabilities(net(paddle.to_tensor(x))).numpy()


def test_from_a_shipped_model_gives_its_probabilities_on_real_digits() -> None:
    import paddle

    from lenet5.data import mnist
    from lenet5.infer.backends import load_backend
    from lenet5.models import network_for
    from lenet5.store.model_folder import shipped_models
    from lenet5.train.warm_start import start_from

    digits = mnist.load(DATA_DIR).test_images[:500]
    for name in ("seed", "lenet5"):
        settings = tiny_config(start_from=name, model=name)
        net = network_for(settings)
        assert start_from(net, settings) == {"given": name, "shipped": name}
        shipped = load_backend(shipped_models()[name], "paddle")
        x = shipped.meta.normalize(digits)
        # Two engines (dygraph, Paddle Inference) sum in different orders, and the kernels
        # each picks depend on the CPU: the raw outputs may differ by a few ulp of the largest
        # one (lenet5's RBF distances reach ~270, where an ulp is 3e-5), and a softmax moves
        # no probability by more than half the largest change in its inputs. Measured: 1.1e-6
        # (seed) and 1.6e-5 (lenet5) on an Intel Xeon, under 1e-5 on an AMD EPYC. Weights not
        # loaded, or loaded into the wrong layers, are off by ~1.
        net.eval()
        with paddle.no_grad():
            outputs = net(paddle.to_tensor(x)).numpy()
        few_ulps = 8 * np.spacing(np.abs(outputs).max())
        assert np.abs(_probabilities(net, x) - shipped.scores(x)).max() <= 0.5 * few_ulps, name


def test_from_a_run_directory_is_its_kept_epoch_exactly(trained_run: Path) -> None:
    from lenet5.models import network_for
    from lenet5.store import checkpoint
    from lenet5.store.run_dir import RunDir
    from lenet5.train.warm_start import start_from

    settings = tiny_config(start_from=str(trained_run))
    net, reference = network_for(settings), network_for(settings)
    source = start_from(net, settings)
    kept = checkpoint.load(RunDir(trained_run).best_checkpoint, reference)["epoch"]
    assert source == {"given": str(trained_run), "run": str(trained_run), "epoch": kept}
    x = np.random.default_rng(0).uniform(-1, 1, (64, 1, 28, 28)).astype(np.float32)
    assert np.array_equal(_probabilities(net, x), _probabilities(reference, x))


def test_a_misplaced_tensor_is_caught_by_the_probability_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Matching by names is proved by the folder's own answers: swap two same-shaped
    tensors (batch norm's mean and variance) and loading refuses."""
    from lenet5.export import eager
    from lenet5.models import network_for
    from lenet5.store.model_folder import load_meta, shipped_models

    real = eager._matched

    def swapped(net, saved, folder):
        state = real(net, saved, folder)
        state["norm1._mean"], state["norm1._variance"] = state["norm1._variance"], state["norm1._mean"]
        return state

    monkeypatch.setattr(eager, "_matched", swapped)
    folder = shipped_models()["seed"]
    with pytest.raises(UserError, match="do not reproduce its answers"):
        eager.load_folder_weights(network_for(tiny_config()), folder, load_meta(folder))


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--from", "lenet5"], "--from lenet5: holds a lenet5 network with 10 outputs, this run trains seed with 10"),
        (["--from", "reader"], "--from reader: holds a seed network with 11 outputs, this run trains seed with 10"),
        (["--from", "reader", "--junk", "0.5"], "averages 2 networks; fine-tune from one of them"),
        (["--from", "no-such-model"], "no-such-model: no such run directory, model folder or shipped model"),
    ],
)
def test_from_another_network_is_refused(tmp_path: Path, capsys, flags: list, message: str) -> None:
    args = ["train", "--data-dir", str(DATA_DIR), "--train-limit", "64", "--val-size", "64", "--test-limit", "64"]
    assert main([*args, *flags, "--epochs", "1", "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    assert message in one_error_line(capsys.readouterr().err)


def test_a_fine_tuned_run_records_its_source(tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    args = ["--data-dir", str(DATA_DIR), "--train-limit", "64", "--val-size", "64", "--test-limit", "64"]
    assert main(["train", *args, "--from", "seed", "--epochs", "1", "--out", str(run), "--no-progress"]) == 0
    assert "Starting from the shipped model seed" in capsys.readouterr().out
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["start_from"] == "seed" and config["start_from"] == {"given": "seed", "shipped": "seed"}
    card = (run / "model" / "README.md").read_text()
    assert "training started from the weights of `seed`" in card and "| `start_from` | seed |" in card
    # It did start from seed: one epoch on 64 digits at 1e-3 keeps it far above what a fresh start reaches.
    assert json.loads((run / "summary.json").read_text())["test_accuracy"] > 0.9


# --- Fashion-MNIST --------------------------------------------------------------------------


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def tiny_fashion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, np.ndarray]]:
    """Four tiny IDX files in Fashion-MNIST's names, and the loader's table pinned to them."""
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (40, 28, 28)),
        "train_labels": np.arange(40) % 10,
        "test_images": rng.integers(0, 256, (10, 28, 28)),
        "test_labels": np.arange(10),
    }
    table = {}
    for key, array in arrays.items():
        raw = _idx(array)
        spec = fashion.FILES[key]
        (tmp_path / spec.name).write_bytes(gzip.compress(raw))
        table[key] = MnistFile(spec.name, len(array), hashlib.md5(raw).hexdigest(), spec.is_images)
    monkeypatch.setattr(fashion, "FILES", table)
    return tmp_path, arrays


def test_fashion_mnist_loads_its_idx_files(tiny_fashion) -> None:
    folder, arrays = tiny_fashion
    loaded = fashion.load(folder)
    for key, array in arrays.items():
        assert np.array_equal(getattr(loaded, key), array)
    assert fashion.CLASS_NAMES[0] == "T-shirt/top" and fashion.CLASS_NAMES[9] == "Ankle boot"


def test_fashion_mnist_files_are_checked_and_a_missing_one_names_the_make_target(tiny_fashion) -> None:
    folder, _arrays = tiny_fashion
    images = folder / fashion.FILES["test_images"].name
    images.write_bytes(gzip.compress(_idx(np.zeros((10, 28, 28)))))
    with pytest.raises(UserError, match=r"checksum|md5"):
        fashion.load(folder)
    images.unlink()
    with pytest.raises(UserError) as caught:
        fashion.load(folder)
    assert str(caught.value).startswith(f"{folder}: fashion-mnist folder lacks t10k-images-idx3-ubyte.gz; run `make")


def test_training_on_fashion_mnist(tiny_fashion, capsys) -> None:
    folder, _arrays = tiny_fashion
    run = folder / "run"
    args = ["--dataset", "fashion-mnist", "--data-dir", str(folder), "--val-size", "10", "--epochs", "1"]
    assert main(["train", *args, "--batch-size", "8", "--out", str(run), "--no-progress"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["splits"] == {"train": 30, "val": 10, "test": 10} and config["data"]["source"] == "fashion-mnist"
    card = (run / "model" / "README.md").read_text()
    assert "Fashion-MNIST test pictures" in card and "0 T-shirt/top, 1 Trouser, 2 Pullover" in card
    assert json.loads((run / "model" / "lenet5.json").read_text())["class_names"][9] == "Ankle boot"
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data-dir", str(folder), "--json"]) == 0  # scored on its own test set
    assert json.loads(capsys.readouterr().out)["n"] == 10
    assert main(["train", "--dataset", "fashion-mnist", "--download", "--out", str(folder / "x")]) == 2
    assert "make fashion-mnist" in one_error_line(capsys.readouterr().err)
