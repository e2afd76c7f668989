"""Reorganising the code must not change what the shipped models answer.

Their scores on the first 2,000 bundled MNIST test digits, for both runtimes, were recorded
(tests/data/shipped_scores_2000.npz) before the package was reorganised (issue #26), at
commit 7589680. Recorded as float16, whose rounding is at most 4.9e-4 near 1; two CPUs'
GEMMs differ by under 1e-5. So every score must lie within 1e-3 of the record, and every
answer that is not a near tie must be the recorded one. The reader's two entries were
recorded again when the shipped reader was retrained with pen-drawn digits (#27, 2026-12-07):
a new model, on purpose; the others are the records of 7589680.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import DATA_DIR, REPO, assert_same_decisions
from lenet5.data import mnist
from lenet5.infer.backends import load_backend
from lenet5.store.model_folder import shipped_models

RECORD = REPO / "tests" / "data" / "shipped_scores_2000.npz"


@pytest.mark.parametrize("backend", ["paddle", "onnx"])
@pytest.mark.parametrize("name", ["lenet5", "reader", "seed"])
def test_shipped_models_answer_as_recorded(name: str, backend: str) -> None:
    with np.load(RECORD) as record:
        recorded = record[f"{name}/{backend}"].astype(np.float32)
    runner = load_backend(shipped_models()[name], backend)
    images = mnist.load(DATA_DIR).test_images[: len(recorded)]
    scores = runner.scores(runner.meta.normalize(images))
    assert scores.shape == recorded.shape
    assert np.abs(scores - recorded).max() < 1e-3
    assert_same_decisions(scores, recorded, 2e-3)
