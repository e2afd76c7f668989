"""Calibrating the shipped models' confidences, and how well they are calibrated.

    python bench/calibration.py [--models seed reader] [--lines 600] [--write]

1. One digit (`predict`): temperature scaling. Each model's probabilities on the MNIST
   validation digits (the last 5,000 training digits, never trained on by the shipped runs)
   fix one temperature T, the one of least negative log-likelihood: p_i ∝ p_i^(1/T).
2. A whole number (`read`): three candidate scores of a reading, each mapped by Platt
   scaling, sigmoid(a·logit(score) + b), fitted on lines of validation digits: its weakest
   digit's probability (what lenet5.reader.read.number_confidence uses), the product of its
   digits' probabilities, and its posterior among every reading of the segmentation graph
   (ScoredGraph.posterior). Reported for each: how well it ranks right readings above wrong
   ones (AUROC) and its calibration error before and after the mapping.
Everything is judged on data it was not fitted on: MNIST test digits, and lines of test
digits (bench/number_sets.py, separated, close and touching). Reported: the expected
calibration error (ECE, 15 equal-width bins) before and after, and reliability diagrams
(docs/calibration-digits.png, docs/calibration-numbers.png). `--write` stores the weakest
digit's mapping in the shipped reader's lenet5.json (`calibration.number_platt`), where the
reader applies it, and each model's temperature only where it lowers the test error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import itertools

from common import write_result
from number_sets import make_set

from lenet5 import atomic
from lenet5.data import mnist
from lenet5.infer.backends import load_backend
from lenet5.reader.lines import compose_line, crop, photograph, vary
from lenet5.reader.read import score_graph
from lenet5.store.model_folder import META_FILE, shipped_models
from lenet5.vision.preprocess import to_grayscale

BINS = 15
DOCS = Path(__file__).resolve().parent.parent / "docs"


def ece(confidence: np.ndarray, right: np.ndarray) -> float:
    """Expected calibration error: the bins' |accuracy - confidence|, weighted by their share."""
    edges = np.linspace(0, 1, BINS + 1)
    total = 0.0
    for low, high in itertools.pairwise(edges):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            total += inside.mean() * abs(right[inside].mean() - confidence[inside].mean())
    return float(total)


def tempered(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    logits = np.log(np.maximum(probabilities, 1e-30)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=1, keepdims=True)


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature of least negative log-likelihood (a scan, then a finer one)."""

    def nll(t: float) -> float:
        return float(-np.log(np.maximum(tempered(probabilities, t)[np.arange(len(labels)), labels], 1e-30)).mean())

    coarse = min(np.geomspace(0.25, 8, 61), key=nll)
    return float(min(np.geomspace(coarse / 1.1, coarse * 1.1, 41), key=nll))


def _logit(score: np.ndarray) -> np.ndarray:
    p = np.clip(score, 1e-9, 1 - 1e-9)  # as lenet5.reader.read.number_confidence clips
    return np.log(p / (1 - p))


def fit_platt(score: np.ndarray, right: np.ndarray) -> tuple[float, float]:
    """a, b of sigmoid(a·logit(score) + b), by least log-loss with a small L2 penalty (Newton's
    method): without the penalty a set the score separates perfectly drives a and b to infinity."""
    x = np.stack([_logit(score), np.ones(len(score))], axis=1)
    w = np.zeros(2)
    for _ in range(100):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -30, 30)))
        gradient = x.T @ (p - right) + 1e-2 * w
        hessian = x.T @ (x * (p * (1 - p))[:, None]) + 1e-2 * np.eye(2)
        w -= np.linalg.solve(hessian, gradient)
    return float(w[0]), float(w[1])


def platt(score: np.ndarray, a: float, b: float) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(a * _logit(score) + b, -30, 30)))


def auroc(score: np.ndarray, right: np.ndarray) -> float:
    """The chance that a right reading scores above a wrong one (ties count half)."""
    pos, neg = score[right == 1], score[right == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())


def digit_confidences(model: str, images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    runner = load_backend(model, "onnx")
    raw = runner.scores(runner.meta.normalize(images))[:, :10]
    raw = raw / raw.sum(axis=1, keepdims=True)
    return raw, labels


def validation_lines(images: np.ndarray, labels: np.ndarray, count: int, seed: int) -> list[tuple[object, str]]:
    """Lines of 2-8 validation digits, spaced as the report sets are, photographed."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(count):
        kind = ("separated", "close", "touching")[k % 3]
        picks = rng.integers(0, len(labels), int(rng.integers(2, 9)))
        line, _owner = compose_line([vary(crop(images[i]), rng) for i in picks], kind, rng)
        out.append((photograph(line, rng, 6), "".join(str(int(labels[i])) for i in picks)))
    return out


SCORES = ("weakest digit", "product", "posterior")


def number_scores(runner: object, pictures: list[tuple[object, str]]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Each candidate score of each picture's best reading, and whether it is right."""
    scores: dict[str, list[float]] = {name: [] for name in SCORES}
    right = []
    for picture, truth in pictures:
        gray = picture if isinstance(picture, np.ndarray) else to_grayscale(picture)
        graph = score_graph(runner, gray)
        best = graph.best_reading()
        probabilities = [p for _d, p, _b in best] or [0.0]
        scores["weakest digit"].append(min(probabilities))
        scores["product"].append(float(np.prod(probabilities)))
        scores["posterior"].append(graph.posterior(best))
        right.append("".join(str(d) for d, _p, _b in best) == truth)
    return {name: np.array(values) for name, values in scores.items()}, np.array(right, dtype=float)


def reliability_plot(path: Path, title: str, curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    from lenet5.plots.plotting import plt, save_figure

    fig, ax = plt.subplots(figsize=(5.2, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
    edges = np.linspace(0, 1, BINS + 1)
    for name, (confidence, right) in curves.items():
        xs, ys = [], []
        for low, high in itertools.pairwise(edges):
            inside = (confidence > low) & (confidence <= high)
            if inside.sum() >= 5:
                xs.append(confidence[inside].mean())
                ys.append(right[inside].mean())
        ax.plot(xs, ys, "o-", label=f"{name} (ECE {100 * ece(confidence, right):.2f}%)")
    ax.set_xlabel("confidence")
    ax.set_ylabel("share read right")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["seed", "reader"])
    parser.add_argument("--lines", type=int, default=600, help="validation and test lines (default 600)")
    parser.add_argument("--write", action="store_true", help="store the fitted values in the shipped models")
    args = parser.parse_args()
    data = mnist.load()
    val_images, val_labels = data.train_images[55_000:], data.train_labels[55_000:]
    result: dict[str, object] = {}
    digit_curves = {}
    for model in args.models:
        raw_val, _ = digit_confidences(model, val_images, val_labels)
        temperature = fit_temperature(raw_val, val_labels)
        raw_test, labels = digit_confidences(model, data.test_images, data.test_labels)
        before, after = raw_test, tempered(raw_test, temperature)
        right = (before.argmax(axis=1) == labels).astype(float)
        result[model] = {
            "temperature": temperature,
            "test_ece_before": ece(before.max(axis=1), right),
            "test_ece_after": ece(after.max(axis=1), right),
        }
        digit_curves[f"{model}, raw"] = (before.max(axis=1), right)
        digit_curves[f"{model}, T={temperature:.2f}"] = (after.max(axis=1), right)
        print(f"{model}: T = {temperature:.3f}, test ECE {result[model]['test_ece_before']:.4f} -> "
              f"{result[model]['test_ece_after']:.4f}")  # fmt: skip
    reliability_plot(DOCS / "calibration-digits.png", "One digit: MNIST test digits", digit_curves)
    result["numbers"] = numbers = _numbers(data, val_images, val_labels, args.lines)
    write_result("calibration", result)
    if args.write:
        for model in args.models:
            if result[model]["test_ece_after"] < result[model]["test_ece_before"]:
                _store(model, {"temperature": result[model]["temperature"]})
        _store("reader", {"number_platt": numbers["weakest digit"]["platt"]})


def _numbers(data: object, val_images: np.ndarray, val_labels: np.ndarray, count: int) -> dict[str, object]:
    reader = load_backend("reader", "onnx")
    val_scores, val_right = number_scores(reader, validation_lines(val_images, val_labels, count, 11))
    test_lines = []
    for kind in ("separated", "close", "touching"):
        test_lines += make_set(kind, count // 3, 7, data.test_images, data.test_labels)
    test_scores, test_right = number_scores(reader, test_lines)
    out: dict[str, object] = {
        "validation_lines": len(val_right),
        "test_lines": len(test_right),
        "validation_accuracy": float(val_right.mean()),
        "test_accuracy": float(test_right.mean()),
    }
    curves = {}
    for name in SCORES:
        a, b = fit_platt(val_scores[name], val_right)
        mapped = platt(test_scores[name], a, b)
        out[name] = {
            "platt": [a, b],
            "test_auroc": auroc(test_scores[name], test_right),
            "test_ece_raw": ece(test_scores[name], test_right),
            "test_ece_calibrated": ece(mapped, test_right),
        }
        curves[f"{name}, raw"] = (test_scores[name], test_right)
        curves[f"{name}, calibrated"] = (mapped, test_right)
        print(f"numbers, {name}: AUROC {out[name]['test_auroc']:.3f}, test ECE {out[name]['test_ece_raw']:.4f} -> "
              f"{out[name]['test_ece_calibrated']:.4f} (a={a:.3f}, b={b:.3f})")  # fmt: skip
    print(f"{len(test_right)} test lines, {100 * test_right.mean():.1f}% read right")
    shown = {k: v for k, v in curves.items() if k.startswith("weakest digit") or k == "posterior, raw"}
    reliability_plot(DOCS / "calibration-numbers.png", "A whole number: lines of test digits", shown)
    return out


def _store(model: str, calibration: dict[str, object]) -> None:
    path = shipped_models()[model] / META_FILE
    meta = json.loads(path.read_text())
    meta["calibration"] = {**meta.get("calibration", {}), **calibration}
    atomic.write_json(path, meta)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
