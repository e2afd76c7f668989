"""The README.md written beside every exported model: what it is and how to use it."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from lenet5.models import get_spec
from lenet5.store.model_folder import output_classes


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _distortions(config: dict[str, Any]) -> str:
    if not config.get("distort"):
        return ""
    fraction = config.get("distort_fraction", 1.0)
    share = "every digit" if fraction >= 1 else f"{100 * fraction:.0f}% of the digits"
    return f", random affine distortions of {share} each epoch"


def _junk(config: dict[str, Any]) -> str:
    """The reader's extra training pieces, as the recipe added them (lenet5.reader.junk)."""
    if not config.get("junk"):
        return ""
    text = f", plus {config['junk']:g} junk pieces per digit (halves, pairs, cut neighbours) as an 11th class"
    if config.get("segmented"):
        text += (
            f" and {config['segmented']:g} pieces per digit cut from lines of digits by `lenet5 read`'s own"
            " segmentation, each labelled as its digit or junk"
        )
    if config.get("line_epochs"):
        lines = f"{config['lines']:,} lines" if isinstance(config.get("lines"), int) else "lines"
        text += (
            f"; then {config['line_epochs']} passes over {lines} of digits trained on the"
            " whole reading through `lenet5 read`'s segmentation graph (the 1998 paper's forward criterion)"
        )
    return text


def run_recipe(run_dir: Path) -> str | None:
    """The recipe a run was trained with (see _recipe_of), from its config.json."""
    return _recipe_of(_read_json(run_dir / "config.json"))


def _recipe_of(whole_config: dict[str, Any]) -> str | None:
    """A run's recipe: its config's, or, for runs older than that field, the `--recipe` of
    the command it saved."""
    recipe = whole_config.get("train", {}).get("recipe")
    if isinstance(recipe, str):
        return recipe
    command = [str(part) for part in whole_config.get("command") or []]
    for flag, value in itertools.pairwise(command):
        if flag == "--recipe":
            return value
    return next((part.split("=", 1)[1] for part in command if part.startswith("--recipe=")), None)


def _sentence(text: str) -> str:
    """First letter up, the rest as written (str.capitalize would lower "C3" and "RBF")."""
    return text[:1].upper() + text[1:]


def _training(run_dir: Path | None, meta: dict[str, Any]) -> list[str]:
    """The card's lines on how one run trained its network, and what it scored."""
    whole_config = _read_json(run_dir / "config.json") if run_dir else {}
    config = whole_config.get("train", {})
    summary = _read_json(run_dir / "summary.json") if run_dir else {}
    lines = []
    if config:
        command = whole_config.get("command") or []
        if command:
            lines.append(f"- Command: `lenet5 {' '.join(str(c) for c in command[1:])}`")
        if whole_config.get("commit"):
            lines.append(f"- Source commit: `{whole_config['commit']}`")
        lines += [
            f"- Recipe `{_recipe_of(whole_config) or 'custom'}`: optimizer {config.get('optimizer')},"
            f" learning rate {config.get('lr')}, batch"
            f" {config.get('batch_size')}, {config.get('epochs')} epochs, loss {config.get('loss')}, seed"
            f" {config.get('seed')}"
            + (
                f", learning rate schedule {config['lr_schedule']}"
                if config.get("lr_schedule", "constant") != "constant"
                else ""
            )
            + _distortions(config)
            + _junk(config)
            + ".",
            f"- Data: MNIST training digits minus the last {config.get('val_size')} held out for validation"
            + (f" (first {config['train_limit']} used)" if config.get("train_limit") else "")
            + f"; the epoch kept is the best in validation {config.get('select_by', 'cost')}"
            + (
                "; then, of it and the line passes, the one that reads lines of validation digits best."
                if config.get("line_epochs")
                else "."
            ),
        ]
    if summary and "digit_test_accuracy" in summary:
        lines.append(
            f"- Selected epoch {summary['best_epoch']} (validation accuracy {100 * summary['val_accuracy']:.2f}%,"
            f" digits and junk); **test accuracy {100 * summary['digit_test_accuracy']:.2f}%** on the MNIST test"
            f" digits ({_test_digits(config)}), {100 * summary['test_accuracy']:.2f}% on those digits plus junk"
            " pieces made from them."
        )
    elif summary:
        lines.append(
            f"- Selected epoch {summary['best_epoch']} (validation accuracy {100 * summary['val_accuracy']:.2f}%);"
            f" **test accuracy {100 * summary['test_accuracy']:.2f}%** on the MNIST test digits"
            f" ({_test_digits(config)})."
        )
    elif "test_accuracy" in meta:
        lines.append(f"- Test accuracy at export: {100 * meta['test_accuracy']:.2f}%.")
    return lines


def _test_digits(config: dict[str, Any]) -> str:
    return f"first {config['test_limit']}" if config.get("test_limit") else "all 10,000"


def _averaged(meta: dict[str, Any], run_dirs: list[Path]) -> list[str]:
    """An average of several networks: what the average scored, then each network's training."""
    members = meta.get("members", [])
    lines = [
        f"- The mean of the class probabilities of {len(members)} networks of the same architecture, each"
        " trained as below, in one graph. **Test accuracy of the average:"
        f" {100 * meta['test_accuracy']:.2f}%** on the MNIST test digits"
        f" ({_test_digits(meta)}).",
    ]
    for number, run_dir in enumerate(run_dirs, 1):
        lines += ["", f"### Network {number} of {len(run_dirs)} (run `{run_dir}`)", *_training(run_dir, {})]
    return lines


def model_card(meta: dict[str, Any], run_dirs: Path | list[Path] | None, backend: str) -> str:
    """The card for an exported model; `run_dirs` are the runs that trained it (several for
    an average of networks, none when they are unknown)."""
    if isinstance(run_dirs, Path):
        run_dirs = [run_dirs]
    run_dirs = run_dirs or []
    model = meta["model"]
    norm = meta["normalization"]
    size = norm["size"]
    lines = [
        f"# LeNet-5 digit recognizer: `{model}`",
        "",
        f"{_sentence(get_spec(model).description)}. Exported by `lenet5 export` for "
        + {"paddle": "Paddle Inference", "onnx": "ONNX Runtime", "both": "Paddle Inference and ONNX Runtime"}[backend]
        + ".",
        "",
        "## Input and output",
        f"- Input `image`: float32 `[N, 1, {size}, {size}]`, a batch of digits.",
        f"- Pixel normalisation `{norm['name']}`: `x = p / 255 * {norm['scale']} {'-' if norm['offset'] < 0 else '+'}"
        f" {abs(norm['offset'])}` with p in 0..255,"
        " 0 = background, 255 = ink (white ink on black, as MNIST)."
        + (f" The 28x28 digit is centred in a {size}x{size} field of background." if size != 28 else ""),
        (
            "- Output: float32 `[N, 11]`, the probability of each digit 0-9 and, last, of *junk*: a piece that is"
            " not one whole digit (half a digit, two digits, a digit with a slice of its neighbour); rows sum to 1."
            " `lenet5 read` uses the junk class to segment written numbers; `lenet5 predict` renormalises the ten"
            " digits."
            if output_classes(meta) == 11
            else "- Output: float32 `[N, 10]`, the probability of each digit 0-9 (rows sum to 1)."
        ),
        "- Real photos need MNIST-style preprocessing first (grayscale, ink made bright, cropped, longer side"
        " 20 px, centred by centre of mass in 28x28): `lenet5 predict` and `lenet5.vision.preprocess` do this.",
        "",
        "## Training",
    ]
    if meta.get("members"):
        lines += _averaged(meta, run_dirs)
    else:
        lines += _training(run_dirs[0] if run_dirs else None, meta)
    lines += [
        "",
        "## Loading",
        "",
        "With the lenet5 CLI:",
        "```sh",
        "lenet5 predict digit.png --model THIS_FOLDER",
        "```",
    ]
    if backend in ("paddle", "both"):
        lines += [
            "",
            "Paddle Inference:",
            "```python",
            "from paddle import inference",
            "",
            'config = inference.Config("inference.json", "inference.pdiparams")',
            "predictor = inference.create_predictor(config)",
            "handle = predictor.get_input_handle(predictor.get_input_names()[0])",
            "handle.reshape(batch.shape)",
            "handle.copy_from_cpu(batch)  # batch: float32 [N, 1, H, W]",
            "predictor.run()",
            "probs = predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu()",
            "```",
        ]
    if backend in ("onnx", "both"):
        lines += [
            "",
            "ONNX Runtime:",
            "```python",
            "import onnxruntime as ort",
            "",
            'session = ort.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])',
            'probs = session.run(None, {"image": batch})[0]  # batch: float32 [N, 1, H, W]',
            "```",
        ]
    return "\n".join(lines) + "\n"
