"""The command line as a user meets it: help, clean one-line errors, JSON output."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from conftest import DATA_DIR, assert_accuracy_up_to_ties, one_error_line, run_cli
from lenet5.cli import main
from lenet5.data import mnist
from lenet5.infer.backends import load_backend


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["train"],
        ["evaluate"],
        ["predict"],
        ["export"],
        ["report"],
        ["serve"],
        ["summary"],
        ["distort-preview"],
        ["data", "verify"],
        ["data", "download"],
    ],
)
def test_help_for_every_command(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([*command, "--help"])
    assert info.value.code == 0
    assert "usage: lenet5" in capsys.readouterr().out


def test_missing_data_dir_is_one_line(tmp_path: Path) -> None:
    result = run_cli("train", "--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    line = one_error_line(result.stderr)
    assert str(tmp_path / "nowhere") in line and "does not exist" in line
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--epochs", "0"], "must be at least 1"),
        (["train", "--batch-size", "abc"], "expected a whole number"),
        (["train", "--lr", "-1"], "must be positive"),
        (["train", "--optimizer", "rmsprop"], "invalid choice"),
        (["train", "--bogus"], "unrecognized arguments"),
        (["predict", "x.png", "--top-k", "11"], "at most 10"),
        (["predict", "x.png", "--top-k", "0"], "must be at least 1"),
        (["predict", "x.png", "--workers", "0"], "must be at least 1"),
        (["read", "x.png", "--workers", "-2"], "must be at least 1"),
    ],
)
def test_bad_flags(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    try:  # a type argparse checks (usage and a line), or a setting's bound (one line)
        status = main(args)
    except SystemExit as info:
        status = info.code
    assert status == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_unknown_model_and_recipe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--model", "resnet", "--out", str(tmp_path / "r")]) == 2
    assert "unknown model 'resnet'" in one_error_line(capsys.readouterr().err)
    assert main(["train", "--recipe", "nope", "--out", str(tmp_path / "r")]) == 2
    assert "unknown recipe 'nope'" in one_error_line(capsys.readouterr().err)


def test_options_that_need_lenet5(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for flags, message in (
        (["--loss", "map"], "only with --model lenet5"),
        (["--init", "sqrt"], "only the lenet5 model"),
        (["--optimizer", "sdlm"], "needs a model with an RBF output"),
    ):
        assert main(["train", "--model", "seed", *flags, "--out", str(tmp_path / "r")]) == 2
        assert message in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "r").exists()


def test_evaluate_missing_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(tmp_path / "none")]) == 2
    assert "no such run directory" in one_error_line(capsys.readouterr().err)
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "not a run directory or model folder" in one_error_line(capsys.readouterr().err)


def test_resume_not_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "not a run directory (no config.json)" in one_error_line(capsys.readouterr().err)


def test_resume_corrupt_checkpoint(tmp_path: Path, trained_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(trained_run, run)
    (run / "summary.json").unlink()
    last = run / "checkpoints" / "last.npz"
    last.write_bytes(last.read_bytes()[:200])
    assert main(["train", "--resume", str(run)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(last) in line and "not a readable lenet5 checkpoint" in line


def test_checkpoint_is_not_a_pickle(trained_run: Path) -> None:
    with zipfile.ZipFile(trained_run / "checkpoints" / "last.npz") as archive:
        for name in archive.namelist():
            assert archive.read(name)[:6] == b"\x93NUMPY"  # plain .npy members, loaded with allow_pickle=False


def test_evaluate_json_matches_training_report(trained_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(trained_run), "--json", "--limit", "500", "--data-dir", str(DATA_DIR)]) == 0
    report = json.loads(capsys.readouterr().out)
    summary = json.loads((trained_run / "summary.json").read_text())
    assert report["n"] == 500 and len(report["per_class"]) == 10
    # The exported inference model scores what the eager model scored at that epoch: exactly,
    # but for near ties (Paddle Inference's convolution rounds otherwise than the training
    # kernels; their probabilities differ by under 1e-4: test_predict's export parity).
    runner = load_backend(trained_run, "paddle")
    data = mnist.load(DATA_DIR)
    probabilities = runner.probabilities(runner.meta.normalize(data.test_images[:500]))
    assert report["accuracy"] == pytest.approx(float((probabilities.argmax(1) == data.test_labels[:500]).mean()))
    assert_accuracy_up_to_ties(summary["test_accuracy"], probabilities, data.test_labels[:500], 2e-4)
    assert sum(map(sum, report["confusion"])) == 500
    # A partial evaluation draws beside the full one, never over it.
    assert (trained_run / "confusion-first-500.png").stat().st_size > 1000
    assert report["plot"] == str(trained_run / "confusion-first-500.png") and report["total"] == 10_000


def test_evaluate_text(trained_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(trained_run), "--limit", "200"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Test accuracy: ") and "Per class: 0:" in out


def test_data_verify_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "verify", "--json", "--data-dir", str(DATA_DIR)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and len(report["files"]) == 4


def test_distort_fraction_follows_the_recipe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from lenet5.train import loop

    assert main(["train", "--distort-fraction", "0.5", "--out", str(tmp_path / "r")]) == 2
    assert "need --distort" in one_error_line(capsys.readouterr().err)
    seen = []

    class Stop(Exception):
        pass

    def fake_train(cfg, out, **kwargs):
        seen.append(cfg)
        raise Stop  # before any work: only the settings are under test

    monkeypatch.setattr(loop, "train", fake_train)
    for flags, fraction in (
        (["--recipe", "paper", "--distort"], 0.5),
        (["--recipe", "paper"], 1.0),
        (["--recipe", "paper", "--distort", "--distort-fraction", "0.9"], 0.9),
        (["--distort"], 1.0),
    ):
        with pytest.raises(Stop):
            main(["train", *flags, "--out", str(tmp_path / "r")])
        assert seen[-1].distort_fraction == fraction


def test_serve_on_a_taken_port_says_so_and_nothing_else() -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = run_cli("serve", "--port", str(port), timeout=60)
    assert result.returncode == 2
    assert "Serving" not in result.stdout
    line = one_error_line(result.stderr)
    assert f"port {port}" in line and "already in use" in line and "--port" in line


def test_summary_shows_the_network_predict_uses_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["the network of seed (the model predict uses by default)", "seed: input 1@28x28"]
    assert main(["summary", "--model", "lenet5"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "lenet5: input 1@32x32"  # a network: no preamble
    assert main(["summary", "--model", "reader"]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == ["the network of reader", "seed: input 1@28x28"]
