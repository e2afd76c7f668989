"""Predicting on people's own images: preprocessing, every bad input, backends and parity."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import DATA_DIR, run_cli
from lenet5.cli import main
from lenet5.data import mnist
from lenet5.errors import UserError
from lenet5.infer.preprocess import load_digit


@pytest.fixture(scope="module")
def test_digits() -> tuple[np.ndarray, np.ndarray]:
    data = mnist.load(DATA_DIR)
    return data.test_images, data.test_labels


def _photo(
    digit: np.ndarray, size: int = 240, offset: tuple[int, int] = (30, 50), dark_on_light: bool = True
) -> Image.Image:
    """An MNIST digit as a user's picture: bigger, off-centre, on a large page."""
    ink = Image.fromarray(255 - digit if dark_on_light else digit).resize((size, size), Image.Resampling.BICUBIC)
    page = Image.new("L", (size + 200, size + 160), 255 if dark_on_light else 0)
    page.paste(ink, offset)
    return page


def test_photo_of_mnist_digit_recovers_mnist_digit(test_digits: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    images, _ = test_digits
    errors = []
    for i in range(20):
        path = tmp_path / f"{i}.png"
        _photo(images[i], offset=(10 + 7 * i, 90 - 3 * i)).save(path)
        errors.append(np.abs(load_digit(path).astype(float) - images[i]).mean())
    # Same digit back, up to resampling: a small fraction of the 0..255 range on average.
    assert np.mean(errors) < 25


# Each format with the modes it can actually store.
FORMAT_MODES = [
    *[("PNG", m) for m in ("L", "RGB", "RGBA", "P", "I;16", "LA", "1")],
    *[("JPEG", m) for m in ("L", "RGB", "CMYK")],
    *[("BMP", m) for m in ("L", "RGB", "P", "1")],
    *[("GIF", m) for m in ("L", "P")],
    *[("TIFF", m) for m in ("L", "RGB", "RGBA", "I;16", "CMYK")],
    *[("WEBP", m) for m in ("L", "RGB", "RGBA")],
]


@pytest.mark.parametrize(("fmt", "mode"), FORMAT_MODES)
def test_every_format_and_mode(fmt: str, mode: str, test_digits: tuple[np.ndarray, np.ndarray]) -> None:
    base = _photo(test_digits[0][0])
    if mode == "I;16":
        image = Image.fromarray((np.asarray(base, dtype=np.uint16) * 257).astype(np.uint16))
    else:
        image = base.convert(mode)
    digit = load_digit(_to_bytes(image, fmt), f"x.{fmt.lower()}")
    reference = load_digit(_to_bytes(base), "ref.png")
    assert digit.shape == (28, 28) and digit.dtype == np.uint8
    assert np.abs(digit.astype(float) - reference).mean() < 20, (mode, fmt)


def test_transparent_background_is_composited_on_white(test_digits: tuple[np.ndarray, np.ndarray]) -> None:
    base = _photo(test_digits[0][0])
    rgba = np.zeros((*base.size[::-1], 4), dtype=np.uint8)
    rgba[..., 3] = 255 - np.asarray(base)  # black ink, opaque only where there is ink; paper transparent
    digit = load_digit(_to_bytes(Image.fromarray(rgba, "RGBA")), "t.png")
    assert np.abs(digit.astype(float) - load_digit(_to_bytes(base), "ref.png")).mean() < 3


def _to_bytes(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def test_polarity_is_detected(test_digits: tuple[np.ndarray, np.ndarray]) -> None:
    digit = test_digits[0][3]
    dark = load_digit(_to_bytes(_photo(digit, dark_on_light=True)))
    light = load_digit(_to_bytes(_photo(digit, dark_on_light=False)))
    assert np.abs(dark.astype(float) - light).mean() < 3


def test_digit_is_centred_by_mass_and_fits_the_box(test_digits: tuple[np.ndarray, np.ndarray]) -> None:
    digit = load_digit(_to_bytes(_photo(test_digits[0][5], offset=(190, 5))))
    rows, cols = np.nonzero(digit)
    assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 <= 21
    ys, xs = np.mgrid[0:28, 0:28]
    mass = digit.astype(float).sum()
    assert abs((ys * digit).sum() / mass - 13.5) < 1.0 and abs((xs * digit).sum() / mass - 13.5) < 1.0


@pytest.mark.parametrize("shape", [(20, 2), (40, 4), (2, 20), (40, 1), (30, 30)])
def test_every_shape_is_centred_by_mass(shape: tuple[int, int]) -> None:
    """Thin strokes too: a 1 drawn straight renders 2 px wide, and must still sit in the
    middle by its mass (ink fading towards one end, as a pen stroke's does)."""
    from lenet5.infer.preprocess import render_mnist

    fade = np.linspace(0.2, 1.0, shape[0], dtype=np.float32)[:, None]
    digit = render_mnist(np.ones(shape, dtype=np.float32) * fade).astype(float)
    ys, xs = np.mgrid[0:28, 0:28]
    mass = digit.sum()
    assert mass > 0
    assert abs((ys * digit).sum() / mass - 13.5) < 1.0 and abs((xs * digit).sum() / mass - 13.5) < 1.0


def _bad_files(folder: Path) -> dict[str, str]:
    """file name -> expected phrase in its error."""
    (folder / "notes.txt").write_text("not an image")
    (folder / "empty.png").write_bytes(b"")
    good = _to_bytes(Image.new("L", (50, 50), 255))
    png = _to_bytes(_photo(np.eye(28, dtype=np.uint8) * 255))
    (folder / "truncated.png").write_bytes(png[: len(png) // 2])
    jpeg = _to_bytes(_photo(np.eye(28, dtype=np.uint8) * 255).convert("RGB"), "JPEG")
    (folder / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    (folder / "blank.png").write_bytes(good)
    huge = Image.new("1", (20000, 20000), 1)  # 1-bit keeps the file small; the header says 400M pixels
    huge.save(folder / "huge.png", optimize=True)
    return {
        "notes.txt": "not an image",
        "empty.png": "empty file",
        "truncated.png": "corrupt or truncated",
        "truncated.jpg": "corrupt or truncated",
        "blank.png": "no ink",
        "huge.png": "too large",
    }


def test_bad_inputs_each_named(tmp_path: Path) -> None:
    expected = _bad_files(tmp_path)
    for name, phrase in expected.items():
        with pytest.raises(UserError, match=phrase) as info:
            load_digit(tmp_path / name, str(tmp_path / name))
        assert str(info.value).startswith(str(tmp_path / name) + ": ")


def test_cli_mixed_directory(trained_run: Path, tmp_path: Path, test_digits: tuple[np.ndarray, np.ndarray]) -> None:
    folder = tmp_path / "mixed"
    (folder / "sub").mkdir(parents=True)
    expected = _bad_files(folder)
    for i in range(3):
        _photo(test_digits[0][i]).save(folder / "sub" / f"good{i}.png")
    unreadable = folder / "locked.png"
    _photo(test_digits[0][0]).save(unreadable)
    unreadable.chmod(0)
    # In a folder, files that are not images by name are passed over (a model folder's own
    # files, notes); a file named explicitly is read whatever its name.
    (folder / "notes.txt").rename(tmp_path / "notes.txt")
    for name in ("README.md", "lenet5.json", "model.onnx"):
        (folder / "sub" / name).write_text("{}")
    result = run_cli(
        "predict", str(folder), str(tmp_path / "missing.png"), str(tmp_path / "notes.txt"),
        "--model", str(trained_run), "--json",
    )  # fmt: skip
    unreadable.chmod(0o644)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.strip().splitlines() if not line.startswith("note: ")]
    assert all(line.startswith("error: ") for line in errors)
    assert "passed over 3 non-image file(s)" in result.stderr
    for name, phrase in expected.items():
        assert any(name in line and phrase in line for line in errors), (name, errors)
    assert any("missing.png" in line and "no such file" in line for line in errors)
    assert not any(name in result.stderr for name in ("README.md", "lenet5.json", "model.onnx"))
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    good = [row for row in lines if "good" in row["file"]]
    assert len(good) == 3
    for row in good:
        assert set(row) == {"file", "digit", "probability", "top_k", "box", "warning"} and len(row["top_k"]) == 3
        assert row["top_k"][0] == [row["digit"], row["probability"]]
    # --json: every failed file has its own line on stdout too, so stdout alone accounts for every file.
    failed = {Path(row["file"]).name: row["error"] for row in lines if "error" in row}
    assert all(set(row) == {"file", "error"} for row in lines if "error" in row)
    assert set(failed) >= {*expected, "missing.png"}
    assert "no such file" in failed["missing.png"] and not failed["missing.png"].startswith(str(tmp_path))
    every_input = {*expected, "good0.png", "good1.png", "good2.png", "locked.png", "missing.png", "notes.txt"}
    assert sorted(Path(row["file"]).name for row in lines) == sorted(every_input)
    import os

    if os.geteuid() != 0:  # root reads files whatever their mode
        assert any("locked.png" in line and "permission denied" in line for line in errors)


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_bad_model_folder(trained_run: Path, tmp_path: Path, damage: str, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(trained_run / "model", folder)
    if damage == "missing":
        (folder / "inference.pdiparams").unlink()
    else:
        (folder / "inference.json").write_text("{ not json")
    image = tmp_path / "d.png"
    Image.new("L", (40, 40), 255).save(image)
    assert main(["predict", str(image), "--model", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {folder}")


def test_save_input_and_csv(trained_run: Path, tmp_path: Path, test_digits: tuple[np.ndarray, np.ndarray]) -> None:
    path = tmp_path / "seven.png"
    _photo(test_digits[0][0]).save(path)
    code = main(
        [
            "predict",
            str(path),
            "--model",
            str(trained_run),
            "--save-input",
            str(tmp_path / "seen"),
            "--csv",
            str(tmp_path / "out.csv"),
        ]
    )
    assert code == 0
    seen = np.asarray(Image.open(tmp_path / "seen" / "seven.28x28.png"))
    assert seen.shape == (28, 28) and seen.max() > 200
    rows = (tmp_path / "out.csv").read_text().splitlines()
    assert rows[0] == "file,digit,probability,top_k" and rows[1].startswith(str(path))


@pytest.mark.parametrize("fmt", ["paddle", "onnx"])
def test_export_parity_on_1000_digits(
    fmt: str, trained_run: Path, tmp_path: Path, test_digits: tuple[np.ndarray, np.ndarray]
) -> None:
    """Exported model vs the eager Paddle network it came from: max |dp| <= 1e-4, same argmax."""
    from lenet5.infer.backends import load_backend
    from lenet5.infer.export import export_folder
    from lenet5.models import create_model
    from lenet5.runtime import import_paddle
    from lenet5.train import checkpoint

    paddle = import_paddle()
    out = export_folder(trained_run, fmt, tmp_path / fmt)
    assert (out / "README.md").read_text().startswith("# LeNet-5 digit recognizer")
    backend = load_backend(out, fmt)
    x = backend.meta["normalization"](test_digits[0][:1000])
    net = create_model("seed")
    checkpoint.load(trained_run / "checkpoints" / "best.npz", net)
    net.eval()
    with paddle.no_grad():
        eager = net.probabilities(net(paddle.to_tensor(x))).numpy()
    exported = np.concatenate([backend.probabilities(x[i : i + 250]) for i in range(0, 1000, 250)])  # dynamic batch
    assert exported.shape == (1000, 10)
    assert np.abs(exported - eager).max() <= 1e-4
    assert (exported.argmax(1) == eager.argmax(1)).all()


def test_predict_from_export_json(
    trained_run: Path, tmp_path: Path, test_digits: tuple[np.ndarray, np.ndarray]
) -> None:
    export = run_cli("export", str(trained_run), "--format", "onnx", "--out", str(tmp_path / "onnx"))
    assert export.returncode == 0, export.stderr
    image = tmp_path / "d.png"
    _photo(test_digits[0][1]).save(image)
    result = run_cli("predict", str(image), "--model", str(tmp_path / "onnx"), "--backend", "onnx", "--json")
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout)  # nothing but the JSON line on stdout
    assert row["file"] == str(image) and 0 <= row["digit"] <= 9


def test_preprocessing_carries_an_mnist_model_to_photos(trained_run: Path) -> None:
    """Even a model trained on 2,000 digits for 2 epochs reads synthetic photos far better with
    MNIST-style preprocessing than with a plain resize."""
    from lenet5.data.synthetic_photos import PhotoStyle, photo_set
    from lenet5.infer.backends import load_backend
    from lenet5.infer.predict import predict_digit
    from lenet5.infer.preprocess import mnist_digit

    backend = load_backend(trained_run)
    photos = photo_set(100, seed=5, style=PhotoStyle(dark_on_light=True))

    def naive(image: Image.Image) -> np.ndarray:
        return 255 - np.asarray(image.convert("L").resize((28, 28)), dtype=np.uint8)

    ours = np.mean([predict_digit(backend, mnist_digit(img), "x").digit == d for d, img in photos])
    plain = np.mean([predict_digit(backend, naive(img), "x").digit == d for d, img in photos])
    assert ours >= 0.6 and ours > plain + 0.25, (ours, plain)


def test_synthetic_photos_are_reproducible() -> None:
    from lenet5.data.synthetic_photos import photo_set

    a, b = photo_set(5, seed=9), photo_set(5, seed=9)
    assert all(np.array_equal(np.asarray(x[1]), np.asarray(y[1])) for x, y in zip(a, b, strict=True))
    assert [d for d, _ in a] == [0, 1, 2, 3, 4]


def test_large_photo_is_shrunk_first_and_still_read(test_digits: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    """A phone-sized JPEG (3000x2400) gives the same digit as a small picture of it."""
    import time

    digit = test_digits[0][2]
    big = Image.new("L", (3000, 2400), 235)
    big.paste(Image.fromarray(255 - digit).resize((1200, 1200), Image.Resampling.BICUBIC), (900, 500))
    path = tmp_path / "phone.jpg"
    big.save(path, quality=90)
    started = time.perf_counter()
    seen = load_digit(path)
    assert time.perf_counter() - started < 1.0
    small = load_digit(_to_bytes(_photo(digit)))
    assert np.abs(seen.astype(float) - small).mean() < 12
