"""Handwriting or print: which words on a page are written by hand.

A form's printed labels ("Amount:", "Tel", "No.", a title, a printed date) sit beside the
numbers written on it, and the number reader would read them as digits. Each word's blobs
of ink are rendered as MNIST digits and scored by a small network trained for exactly this
(the article's seed network with two outputs: lenet5.train.script, shipped in
`pretrained/script/`). A word is printed when most of its ink is, by the network.

Only ONNX Runtime is needed, as for reading: no Paddle import.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import cv2
import numpy as np

from lenet5.data.normalize import NORMALIZATIONS
from lenet5.errors import UserError
from lenet5.store.files import read_bytes, read_json
from lenet5.vision.page import soft_ink
from lenet5.vision.preprocess import render_mnist

CLASSES = ("handwritten", "printed")
MODEL_FILE = "model.onnx"
META_FILE = "script.json"
FOLDER = Path(__file__).resolve().parent.parent / "pretrained" / "script"
MAX_BYTES = 16 * 1024 * 1024
MIN_BLOB = 0.3  # of the word's height: smaller blobs (dots, a colon, a detached bar) do not vote
MAX_BLOBS = 64  # blobs scored per word: more are not one word of a form


class ScriptModel:
    """The shipped handwriting-or-print network (ONNX Runtime, one thread, thread-safe)."""

    def __init__(self, folder: Path = FOLDER) -> None:
        import onnxruntime as ort

        meta = read_json(folder / META_FILE, 1_000_000, "script network description")
        if not isinstance(meta, dict) or tuple(meta.get("classes", ())) != CLASSES:
            raise UserError(f"{folder / META_FILE}: not a lenet5 script network")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.log_severity_level = 3
        model = read_bytes(folder / MODEL_FILE, MAX_BYTES, "ONNX model")
        self._session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self._lock = threading.Lock()

    def printed(self, glyphs: np.ndarray) -> np.ndarray:
        """P(printed) of each 28x28 glyph (uint8 [N, 28, 28], MNIST conventions)."""
        if len(glyphs) == 0:
            return np.zeros(0, np.float32)
        x = NORMALIZATIONS["seed"](glyphs)
        with self._lock:
            return self._session.run(None, {self._input: x})[0][:, CLASSES.index("printed")]


@functools.cache
def shipped() -> ScriptModel | None:
    """The shipped network, loaded once; None when it is not installed (then nothing is set
    aside as print, and every word is read)."""
    return ScriptModel() if (FOLDER / MODEL_FILE).is_file() else None


def glyph_image(ink: np.ndarray, threshold: float) -> np.ndarray:
    """One blob's ink (0..1, cropped to it, 0 elsewhere) as the network sees it: soft ink
    with the stroke width brought to MNIST's proportion, rendered as MNIST renders a digit.
    The same for training and for reading, so a thin pen and a thick font differ in shape
    only, not in how heavy the strokes are."""
    return render_mnist(soft_ink(ink, (ink > threshold).astype(np.uint8), threshold))


def glyphs(ink: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """A word's blobs at least MIN_BLOB of its height, rendered as MNIST digits, and each
    blob's ink mass (its vote's weight)."""
    mask = (ink > threshold).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    height = max(1, ink.shape[0])
    rendered, mass = [], []
    order = np.argsort(-stats[1:, cv2.CC_STAT_AREA]) + 1 if count > 1 else []
    for i in list(order)[:MAX_BLOBS]:
        x, y, w, h, _area = stats[i]
        if h < MIN_BLOB * height:
            continue
        own = ink[y : y + h, x : x + w] * (labels[y : y + h, x : x + w] == i)
        rendered.append(glyph_image(own, threshold))
        mass.append(float(own.sum()))
    if not rendered:
        return np.zeros((0, 28, 28), np.uint8), np.zeros(0)
    return np.stack(rendered), np.asarray(mass)


def printed_share(model: ScriptModel, ink: np.ndarray, threshold: float) -> float:
    """How much of a word's ink is print, by the network's vote weighted by ink (0..1)."""
    pieces, mass = glyphs(ink, threshold)
    if len(pieces) == 0:
        return 0.0
    return float((model.printed(pieces) * mass).sum() / mass.sum())
