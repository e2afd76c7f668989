"""Never lose a user's file: every command writes only new paths or its own earlier artefacts,
and every bad output path is one line on stderr with a non-zero exit, nothing touched."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from conftest import DATA_DIR, one_error_line, run_cli
from lenet5.cli import main

READ_ONLY = Path("/sys/lenet5-test-output")  # writes here fail even for root (sysfs)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def user_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "mine"
    (folder / "notes").mkdir(parents=True)
    (folder / "photo.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (folder / "notes" / "todo.txt").write_text("buy milk")
    return folder


@pytest.mark.parametrize("fmt", ["onnx", "paddle"])
def test_export_refuses_a_users_folder(
    fmt: str, trained_run: Path, user_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(user_folder)
    for force in ([], ["--force"]):
        assert main(["export", str(trained_run), "--format", fmt, "--out", str(user_folder), *force]) == 2
        assert "was not written by lenet5" in one_error_line(capsys.readouterr().err)
        assert _snapshot(user_folder) == before


def test_export_never_replaces_the_run_or_a_file(trained_run: Path, tmp_path: Path, capsys) -> None:
    run_before = _snapshot(trained_run)
    for force in ([], ["--force"]):
        assert main(["export", str(trained_run), "--out", str(trained_run), *force]) == 2
        assert "training run directory" in one_error_line(capsys.readouterr().err)
        assert main(["export", str(trained_run), "--out", str(trained_run / "model"), *force]) == 2
        one_error_line(capsys.readouterr().err)
    assert _snapshot(trained_run) == run_before
    afile = tmp_path / "afile.txt"
    afile.write_text("keep me")
    assert main(["export", str(trained_run), "--out", str(afile), "--force"]) == 2
    assert "not a folder" in one_error_line(capsys.readouterr().err)
    assert afile.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile.txt"]  # no .afile.txt.old-NNNN


def test_export_force_replaces_only_an_earlier_export(trained_run: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "exported"
    assert main(["export", str(trained_run), "--format", "onnx", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "lenet5.json", "model.onnx"]
    assert main(["export", str(trained_run), "--out", str(out)]) == 2
    assert "add --force" in one_error_line(capsys.readouterr().err)
    assert main(["export", str(trained_run), "--out", str(out), "--force"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md",
        "inference.json",
        "inference.pdiparams",
        "lenet5.json",
    ]
    (out / "my-notes.txt").write_text("added by the user")
    assert main(["export", str(trained_run), "--format", "onnx", "--out", str(out), "--force"]) == 2
    assert "'my-notes.txt', which lenet5 did not write" in one_error_line(capsys.readouterr().err)
    assert (out / "my-notes.txt").read_text() == "added by the user" and (out / "inference.json").exists()


def test_export_into_the_current_folder_is_one_line(trained_run: Path, user_folder: Path) -> None:
    result = run_cli("export", str(trained_run), "--out", ".", cwd=user_folder)
    assert result.returncode == 2
    assert "was not written by lenet5" in one_error_line(result.stderr)
    result = run_cli("export", str(trained_run), "--out", ".", cwd=user_folder / "notes")
    assert result.returncode == 2 and (user_folder / "notes" / "todo.txt").read_text() == "buy milk"


def test_export_of_a_truncated_model_writes_nothing(trained_run: Path, tmp_path: Path, capsys) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(trained_run / "model", broken)
    params = broken / "inference.pdiparams"
    params.write_bytes(params.read_bytes()[:3000])
    for fmt in ("paddle", "onnx"):
        assert main(["export", str(broken), "--format", fmt, "--out", str(tmp_path / fmt)]) == 2
        line = one_error_line(capsys.readouterr().err)
        assert str(broken) in line and "cannot load the model" in line
        assert not (tmp_path / fmt).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda meta: {**meta, "normalization": {**meta["normalization"], "size": 32}}, "normalization.size: 32"),
        (lambda meta: [1, 2], "expected a JSON object, got list"),
        (lambda meta: "garbage{", "not valid JSON"),
        (lambda meta: {k: v for k, v in meta.items() if k != "model"}, "model: Field required"),
        (lambda meta: {**meta, "model": "resnet"}, "unknown network 'resnet'"),
        (lambda meta: {**meta, "format": "other/9"}, "format:"),
    ],
)
def test_hand_edited_model_card_is_refused_everywhere(
    edit, message: str, trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lenet5.errors import UserError
    from lenet5.serve.app import create_app

    folder = tmp_path / "model"
    shutil.copytree(trained_run / "model", folder)
    edited = edit(json.loads((folder / "lenet5.json").read_text()))
    (folder / "lenet5.json").write_text(edited if isinstance(edited, str) else json.dumps(edited))
    digit = tmp_path / "digit.png"
    Image.fromarray(255 - mnist_digit(0)).save(digit)
    for command in (
        ["predict", str(digit), "--model", str(folder)],
        ["evaluate", str(folder), "--limit", "10", "--data-dir", str(DATA_DIR)],
        ["export", str(folder), "--out", str(tmp_path / "out")],
    ):
        assert main(command) == 2
        line = one_error_line(capsys.readouterr().err)
        assert "lenet5.json" in line and message in line
    with pytest.raises(UserError, match=r"lenet5\.json"):
        create_app(folder)  # `serve` refuses to start rather than answering 500 to every request
    assert not (tmp_path / "out").exists()


def mnist_digit(index: int) -> np.ndarray:
    from lenet5.data import mnist

    return mnist.load(DATA_DIR).test_images[index]


def test_report_replaces_only_its_own_report(trained_run: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    (run / "report").mkdir()
    (run / "report" / "slides.pdf").write_bytes(b"%PDF my talk")
    assert main(["report", str(run), "--data-dir", str(DATA_DIR)]) == 2
    assert "was not written by lenet5" in one_error_line(capsys.readouterr().err)
    assert (run / "report" / "slides.pdf").read_bytes() == b"%PDF my talk"
    shutil.rmtree(run / "report")
    for _ in range(2):  # a second report replaces the first
        assert main(["report", str(run), "--data-dir", str(DATA_DIR)]) == 0
    capsys.readouterr()
    assert (run / "report" / "index.html").is_file() and (run / "report" / "lenet5-report.json").is_file()
    (run / "report" / "mine.txt").write_text("x")
    assert main(["report", str(run), "--data-dir", str(DATA_DIR)]) == 2
    assert "'mine.txt', which lenet5 did not write" in one_error_line(capsys.readouterr().err)
    assert (run / "report" / "mine.txt").read_text() == "x"


def test_partial_evaluation_never_replaces_the_full_one(trained_run: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    assert main(["evaluate", str(run), "--data-dir", str(DATA_DIR)]) == 0
    full = (run / "confusion.png").read_bytes()
    assert main(["evaluate", str(run), "--limit", "50", "--data-dir", str(DATA_DIR)]) == 0
    assert (run / "confusion.png").read_bytes() == full
    assert (run / "confusion-first-50.png").is_file()
    assert "confusion-first-50.png" in capsys.readouterr().out
    # A model folder (which may be shipped as is) is never written into.
    before = _snapshot(run / "model")
    assert main(["evaluate", str(run / "model"), "--limit", "50", "--data-dir", str(DATA_DIR)]) == 0
    assert _snapshot(run / "model") == before
    assert "Confusion matrix" not in capsys.readouterr().out


def test_confusion_figure_says_how_many_digits(
    trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lenet5.plots import confusion

    titles: list[str] = []
    real = confusion.plot_confusion
    monkeypatch.setattr(confusion, "plot_confusion", lambda m, p, title="": titles.append(title) or real(m, p, title))
    plot = tmp_path / "c.png"
    for limit in (["--limit", "30"], []):
        assert (
            main(["evaluate", str(trained_run / "model"), *limit, "--plot", str(plot), "--data-dir", str(DATA_DIR)])
            == 0
        )
    assert "30 of 10,000 test digits" in titles[0] and "all test digits" in titles[1]
    assert Image.open(plot).info.get("Software") == "lenet5"  # so the second run could replace the first


def test_save_input_keeps_files_with_the_same_stem_apart(trained_run: Path, tmp_path: Path, capsys) -> None:
    for folder, index in (("c1", 0), ("c2", 1)):
        (tmp_path / folder).mkdir()
        Image.fromarray(255 - mnist_digit(index)).save(tmp_path / folder / "digit.png")
    (tmp_path / "c2" / "other.png").write_bytes((tmp_path / "c2" / "digit.png").read_bytes())
    out = tmp_path / "seen"
    args = ["predict", str(tmp_path / "c1"), str(tmp_path / "c2"), "--model", str(trained_run)]
    assert main([*args, "--save-input", str(out)]) == 0
    saved = sorted(p.name for p in out.iterdir())
    assert len(saved) == 3 and "other.28x28.png" in saved
    first, second = (np.asarray(Image.open(out / name)) for name in saved if "digit" in name)
    assert not np.array_equal(first, second)  # two different digits, neither written over the other
    assert main([*args, "--save-input", str(out)]) == 0  # a second run replaces its own images
    # A user's own file under the same name is never replaced: that one input fails, the rest go on.
    (out / "other.28x28.png").write_bytes(b"my own picture")
    assert main([*args, "--save-input", str(out)]) == 1
    err = capsys.readouterr().err
    assert "other.28x28.png: exists and was not written by lenet5" in err and "Traceback" not in err
    assert (out / "other.28x28.png").read_bytes() == b"my own picture"


def test_save_input_names_are_unique_even_against_a_name_made_of_folders(
    trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`si/a/x.png`, `si/b/x.png` and a file literally named `si__a__x.png.png`: three inputs,
    three saved pictures, none written over another."""
    from lenet5.infer.predict import saved_input_names

    inputs = [Path("si/a/x.png"), Path("si/b/x.png"), Path("si__a__x.png.png")]
    names = saved_input_names(inputs)
    assert len(set(names.values())) == 3, names
    assert names[inputs[0]] == "si__a__x.png.28x28.png"  # the first keeps its plain name

    for folder, index in (("a", 0), ("b", 1)):
        (tmp_path / "si" / folder).mkdir(parents=True)
        Image.fromarray(255 - mnist_digit(index)).save(tmp_path / "si" / folder / "x.png")
    Image.fromarray(255 - mnist_digit(2)).save(tmp_path / "si__a__x.png.png")
    out = tmp_path / "seen"
    monkeypatch.chdir(tmp_path)
    files = ["si/a/x.png", "si/b/x.png", "si__a__x.png.png"]
    assert main(["predict", *files, "--model", str(trained_run), "--save-input", str(out)]) == 0
    saved = [np.asarray(Image.open(p)) for p in sorted(out.iterdir())]
    assert len(saved) == 3
    assert len({picture.tobytes() for picture in saved}) == 3


def test_a_png_is_ours_only_with_our_tag(tmp_path: Path) -> None:
    from lenet5.store.outputs import is_ours

    plain = tmp_path / "plain.png"
    Image.new("L", (4, 4)).save(plain)
    other = tmp_path / "gimp.png"
    info = PngInfo()
    info.add_text("Software", "GIMP 2.10")
    Image.new("L", (4, 4)).save(other, pnginfo=info)
    ours = tmp_path / "ours.png"
    info = PngInfo()
    info.add_text("Software", "lenet5")
    Image.new("L", (4, 4)).save(ours, pnginfo=info)
    tagged_tiff = tmp_path / "tagged.tif"
    Image.new("L", (4, 4)).save(tagged_tiff, tiffinfo={305: "lenet5"})  # 305: TIFF's Software tag
    assert [is_ours(p, "png") for p in (plain, other, ours, tagged_tiff)] == [False, False, True, False]


def test_a_file_that_appears_while_a_plot_is_drawn_is_kept(trained_run: Path, tmp_path: Path, monkeypatch) -> None:
    """The claim-then-write race: the path was free when checked, a user's file is there
    when the picture is ready; it stays, and the command says so in one line."""
    from lenet5.errors import UserError
    from lenet5.plots import plotting
    from lenet5.store.outputs import claim_file

    target = claim_file(tmp_path / "race.png", "png", "--plot")
    figure = plotting.plt.figure()
    real_savefig = figure.savefig

    def savefig_then_user_writes(*args, **kwargs):
        real_savefig(*args, **kwargs)
        target.write_bytes(b"the user's own file")

    monkeypatch.setattr(figure, "savefig", savefig_then_user_writes)
    with pytest.raises(UserError, match=r"race\.png: was created by someone else while this command ran"):
        plotting.save_figure(figure, target)
    assert target.read_bytes() == b"the user's own file"
    assert [p.name for p in tmp_path.iterdir()] == ["race.png"]  # no temporary file left

    ours = tmp_path / "ours.png"
    plotting.save_figure(plotting.plt.figure(), ours)
    first = ours.stat().st_ino
    plotting.save_figure(plotting.plt.figure(figsize=(3, 2)), ours)  # our own earlier picture: replaced
    assert ours.stat().st_ino != first and Image.open(ours).info.get("Software") == "lenet5"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--csv", "{dir}"], "is a folder; --csv needs a file name"),
        (["--csv", "{file}"], "exists and was not written by lenet5"),
        (["--save-input", "{file}"], "not a folder; --save-input needs a folder"),
        (["--csv", str(READ_ONLY / "out.csv")], ""),
    ],
)
def test_predict_output_paths(flags, message, trained_run: Path, tmp_path: Path, capsys) -> None:
    afile = tmp_path / "results.txt"
    afile.write_text("someone's results")
    digit = tmp_path / "digit.png"
    Image.fromarray(255 - mnist_digit(0)).save(digit)
    flags = [f.format(dir=tmp_path, file=afile) for f in flags]
    assert main(["predict", str(digit), "--model", str(trained_run), *flags]) == 2
    assert message in one_error_line(capsys.readouterr().err)
    assert afile.read_text() == "someone's results"


def test_csv_is_replaced_only_when_it_is_ours(trained_run: Path, tmp_path: Path, capsys) -> None:
    digit = tmp_path / "digit.png"
    Image.fromarray(255 - mnist_digit(0)).save(digit)
    csv = tmp_path / "out.csv"
    for _ in range(2):
        assert main(["predict", str(digit), "--model", str(trained_run), "--csv", str(csv)]) == 0
    assert csv.read_text().splitlines()[0] == "file,digit,probability,top_k"


@pytest.mark.parametrize(
    "command",
    [
        ["export", "{run}", "--out", str(READ_ONLY)],
        ["train", "--epochs", "1", "--train-limit", "200", "--val-size", "100", "--out", str(READ_ONLY)],
        ["distort-preview", "--out", str(READ_ONLY / "d.png"), "--data-dir", str(DATA_DIR)],
        ["evaluate", "{run}", "--limit", "20", "--plot", str(READ_ONLY / "c.png"), "--data-dir", str(DATA_DIR)],
    ],
)
def test_unwritable_output_is_one_line(command: list[str], trained_run: Path, capsys) -> None:
    assert main([c.format(run=trained_run) for c in command]) == 2
    assert str(READ_ONLY) in one_error_line(capsys.readouterr().err)


def test_train_out_must_be_new_or_empty(tmp_path: Path, user_folder: Path, capsys) -> None:
    afile = tmp_path / "afile.txt"
    afile.write_text("keep")
    before = _snapshot(user_folder)
    for out, message in ((afile, "not a folder"), (user_folder, "folder is not empty")):
        assert main(["train", "--out", str(out), "--data-dir", str(DATA_DIR)]) == 2
        assert message in one_error_line(capsys.readouterr().err)
    assert afile.read_text() == "keep" and _snapshot(user_folder) == before


def _pipe_first_line(*args: str) -> tuple[int, str]:
    """Run `lenet5 ARGS | head -1` and return lenet5's exit status and stderr."""
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", "lenet5", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()
    process.stdout.close()  # the reader goes away, as `head -1` does
    stderr = process.stderr.read().decode()
    return process.wait(timeout=120), stderr


def test_output_into_a_closed_pipe_is_quiet(trained_run: Path, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    image = Image.fromarray(255 - mnist_digit(0))
    for i in range(400):  # far more output than a pipe buffer holds
        image.save(photos / f"d{i:03}.png")
    for args in (["predict", str(photos), "--model", str(trained_run), "--json"], ["summary", "--json"]):
        status, stderr = _pipe_first_line(*args)
        assert stderr == "" and status in (0, 141), (args, stderr)
    status, _ = _pipe_first_line("predict", str(photos), "--model", str(trained_run), "--json")
    assert status == 141  # it noticed, and stopped


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16_bit_pictures_of_any_size(fmt: str, trained_run: Path, tmp_path: Path, capsys) -> None:
    digit = Image.fromarray(255 - mnist_digit(0)).resize((1200, 1200), Image.Resampling.BILINEAR)
    deep = (np.asarray(digit, dtype=np.float64) * 257).astype(np.uint16)
    page = np.full((2400, 2200), 65535, dtype=np.uint16)
    page[600:1800, 500:1700] = deep
    Image.fromarray(page).save(tmp_path / f"deep.{fmt.lower()}", format=fmt)
    Image.fromarray(255 - mnist_digit(1)).save(tmp_path / "good.png")
    assert main(["predict", str(tmp_path), "--model", str(trained_run), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [Path(r["file"]).name for r in rows] == [f"deep.{fmt.lower()}", "good.png"]
