"""The output-path guards of `lenet5.store.outputs`, one rule at a time, on small folders
(no training: these are the tests `make mutation` runs against that module)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from lenet5.errors import UserError
from lenet5.store import outputs
from lenet5.store.outputs import (
    CSV_HEADER,
    REPORT_MARKER,
    claim_file,
    claim_file_folder,
    claim_folder,
    folder_replaceable,
    is_ours,
    replaceable,
    report_marker,
)


def _model_folder(folder: Path, *extra: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "lenet5.json").write_text(json.dumps({"format": "lenet5-model/1"}))
    for name in ("README.md", *extra):
        (folder / name).write_text("x")
    return folder


def _report_folder(folder: Path, files: object, fmt: str = "lenet5-report/1") -> Path:
    folder.mkdir(parents=True)
    (folder / REPORT_MARKER).write_text(json.dumps({"format": fmt, "files": files}))
    for name in files if isinstance(files, list) else []:
        (folder / name).write_text("x")
    return folder


def _our_png(path: Path, software: str = "lenet5") -> Path:
    info = PngInfo()
    info.add_text("Software", software)
    Image.new("L", (2, 2)).save(path, pnginfo=info)
    return path


def _message(excinfo: pytest.ExceptionInfo[UserError]) -> str:
    return str(excinfo.value)


# claim_folder


def test_a_new_or_empty_folder_is_claimed_as_given(tmp_path: Path) -> None:
    assert claim_folder(tmp_path / "new", "model") == tmp_path / "new"
    (tmp_path / "empty").mkdir()
    assert claim_folder(tmp_path / "empty", "report") == tmp_path / "empty"


def test_the_current_folder_is_claimed_by_its_full_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `atomic_dir` swaps the folder by renaming it inside its parent: "." names no parent
    monkeypatch.chdir(tmp_path)
    for name in (".", ""):
        claimed = claim_folder(name, "model")
        assert claimed == tmp_path and claimed.is_absolute()


def test_a_file_or_a_symlink_is_not_a_folder(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("mine")
    (tmp_path / "dir").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "dir")
    for name in ("file", "link"):
        with pytest.raises(UserError) as excinfo:
            claim_folder(tmp_path / name, "model", force=True, flag="--plots")
        assert (
            _message(excinfo) == f"{tmp_path / name}: exists and is not a folder; choose a new folder name for --plots"
        )
    assert (tmp_path / "file").read_text() == "mine"


@pytest.mark.parametrize("marker", ["config.json", "checkpoints"])
def test_a_run_directory_is_never_claimed(marker: str, tmp_path: Path) -> None:
    run = _model_folder(tmp_path / "run")  # even one that also looks like a model folder
    (run / marker).mkdir() if marker == "checkpoints" else (run / marker).write_text("{}")
    with pytest.raises(UserError, match="is a training run directory; --out never replaces one"):
        claim_folder(run, "model", force=True)


def test_a_run_directory_marker_of_the_wrong_type_is_not_a_run(tmp_path: Path) -> None:
    folder = _model_folder(tmp_path / "m")
    (folder / "checkpoints").write_text("x")  # a file, not the checkpoints folder
    with pytest.raises(UserError, match=r"holds 'checkpoints', which lenet5 did not write"):
        claim_folder(folder, "model", force=True)


def test_an_earlier_model_export_needs_force(tmp_path: Path) -> None:
    folder = _model_folder(tmp_path / "m", "model.onnx", "inference.json", "inference.pdiparams")
    with pytest.raises(UserError) as excinfo:
        claim_folder(folder, "model")
    assert _message(excinfo) == (
        f"{folder}: holds an earlier lenet5 model export; add --force to replace it, or choose a new folder"
    )
    assert claim_folder(folder, "model", force=True) == folder


def test_a_model_folder_with_a_users_file_is_refused(tmp_path: Path) -> None:
    folder = _model_folder(tmp_path / "m", "notes.txt")
    with pytest.raises(UserError) as excinfo:
        claim_folder(folder, "model", force=True, flag="--to")
    assert _message(excinfo) == f"{folder}: holds 'notes.txt', which lenet5 did not write; choose a new folder for --to"


def test_a_folder_named_like_our_file_is_foreign(tmp_path: Path) -> None:
    folder = _model_folder(tmp_path / "m")
    (folder / "model.onnx").mkdir()
    with pytest.raises(UserError, match=r"holds 'model.onnx'"):
        claim_folder(folder, "model", force=True)


def test_the_first_foreign_file_is_named(tmp_path: Path) -> None:
    folder = _model_folder(tmp_path / "m", "b.txt", "a.txt", "c.txt")
    with pytest.raises(UserError, match=r"holds 'a.txt'"):
        claim_folder(folder, "model", force=True)


@pytest.mark.parametrize("fmt", ["lenet5-model/1", "lenet5-model/7"])
def test_any_version_of_our_model_format_is_ours(fmt: str, tmp_path: Path) -> None:
    folder = _model_folder(tmp_path / "m")
    (folder / "lenet5.json").write_text(json.dumps({"format": fmt}))
    assert claim_folder(folder, "model", force=True) == folder


@pytest.mark.parametrize("meta", ['{"format": "other/1"}', "[1]", "not json", '{"model": "lenet5-model/1"}'])
def test_a_users_folder_is_not_a_model_export(meta: str, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "lenet5.json").write_text(meta)
    with pytest.raises(UserError) as excinfo:
        claim_folder(folder, "model", force=True)
    assert (
        _message(excinfo)
        == f"{folder}: folder is not empty and was not written by lenet5; choose a new folder for --out"
    )


def test_an_earlier_report_needs_force_and_holds_only_its_files(tmp_path: Path) -> None:
    folder = _report_folder(tmp_path / "r", ["a.png", "b.json"])
    with pytest.raises(UserError) as excinfo:
        claim_folder(folder, "report")
    assert "holds an earlier lenet5 report; add --force" in _message(excinfo)
    assert claim_folder(folder, "report", force=True) == folder
    (folder / "c.png").write_text("user's")
    with pytest.raises(UserError, match=r"holds 'c.png'"):
        claim_folder(folder, "report", force=True)


@pytest.mark.parametrize(
    "marker",
    [
        {"format": "lenet5-report/2", "files": []},
        {"files": []},
        {"format": "lenet5-report/1", "files": "a.png"},
        {"format": "lenet5-report/1"},
        ["lenet5-report/1"],
        "not json",
    ],
)
def test_a_report_marker_must_be_ours(marker: object, tmp_path: Path) -> None:
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / REPORT_MARKER).write_text(marker if isinstance(marker, str) else json.dumps(marker))
    with pytest.raises(UserError, match="was not written by lenet5"):
        claim_folder(folder, "report", force=True)


def test_an_unreadable_report_marker_is_not_ours(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    (folder / REPORT_MARKER).mkdir(parents=True)  # reading it is an OSError
    with pytest.raises(UserError, match="was not written by lenet5"):
        claim_folder(folder, "report", force=True)


def test_a_report_marker_lists_file_names(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / REPORT_MARKER).write_text(report_marker(["b.png", "a.json"]))
    (folder / "a.json").write_text("{}")
    assert claim_folder(folder, "report", force=True) == folder
    text = (folder / REPORT_MARKER).read_text()
    assert text.endswith("}\n") and "\n  " in text  # indented, one trailing newline
    assert json.loads(text) == {"format": "lenet5-report/1", "files": ["a.json", "b.png"]}


def test_a_model_kind_is_not_a_report(tmp_path: Path) -> None:
    report = _report_folder(tmp_path / "r", ["a.png"])
    with pytest.raises(UserError, match="was not written by lenet5"):
        claim_folder(report, "model", force=True)
    model = _model_folder(tmp_path / "m")
    with pytest.raises(UserError, match="was not written by lenet5"):
        claim_folder(model, "report", force=True)


def test_an_unknown_kind_is_a_programming_error(tmp_path: Path) -> None:
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "x").write_text("x")
    with pytest.raises(ValueError, match="unknown artefact kind 'plot'"):
        claim_folder(tmp_path / "f", "plot")
    with pytest.raises(ValueError, match="unknown file kind 'plot'"):
        is_ours(tmp_path / "f" / "x", "plot")


def test_folder_replaceable_checks_the_folder_at_swap_time(tmp_path: Path) -> None:
    model = _model_folder(tmp_path / "m")
    check = folder_replaceable("model")
    assert check(model) is True
    (model / "diary.txt").write_text("mine")
    assert check(model) is False
    assert folder_replaceable("report")(model) is False


# claim_file, claim_file_folder


def test_a_new_file_is_claimed_even_in_new_folders(tmp_path: Path) -> None:
    assert claim_file(tmp_path / "a" / "b" / "plot.png", "png", "--plot") == tmp_path / "a" / "b" / "plot.png"


def test_a_folder_is_not_a_file_name(tmp_path: Path) -> None:
    with pytest.raises(UserError) as excinfo:
        claim_file(tmp_path, "png", "--plot")
    assert _message(excinfo) == f"{tmp_path}: is a folder; --plot needs a file name"


def test_a_symlink_or_a_fifo_is_not_a_regular_file(tmp_path: Path) -> None:
    _our_png(tmp_path / "ours.png")
    (tmp_path / "link.png").symlink_to(tmp_path / "ours.png")
    os.mkfifo(tmp_path / "fifo.png")
    for name in ("link.png", "fifo.png"):
        with pytest.raises(UserError) as excinfo:
            claim_file(tmp_path / name, "png", "--plot")
        assert _message(excinfo) == f"{tmp_path / name}: is not a regular file; choose another name for --plot"


def test_a_users_file_is_never_claimed_ours_is(tmp_path: Path) -> None:
    _our_png(tmp_path / "gimp.png", software="GIMP")
    with pytest.raises(UserError) as excinfo:
        claim_file(tmp_path / "gimp.png", "png", "--plot")
    assert (
        _message(excinfo)
        == f"{tmp_path / 'gimp.png'}: exists and was not written by lenet5; choose another name for --plot"
    )
    _our_png(tmp_path / "ours.png")
    assert claim_file(tmp_path / "ours.png", "png", "--plot") == tmp_path / "ours.png"


def test_the_nearest_existing_parent_must_be_a_folder(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError) as excinfo:
        claim_file(tmp_path / "file" / "sub" / "o.csv", "csv", "--csv")
    assert _message(excinfo) == f"{tmp_path / 'file' / 'sub' / 'o.csv'}: {tmp_path / 'file'} is a file, not a folder"


def test_only_the_nearest_existing_parent_must_be_writable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # root may write anywhere, so the permission check is seen through os.access
    calls = []
    locked = {tmp_path}

    def access(path: object, mode: int) -> bool:
        calls.append((Path(str(path)), mode))
        return Path(str(path)) not in locked

    monkeypatch.setattr(outputs.os, "access", access)
    (tmp_path / "open").mkdir()
    assert claim_file(tmp_path / "open" / "new" / "o.csv", "csv", "--csv") == tmp_path / "open" / "new" / "o.csv"
    assert calls == [(tmp_path / "open", os.W_OK | os.X_OK)]
    with pytest.raises(UserError) as excinfo:
        claim_file(tmp_path / "o.csv", "csv", "--csv")
    assert _message(excinfo) == f"{tmp_path / 'o.csv'}: cannot write in {tmp_path} (permission denied)"
    with pytest.raises(UserError) as excinfo:
        claim_file_folder(tmp_path / "new", "--save-input")
    assert _message(excinfo) == f"{tmp_path / 'new'}: cannot write in {tmp_path} (permission denied)"
    assert claim_file_folder(tmp_path / "open", "--save-input") == tmp_path / "open"
    assert claim_file_folder(tmp_path / "open" / "x" / "y", "--save-input") == tmp_path / "open" / "x" / "y"


def test_a_file_folder_must_be_a_folder(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(UserError) as excinfo:
        claim_file_folder(tmp_path / "f", "--save-input")
    assert _message(excinfo) == f"{tmp_path / 'f'}: exists and is not a folder; --save-input needs a folder"


# is_ours, replaceable


def test_a_csv_is_ours_by_its_header_line(tmp_path: Path) -> None:
    cases = {
        "ours.csv": (CSV_HEADER + "\na.png,3,0.9,3\n").encode(),
        "crlf.csv": (CSV_HEADER + "\r\n").encode(),
        "bare.csv": CSV_HEADER.encode(),
        "other.csv": b"file,digit\n",
        "later.csv": ("x\n" + CSV_HEADER + "\n").encode(),
        "latin1.csv": b"\xe9\xe9\n",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    assert {name: is_ours(tmp_path / name, "csv") for name in cases} == {
        "ours.csv": True,
        "crlf.csv": True,
        "bare.csv": True,
        "other.csv": False,
        "later.csv": False,
        "latin1.csv": False,
    }
    assert is_ours(tmp_path / "missing.csv", "csv") is False


@pytest.mark.parametrize("tail", [" ", "\t", "X", ",", " \n"])
def test_a_csv_header_must_be_exactly_ours(tail: str, tmp_path: Path) -> None:
    (tmp_path / "o.csv").write_text(CSV_HEADER + tail + "\n")
    assert is_ours(tmp_path / "o.csv", "csv") is False


def test_a_png_needs_both_the_format_and_our_tag(tmp_path: Path) -> None:
    # a plain PNG, a truncated one, a text file or a missing file are not ours
    _our_png(tmp_path / "ours.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "ours.png").read_bytes()[:20])
    (tmp_path / "text.png").write_text("Software: lenet5")
    Image.new("L", (2, 2)).save(tmp_path / "plain.png")
    names = ("ours.png", "plain.png", "cut.png", "text.png", "none.png")
    assert [is_ours(tmp_path / n, "png") for n in names] == [True, False, False, False, False]


def test_replaceable_at_the_moment_of_writing(tmp_path: Path) -> None:
    ours = _our_png(tmp_path / "ours.png")
    (tmp_path / "link.png").symlink_to(ours)
    _our_png(tmp_path / "gimp.png", software="GIMP")
    (tmp_path / "dir.png").mkdir()
    check = replaceable("png")
    assert [check(tmp_path / n) for n in ("ours.png", "link.png", "gimp.png", "dir.png")] == [True, False, False, False]
    (tmp_path / "o.csv").write_text(CSV_HEADER + "\n")
    assert replaceable("csv")(tmp_path / "o.csv") is True
    assert replaceable("csv")(ours) is False
