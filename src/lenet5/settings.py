"""Every training setting, declared once: name, type, default, help, value in each recipe,
validation. The `lenet5 train` flags, the recipes, a run's `config.json`, the model card
and `/api/model` are all derived from `TrainSettings`: a field added here appears in each
of them with no other edit.

Recipes are named sets of values, written beside each field (`Setting.recipes`); a field
a recipe does not mention keeps its default. The CLI's defaults are the `seed` recipe.

- `seed`: the article's notebook (Paddle实现LeNet-5, Part 2): Adam at 1e-3, batch 128,
  10 epochs, cross-entropy on the seed network.
- `paper`: LeCun et al. 1998 (Section III-C, Appendix C) for the faithful `lenet5`
  network: SDLM with mu = 0.02 and h_kk re-estimated on 500 patterns before each pass, the
  eta schedule of lenet5.train.sdlm.PAPER_ETA_SCHEDULE, one pattern per update, 20 passes,
  the MAP criterion. Two changes, both measured in docs/results.md: the paper's literal
  start (weights in +/-2.4/F, first eta 0.0005) diverges within the first thousand
  updates, so the weights are drawn in +/-2.4/sqrt(F) and the whole eta schedule is scaled
  by 0.3 (first eta 0.00015). With them the 20 passes reach 0.91% test error (the paper:
  0.95%). `--init paper --lr 5e-4` restores the literal settings. With --distort, half of
  the digits are distorted afresh each pass and half are kept as they are (the paper
  trained on its 60,000 originals plus 540,000 distorted copies); of the variants tried
  this had the lowest mean validation cost.
- `strong`: the article's network trained the modern way, for the shipped default model:
  every training digit freshly distorted each epoch (data/distort.py), 24 epochs, a cosine
  decay of the learning rate to zero, label smoothing 0.1, the test digits scored once, for
  the epoch kept, after the last epoch, and the epoch kept chosen by
  validation accuracy (ties: lower validation cost): with the rate decaying to zero the
  last epochs are the good ones, and validation cost alone (a noisy average of a few
  confident mistakes) picked an early epoch in our runs. 24 epochs fit 5 minutes on 2
  cores; label smoothing had the best mean validation accuracy over seeds 0-2 of the
  variants measured (docs/results.md); the shipped model was trained before it (30 epochs).
- `reader`: the recogniser behind `lenet5 read`: the strong recipe's distortions and
  schedule over 20 epochs (without label smoothing), 40% of the training digits redrawn as a
  ballpoint or gel pen draws them (vision/pen.py: phones see handwriting in thin even lines,
  MNIST has thick scanned strokes), plus
  half as many junk pieces as digits (halves, pairs, digits with a slice of a neighbour:
  lenet5.reader.junk) as an 11th class, so the network can tell the number reader that a
  candidate piece is not one whole digit (LeCun et al. 1998, Sections V-VI), half as many
  again pieces cut from lines of digits by the reader's own segmentation
  (lenet5.reader.pieces), then 3 passes over 5,000 lines trained on the whole reading,
  the paper's forward criterion through the segmentation graph (lenet5.reader.line_training).
"""

from __future__ import annotations

import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lenet5.data.normalize import NETWORK_INPUTS
from lenet5.errors import UserError

RECIPES = ("seed", "paper", "strong", "reader")
RECIPE_SUMMARIES = {
    "seed": "the article's notebook",
    "paper": "LeCun et al. 1998, for the lenet5 network",
    "strong": "the article's network trained the modern way, the shipped default model",
    "reader": "strong plus a junk class and line passes, for `lenet5 read`",
}
SEED_LIMIT = 2**64 - 1  # the largest seed paddle.seed takes (numpy is given the seed modulo 2**32)


@dataclass(frozen=True)
class Setting:
    """What a field of TrainSettings means beyond its type: its help, its value in each
    recipe that changes it, and how it shows up."""

    help: str
    recipes: Mapping[str, Any] = field(default_factory=dict)
    flag: bool = True  # a `lenet5 train --NAME` flag
    metavar: str | None = None
    published: bool = True  # on the model card and /api/model (False: paths, the machine's choices)
    # A recipe's value that only makes sense with another setting: used only when that
    # boolean setting is on (`only_with`) or the network is `only_for_model`; otherwise the default.
    only_with: str | None = None
    only_for_model: str | None = None
    # A name chosen from a list that may grow (networks, criteria): the flag takes any text
    # and an unknown name gets one line listing the known ones, not argparse's usage text.
    free_text: bool = False
    # The flag's own name when it is not the field's (`--from` for `start_from`: `from` is a
    # Python keyword, so it cannot name the field).
    option: str | None = None


Network = Literal[tuple(sorted(NETWORK_INPUTS))]  # type: ignore[valid-type]
PositiveInt = Annotated[int, Field(ge=1)]
Fraction = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]  # a Fraction that may be 0 (off)
Rate = Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)]  # a decay or a smoothing: 0 (off) up to, not at, 1


class TrainSettings(BaseModel):
    """The settings of one training run (written to RUN/config.json as "train")."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    model: Annotated[Network, Setting("network name", recipes={"paper": "lenet5"}, free_text=True)] = "seed"
    recipe: Annotated[
        Literal["seed", "paper", "strong", "reader"] | None,
        Setting("hyper-parameter set the other settings start from (default: the network's own)", flag=False),
    ] = None
    optimizer: Annotated[Literal["adam", "sgd", "sdlm"], Setting("optimizer", recipes={"paper": "sdlm"})] = "adam"
    lr: Annotated[
        float,
        Field(gt=0, allow_inf_nan=False),
        Setting(
            "learning rate; for sdlm the first pass's eta",
            recipes={"paper": 1.5e-4, "strong": 2e-3, "reader": 2e-3},
        ),
    ] = 1e-3
    batch_size: Annotated[PositiveInt, Setting("digits per update", recipes={"paper": 1})] = 128
    epochs: Annotated[
        PositiveInt,
        Setting("passes over the training digits", recipes={"paper": 20, "strong": 24, "reader": 20}),
    ] = 10
    loss: Annotated[
        Literal["cross_entropy", "map", "mse"],
        Setting("criterion (map and mse work on lenet5's RBF penalties)", recipes={"paper": "map"}, free_text=True),
    ] = "cross_entropy"
    lr_schedule: Annotated[
        Literal["constant", "cosine"],
        Setting(
            "learning rate per epoch: constant, or cosine decay to zero",
            recipes={"strong": "cosine", "reader": "cosine"},
        ),
    ] = "constant"
    init: Annotated[
        Literal["paper", "sqrt"],
        Setting(
            "lenet5 weight range: uniform +/-2.4/F (paper) or +/-2.4/sqrt(F)",
            recipes={"paper": "sqrt"},
            only_for_model="lenet5",
        ),
    ] = "paper"
    distort: Annotated[
        bool,
        Setting(
            "random affine distortions of the training digits each pass (--no-distort turns them off)",
            recipes={"strong": True, "reader": True},
        ),
    ] = False
    distort_fraction: Annotated[
        Fraction,
        Setting(
            "with --distort: share of the digits distorted each pass, the rest kept as they are",
            recipes={"paper": 0.5},
            only_with="distort",
            metavar="F",
        ),
    ] = 1.0
    distort_strength: Annotated[
        float,
        Field(gt=0, allow_inf_nan=False),
        Setting("with --distort: multiply every distortion range by S", metavar="S"),
    ] = 1.0
    clean_epochs: Annotated[
        int,
        Field(ge=0),
        Setting(
            "with --distort: the last N passes train on the digits as they are, undistorted (0: every pass distorted)",
            only_with="distort",
            metavar="N",
        ),
    ] = 0
    elastic: Annotated[
        float,
        Field(ge=0, le=4, allow_inf_nan=False),
        Setting(
            "with --distort: also bend each distorted digit by a smooth random displacement field (Simard et al. "
            "2003) whose root mean square is PX pixels (0: off; computed with OpenCV)",
            metavar="PX",
        ),
    ] = 0.0
    pen: Annotated[
        Share,
        Setting(
            "redraw a share F of the training digits once as a pen of even width draws them, along their "
            "strokes' middle lines (0: off; validation and test digits stay as they are)",
            recipes={"reader": 0.4},
            metavar="F",
        ),
    ] = 0.0
    distort_engine: Annotated[
        Literal["numpy", "opencv"],
        Setting(
            "how distortions are computed: numpy, or opencv (the same distortions, 5x faster, not bit-identical)",
            recipes={"strong": "opencv", "reader": "opencv"},
            flag=False,
        ),
    ] = "numpy"
    select_by: Annotated[
        Literal["cost", "accuracy"],
        Setting("validation score that picks the best epoch", recipes={"strong": "accuracy", "reader": "accuracy"}),
    ] = "cost"
    ema: Annotated[
        Rate,
        Setting(
            "keep an exponential moving average of the weights, decay D per step (0: off); the average is what "
            "is evaluated, kept and exported",
            metavar="D",
        ),
    ] = 0.0
    weight_decay: Annotated[
        Rate,
        Setting(
            "decoupled weight decay W with Adam (AdamW: each step also shrinks every weight by learning rate "
            "times W; 0: off)",
            metavar="W",
        ),
    ] = 0.0
    label_smoothing: Annotated[
        Rate,
        Setting(
            "train cross-entropy against targets that give E of the probability to the other classes (0: off; "
            "validation and test costs stay plain cross-entropy)",
            recipes={"strong": 0.1},
            metavar="E",
        ),
    ] = 0.0
    junk: Annotated[
        float,
        Field(ge=0, le=2, allow_inf_nan=False),
        Setting(
            "add R junk pieces per digit (halves, pairs, cut neighbours) as an 11th class, so the network can "
            "reject pieces that are not one digit (seed network only)",
            recipes={"reader": 0.5},
            metavar="R",
        ),
    ] = 0.0
    segmented: Annotated[
        float,
        Field(ge=0, le=2, allow_inf_nan=False),
        Setting(
            "with --junk: also add R pieces per digit cut from lines of digits by `lenet5 read`'s own "
            "segmentation, each labelled as its digit or junk",
            recipes={"reader": 0.5},
            metavar="R",
        ),
    ] = 0.0
    line_epochs: Annotated[
        int,
        Field(ge=0),
        Setting(
            "with --junk: after the epochs, N passes over lines of digits trained on the whole reading through "
            "`lenet5 read`'s segmentation graph, the paper's forward criterion",
            recipes={"reader": 3},
            metavar="N",
        ),
    ] = 0
    lines: Annotated[int, Field(ge=0), Setting("lines per line pass", metavar="N")] = 5000
    seed: Annotated[int, Field(ge=0, le=SEED_LIMIT), Setting("random seed for initialisation and shuffling")] = 0
    val_size: Annotated[PositiveInt, Setting("digits held out for validation", metavar="N")] = 5000
    test_each_epoch: Annotated[
        bool,
        Setting(
            "score the test digits after every epoch, as the article's notebook prints them (--no-test-each-epoch: "
            "only the epoch kept, once, after the last; the test set stays unseen until the end)",
            recipes={"strong": False, "reader": False},
        ),
    ] = True
    train_limit: Annotated[PositiveInt | None, Setting("use only the first N training digits", metavar="N")] = None
    test_limit: Annotated[PositiveInt | None, Setting("report on only the first N test digits", metavar="N")] = None
    device: Annotated[Literal["cpu", "gpu"], Setting("where to train", published=False)] = "cpu"
    dataset: Annotated[
        Literal["mnist", "fashion-mnist"],
        Setting(
            "what to train on: mnist, or fashion-mnist (Zalando's clothes, the same format; get it with "
            "`make fashion-mnist`)"
        ),
    ] = "mnist"
    data: Annotated[
        str | None,
        Setting(
            "train on your own pictures instead: an image folder DIR/train/<digit>/*.png|jpg, optional DIR/val/ "
            "and DIR/test/ alike, each picture read as `lenet5 predict` reads it (no DIR/val: a seeded tenth of "
            "DIR/train; no DIR/test: the test scores are the validation pictures')",
            metavar="DIR",
            published=False,
        ),
    ] = None
    start_from: Annotated[
        str | None,
        Setting(
            "fine-tune: start from the weights of a shipped model (seed, lenet5), a model folder or a run "
            "directory (its kept epoch), of the same network",
            metavar="MODEL",
            option="from",
        ),
    ] = None
    data_dir: Annotated[
        str | None,
        Setting(
            "folder with the dataset's four .gz files (default: $LENET5_DATA, else the copy in data/mnist/; "
            "fashion-mnist: data/fashion-mnist/)",
            metavar="DIR",
            published=False,
        ),
    ] = None
    download: Annotated[bool, Setting("download missing MNIST files (checksums verified)", published=False)] = False
    eval_batch_size: Annotated[PositiveInt, Setting("digits per evaluation batch", flag=False, published=False)] = 1000
    log_every: Annotated[
        int, Field(ge=0), Setting("steps between log lines (0: none)", flag=False, published=False)
    ] = 100

    @model_validator(mode="after")
    def _consistent(self) -> TrainSettings:
        for problem in _conflicts(self):
            raise ValueError(problem)
        return self

    @property
    def total_epochs(self) -> int:
        """Piece epochs and then line passes: the number of rows a finished run has."""
        return self.epochs + self.line_epochs

    def published(self) -> dict[str, Any]:
        """The settings the model card and /api/model show: no paths, nothing of the machine,
        nothing that does not apply to this network (lenet5's weight range for the seed net)."""
        shown = {
            name: getattr(self, name)
            for name, setting in settings_fields().items()
            if setting.published and setting.only_for_model in (None, self.model)
        }
        if self.data is not None:  # trained on an image folder: no IDX dataset was used
            shown.pop("dataset")
        return shown


def _conflicts(s: TrainSettings) -> list[str]:
    """Settings that do not go together, each as the message the user sees."""
    rules = [
        (
            s.loss in ("map", "mse") and s.model != "lenet5",
            f"--loss {s.loss}: works on RBF penalties, so only with --model lenet5",
        ),
        (
            s.init != "paper" and s.model != "lenet5",
            f"--init {s.init}: only the lenet5 model has initialisation choices",
        ),
        (
            s.optimizer == "sdlm" and s.model != "lenet5",
            "--optimizer sdlm needs a model with an RBF output (--model lenet5)",
        ),
        (
            not s.distort
            and (s.distort_fraction != 1.0 or s.distort_strength != 1.0 or s.elastic != 0 or s.clean_epochs != 0),
            "--distort-fraction, --distort-strength, --clean-epochs and --elastic need --distort",
        ),
        (
            s.lr_schedule != "constant" and s.optimizer == "sdlm",
            "--lr-schedule: SDLM follows the paper's own eta schedule",
        ),
        (s.segmented > 0 and s.junk == 0, "--segmented needs --junk: the pieces it adds are partly junk"),
        (
            s.line_epochs > 0 and s.junk == 0,
            "--line-epochs needs --junk: the reader's paths are chosen with the junk class",
        ),
        (s.line_epochs > 0 and s.lines < 1, f"--lines {s.lines}: must be at least 1 with --line-epochs"),
        (
            s.junk > 0 and s.model != "seed",
            "--junk: only the seed network (lenet5's RBF output has one bitmap per digit)",
        ),
        (s.data is not None and s.dataset != "mnist", f"--data and --dataset {s.dataset}: choose one"),
        (
            s.data is not None and (s.data_dir is not None or s.download),
            "--data-dir and --download are for the MNIST files; --data names a folder of pictures",
        ),
        (s.download and s.dataset != "mnist", f"--download: {s.dataset} comes from `make {s.dataset}`"),
        (
            s.data is not None and s.val_size != TrainSettings.model_fields["val_size"].default,
            "--val-size: with --data the validation pictures are DIR/val, else a seeded tenth of DIR/train",
        ),
        (s.junk > 0 and s.dataset != "mnist", f"--junk: junk pieces are cut from digits, not from {s.dataset}"),
        (
            s.label_smoothing > 0 and s.loss != "cross_entropy",
            f"--label-smoothing: smooths cross-entropy's targets, not --loss {s.loss}",
        ),
        (s.weight_decay > 0 and s.optimizer != "adam", "--weight-decay: decoupled decay is Adam's (AdamW) here"),
        (
            s.ema > 0 and s.optimizer == "sdlm",
            "--ema: the 1998 recipe (SDLM) keeps the paper's own weights, not an average",
        ),
        (
            s.ema > 0 and s.line_epochs > 0,
            "--ema and --line-epochs: the line passes train the kept weights themselves; choose one",
        ),
    ]
    return [message for broken, message in rules if broken]


def settings_fields() -> dict[str, Setting]:
    """Every field's Setting, in declaration order."""
    found = {}
    for name, info in TrainSettings.model_fields.items():
        setting = next((m for m in info.metadata if isinstance(m, Setting)), None)
        if setting is None:
            raise TypeError(f"TrainSettings.{name} has no Setting")
        found[name] = setting
    return found


def flag_of(name: str) -> str:
    setting = settings_fields().get(name)
    return "--" + (setting.option if setting is not None and setting.option else name.replace("_", "-"))


def default_recipe(model: str | None) -> str:
    """The recipe a network trains with when none is named: its own."""
    return "paper" if model == "lenet5" else "seed"


def from_recipe(recipe: str | None = None, **given: Any) -> TrainSettings:
    """The settings of `recipe` (default: the network's own), with the values the user gave
    over them (None: not given). One-line UserError for anything invalid."""
    name = recipe or default_recipe(given.get("model"))
    if name not in RECIPES:
        raise UserError(f"unknown recipe {name!r}; choose from {', '.join(RECIPES)}")
    chosen = {k: v for k, v in given.items() if v is not None}
    fields = settings_fields()
    values = {k: s.recipes[name] for k, s in fields.items() if name in s.recipes}
    values.update(chosen)
    values["recipe"] = name
    defaults = {k: info.default for k, info in TrainSettings.model_fields.items()}
    for key, setting in fields.items():
        if key in chosen or key not in values:
            continue
        merged = {**defaults, **values}
        if (setting.only_with and not merged[setting.only_with]) or (
            setting.only_for_model and merged["model"] != setting.only_for_model
        ):
            values.pop(key)  # the recipe's value belongs with a setting this run does not have
    return validated(values, "")


def validated(values: Mapping[str, Any], where: str, strict: bool = False) -> TrainSettings:
    """TrainSettings from `values`, or a one-line UserError: prefixed by `where` (a file) and
    naming the field, or, for flags (`where` empty), naming the flag."""
    try:
        return TrainSettings.model_validate(dict(values), strict=strict)
    except ValidationError as exc:
        raise UserError(_first_problem(exc, values, where)) from None


def _first_problem(exc: ValidationError, values: Mapping[str, Any], where: str) -> str:
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"] if not isinstance(part, int)]
    if not loc:  # a rule across settings: its message names the flags
        message = phrase(error)
        return f"{where}: {message}" if where else message
    name = loc[0]
    if error["type"] == "literal_error" and name in ("model", "loss"):
        known = ", ".join(str(v) for v in typing.get_args(TrainSettings.model_fields[name].annotation))
        message = f"unknown {name} {values.get(name)!r}; choose from {known}"
        return f"{where}: train.{name}: {message}" if where else message
    message = phrase(error, name)
    if where:
        return f"{where}: train.{name}: {message} (got {values.get(name)!r})"
    return f"{flag_of(name)} {values.get(name)}: {message}"


def phrase(error: Mapping[str, Any], name: str | None = None) -> str:
    """Pydantic's error in the words the CLI has always used (for field `name`, a value out
    of a range bounded on both sides names the whole range)."""
    kind, ctx = error["type"], error.get("ctx") or {}
    low, high = _bounds(name)
    if kind in ("greater_than_equal", "less_than_equal") and low is not None and high is not None:
        return f"must be between {shown(low)} and {shown(high)}"
    plain = {
        "greater_than_equal": lambda: f"must be at least {shown(ctx.get('ge'))}",
        "greater_than": lambda: "must be positive" if ctx.get("gt") == 0 else f"must be greater than {ctx.get('gt')}",
        "less_than_equal": lambda: f"must be at most {shown(ctx.get('le'))}",
        "finite_number": lambda: "must be a finite number",
        "int_type": lambda: "expected a whole number",
        "int_from_float": lambda: "expected a whole number",
        "int_parsing": lambda: "expected a whole number",
        "float_type": lambda: "expected a number",
        "float_parsing": lambda: "expected a number",
        "bool_type": lambda: "expected true or false",
        "literal_error": lambda: f"choose from {ctx.get('expected')}",
        "extra_forbidden": lambda: "not a lenet5 training setting",
        "string_type": lambda: "expected a string",
    }
    if kind in plain:
        return plain[kind]()
    return str(error["msg"]).removeprefix("Value error, ")


def _bounds(name: str | None) -> tuple[Any, Any]:
    """A field's inclusive lower and upper bounds (None where it has none)."""
    info = TrainSettings.model_fields.get(name) if name else None
    if info is None:
        return None, None
    metadata = list(info.metadata)
    for arg in getattr(info.annotation, "__args__", ()):  # `Annotated[int, ...] | None`
        metadata += getattr(arg, "__metadata__", [])
    found = {}
    for item in metadata:
        for constraint in getattr(item, "metadata", [item]):
            for key in ("ge", "le"):
                if getattr(constraint, key, None) is not None:
                    found[key] = getattr(constraint, key)
    return found.get("ge"), found.get("le")


def recipe(name: str) -> TrainSettings:
    """A recipe's own settings (for reading them, e.g. `recipe("reader").junk`)."""
    return from_recipe(name)


def shown(value: Any) -> str:
    """A setting's value as help texts and messages write it."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:g}"
    return str(value)
