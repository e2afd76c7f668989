"""`lenet5 report RUN`: one self-contained folder (index.html + PNGs) that opens from disk."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from lenet5 import atomic
from lenet5.data import mnist
from lenet5.data.normalize import NETWORK_INPUTS, NORMALIZATIONS
from lenet5.errors import UserError, file_errors
from lenet5.infer.evaluate import TestReport, evaluate_model, test_data
from lenet5.metrics import precision_recall_f1
from lenet5.models import network_for
from lenet5.models.registry import reference_path
from lenet5.plots import figures
from lenet5.plots.confusion import plot_confusion
from lenet5.plots.curves import plot_curves
from lenet5.settings import TrainSettings
from lenet5.store import checkpoint, outputs
from lenet5.store.files import read_bytes
from lenet5.store.model_folder import load_meta
from lenet5.store.run_dir import RunDir

MAX_CARD_BYTES = 1024 * 1024  # a model card is a few KB

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
img{max-width:100%;border:1px solid #ddd;margin:.5em 0}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
h2{border-bottom:1px solid #eee;padding-bottom:.2em;margin-top:1.6em}
"""


def _load_eager_model(run: RunDir, settings: TrainSettings) -> Any:
    net = network_for(settings)
    checkpoint.load(run.best_checkpoint, net)
    net.eval()
    return net


def _feature_maps(net: Any, image: np.ndarray, normalization: str) -> dict[str, np.ndarray]:
    """Outputs of the model's feature layers for one digit, captured with forward hooks."""
    import paddle

    captured: dict[str, np.ndarray] = {}
    hooks = []
    for name, layer in net.feature_layers().items():
        hooks.append(layer.register_forward_post_hook(lambda _l, _i, out, n=name: captured.__setitem__(n, out.numpy())))
    with paddle.no_grad(), reference_path(net):
        net(paddle.to_tensor(NORMALIZATIONS[normalization](image[None])))
    for hook in hooks:
        hook.remove()
    return {name: maps[0] for name, maps in captured.items()}


def _rbf_section(net: Any, image: np.ndarray, label: int, normalization: str, folder: Path) -> str:
    """LeNet-5's F6 output for one digit, drawn as the 7x12 picture the RBF layer compares
    with each bitmap, beside the bitmap of the true digit and the penalties of all ten."""
    import paddle

    from lenet5.plots.plotting import plt, save_figure

    with paddle.no_grad():
        features = net.features(paddle.to_tensor(NORMALIZATIONS[normalization](image[None])))
        penalties = net.output(features).numpy()[0]
    bitmaps = net.output.prototypes.numpy()
    fig, axes = plt.subplots(1, 3, figsize=(8.5, 3.2), gridspec_kw={"width_ratios": [1, 1, 2.2]})
    axes[0].imshow(features.numpy()[0].reshape(12, 7), cmap="gray_r", vmin=-1.7159, vmax=1.7159)
    axes[0].set_title("F6 output (84 as 12x7)", fontsize=9)
    axes[1].imshow(bitmaps[label].reshape(12, 7), cmap="gray_r", vmin=-1, vmax=1)
    axes[1].set_title(f"RBF bitmap of {label}", fontsize=9)
    for ax in axes[:2]:
        ax.set_xticks([])
        ax.set_yticks([])
    colors = ["tab:green" if d == int(penalties.argmin()) else "tab:gray" for d in range(10)]
    axes[2].bar(range(10), penalties, color=colors)
    axes[2].set_xticks(range(10))
    axes[2].set_xlabel("digit")
    axes[2].set_ylabel("penalty y_i (lower wins)")
    axes[2].set_title("RBF penalties", fontsize=9)
    fig.subplots_adjust(wspace=0.5)
    save_figure(fig, folder / "rbf.png")
    return (
        "<h2>F6 against the RBF bitmaps</h2><p>The 84 F6 outputs of the digit above, drawn as 12x7, next to"
        " the fixed bitmap of its true class; each output unit's penalty is the squared distance to its"
        " bitmap.</p><img src='rbf.png' alt='F6 output and RBF bitmap'>"
    )


def build_report(run_path: str | Path, data_dir: str | Path | None = None, digit_index: int = 0) -> Path:
    run = RunDir(Path(run_path))
    config = run.read_config()
    summary = run.read_summary()
    # RUN/report is the report's own folder: an earlier report there is replaced, anything
    # else (a folder someone else filled) is refused before any work (lenet5.store.outputs).
    out = outputs.claim_folder(run.report, "report", force=True, flag="report")
    settings = config.settings
    history = run.read_metrics()
    data = test_data(load_meta(run.model), data_dir or settings.data_dir)
    if not 0 <= digit_index < len(data.test_labels):
        raise UserError(f"--digit {digit_index}: must be between 0 and {len(data.test_labels) - 1}")
    result = evaluate_model(run.root, data_dir or settings.data_dir)
    net = _load_eager_model(run, settings)
    normalization = NETWORK_INPUTS[settings.model]
    with file_errors(out, "write"), atomic.atomic_dir(out, replace_existing=True) as tmp:
        sections = [
            _curves_section(history, summary["best_epoch"], tmp),
            _confusion_section(result, tmp),
            _class_section(result, tmp),
            _mistakes_section(data, result, tmp),
            _filters_section(net, tmp),
            _maps_section(net, data, digit_index, normalization, tmp),
        ]
        if hasattr(net, "features") and hasattr(net, "output"):
            sections.append(_rbf_section(net, data.test_images[digit_index], int(data.test_labels[digit_index]),
                                         normalization, tmp))  # fmt: skip
        facts = figures.table_html(
            ["model", "epochs", "best epoch (val)", "val accuracy", "test accuracy", "train images/s"],
            [[settings.model, summary["epochs"], summary["best_epoch"], f"{100 * summary['val_accuracy']:.2f}%",
              f"{100 * result.accuracy:.2f}%", f"{summary['images_per_second']:.0f}"]],
        )  # fmt: skip
        (tmp / "index.html").write_text(_page(f"lenet5 report: {html.escape(run.root.name)}", facts, sections))
        (tmp / outputs.REPORT_MARKER).write_text(outputs.report_marker(p.name for p in tmp.iterdir()))
    return out


def build_model_report(model: str | Path, out: str | Path | None = None, data_dir: str | Path | None = None) -> Path:
    """`lenet5 report MODEL`: the report of a model folder or a shipped model, which has no
    run behind it here (no curves, no checkpoint): its card, the confusion matrix, per-class
    scores and the most confident mistakes on the MNIST test digits. Written to `out`
    (default `report-NAME` in the working directory), replacing only an earlier report."""
    from lenet5.store.model_folder import CARD_FILE, resolve_model_folder, shipped_name

    folder = resolve_model_folder(model)
    name = shipped_name(folder) or folder.resolve().name
    target = outputs.claim_folder(out or f"report-{name}", "report", force=True, flag="--out")
    meta = load_meta(folder)
    data = test_data(meta, data_dir)
    backend = "onnx" if (folder / "model.onnx").is_file() else "paddle"
    result = evaluate_model(folder, data_dir, backend)
    card = ""
    if (folder / CARD_FILE).exists():
        card = read_bytes(folder / CARD_FILE, MAX_CARD_BYTES, "model card").decode("utf-8", errors="replace")
    ours = outputs.folder_replaceable("report")
    with file_errors(target, "write"), atomic.atomic_dir(target, replace_existing=ours) as tmp:
        sections = [
            _confusion_section(result, tmp),
            _class_section(result, tmp),
            _mistakes_section(data, result, tmp),
        ]
        if card:
            sections.append(f"<h2>Model card</h2><pre style='white-space:pre-wrap'>{html.escape(card)}</pre>")
        accuracy = f"{100 * result.accuracy:.2f}%"
        facts = figures.table_html(
            ["model", "network", "recipe", "test digits", "test accuracy"],
            [[html.escape(name), meta.model, html.escape(meta.recipe or "-"), f"{result.n:,}", accuracy]],
        )
        (tmp / "index.html").write_text(_page(f"lenet5 report: model {html.escape(name)}", facts, sections))
        (tmp / outputs.REPORT_MARKER).write_text(outputs.report_marker(p.name for p in tmp.iterdir()))
    return target


def _page(title: str, facts: str, sections: list[str]) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"<meta name='viewport' content='width=device-width,initial-scale=1'><style>{_STYLE}</style></head>"
        f"<body><h1>{title}</h1>{facts}{''.join(sections)}</body></html>\n"
    )


def _curves_section(history: list[dict[str, Any]], best_epoch: int, folder: Path) -> str:
    plot_curves(history, folder / "curves.png", best_epoch)
    return (
        "<h2>Learning curves</h2><p>Cost and error rate per epoch; the dashed line is the epoch kept"
        " (best on validation).</p><img src='curves.png' alt='learning curves'>"
    )


def _confusion_section(result: TestReport, folder: Path) -> str:
    plot_confusion(result.confusion, folder / "confusion.png", f"Test accuracy {100 * result.accuracy:.2f}%")
    return "<h2>Confusion matrix</h2><img src='confusion.png' alt='confusion matrix'>"


def _class_section(result: TestReport, folder: Path) -> str:
    scores = precision_recall_f1(result.confusion)
    figures.plot_class_scores(scores, folder / "per_class.png")
    rows = [[d, *(f"{100 * scores[key][d]:.2f}" for key in ("precision", "recall", "f1"))] for d in range(10)]
    return (
        "<h2>Per-class precision, recall, F1 (%)</h2><img src='per_class.png' alt='per-class scores'>"
        + figures.table_html(["digit", "precision", "recall", "F1"], rows)
    )


def _mistakes_section(data: mnist.Mnist, result: TestReport, folder: Path) -> str:
    labels = data.test_labels[: result.n]
    _, shown = figures.plot_confident_mistakes(
        data.test_images[: result.n], labels, result.probabilities, folder / "mistakes.png"
    )
    wrong = int((result.predictions != labels).sum())
    return (
        f"<h2>Most confident mistakes</h2><p>{shown} of {wrong} test errors, most confident first.</p>"
        "<img src='mistakes.png' alt='confident mistakes'>"
    )


def _filters_section(net: Any, folder: Path) -> str:
    first_name, first_layer = next(iter(net.feature_layers().items()))
    weights = first_layer.weight.numpy()
    figures.plot_maps(weights[:, 0], folder / "filters.png", f"First-layer filters ({first_name}, 5x5)", cmap="RdBu")
    return f"<h2>First-layer filters</h2><img src='filters.png' alt='{first_name} filters'>"


def _maps_section(net: Any, data: mnist.Mnist, index: int, normalization: str, folder: Path) -> str:
    image = data.test_images[index]
    figures.plot_input(image, folder / "digit.png", f"test #{index} (label {data.test_labels[index]})")
    maps_html = "<img src='digit.png' alt='input digit'>"
    for name, maps in _feature_maps(net, image, normalization).items():
        if maps.ndim == 3:
            title = f"{name} feature maps ({maps.shape[1]}x{maps.shape[2]})"
            figures.plot_maps(maps, folder / f"maps_{name}.png", title)
            maps_html += f"<img src='maps_{name}.png' alt='{name} feature maps'>"
    return f"<h2>Feature maps of one test digit</h2>{maps_html}"
