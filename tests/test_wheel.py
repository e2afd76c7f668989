"""The wheel: built from this tree, installed into a new virtual environment with pip, it
reads a picture with no source tree in sight, from the command line and from Python.

The new venv gets its dependencies (Paddle, ONNX Runtime, OpenCV, ...) from this project's
venv through a .pth path entry instead of from PyPI, so the test needs no network and
takes seconds; lenet5 itself comes only from the wheel (the project's editable install is
not visible there: a .pth entry adds a folder to sys.path without running its .pth files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
from PIL import Image

from conftest import DATA_DIR

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
    return done


def test_the_wheel_installs_and_reads_a_picture_without_the_source_tree(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(dist),
         str(ROOT), cwd=tmp_path)  # fmt: skip
    wheels = list(dist.glob("lenet5-*.whl"))
    assert len(wheels) == 1
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", str(venv), cwd=tmp_path)
    where_site = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = Path(_run(str(venv / "bin" / "python"), "-c", where_site, cwd=tmp_path).stdout.strip())
    (site / "lenet5_test_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _run(str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheels[0]),
         cwd=tmp_path)  # fmt: skip

    from lenet5.data import mnist

    digit = mnist.load(DATA_DIR).test_images[0]  # a 7
    picture = tmp_path / "seven.png"
    Image.fromarray(np.kron(255 - digit, np.ones((4, 4), np.uint8))).save(picture)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LENET5_CACHE")}
    cli = _run(str(venv / "bin" / "lenet5"), "predict", str(picture), "--json", cwd=tmp_path, env=env)
    assert json.loads(cli.stdout)["digit"] == 7
    code = (
        "import lenet5, sys; from PIL import Image; import numpy as np; "
        "print(lenet5.__file__); print(lenet5.load().predict(np.asarray(Image.open(sys.argv[1]))).digit); "
        "print('paddle' in sys.modules)"
    )
    found = _run(str(venv / "bin" / "python"), "-c", code, str(picture), cwd=tmp_path, env=env)
    where, answer, paddle = found.stdout.split()
    assert where.startswith(str(site)) and not where.startswith(str(ROOT))
    assert answer == "7" and paddle == "False"
    shipped = {p.name for p in (Path(where).parent / "pretrained").iterdir()}
    assert {"seed", "reader", "lenet5", "script"} <= shipped
