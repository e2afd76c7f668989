"""Training the script network: a glyph on a form is handwriting or print.

A form holds printed labels ("Amount:", "Tel", "No.", a title, a printed date) beside the
numbers written on it. The number reader reads anything as digits, so the printed words
must be set aside first (lenet5.infer.script). The network that tells them apart is the
article's seed network with two outputs, trained here on pieces made the way the page
finder makes them: each connected blob of ink, cropped and rendered as MNIST renders a digit
(lenet5.vision.preprocess.render_mnist).

- Handwriting: MNIST training digits (never test digits), each varied in size and slant,
  with thinner or bolder strokes and a little blur; a share of them as two touching digits
  (one blob of ink), as a fast writer leaves them.
- Print: letters, digits and punctuation of labels and random strings, rendered with the
  fonts that ship inside matplotlib's wheel (DejaVu, STIX, Computer Modern: the same on
  every machine), in several sizes, weights and slants, slightly rotated and blurred.

The Liberation fonts (metric twins of Arial, Times New Roman and Courier) are kept out of
training and used for validation: the network is judged on typefaces it never saw.

    python -m lenet5.train.script --out src/lenet5/pretrained/script
"""

from __future__ import annotations

import argparse
import json
import string
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from lenet5 import atomic
from lenet5.data import mnist
from lenet5.infer.script import CLASSES, META_FILE, MODEL_FILE, glyph_image
from lenet5.reader.lines import compose_line, crop, vary
from lenet5.runtime import import_paddle

HANDWRITTEN, PRINTED = CLASSES.index("handwritten"), CLASSES.index("printed")
LABELS = (
    "Amount:", "Amount", "Tel", "Tel.", "No.", "No", "Total", "Date", "Date:", "Phone", "ID", "Name", "Invoice #",
    "Ref.", "Qty", "Price", "Sum", "Code", "Account", "Member", "Signature", "Page", "Room", "Order", "Item",
    "Membership", "Exercise sheet", "Receipt", "Customer", "Number", "Postcode", "Zip", "Box", "Fax", "Email",
)  # fmt: skip
TRAIN_FONTS = ("DejaVuSans", "DejaVuSerif", "DejaVuSansMono", "STIXGeneral", "cmr10", "cmss10", "cmb10", "cmtt10")
VALIDATION_FONTS = Path("/usr/share/fonts/truetype/liberation")
PIECES = 60_000  # of each class, for training
GLYPH_THRESHOLD = 0.25  # ink above this share of full strength is a blob's (the pieces are rendered at full contrast)


def matplotlib_fonts() -> list[Path]:
    """The typefaces matplotlib's wheel carries (every style of TRAIN_FONTS)."""
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return sorted(p for p in folder.glob("*.ttf") if p.stem.startswith(TRAIN_FONTS) and "Display" not in p.stem)


def _text(rng: np.random.Generator) -> str:
    """A label, a word of random letters, a printed number or date, or a mix."""
    kind = rng.integers(5)
    if kind == 0:
        return str(rng.choice(LABELS))
    if kind == 1:
        return "".join(rng.choice(list(string.ascii_letters), int(rng.integers(2, 9))))
    if kind == 2:
        return "".join(rng.choice(list(string.digits), int(rng.integers(1, 9))))
    if kind == 3:
        return f"{rng.integers(1, 29):02d}/{rng.integers(1, 13):02d}/{rng.integers(1990, 2031)}"
    return "".join(rng.choice(list(string.ascii_letters + string.digits + ":.#-/$()"), int(rng.integers(2, 9))))


def _ink_blobs(ink: np.ndarray, min_height: float) -> list[np.ndarray]:
    """Each connected blob of ink (0..1) at least `min_height` px high, cropped."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats((ink > GLYPH_THRESHOLD).astype(np.uint8), connectivity=8)
    blobs = []
    for i in range(1, count):
        x, y, w, h, _area = stats[i]
        if h >= min_height:
            blobs.append(ink[y : y + h, x : x + w] * (labels[y : y + h, x : x + w] == i))
    return blobs


def printed_pieces(fonts: list[Path], count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` printed glyph blobs rendered as MNIST digits (uint8 [count, 28, 28])."""
    out: list[np.ndarray] = []
    while len(out) < count:
        text = _text(rng)
        size = int(rng.integers(18, 72))
        font = ImageFont.truetype(str(fonts[rng.integers(len(fonts))]), size)
        canvas = Image.new("L", (int(font.getlength(text)) + 2 * size, 3 * size), 0)
        ImageDraw.Draw(canvas).text((size, size), text, fill=255, font=font)
        canvas = canvas.rotate(rng.uniform(-3, 3), resample=Image.Resampling.BICUBIC)
        ink = np.asarray(canvas, np.float32) / 255.0
        ink = cv2.GaussianBlur(ink, (0, 0), rng.uniform(0.3, 1.2)) * rng.uniform(0.6, 1.0)
        out += [glyph_image(blob, GLYPH_THRESHOLD) for blob in _ink_blobs(ink, 0.3 * size)]
    return np.stack(out[:count])


def handwritten_pieces(images: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` handwritten blobs: varied MNIST digits, a fifth of them two touching digits."""
    out = np.zeros((count, 28, 28), np.uint8)
    for k in range(count):
        if rng.random() < 0.2:
            digits = [vary(crop(images[i]), rng) for i in rng.integers(0, len(images), 2)]
            ink, _owner = compose_line(digits, "touching", rng)
        else:
            ink = vary(crop(images[rng.integers(len(images))]), rng)
        ink = cv2.resize(ink, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)  # a pen at photo scale
        width = int(rng.integers(-2, 4))
        element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(width) + 1,) * 2)
        ink = cv2.dilate(ink, element) if width > 0 else cv2.erode(ink, element) if width < 0 else ink
        ink = cv2.GaussianBlur(np.clip(ink, 0, 1), (0, 0), rng.uniform(0.3, 1.5)) * rng.uniform(0.6, 1.0)
        out[k] = glyph_image(crop((ink * 255).astype(np.uint8)), GLYPH_THRESHOLD)
    return out


def training_set(fonts: list[Path], images: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` glyphs of each class: half cut out of photographed pages by the page finder
    itself (what the network meets when reading), half made one by one (more variety)."""
    rng = np.random.default_rng(seed)
    x_page, y_page = page_pieces(fonts, images, count, rng)
    x = np.concatenate([x_page, handwritten_pieces(images, count // 2, rng), printed_pieces(fonts, count // 2, rng)])
    y = np.concatenate([y_page, np.full(count // 2, HANDWRITTEN), np.full(count // 2, PRINTED)]).astype(np.int64)
    order = rng.permutation(len(y))
    return x[order], y[order]


def page_pieces(fonts: list[Path], images: np.ndarray, count: int, rng: np.random.Generator) -> tuple:
    """Glyphs of both classes (about `count // 2` each) as lenet5.photo.writing finds them on
    photographed pages of handwritten numbers and printed text, labelled by whose ink they hold."""
    from lenet5.infer.script import glyphs
    from lenet5.photo import analyse_writing
    from lenet5.photo.writing import ink_threshold

    pieces: dict[int, list[np.ndarray]] = {HANDWRITTEN: [], PRINTED: []}
    while min(len(v) for v in pieces.values()) < count // 2:
        gray, owner = photographed_page(fonts, images, rng)
        writing = analyse_writing(gray)
        threshold = ink_threshold(writing.strength)
        for word in (w for line in writing.lines for w in line.words):
            x0, y0, x1, y1 = word.box
            who = owner[y0:y1, x0:x1][word.mask > 0]
            hand, printed = (who == HANDWRITTEN).mean(), (who == PRINTED).mean()
            if max(hand, printed) < 0.8:  # a word of both, or of neither (dust): no honest label
                continue
            label = HANDWRITTEN if hand > printed else PRINTED
            pieces[label] += list(glyphs(word.ink, threshold)[0])
    half = count // 2
    x = np.concatenate([np.stack(pieces[HANDWRITTEN][:half]), np.stack(pieces[PRINTED][:half])])
    return x, np.concatenate([np.full(half, HANDWRITTEN), np.full(half, PRINTED)])


def photographed_page(fonts: list[Path], images: np.ndarray, rng: np.random.Generator) -> tuple:
    """A page of printed words and handwritten numbers in rows, photographed (uneven light,
    blur, noise, JPEG); and per pixel whose ink it is (-1: paper)."""
    width, height = int(rng.integers(500, 1000)), int(rng.integers(500, 1000))
    ink = np.zeros((height, width), np.float32)
    owner = np.full((height, width), -1, np.int8)
    y = int(rng.integers(10, 40))
    while y < height - 80:
        size = int(rng.integers(14, 64))
        x = int(rng.integers(10, 60))
        while x < width - 3 * size:
            mark = _handwritten_mark(images, size, rng) if rng.random() < 0.5 else _printed_mark(fonts, size, rng)
            label = HANDWRITTEN if mark[1] else PRINTED
            piece = mark[0][: height - y, : width - x]
            region = ink[y : y + piece.shape[0], x : x + piece.shape[1]]
            owner[y : y + piece.shape[0], x : x + piece.shape[1]][piece > 0.2] = label
            np.maximum(region, piece, out=region)
            x += piece.shape[1] + int(rng.integers(size, 4 * size))
        y += int(size * rng.uniform(1.6, 3.0))
    return _photograph(ink, rng), owner


def _handwritten_mark(images: np.ndarray, size: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """A number of 1-6 training digits, `size` px high, as a pen (uniform width) or a soft pencil."""
    spacing = str(rng.choice(["separated", "close", "touching"]))
    digits = [vary(crop(images[i]), rng) for i in rng.integers(0, len(images), int(rng.integers(1, 7)))]
    line, _owner = compose_line(digits, spacing, rng)
    line = line[np.flatnonzero(line.max(axis=1) > 0.1)[0] :]
    scale = size / max(20, line.shape[0] - 8)
    big = cv2.resize(line, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    if rng.random() < 0.5:  # a pen: the strokes' middle lines drawn at one width
        width = max(1, round(size * rng.uniform(0.03, 0.12)))
        element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (width, width))
        big = cv2.dilate(skeleton((big > 0.5).astype(np.uint8)), element).astype(np.float32)
        big = cv2.GaussianBlur(big, (0, 0), 0.6)
    return np.clip(big, 0, 1) * rng.uniform(0.6, 1.0), True


def _printed_mark(fonts: list[Path], size: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    text = _text(rng)
    font = ImageFont.truetype(str(fonts[rng.integers(len(fonts))]), int(size * rng.uniform(0.9, 1.4)))
    canvas = Image.new("L", (int(font.getlength(text)) + 8, int(font.size * 1.5)), 0)
    ImageDraw.Draw(canvas).text((4, 2), text, fill=255, font=font)
    return np.asarray(canvas, np.float32) / 255.0 * rng.uniform(0.7, 1.0), False


def _photograph(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ink 0..1 on paper, as a phone sees it: a light gradient, blur, noise, JPEG."""
    height, width = ink.shape
    paper = rng.uniform(170, 245) + rng.uniform(-25, 25) * np.linspace(-1, 1, width)[None, :]
    paper = paper + rng.uniform(-15, 15) * np.linspace(-1, 1, height)[:, None]
    photo = paper - ink * (paper - rng.uniform(15, 90))
    photo = cv2.GaussianBlur(photo.astype(np.float32), (0, 0), rng.uniform(0.3, 1.3))
    photo = np.clip(photo + rng.normal(0, rng.uniform(1, 5), photo.shape), 0, 255).astype(np.uint8)
    quality = int(rng.integers(55, 95))
    return cv2.imdecode(cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_GRAYSCALE)


def skeleton(binary: np.ndarray) -> np.ndarray:
    """The morphological skeleton of a 0/1 picture (the union, over erosions, of what an
    opening removes): the strokes' middle lines, which a pen of any width then redraws."""
    out = np.zeros_like(binary)
    element = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    while binary.any():
        eroded = cv2.erode(binary, element)
        out |= binary - cv2.dilate(eroded, element)
        binary = eroded
    return out


def train_network(x: np.ndarray, y: np.ndarray, epochs: int, seed: int, echo=print) -> object:
    """The seed network with two outputs, Adam 1e-3, batch 128 (the article's recipe)."""
    from lenet5.data.batches import batches, epoch_rng
    from lenet5.data.normalize import NORMALIZATIONS
    from lenet5.models import create_model
    from lenet5.train.losses import cross_entropy
    from lenet5.train.step import train_step

    paddle = import_paddle()
    paddle.seed(seed)
    net = create_model("seed", num_classes=len(CLASSES))
    optimizer = paddle.optimizer.Adam(learning_rate=1e-3, parameters=net.parameters())
    inputs = NORMALIZATIONS["seed"](x)
    for epoch in range(epochs):
        net.train()
        for xb, yb in batches(inputs, y, 128, epoch_rng(seed, epoch)):
            train_step(net, optimizer, cross_entropy, xb, yb)
        echo(f"script network: epoch {epoch + 1}/{epochs} done")
    net.eval()
    return net


def accuracy(net: object, x: np.ndarray, y: np.ndarray) -> float:
    from lenet5.data.normalize import NORMALIZATIONS

    paddle = import_paddle()
    with paddle.no_grad():
        logits = np.concatenate(
            [net(paddle.to_tensor(NORMALIZATIONS["seed"](x[i : i + 1000]))).numpy() for i in range(0, len(x), 1000)]
        )
    return float((logits.argmax(axis=1) == y).mean())


def export(net: object, out: Path, facts: dict) -> None:
    """The network as `model.onnx` (softmax at the end) with its description, written atomically."""
    from lenet5.export.graph import ProbabilityModel
    from lenet5.infer.convert import convert_to_onnx

    paddle = import_paddle()
    with tempfile.TemporaryDirectory() as staging:
        spec = paddle.static.InputSpec([None, 1, 28, 28], "float32", "image")
        paddle.jit.save(ProbabilityModel(net), str(Path(staging) / "inference"), input_spec=[spec])
        onnx = convert_to_onnx(Path(staging))
    with atomic.atomic_dir(out, replace_existing=True) as tmp:
        (tmp / MODEL_FILE).write_bytes(onnx)
        (tmp / META_FILE).write_text(json.dumps({"classes": list(CLASSES), **facts}, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the handwriting-or-print network (lenet5.infer.script).")
    parser.add_argument("--out", required=True, help="folder to write (replaced if it holds an earlier one)")
    parser.add_argument("--count", type=int, default=PIECES, help=f"pieces of each class (default {PIECES})")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    data = mnist.load()
    train_fonts = matplotlib_fonts()
    x, y = training_set(train_fonts, data.train_images[:55_000], args.count, args.seed)
    net = train_network(x, y, args.epochs, args.seed)
    val_fonts = sorted(VALIDATION_FONTS.glob("*.ttf"))
    vx, vy = training_set(val_fonts or train_fonts, data.train_images[55_000:], 5_000, args.seed + 1)
    val = accuracy(net, vx, vy)
    print(f"validation accuracy {100 * val:.2f}% (MNIST validation digits; {len(val_fonts)} unseen fonts)")
    facts = {
        "train_fonts": [p.stem for p in train_fonts],
        "validation_fonts": [p.stem for p in val_fonts],
        "validation_accuracy": val,
        "pieces_per_class": args.count,
        "epochs": args.epochs,
        "seed": args.seed,
        "command": ["python", "-m", "lenet5.train.script", *sys.argv[1:]] if argv is None else list(argv),
    }
    export(net, Path(args.out), facts)
    print(f"Wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
