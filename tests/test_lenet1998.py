"""The faithful LeNet-5: layer table against the article, C3 table, RBF output, squash,
SDLM's second derivatives, the eta schedule, distortions, and a short training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import quiet, tiny_config
from lenet5.cli import main
from lenet5.data.distort import DistortionRanges, distort_batch
from lenet5.errors import UserError
from lenet5.models import create_model
from lenet5.models.lenet1998 import C3_TABLE, load_rbf_bitmaps, squash
from lenet5.runtime import import_paddle
from lenet5.train.losses import rbf_map, rbf_mse
from lenet5.train.sdlm import SDLM, diagonal_hessian, eta_for_pass

paddle = import_paddle()

ARTICLE = {  # Part 1 of the article / Section II-B of the paper
    "maps": [(6, "28x28"), (6, "14x14"), (16, "10x10"), (16, "5x5"), (120, "1x1"), (84, None), (10, None)],
    "params": [156, 12, 1516, 32, 48120, 10164, 0],
    "connections": [122304, 5880, 151600, 2000, 48120, 10164, 840],
}


def test_summary_json_matches_the_article(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "--model", "lenet5", "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    layers = table["layers"]
    assert [row["name"] for row in layers] == ["C1", "S2", "C3", "S4", "C5", "F6", "OUTPUT"]
    assert [(row["maps"], row["size"]) for row in layers] == ARTICLE["maps"]
    assert [row["params"] for row in layers] == ARTICLE["params"]
    assert [row["connections"] for row in layers] == ARTICLE["connections"]
    assert layers[-1]["fixed_params"] == 840
    assert table["trainable_params"] == 60000
    assert table["connections"] == 340908


def test_summary_text_for_seed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "--model", "seed"]) == 0
    out = capsys.readouterr().out
    assert "conv1" in out and "20@24x24" in out and "33,620" in out


def test_c3_table_is_table_one() -> None:
    sizes = [len(inputs) for inputs in C3_TABLE]
    assert sizes == [3] * 6 + [4] * 9 + [6]
    assert C3_TABLE[0] == (0, 1, 2) and C3_TABLE[9] == (0, 3, 4, 5) and C3_TABLE[15] == tuple(range(6))
    mask = create_model("lenet5").c3.mask.numpy()
    for k, inputs in enumerate(C3_TABLE):
        assert sorted(np.flatnonzero(mask[k].sum(axis=(1, 2)))) == list(inputs)


def test_masked_weights_never_train() -> None:
    paddle.seed(0)
    net = create_model("lenet5")
    mask = net.c3.mask.numpy()
    before = net.c3.weight.numpy().copy()
    optimizer = paddle.optimizer.SGD(0.01, parameters=net.parameters())
    x = paddle.randn([8, 1, 32, 32])
    y = paddle.to_tensor(np.arange(8) % 10)
    for _ in range(3):
        loss = rbf_map(net(x), y).mean()
        loss.backward()
        grad = net.c3.weight.grad.numpy()
        assert np.all(grad[mask == 0] == 0.0)  # exactly zero, not small
        assert np.any(grad[mask == 1] != 0.0)
        optimizer.step()
        optimizer.clear_grad()
    after = net.c3.weight.numpy()
    assert np.array_equal(after[mask == 0], before[mask == 0])
    assert not np.array_equal(after[mask == 1], before[mask == 1])


def test_rbf_weights_are_fixed_bitmaps() -> None:
    bitmaps = load_rbf_bitmaps()
    assert bitmaps.shape == (10, 84) and set(np.unique(bitmaps)) == {-1.0, 1.0}
    assert len({row.tobytes() for row in bitmaps}) == 10
    net = create_model("lenet5")
    assert all("prototypes" not in name for name, _ in net.named_parameters())
    np.testing.assert_array_equal(net.output.prototypes.numpy(), bitmaps)
    features = paddle.to_tensor(bitmaps[[3, 7]])
    penalties = net.output(features).numpy()
    assert penalties[0, 3] == 0 and penalties[1, 7] == 0  # a perfect bitmap has zero penalty
    expected = ((bitmaps[3][None] - bitmaps) ** 2).sum(axis=1)
    np.testing.assert_allclose(penalties[0], expected, rtol=1e-6)


def test_squash_constants() -> None:
    values = squash(paddle.to_tensor([1.0, -1.0, 0.0, 50.0])).numpy()
    assert values[0] == pytest.approx(1.0, abs=1e-4) and values[1] == pytest.approx(-1.0, abs=1e-4)
    assert values[2] == 0.0 and values[3] == pytest.approx(1.7159)  # the paper's A, not the code's own


def test_initialisation_ranges() -> None:
    paddle.seed(0)
    net = create_model("lenet5")
    for layer, fan_in in ((net.c1, 25), (net.c5, 400), (net.f6, 120)):
        assert np.abs(layer.weight.numpy()).max() <= 2.4 / fan_in
        assert np.abs(layer.weight.numpy()).max() > 0.8 * 2.4 / fan_in
    weights, mask = net.c3.weight.numpy(), net.c3.mask.numpy()
    for k, inputs in enumerate(C3_TABLE):
        assert np.abs(weights[k]).max() <= 2.4 / (25 * len(inputs))
    assert np.all(weights[mask == 0] == 0)
    wide = create_model("lenet5", init="sqrt")
    assert np.abs(wide.c5.weight.numpy()).max() > 2.4 / 400 * 10


def test_criteria() -> None:
    penalties = paddle.to_tensor([[0.5, 3.0, 9.0], [4.0, 1.0, 2.0]])
    labels = paddle.to_tensor([0, 2])
    np.testing.assert_allclose(rbf_mse(penalties, labels).numpy(), [0.5, 2.0])
    j = 10.0
    expected = [
        0.5 + np.log(np.exp(-j) + np.exp(-0.5) + np.exp(-3.0) + np.exp(-9.0)),
        2.0 + np.log(np.exp(-j) + np.exp(-4.0) + np.exp(-1.0) + np.exp(-2.0)),
    ]
    np.testing.assert_allclose(rbf_map(penalties, labels, j=j).numpy(), expected, rtol=1e-6)
    # In double precision too (the rubbish class takes the penalties' type).
    doubles = rbf_map(paddle.to_tensor(penalties.numpy().astype(np.float64)), labels, j=j)
    assert doubles.dtype == paddle.float64
    np.testing.assert_allclose(doubles.numpy(), expected, rtol=1e-12)


def test_an_unknown_criterion_lists_the_known_ones() -> None:
    from lenet5.errors import UserError
    from lenet5.train.losses import get_loss

    assert get_loss("map") is rbf_map and get_loss("mse") is rbf_mse
    with pytest.raises(UserError) as caught:
        get_loss("hinge")
    assert str(caught.value) == "unknown loss 'hinge'; choose from cross_entropy, map, mse"


def test_eta_schedule_by_pass() -> None:
    etas = [eta_for_pass(p) for p in range(20)]
    assert etas[:2] == [5e-4] * 2 and etas[2:5] == [2e-4] * 3 and etas[5:8] == [1e-4] * 3
    assert etas[8:12] == [5e-5] * 4 and etas[12:20] == [1e-5] * 8
    # Passes beyond the paper's 20 keep its last rate (a longer run must not jump back up).
    assert [eta_for_pass(p) for p in (20, 25, 100)] == [1e-5] * 3


class _ScalarChain(paddle.nn.Layer):
    """3 inputs -> 1 squashed unit -> 2 squashed outputs: a net with one path per weight, where
    the paper's diagonal second-derivative pass is the exact Gauss-Newton diagonal."""

    def __init__(self) -> None:
        super().__init__()
        self.a = paddle.nn.Linear(3, 1)
        self.b = paddle.nn.Linear(1, 2)

    def squashed_layers(self) -> list[object]:
        return [self.a, self.b]

    def features(self, x):
        return squash(self.b(squash(self.a(x))))


def test_sdlm_second_derivatives_match_finite_differences() -> None:
    """h_kk against a numerical second derivative of E(theta) = mean_p |x_p(theta) - x_p(theta0)|^2
    at theta0, where the residual is zero and the second derivative is exactly 2 J^T J."""
    paddle.seed(1)
    net = _ScalarChain()
    inputs = np.random.default_rng(0).normal(0, 1, (6, 3)).astype(np.float32)
    h = diagonal_hessian(net, inputs)
    x = paddle.to_tensor(inputs)
    with paddle.no_grad():
        target = net.features(x).numpy()

    def energy() -> float:
        with paddle.no_grad():
            return float(((net.features(x).numpy() - target) ** 2).sum(axis=1).mean())

    eps = 1e-2
    for param in net.parameters():
        flat = param.numpy().ravel()
        for k in range(flat.size):
            values = []
            for delta in (eps, -eps):
                shifted = flat.copy()
                shifted[k] += delta
                param.set_value(shifted.reshape(param.shape))
                values.append(energy())
            param.set_value(flat.reshape(param.shape))
            numeric = (values[0] + values[1] - 2 * energy()) / eps**2
            assert h[param.name].numpy().ravel()[k] == pytest.approx(numeric, rel=2e-2, abs=1e-6)


def test_sdlm_steps_follow_curvature_and_skip_masked_weights() -> None:
    paddle.seed(0)
    net = create_model("lenet5")
    sample = np.random.default_rng(0).normal(0, 0.5, (20, 1, 32, 32)).astype(np.float32)
    optimizer = SDLM(net.parameters())
    optimizer.begin_pass(3, net, sample)
    assert optimizer.eta == eta_for_pass(3)
    h = optimizer.hessian[net.c3.weight.name].numpy()
    assert np.all(h >= 0) and np.all(h[net.c3.mask.numpy() == 0] == 0)
    before = {p.name: p.numpy().copy() for p in net.parameters()}
    rbf_map(net(paddle.to_tensor(sample[:1])), paddle.to_tensor([4])).mean().backward()
    grads = {p.name: p.grad.numpy().copy() for p in net.parameters()}
    optimizer.step()
    for p in net.parameters():
        expected = before[p.name] - optimizer.eta / (0.02 + optimizer.hessian[p.name].numpy()) * grads[p.name]
        np.testing.assert_allclose(p.numpy(), expected, rtol=1e-5, atol=1e-7)


def test_sdlm_state_round_trips_through_a_checkpoint(tmp_path: Path) -> None:
    from lenet5.store import checkpoint

    paddle.seed(0)
    net = create_model("lenet5")
    optimizer = SDLM(net.parameters())
    optimizer.begin_pass(5, net, np.zeros((4, 1, 32, 32), dtype=np.float32) + 0.3)
    checkpoint.save(tmp_path / "c.npz", net, optimizer, {})
    other = create_model("lenet5")
    restored = SDLM(other.parameters())
    checkpoint.load(tmp_path / "c.npz", other, restored)
    assert restored.eta == optimizer.eta
    for a, b in zip(net.parameters(), other.parameters(), strict=True):
        np.testing.assert_array_equal(optimizer.hessian[a.name].numpy(), restored.hessian[b.name].numpy())


def test_distortions_are_seeded_and_vectorised() -> None:
    digits = np.zeros((5, 28, 28), dtype=np.uint8)
    digits[:, 8:20, 12:16] = 255
    a = distort_batch(digits, np.random.default_rng(7))
    b = distort_batch(digits, np.random.default_rng(7))
    c = distort_batch(digits, np.random.default_rng(8))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.shape == digits.shape and a.dtype == np.float32
    assert not np.array_equal(a[0], a[1])  # each digit gets its own transform
    none = distort_batch(digits, np.random.default_rng(7), DistortionRanges(0, 0, 0, 0))
    np.testing.assert_array_equal(none, digits)
    shifted = distort_batch(digits[:1], np.random.default_rng(0), DistortionRanges(2, 0, 0, 0))
    assert abs(shifted.sum() - digits[:1].sum(dtype=np.float64)) / digits[:1].sum() < 0.05  # ink is moved, not lost


def test_distort_fraction_keeps_the_rest_original_and_strength_scales_ranges() -> None:
    from types import SimpleNamespace

    from lenet5.data.normalize import NORMALIZATIONS
    from lenet5.data.splits import Split
    from lenet5.train.epochs import pass_inputs

    assert DistortionRanges(2, 0.1, 0.2, 0.3).scaled(0.5) == DistortionRanges(1, 0.05, 0.1, 0.15)
    raw = np.zeros((400, 28, 28), dtype=np.uint8)
    raw[:, 6:22, 11:17] = 255
    norm = NORMALIZATIONS["paper"]
    x = norm(raw)

    def distorted(**overrides) -> np.ndarray:
        cfg = tiny_config(model="lenet5", loss="map", distort=True, **overrides)
        data = SimpleNamespace(x_train=x, train=Split(raw, np.zeros(len(raw), np.int64)), normalize=norm)
        return pass_inputs(SimpleNamespace(settings=cfg, data=data), epoch=0)

    assert np.any(distorted() != x, axis=(1, 2, 3)).mean() > 0.95
    quarter = np.any(distorted(distort_fraction=0.25) != x, axis=(1, 2, 3)).mean()
    assert 0.15 < quarter < 0.35  # ~a quarter distorted, the others bit-identical to the originals
    mild = np.abs(distorted(distort_strength=0.1) - x).mean()
    assert 0 < mild < 0.3 * np.abs(distorted() - x).mean()


def test_clean_epochs_train_the_last_passes_on_the_digits_as_they_are() -> None:
    from types import SimpleNamespace

    from lenet5.data.normalize import NORMALIZATIONS
    from lenet5.data.splits import Split
    from lenet5.train.epochs import pass_inputs

    raw = np.zeros((50, 28, 28), dtype=np.uint8)
    raw[:, 6:22, 11:17] = 255
    norm = NORMALIZATIONS["seed"]
    cfg = tiny_config(distort=True, epochs=5, clean_epochs=2)
    data = SimpleNamespace(x_train=norm(raw), train=Split(raw, np.zeros(len(raw), np.int64)), normalize=norm)
    changed = [np.any(pass_inputs(SimpleNamespace(settings=cfg, data=data), epoch=e) != data.x_train) for e in range(5)]
    assert changed == [True, True, True, False, False]


def test_distort_options_need_distort() -> None:
    with pytest.raises(UserError, match="need --distort"):
        tiny_config(distort_fraction=0.5)
    with pytest.raises(UserError, match="need --distort"):
        tiny_config(clean_epochs=2)
    with pytest.raises(UserError, match="must be at most 1"):
        tiny_config(distort=True, distort_fraction=1.5)


def test_distort_preview(tmp_path: Path) -> None:
    from conftest import DATA_DIR

    out = tmp_path / "d.png"
    assert main(["distort-preview", "--out", str(out), "--n", "4", "--rows", "2", "--data-dir", str(DATA_DIR)]) == 0
    assert out.stat().st_size > 2000


def test_short_paper_recipe_training_beats_chance(tmp_path: Path) -> None:
    """SDLM, one pattern per update, MAP criterion, with distortions: 1,500 digits x 2 passes."""
    cfg = tiny_config(
        model="lenet5",
        optimizer="sdlm",
        loss="map",
        lr=1.5e-4,
        init="sqrt",
        batch_size=1,
        train_limit=1500,
        distort=True,
        log_every=0,
    )
    summary = loop_train(cfg, tmp_path / "run")
    assert summary["val_accuracy"] > 0.6 and summary["test_accuracy"] > 0.6  # chance is 0.1
    # The report of a lenet5 run adds F6 against the RBF bitmaps.
    assert main(["report", str(tmp_path / "run"), "--digit", "3"]) == 0
    page = (tmp_path / "run" / "report" / "index.html").read_text()
    assert "src='rbf.png'" in page and (tmp_path / "run" / "report" / "rbf.png").stat().st_size > 2000
    assert "maps_c1.png" in page and "maps_c3.png" in page


def loop_train(cfg, out: Path) -> dict:
    from lenet5.train.loop import train

    return train(cfg, out, echo=quiet, progress=False)


def test_sdlm_distorted_run_resumes_bit_identically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-pass distortions and SDLM's per-pass curvature are regenerated on resume, exactly."""
    from conftest import interrupt_then_resume
    from lenet5.train import loop

    cfg = dict(
        model="lenet5", optimizer="sdlm", loss="map", lr=1.5e-4, init="sqrt", batch_size=1,
        train_limit=300, distort=True, epochs=2, log_every=0,
    )  # fmt: skip
    straight = loop_train(tiny_config(**cfg), tmp_path / "straight")
    completed, resumed = interrupt_then_resume(tiny_config(**cfg), tmp_path / "broken", 1, monkeypatch)
    assert completed == 1
    assert loop.summary_metrics({**resumed, "run_dir": None}) == loop.summary_metrics({**straight, "run_dir": None})


def test_the_answer_is_the_output_unit_with_the_smallest_penalty() -> None:
    """RBF outputs are penalties (distances to each digit's bitmap): the answer is the
    smallest, and the probabilities are a softmax of minus the penalties."""
    net = create_model("lenet5")
    penalties = np.array(
        [[5.0, 1.0, 3.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 0.5], [0.2, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0]],
        dtype=np.float32,
    )
    assert net.predictions(paddle.to_tensor(penalties)).numpy().tolist() == [9, 0]
    weights = np.exp(-penalties.astype(np.float64))
    expected = weights / weights.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(net.probabilities(paddle.to_tensor(penalties)).numpy(), expected, rtol=1e-5)


def test_the_feature_maps_shown_are_c1_and_c3() -> None:
    net = create_model("lenet5")
    layers = net.feature_layers()
    assert list(layers) == ["c1", "c3"]
    assert layers["c1"] is net.c1 and layers["c3"] is net.c3


# --- Initialisation: uniform in +/-2.4/F, F the unit's fan-in (Appendix A of the paper) ---


def test_init_bounds_are_two_point_four_over_the_fan_in() -> None:
    from lenet5.models.lenet1998 import init_bound

    assert init_bound(25) == pytest.approx(0.096)  # the paper's, by default
    assert init_bound(150, "paper") == pytest.approx(0.016)
    assert init_bound(25, "sqrt") == pytest.approx(0.48)
    with pytest.raises(ValueError) as caught:
        init_bound(25, "xavier")
    assert str(caught.value) == "init must be one of ('paper', 'sqrt'), not 'xavier'"


def _spread_within(values: np.ndarray, bound: float) -> None:
    """Every value inside +/-bound, and the draws use the whole interval (both signs, near
    both ends): not a constant, not a narrower or one-sided range."""
    assert np.abs(values).max() <= bound * (1 + 1e-6)
    assert values.min() < -0.6 * bound and values.max() > 0.6 * bound


@pytest.mark.parametrize(("init", "bound"), [("paper", 2.4 / 4), ("sqrt", 2.4 / 2)])
def test_subsampling_coefficients_and_biases_start_uniform_over_the_fan_in_of_four(init: str, bound: float) -> None:
    from lenet5.models.lenet1998 import Subsampling

    paddle.seed(1)
    layer = Subsampling(200, init=init)  # 200 maps: enough draws to see the interval
    _spread_within(layer.coefficient.numpy(), bound)
    _spread_within(layer.bias.numpy(), bound)
    assert not np.array_equal(layer.coefficient.numpy(), layer.bias.numpy())


@pytest.mark.parametrize("init", ["paper", "sqrt"])
def test_c3_weights_start_uniform_over_each_maps_own_fan_in(init: str) -> None:
    from lenet5.models.lenet1998 import C3_TABLE, MaskedConv2D, init_bound

    paddle.seed(2)
    layer = MaskedConv2D(6, C3_TABLE, init=init)
    weight, bias = layer.weight.numpy(), layer.bias.numpy()
    assert weight.dtype == np.float32 and bias.dtype == np.float32
    for k, inputs in enumerate(C3_TABLE):
        bound = init_bound(25 * len(inputs), init)  # 75, 100 or 150 inputs (Table I)
        others = [i for i in range(6) if i not in inputs]
        assert not weight[k, others].any()  # a connection Table I does not make starts at zero
        _spread_within(weight[k, list(inputs)].ravel(), bound)
        assert abs(bias[k]) <= bound
    biases_over_bounds = bias / np.array([init_bound(25 * len(i), init) for i in C3_TABLE])
    assert biases_over_bounds.min() < -0.3 and biases_over_bounds.max() > 0.3  # both signs, not a constant
    assert len(set(bias.tolist())) == 16


def test_c3_draws_follow_paddle_seed_and_the_mask_is_not_saved() -> None:
    from lenet5.models.lenet1998 import C3_TABLE, MaskedConv2D

    paddle.seed(5)
    a = MaskedConv2D(6, C3_TABLE)
    paddle.seed(5)
    b = MaskedConv2D(6, C3_TABLE)
    c = MaskedConv2D(6, C3_TABLE)
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    assert not np.array_equal(b.weight.numpy(), c.weight.numpy())
    assert set(a.state_dict()) == {"weight", "bias"}  # the constant mask is rebuilt, never loaded


def test_a_bitmap_file_that_is_not_ten_twelve_by_seven_bitmaps_is_refused(tmp_path: Path) -> None:
    from lenet5.models.lenet1998 import RBF_BITMAPS_FILE, load_rbf_bitmaps

    text = RBF_BITMAPS_FILE.read_text()
    assert load_rbf_bitmaps(RBF_BITMAPS_FILE).shape == (10, 84)
    lines = text.splitlines()
    first_row = next(i for i, line in enumerate(lines) if set(line.strip()) <= {"#", "."} and line.strip())
    bad_files = {
        # One row one pixel short, and another row one pixel longer: still 84 pixels in all.
        "shifted": lines[:first_row] + [lines[first_row][:-1], lines[first_row + 1] + "."] + lines[first_row + 2 :],
        "short": lines[:first_row] + lines[first_row + 1 :],  # a bitmap of 11 rows
        "nine": lines[: next(i for i, line in enumerate(lines) if line.strip().startswith("digit 9"))],
    }
    for name, bad in bad_files.items():
        path = tmp_path / f"{name}.txt"
        path.write_text("\n".join(bad) + "\n")
        with pytest.raises(ValueError) as caught:
            load_rbf_bitmaps(path)
        assert str(caught.value) == f"{path}: expected ten 12x7 bitmaps", name
    # Bitmap rows before the first "digit" line belong to no digit and are passed over.
    stray = tmp_path / "stray.txt"
    stray.write_text("#######\n" + text)
    np.testing.assert_array_equal(load_rbf_bitmaps(stray), load_rbf_bitmaps(RBF_BITMAPS_FILE))


# Fan-ins from the paper's architecture (Section II-B), written out, not read from the model.
FAN_INS = {"c1": 25, "s2": 4, "s4": 4, "c5": 400, "f6": 120}


@pytest.mark.parametrize("init", [None, "paper", "sqrt"])  # None: LeNet5()'s own default, the paper's
def test_every_layer_starts_uniform_within_its_own_fan_in(init: str | None) -> None:
    """Each parameter lies within +/-2.4/F (or 2.4/sqrt F) of its layer, and its largest
    draw comes close to that bound: a wrong fan-in, a layer left at Paddle's default
    initialiser or an `init` not passed down all fail."""
    from lenet5.models.lenet1998 import LeNet5

    paddle.seed(11)
    net = LeNet5() if init is None else LeNet5(init=init)
    for layer, fan_in in FAN_INS.items():
        bound = 2.4 / fan_in if init != "sqrt" else 2.4 / np.sqrt(fan_in)
        params = dict(getattr(net, layer).named_parameters())
        pooled = np.abs(np.concatenate([p.numpy().ravel() for p in params.values()]))
        assert pooled.max() <= bound * (1 + 1e-6), layer
        # n uniform draws all stay below (1 - 5/n) of the bound with probability e^-5; the
        # layer's parameters share one bound, so they are pooled (S2 has only 6 of each).
        assert pooled.max() > bound * (1 - 5 / pooled.size), (layer, pooled.max(), bound)
        for name, param in params.items():
            values = np.abs(param.numpy()).ravel()
            assert values.max() > bound * (1 - 5 / values.size), (layer, name, values.max(), bound)
    c3_bounds = {3: 75, 4: 100, 6: 150}  # Table I: maps read 3, 4 or 6 of S2's maps
    weight = net.c3.weight.numpy()
    for k, inputs in enumerate(C3_TABLE):
        fan_in = c3_bounds[len(inputs)]
        bound = 2.4 / fan_in if init != "sqrt" else 2.4 / np.sqrt(fan_in)
        assert np.abs(weight[k]).max() <= bound * (1 + 1e-6) and np.abs(weight[k]).max() > bound * 0.9


def test_the_output_layer_gives_squared_euclidean_distances_to_the_bitmaps() -> None:
    from lenet5.models.lenet1998 import EuclideanRBF

    bitmaps = load_rbf_bitmaps()
    x = np.random.default_rng(0).uniform(-1.7, 1.7, (5, 84)).astype(np.float32)
    x[0] = bitmaps[3]  # exactly the bitmap of a 3: distance 0 to it
    got = EuclideanRBF(bitmaps)(paddle.to_tensor(x)).numpy()
    expected = ((x[:, None, :] - bitmaps[None, :, :]) ** 2).sum(axis=2)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-3)
    assert got[0, 3] == pytest.approx(0.0, abs=1e-3)
