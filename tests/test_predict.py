"""Predicting on people's own images: preprocessing, every bad input, backends and parity."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import DATA_DIR, assert_same_decisions, run_cli
from lenet5.cli import main
from lenet5.data import mnist
from lenet5.errors import UserError
from lenet5.vision.preprocess import load_digit


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


def _to_bytes(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
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
    from lenet5.vision.preprocess import render_mnist

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
        "blank.png": "no digit found",
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
        assert set(row) == {"file", "digit", "probability", "top_k", "box", "warning", "junk", "not_a_digit"}
        assert len(row["top_k"]) == 3 and (row["junk"], row["not_a_digit"]) == (None, False)  # no junk class
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


def test_save_input_and_csv(tmp_path: Path, test_digits: tuple[np.ndarray, np.ndarray]) -> None:
    path = tmp_path / "seven.png"
    _photo(test_digits[0][0]).save(path)
    code = main(
        [
            "predict",
            str(path),
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
    from lenet5.export.folder import export_folder
    from lenet5.infer.backends import load_backend
    from lenet5.models import create_model
    from lenet5.runtime import import_paddle
    from lenet5.store import checkpoint

    paddle = import_paddle()
    out = export_folder(trained_run, fmt, tmp_path / fmt)
    assert (out / "README.md").read_text().startswith("# LeNet-5 digit recognizer")
    backend = load_backend(out, fmt)
    x = backend.meta.normalize(test_digits[0][:1000])
    net = create_model("seed")
    checkpoint.load(trained_run / "checkpoints" / "best.npz", net)
    net.eval()
    with paddle.no_grad():
        eager = net.probabilities(net(paddle.to_tensor(x))).numpy()
    exported = np.concatenate([backend.probabilities(x[i : i + 250]) for i in range(0, 1000, 250)])  # dynamic batch
    assert exported.shape == (1000, 10)
    assert np.abs(exported - eager).max() <= 1e-4
    assert_same_decisions(exported, eager, 2e-4)


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


def test_preprocessing_carries_an_mnist_model_to_photos() -> None:
    """The shipped MNIST model reads synthetic photos far better with MNIST-style
    preprocessing than with a plain resize."""
    from lenet5.data.synthetic_photos import PhotoStyle, photo_set
    from lenet5.infer.backends import load_backend
    from lenet5.infer.predict import predict_digit
    from lenet5.store.model_folder import resolve_model_folder
    from lenet5.vision.preprocess import mnist_digit

    backend = load_backend(resolve_model_folder("seed"))
    photos = photo_set(100, seed=5, style=PhotoStyle(dark_on_light=True))

    def naive(image: Image.Image) -> np.ndarray:
        return 255 - np.asarray(image.convert("L").resize((28, 28)), dtype=np.uint8)

    ours = np.mean([predict_digit(backend, mnist_digit(img), "x").digit == d for d, img in photos])
    plain = np.mean([predict_digit(backend, naive(img), "x").digit == d for d, img in photos])
    assert ours >= 0.95 and ours > plain + 0.25, (ours, plain)


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


# --- open_image, to_grayscale and the 28x28 field, function by function -----------------


def test_errors_name_the_path_or_the_given_name(tmp_path: Path) -> None:
    from lenet5.vision.preprocess import open_image

    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(UserError) as caught:
        open_image(empty)
    assert str(caught.value) == f"{empty}: empty file"
    with pytest.raises(UserError) as caught:
        open_image(b"")
    assert str(caught.value) == "<bytes>: empty file"
    with pytest.raises(UserError) as caught:
        open_image(b"", "upload.png")
    assert str(caught.value) == "upload.png: empty file"
    with pytest.raises(UserError) as caught:
        open_image(tmp_path / "missing.png")
    assert str(caught.value) == f"{tmp_path / 'missing.png'}: no such file"
    with pytest.raises(UserError) as caught:
        open_image(b"not a picture")
    assert str(caught.value) == "<bytes>: not an image file (or a format Pillow cannot read)"
    with pytest.raises(UserError) as caught:
        open_image(tmp_path)
    assert str(caught.value) == f"{tmp_path}: is a directory, not a file"


def test_the_pixel_limit_is_checked_on_the_header_and_is_inclusive() -> None:
    from lenet5.vision.preprocess import MAX_PIXELS, open_image

    assert MAX_PIXELS == 50_000_000
    data = _to_bytes(Image.new("L", (40, 25), 255))
    assert open_image(data, "ok.png", max_pixels=1000).size == (40, 25)
    with pytest.raises(UserError) as caught:
        open_image(data, "big.png", max_pixels=999)
    assert str(caught.value) == "big.png: image too large (40x25, limit 999 pixels)"
    with pytest.raises(UserError) as caught:
        open_image(_to_bytes(Image.new("1", (8000, 7000))), "page.png")
    assert str(caught.value) == "page.png: image too large (8000x7000, limit 50,000,000 pixels)"


@pytest.mark.parametrize("pixels", [1000, 1500, 2500])  # warning zone (1-2x Pillow's limit) and error zone
def test_pillows_decompression_bomb_limit_is_one_line(pixels: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from lenet5.vision.preprocess import open_image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 900)
    data = _to_bytes(Image.new("L", (pixels // 10, 10), 255))
    with pytest.raises(UserError) as caught:
        open_image(data, "bomb.png")
    assert str(caught.value) == "bomb.png: image too large (decompression-bomb limit)"


def test_a_permission_error_while_decoding_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from lenet5.vision.preprocess import open_image

    def refuse(*_args, **_kwargs):
        raise PermissionError("no")

    monkeypatch.setattr(Image, "open", refuse)
    with pytest.raises(UserError) as caught:
        open_image(b"\x89PNG", "locked.png")
    assert str(caught.value) == "locked.png: permission denied"


def test_a_truncated_picture_says_so_with_pillows_reason(tmp_path: Path) -> None:
    from lenet5.vision.preprocess import open_image

    png = _to_bytes(Image.effect_noise((64, 64), 40))
    with pytest.raises(UserError, match=r"^cut\.png: corrupt or truncated image \(.+\)$"):
        open_image(png[: len(png) // 2], "cut.png")


@pytest.mark.parametrize(
    ("size", "decoded"),
    [
        ((2048, 1600), None),
        ((2049, 1600), (2049, 1600)),  # half would be under 1536: decoded whole, in grey
        ((4000, 3000), (2000, 1500)),
        ((5000, 3000), (2500, 1500)),
        ((3000, 6500), (750, 1625)),
        ((8000, 6000), (2000, 1500)),
    ],
)
def test_only_jpegs_over_twice_the_working_size_are_decoded_small(size, decoded) -> None:
    """libjpeg's DCT scaling: a phone photo decodes at 1/2, 1/4 or 1/8 scale, its longer side
    never below 1536 (3/4 of the 2048 px fine size that small writing is read at). Every colour
    JPEG is decoded as its luminance alone, unless colour is asked for (a picture to draw on),
    at the same reduced size."""
    from lenet5.vision.preprocess import open_image

    jpeg = _to_bytes(Image.new("RGB", size, (200, 190, 180)), "JPEG")
    assert (open_image(jpeg, "p.jpg").size, open_image(jpeg, "p.jpg").mode) == (decoded or size, "L")
    coloured = open_image(jpeg, "p.jpg", colour=True)
    assert (coloured.size, coloured.mode) == (decoded or size, "RGB")
    assert open_image(_to_bytes(Image.new("RGB", size), "PNG"), "p.png").size == size


def test_grayscale_keeps_small_pictures_and_shrinks_large_ones_to_1024() -> None:
    from lenet5.vision.preprocess import WORKING_SIZE, to_grayscale

    assert WORKING_SIZE == 1024
    small = Image.fromarray(np.arange(60, dtype=np.uint8).reshape(6, 10) * 4)
    np.testing.assert_array_equal(to_grayscale(small), np.asarray(small))
    assert to_grayscale(small).dtype == np.uint8
    assert to_grayscale(Image.new("L", (1024, 300), 9)).shape == (300, 1024)
    assert to_grayscale(Image.new("L", (3000, 1001), 9)).shape == (342, 1024)  # 1001 * 1024 / 3000 = 341.7
    assert to_grayscale(Image.new("L", (1001, 3000), 9)).shape == (1024, 342)
    assert to_grayscale(Image.new("L", (5000, 2), 9)).shape == (1, 1024)  # never a zero-sized side
    assert to_grayscale(Image.new("L", (2, 5000), 9)).shape == (1024, 1)
    stripes = np.tile(np.array([0, 0, 255, 255], np.uint8), (4, 512))  # 2048 wide, shrunk by 2: box-averaged
    np.testing.assert_array_equal(to_grayscale(Image.fromarray(stripes))[:, :4], [[0, 255, 0, 255]] * 2)


def test_grayscale_composites_every_kind_of_transparency_on_white() -> None:
    from lenet5.vision.preprocess import to_grayscale

    clear = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert (to_grayscale(clear) == 255).all()
    assert (to_grayscale(Image.new("LA", (4, 4), (0, 0))) == 255).all()
    assert (to_grayscale(Image.new("PA", (4, 4), (0, 0))) == 255).all()
    half = to_grayscale(Image.new("RGBA", (4, 4), (0, 0, 0, 128)))
    assert (np.abs(half.astype(int) - 127) <= 1).all()
    keyed = Image.new("L", (4, 4), 7)
    keyed.info["transparency"] = 7  # a grey level marked transparent, as PNG allows
    assert (to_grayscale(keyed) == 255).all()
    rgb_keyed = Image.new("RGB", (4, 4), (1, 2, 3))
    rgb_keyed.info["transparency"] = (1, 2, 3)
    assert (to_grayscale(rgb_keyed) == 255).all()
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([10, 10, 10] * 256)
    palette.info["transparency"] = 0
    assert (to_grayscale(palette) == 255).all()
    opaque_palette = Image.new("P", (4, 4), 0)
    opaque_palette.putpalette([10, 10, 10] * 256)
    assert (to_grayscale(opaque_palette) == 10).all()
    assert (to_grayscale(Image.new("RGB", (4, 4), (30, 30, 30))) == 30).all()  # opaque stays as it is


def test_grayscale_scales_deep_pictures_to_0_255() -> None:
    from lenet5.vision.preprocess import to_grayscale

    sixteen = Image.fromarray(np.array([[0, 257 * 100, 65535]], dtype=np.uint16))
    assert sixteen.mode.startswith("I;16")
    np.testing.assert_allclose(to_grayscale(sixteen), [[0, 100, 255]], atol=1e-3)
    assert to_grayscale(sixteen).dtype == np.float32
    # 32-bit integers and floats: 0..255 kept as they are, anything above read as 16-bit.
    np.testing.assert_allclose(to_grayscale(Image.fromarray(np.array([[0, 100, 255]], np.int32))), [[0, 100, 255]])
    np.testing.assert_allclose(to_grayscale(Image.fromarray(np.array([[0, 255.0]], np.float32))), [[0, 255]])
    floats = to_grayscale(Image.fromarray(np.array([[0, 1000.0, 65535.0]], np.float32)))
    np.testing.assert_allclose(floats, [[0, 1000 * 255 / 65535, 255]], rtol=1e-5)
    just_over = to_grayscale(Image.fromarray(np.array([[0, 256]], np.int32)))  # 256 is already 16-bit
    np.testing.assert_allclose(just_over, [[0, 256 * 255 / 65535]], rtol=1e-5)
    wide = to_grayscale(Image.fromarray(np.array([[-5, 256, 65535, 70000]], np.int32)))
    np.testing.assert_allclose(wide, [[0, 256 * 255 / 65535, 255, 255]], rtol=1e-5)


def test_a_bilevel_picture_is_averaged_back_to_grey() -> None:
    from lenet5.vision.preprocess import to_grayscale

    dots = np.indices((9, 9)).sum(axis=0) % 2 == 0  # a checkerboard, as dithering makes
    grey = to_grayscale(Image.fromarray(dots).convert("1"))
    assert grey.dtype == np.uint8
    assert set(np.unique(grey[1:-1, 1:-1])) == {113, 142}  # 4 or 5 of 9 white dots, x 255 / 9


def test_the_field_puts_the_centre_of_mass_at_13_5() -> None:
    from lenet5.vision.preprocess import _place_by_centre_of_mass

    field = _place_by_centre_of_mass(np.full((20, 10), 255.0, np.float32))
    rows, cols = np.nonzero(field)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (4, 23, 9, 18)  # mass at 13.5, 13.5
    heavy_top = np.zeros((20, 20), np.float32)
    heavy_top[0] = 255  # all the mass in the first row: it moves down, but not out of the field
    field = _place_by_centre_of_mass(heavy_top)
    assert np.nonzero(field)[0].tolist() == [8] * 20 and np.nonzero(field)[1].min() == 4
    heavy_left = np.zeros((20, 20), np.float32)
    heavy_left[:, 19] = 255  # mass in the last column: moves left until the field's edge stops it
    rows, cols = np.nonzero(_place_by_centre_of_mass(heavy_left))
    assert rows.tolist() == list(range(4, 24)) and cols.tolist() == [19] * 20
    empty = _place_by_centre_of_mass(np.zeros((20, 6), np.float32))
    assert empty.shape == (28, 28) and empty.dtype == np.uint8 and not empty.any()
    rounded = _place_by_centre_of_mass(np.full((2, 2), 200.4, np.float32))
    assert rounded.max() == 200 and rounded.sum() == 800


def test_rendering_scales_the_longer_side_to_20_and_averages_when_shrinking() -> None:
    from lenet5.vision.preprocess import render_mnist

    tall = render_mnist(np.ones((40, 10), np.float32))
    rows, cols = np.nonzero(tall)
    assert rows.max() - rows.min() + 1 == 20 and cols.max() - cols.min() + 1 == 5
    assert tall.max() == 255
    wide = render_mnist(np.ones((3, 7), np.float32))  # enlarged: 7 -> 20 wide, 3 -> 9 high
    rows, cols = np.nonzero(wide)
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (9, 20)
    checker = (np.indices((40, 40)).sum(axis=0) % 2).astype(np.float32)  # shrunk by 2: every pixel half ink
    grey = render_mnist(checker)
    assert set(np.unique(grey[grey > 0])) <= {127, 128}
    assert render_mnist(np.ones((1, 1), np.float32)).sum() == 20 * 20 * 255  # never a zero-sized patch


def test_the_field_clips_the_placement_at_every_edge() -> None:
    from lenet5.vision.preprocess import _place_by_centre_of_mass

    for row_or_col, expected in (("first row", (8, None)), ("last row", (0, None)), ("first col", (None, 8))):
        patch = np.zeros((20, 20), np.float32)
        if row_or_col == "first row":
            patch[0] = 255
        elif row_or_col == "last row":
            patch[19] = 255
        else:
            patch[:, 0] = 255
        rows, cols = np.nonzero(_place_by_centre_of_mass(patch))
        top, left = expected
        if top is not None:  # the patch's top edge lands at `top`: its ink row at top or top + 19
            assert rows.min() == top + (19 if row_or_col == "last row" else 0), row_or_col
        if left is not None:
            assert cols.tolist() == [left] * 20, row_or_col


def test_rendering_keeps_the_exact_grey_levels_of_the_ink() -> None:
    from lenet5.vision.preprocess import render_mnist

    assert set(np.unique(render_mnist(np.full((40, 40), 0.3, np.float32)))) == {0, 76}  # 0.3 x 255 = 76.5
    ring = np.ones((40, 40), np.float32)
    ring[10:30, 10:30] = 0  # the hole stays exactly background
    digit = render_mnist(ring)
    rows, cols = np.nonzero(digit)
    hole = digit[rows.min() + 7 : rows.min() + 13, cols.min() + 7 : cols.min() + 13]
    assert (hole == 0).all()


@pytest.mark.parametrize("side", [10, 13])  # enlarged 2x and about 1.5x
def test_enlarging_is_cubic_and_clipped(side: int) -> None:
    """A digit smaller than the box is enlarged with cubic interpolation: it rings by a few
    grey levels beside a sharp edge (bilinear or area averaging never would), and the ringing
    of a full-strength edge is clipped to 0..255, never wrapped round."""
    from lenet5.vision.preprocess import render_mnist

    half = np.zeros((side, side), np.float32)
    half[:, : side // 2] = 0.5
    assert render_mnist(half).max() > 128  # 0.5 x 255 = 127.5, overshot by the cubic kernel
    full = np.zeros((side, side), np.float32)
    full[:, : side // 2] = 1.0
    digit = render_mnist(full).astype(int)
    rows, cols = np.nonzero(digit)
    inked = digit[rows.min() : rows.max() + 1, cols.min() : cols.min() + 8]
    assert inked.min() >= 250  # not 255 + overshoot wrapped to a few grey levels
    ring = np.ones((side, side), np.float32)
    ring[3:-3, 3:-3] = 0
    digit = render_mnist(ring)
    rows, cols = np.nonzero(digit)
    hole = digit[rows.min() + 7 : rows.max() - 6, cols.min() + 7 : cols.max() - 6]
    assert hole.size and hole.max() == 0  # the undershoot inside the hole is 0, not wrapped to ~250


@pytest.mark.parametrize("shape", [(40, 1), (1, 40)])
def test_a_one_pixel_line_stays_one_pixel_wide(shape: tuple[int, int]) -> None:
    from lenet5.vision.preprocess import render_mnist

    rows, cols = np.nonzero(render_mnist(np.ones(shape, np.float32)))
    assert (len(set(rows.tolist())), len(set(cols.tolist()))) == ((20, 1) if shape[0] == 40 else (1, 20))


def test_a_blank_picture_says_so_with_its_label(tmp_path: Path) -> None:
    from lenet5.vision.preprocess import NoInkError, analyse, mnist_digit, read_picture

    with pytest.raises(NoInkError) as caught:
        mnist_digit(Image.new("L", (60, 60), 200))
    assert str(caught.value) == "image: no digit found (blank or near-uniform image)"
    with pytest.raises(NoInkError, match=r"^scan\.png: no digit found"):
        mnist_digit(Image.new("L", (60, 60), 200), "scan.png")
    with pytest.raises(NoInkError, match=r"^image: no digit found"):
        analyse(Image.new("L", (60, 60), 200))
    blank = _to_bytes(Image.new("L", (60, 60), 200))
    (tmp_path / "blank.png").write_bytes(blank)
    for source, name, label in (
        (tmp_path / "blank.png", None, str(tmp_path / "blank.png")),
        (str(tmp_path / "blank.png"), None, str(tmp_path / "blank.png")),
        (blank, None, "<bytes>"),
        (blank, "upload.png", "upload.png"),
    ):
        with pytest.raises(NoInkError) as caught:
            read_picture(source, name)
        assert str(caught.value) == f"{label}: no digit found (blank or near-uniform image)"


def test_a_picture_that_fails_after_decoding_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from lenet5.vision import preprocess

    def odd(*_args, **_kwargs):
        raise OSError("broken palette")

    monkeypatch.setattr(preprocess, "to_grayscale", odd)
    with pytest.raises(UserError) as caught:
        preprocess.read_picture(_to_bytes(Image.new("L", (9, 9))))
    assert str(caught.value) == "<bytes>: cannot process this image (OSError: broken palette)"


def test_the_exif_orientation_is_applied_before_the_digit_is_found() -> None:
    """A phone stores a portrait photo as landscape pixels plus an Orientation tag: the box
    is in the upright picture's pixels, as the user sees it."""
    from lenet5.vision.preprocess import analyse

    landscape = Image.new("L", (400, 200), 240)
    landscape.paste(0, (20, 60, 80, 140))  # a dark block near the left edge of the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    stored = Image.open(io.BytesIO(_to_bytes(landscape, "JPEG", quality=95, exif=exif)))
    result = analyse(stored)
    assert stored.size == (200, 400)  # turned upright, in place
    # Stored (x, y) shows at (199 - y, x): the block at x 20-80, y 60-140 shows at x 60-140, y 20-80.
    assert np.abs(np.array(result.box) - (60, 20, 140, 80)).max() <= 2, result.box


def test_a_warning_from_pillow_while_decoding_does_not_refuse_the_picture(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow warns about many harmless quirks (odd metadata, palettes): only its
    decompression-bomb warning is an error; any other one leaves the picture readable."""
    import warnings

    from PIL import ImageFile

    from lenet5.vision.preprocess import open_image

    real_load = ImageFile.ImageFile.load

    def load_with_a_warning(self):
        warnings.warn("a harmless quirk in this file", UserWarning, stacklevel=2)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load_with_a_warning)
    with pytest.warns(UserWarning, match="harmless quirk"):
        assert open_image(_to_bytes(Image.new("L", (30, 20), 255)), "quirky.png").size == (30, 20)


def test_two_digits_already_get_the_several_digits_warning() -> None:
    from lenet5.infer.predict import warning_for

    assert warning_for(0, 0.99) is None
    two = warning_for(1, 0.99)  # one other digit beside the one read: two digits
    assert two is not None and "hold 2 or more digits" in two and "lenet5 read" in two
    assert "hold 3 or more digits" in (warning_for(2, 0.99) or "")
    assert "low confidence (40%)" in (warning_for(0, 0.40) or "")
