from __future__ import annotations

from pathlib import Path

import pytest

from lenet5 import atomic
from lenet5.errors import UserError


def test_failed_write_leaves_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    atomic.write_json(target, {"v": 1})
    with pytest.raises(RuntimeError), atomic.atomic_path(target) as tmp:
        tmp.write_text("half written")
        raise RuntimeError("crash")
    assert target.read_text().strip().endswith("}") and '"v": 1' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_failed_first_write_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), atomic.atomic_path(tmp_path / "new.bin") as tmp:
        tmp.write_bytes(b"x")
        raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_replaces_whole_folder_only_when_told(tmp_path: Path) -> None:
    target = tmp_path / "model"
    with atomic.atomic_dir(target) as tmp:
        (tmp / "a").write_text("1")
    refused = pytest.raises(UserError, match="folder is not empty and not ours to replace; nothing was written")
    with refused, atomic.atomic_dir(target) as tmp:
        (tmp / "b").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["a"]
    with atomic.atomic_dir(target, replace_existing=True) as tmp:
        (tmp / "b").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["b"]
    with pytest.raises(RuntimeError), atomic.atomic_dir(target, replace_existing=True) as tmp:
        (tmp / "c").write_text("3")
        raise RuntimeError("crash")
    assert sorted(p.name for p in target.iterdir()) == ["b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_atomic_dir_never_replaces_a_file_and_takes_an_empty_folder(tmp_path: Path) -> None:
    afile = tmp_path / "afile.txt"
    afile.write_text("mine")
    with pytest.raises(UserError, match="not a folder"), atomic.atomic_dir(afile, replace_existing=True) as tmp:
        (tmp / "x").write_text("1")
    assert afile.read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile.txt"]  # no .afile.txt.old-NNNN
    empty = tmp_path / "empty"
    empty.mkdir()
    with atomic.atomic_dir(empty) as tmp:
        (tmp / "x").write_text("1")
    assert (empty / "x").read_text() == "1"


def test_files_get_the_mode_open_would_give(tmp_path: Path) -> None:
    import os

    old = os.umask(0o022)
    try:
        atomic.write_text(tmp_path / "f.txt", "x")
        with atomic.atomic_dir(tmp_path / "d") as tmp:
            (tmp / "x").write_text("1")
    finally:
        os.umask(old)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755


def test_sweep_removes_only_our_leftovers(tmp_path: Path) -> None:
    import os
    import tempfile

    fd, ours = tempfile.mkstemp(prefix=".last.npz.", suffix=".tmp", dir=tmp_path)
    os.close(fd)
    ours_dir = tempfile.mkdtemp(prefix=".model.", suffix=".tmp", dir=tmp_path)
    (Path(ours_dir) / "inference.json").write_text("{}")
    parked = tmp_path / ".model.old-1234"
    parked.mkdir()
    theirs = [".bashrc", "notes.tmp", ".hidden.tmp", "last.npz", ".last.npz.backup"]
    for name in theirs:
        (tmp_path / name).write_text("keep")
    removed = atomic.sweep_leftovers(tmp_path)
    assert sorted(p.name for p in removed) == sorted([Path(ours).name, Path(ours_dir).name, parked.name])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(theirs)


def test_json_is_written_indented_in_the_given_key_order(tmp_path: Path) -> None:
    atomic.write_json(tmp_path / "a.json", {"b": 1, "a": [1, "é"]})
    text = (tmp_path / "a.json").read_bytes().decode("utf-8")
    assert text == '{\n  "b": 1,\n  "a": [\n    1,\n    "\\u00e9"\n  ]\n}\n'
    atomic.write_text(tmp_path / "t.txt", "é")
    assert (tmp_path / "t.txt").read_bytes() == "é".encode()


def test_sweep_tolerates_leftovers_that_vanish_meanwhile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two processes sweeping one folder: whatever the other removed first is not an error."""
    import shutil

    (tmp_path / ".run.abcd1234.tmp").mkdir()
    (tmp_path / ".run.abcd1234.tmp" / "inside").write_text("x")
    (tmp_path / ".last.npz.efgh5678.tmp").write_text("x")
    real_rmtree, real_unlink = shutil.rmtree, Path.unlink

    def raced_rmtree(path, *args, **kwargs):
        real_rmtree(path)  # the other process got there first
        return real_rmtree(path, *args, **kwargs)

    def raced_unlink(self, *args, **kwargs):
        real_unlink(self)
        return real_unlink(self, *args, **kwargs)

    monkeypatch.setattr(atomic.shutil, "rmtree", raced_rmtree)
    monkeypatch.setattr(Path, "unlink", raced_unlink)
    removed = atomic.sweep_leftovers(tmp_path)
    assert sorted(p.name for p in removed) == [".last.npz.efgh5678.tmp", ".run.abcd1234.tmp"]
    assert list(tmp_path.iterdir()) == []
