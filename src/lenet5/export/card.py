"""The README.md written beside every exported model: what it is, how it was trained, how
to use it. What it says of training comes from the runs' own files (lenet5.store.run_dir),
and its table of settings from their declaration (lenet5.settings), so a new setting
shows up on every new card."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lenet5.models import get_spec
from lenet5.settings import TrainSettings, settings_fields
from lenet5.store.model_folder import ModelMeta
from lenet5.store.run_dir import RunDir


@dataclass(frozen=True)
class RunFacts:
    """What a card says about one run that trained a network: read from its directory."""

    root: Path
    settings: TrainSettings
    recipe: str | None
    command: list[str]
    commit: str | None
    summary: dict[str, Any]

    @classmethod
    def of(cls, run: RunDir | Path) -> RunFacts:
        run = run if isinstance(run, RunDir) else RunDir(Path(run))
        config = run.read_config()
        command = [str(part) for part in config.raw.get("command") or []]
        summary = run.read_summary() if run.is_finished() else {}
        commit = config.raw.get("commit")
        recipe = config.settings.recipe or recipe_in_command(command)
        return cls(run.root, config.settings, recipe, command, commit if isinstance(commit, str) else None, summary)


def recipe_in_command(command: list[str]) -> str | None:
    """The `--recipe` of a saved command line: the recipe of a run older than the config's
    own recipe field."""
    for flag, value in itertools.pairwise(command):
        if flag == "--recipe":
            return value
    return next((part.split("=", 1)[1] for part in command if part.startswith("--recipe=")), None)


def _distortions(s: TrainSettings) -> str:
    if not s.distort:
        return ""
    share = "every digit" if s.distort_fraction >= 1 else f"{100 * s.distort_fraction:.0f}% of the digits"
    return f", random affine distortions of {share} each epoch"


def _junk(s: TrainSettings) -> str:
    """The reader's extra training pieces, as the recipe added them (lenet5.reader.junk)."""
    if not s.junk:
        return ""
    text = f", plus {s.junk:g} junk pieces per digit (halves, pairs, cut neighbours) as an 11th class"
    if s.segmented:
        text += (
            f" and {s.segmented:g} pieces per digit cut from lines of digits by `lenet5 read`'s own"
            " segmentation, each labelled as its digit or junk"
        )
    if s.line_epochs:
        text += (
            f"; then {s.line_epochs} passes over {s.lines:,} lines of digits trained on the"
            " whole reading through `lenet5 read`'s segmentation graph (the 1998 paper's forward criterion)"
        )
    return text


def _sentence(text: str) -> str:
    """First letter up, the rest as written (str.capitalize would lower "C3" and "RBF")."""
    return text[:1].upper() + text[1:]


def _training(run: RunFacts) -> list[str]:
    """The card's lines on how one run trained its network, and what it scored."""
    s = run.settings
    lines = []
    if run.command:
        lines.append(f"- Command: `lenet5 {' '.join(run.command[1:])}`")
    if run.commit:
        lines.append(f"- Source commit: `{run.commit}`")
    schedule = f", learning rate schedule {s.lr_schedule}" if s.lr_schedule != "constant" else ""
    then = "; then, of it and the line passes, the one that reads lines of validation digits best"
    lines += [
        f"- Recipe `{run.recipe or 'custom'}`: optimizer {s.optimizer}, learning rate {s.lr:g}, batch {s.batch_size},"
        f" {s.epochs} epochs, loss {s.loss}, seed {s.seed}{schedule}{_distortions(s)}{_junk(s)}.",
        *_started_from(s),
        f"- Data: {_data(s)}"
        + (f" (first {s.train_limit} used)" if s.train_limit else "")
        + f"; the epoch kept is the best in validation {s.select_by}"
        + (then if s.line_epochs else "")
        + ".",
        *_scores(run),
        "",
        *_settings_table(s),
    ]
    return lines


def _started_from(s: TrainSettings) -> list[str]:
    if s.start_from is None:
        return []
    return [f"- Fine-tuned: training started from the weights of `{s.start_from}` (`--from`), not at random."]


def _data(s: TrainSettings) -> str:
    """Where the training pictures came from, and which were held out."""
    if s.data is not None:
        return (
            f"the pictures of an image folder (`{Path(s.data).name}`), each read as `lenet5 predict` reads a"
            " picture; its val/ pictures (or, without one, a seeded tenth of train/) held out for validation"
        )
    if s.dataset == "fashion-mnist":
        return f"Fashion-MNIST training pictures minus the last {s.val_size} held out for validation"
    return f"MNIST training digits minus the last {s.val_size} held out for validation"


def _test_set(s: TrainSettings, summary: dict[str, Any]) -> str:
    if s.data is not None and summary.get("test_is_val"):
        return "the folder's validation pictures (it has no test/)"
    if s.data is not None:
        return "the folder's test/ pictures"
    name = "Fashion-MNIST test pictures" if s.dataset == "fashion-mnist" else "MNIST test digits"
    return f"the {name} ({_test_digits(s.test_limit)})"


def _scores(run: RunFacts) -> list[str]:
    summary, digits = run.summary, _test_digits(run.settings.test_limit)
    if "digit_test_accuracy" in summary:
        return [
            f"- Selected epoch {summary['best_epoch']} (validation accuracy {100 * summary['val_accuracy']:.2f}%,"
            f" digits and junk); **test accuracy {100 * summary['digit_test_accuracy']:.2f}%** on the MNIST test"
            f" digits ({digits}), {100 * summary['test_accuracy']:.2f}% on those digits plus junk pieces made from"
            " them."
        ]
    if summary:
        return [
            f"- Selected epoch {summary['best_epoch']} (validation accuracy {100 * summary['val_accuracy']:.2f}%);"
            f" **test accuracy {100 * summary['test_accuracy']:.2f}%** on {_test_set(run.settings, summary)}."
        ]
    return []


def _settings_table(s: TrainSettings) -> list[str]:
    """Every published setting of the run with its value and meaning (lenet5.settings), as
    /api/model shows them: none that does not apply to the run (TrainSettings.published)."""
    shown = s.published()
    rows = [
        f"| `{name}` | {_value(getattr(s, name))} | {setting.help} |"
        for name, setting in settings_fields().items()
        if name in shown
    ]
    return ["All settings of the run:", "", "| setting | value | meaning |", "| --- | --- | --- |", *rows]


def _value(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _test_digits(test_limit: int | None) -> str:
    return f"first {test_limit}" if test_limit else "all 10,000"


def _averaged(meta: ModelMeta, runs: list[RunFacts]) -> list[str]:
    """An average of several networks: what the average scored, then each network's training."""
    lines = [
        f"- The mean of the class probabilities of {meta.networks_averaged} networks of the same architecture, each"
        " trained as below, in one graph. **Test accuracy of the average:"
        f" {100 * (meta.test_accuracy or 0):.2f}%** on the MNIST test digits"
        f" ({_test_digits(meta.test_limit)}).",
    ]
    for number, run in enumerate(runs, 1):
        lines += ["", f"### Network {number} of {len(runs)} (run `{run.root}`)", *_training(run)]
    return lines


def model_card(meta: ModelMeta, runs: list[RunFacts], backend: str) -> str:
    """The card for an exported model; `runs` are the runs that trained it (several for an
    average of networks, none when they are unknown)."""
    model = meta.model
    norm = meta.normalization
    size = norm.size
    lines = [
        f"# LeNet-5 digit recognizer: `{model}`",
        "",
        f"{_sentence(get_spec(model).description)}. Exported by `lenet5 export` for "
        + {"paddle": "Paddle Inference", "onnx": "ONNX Runtime", "both": "Paddle Inference and ONNX Runtime"}[backend]
        + ".",
        "",
        "## Input and output",
        f"- Input `image`: float32 `[N, 1, {size}, {size}]`, a batch of digits.",
        f"- Pixel normalisation `{norm.name}`: `x = p / 255 * {norm.scale} {'-' if norm.offset < 0 else '+'}"
        f" {abs(norm.offset)}` with p in 0..255,"
        " 0 = background, 255 = ink (white ink on black, as MNIST)."
        + (f" The 28x28 digit is centred in a {size}x{size} field of background." if size != 28 else ""),
        (
            "- Output: float32 `[N, 11]`, the probability of each digit 0-9 and, last, of *junk*: a piece that is"
            " not one whole digit (half a digit, two digits, a digit with a slice of its neighbour); rows sum to 1."
            " `lenet5 read` uses the junk class to segment written numbers; `lenet5 predict` renormalises the ten"
            " digits."
            if meta.classes == 11
            else _ten_classes(meta)
        ),
        "- Real photos need MNIST-style preprocessing first (grayscale, ink made bright, cropped, longer side"
        " 20 px, centred by centre of mass in 28x28): `lenet5 predict` and `lenet5.vision.preprocess` do this.",
        "",
        "## Training",
    ]
    if meta.members:
        lines += _averaged(meta, runs)
    elif runs:
        lines += _training(runs[0])
    elif meta.test_accuracy is not None:
        lines.append(f"- Test accuracy at export: {100 * meta.test_accuracy:.2f}%.")
    return "\n".join(lines + _loading(backend)) + "\n"


def _ten_classes(meta: ModelMeta) -> str:
    names = (meta.model_extra or {}).get("class_names")
    if isinstance(names, list) and len(names) == 10:  # trained on Fashion-MNIST: label k is a kind of clothes
        listed = ", ".join(f"{k} {name}" for k, name in enumerate(names))
        return f"- Output: float32 `[N, 10]`, the probability of each class (rows sum to 1): {listed}."
    return "- Output: float32 `[N, 10]`, the probability of each digit 0-9 (rows sum to 1)."


def _loading(backend: str) -> list[str]:
    """How to load the folder with the CLI and with each runtime it was exported for."""
    lines = [
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
    return lines
