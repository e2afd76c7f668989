"""The paper recipe's pass (LeNet-5, SDLM, one pattern per update) in one C++ call per chunk.

The Paddle path (lenet5.train.step) costs about a millisecond of framework calls per pattern
for about 2 MFLOP of arithmetic; lenet5.kernels.sdlm_step does the same forward, backward and
SDLM update in C++, pattern after pattern, a chunk of patterns per call. It is the same
mathematics, in another order of float operations: the updates are the same sequence, the
curvature h_kk and the step sizes eta / (mu + h_kk) are still lenet5.train.sdlm's own
(re-estimated before every pass by `SDLM.begin_pass`, on the Paddle model), and the patterns
come in the same shuffled order. tests/test_sdlm_fused.py checks it against the Paddle path.

For a pass, the model's parameters are copied into one float32 buffer, trained there, and
written back to the model when the pass ends (or is interrupted), so evaluation,
checkpoints, resume and export see the Paddle model as before.

Used when the run is the paper's kind of SDLM run (lenet5, batch 1, MAP or MSE, one process on
the CPU) and the library can be built; otherwise the Paddle path runs, as it always did.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lenet5.kernels import sdlm_step
from lenet5.models.lenet1998 import SQUASH_A, SQUASH_S, LeNet5
from lenet5.runtime import import_paddle
from lenet5.train.losses import MAP_J
from lenet5.train.sdlm import SDLM

paddle = import_paddle()

CHUNK = 1000  # patterns per call: a few tenths of a second, so the bar, log lines and Ctrl-C keep up


def network_dims(model: LeNet5, input_side: int) -> tuple[int, ...]:
    """The sizes sdlm_step.cc needs, read off the model's own layers."""
    c1, c3, c5, f6 = model.c1.weight.shape, model.c3.weight.shape, model.c5.weight.shape, model.f6.weight.shape
    classes = model.output.prototypes.shape[0]
    return (input_side, c1[2], model.s2.window, c1[0], c3[0], c5[0], f6[1], classes)


def layout_shapes(dims: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The parameter buffer of sdlm_step.cc, array by array (its header lists the same)."""
    _, k, _, m1, m3, u5, u6, _ = dims
    return [
        (m1, 1, k, k), (m1,), (m1,), (m1,),  # C1 weight, bias; S2 coefficient, bias
        (m3, m1, k, k), (m3,), (m3,), (m3,),  # C3 weight, bias; S4 coefficient, bias
        (u5, m3, k, k), (u5,), (u5, u6), (u6,),  # C5 weight, bias; F6 weight [in, out], bias
    ]  # fmt: skip


def trained_parameters(model: LeNet5) -> list[Any]:
    """C1, S2, C3, S4, C5, F6's parameters in the layout of sdlm_step.cc (each layer's own order)."""
    return [p for layer in model.squashed_layers() for p in layer.parameters()]


class FusedSDLM:
    """Trains `model` with `optimizer`'s step sizes through the C++ step."""

    def __init__(self, model: LeNet5, optimizer: SDLM, criterion: str, input_side: int, lib: Any) -> None:
        self.model, self.optimizer = model, optimizer
        table = model.c3.mask.numpy()[:, :, 0, 0]  # Table I, as the model masks C3
        rbf = model.output.prototypes.numpy()
        dims = network_dims(model, input_side)
        self.trainer = sdlm_step.PatternTrainer(lib, dims, (SQUASH_A, SQUASH_S), table, rbf, criterion, MAP_J)
        self.params = trained_parameters(model)
        if [tuple(p.shape) for p in self.params] != layout_shapes(dims):
            raise ValueError("the model's parameters are not in the fused step's layout")

    def _flat(self, arrays: list[np.ndarray]) -> np.ndarray:
        return np.concatenate([np.asarray(a, dtype=np.float32).ravel() for a in arrays])

    def train_pass(
        self,
        inputs: np.ndarray,
        labels: np.ndarray,
        order: np.ndarray,
        after_chunk: Callable[[int, np.ndarray, np.ndarray], None],
        chunk: int = CHUNK,
    ) -> None:
        """One update per pattern inputs[order[i]], in order; after each chunk,
        `after_chunk(first index, criteria, answers)`. The model holds the result on return."""
        flat = self._flat([p.numpy() for p in self.params])
        steps = self._flat([self.optimizer.step_size(p) for p in self.params])
        inputs = np.ascontiguousarray(inputs, dtype=np.float32)
        try:
            for start in range(0, len(order), chunk):
                losses, answers = self.trainer.train(flat, steps, inputs, labels, order[start : start + chunk])
                after_chunk(start, losses, answers)
        finally:
            self._write_back(flat)

    def _write_back(self, flat: np.ndarray) -> None:
        at = 0
        for p in self.params:
            size = int(np.prod(p.shape))
            p.set_value(flat[at : at + size].reshape(p.shape))
            at += size


def _suitable(session: Any) -> bool:
    """A paper-style SDLM run: one pattern per update of the lenet5 network, in one CPU process."""
    settings = session.settings
    return (
        isinstance(session.optimizer, SDLM)
        and type(session.model) is LeNet5
        and settings.batch_size == 1
        and settings.loss in sdlm_step.CRITERIA
        and session.world.size == 1
        and settings.device == "cpu"
    )


def fused_sdlm_for(session: Any) -> FusedSDLM | None:
    """The fused pass for this run, or None: not a paper-style SDLM run, or no library."""
    if not _suitable(session):
        return None
    lib = sdlm_step.library()
    if lib is None:
        return None
    return FusedSDLM(session.model, session.optimizer, session.settings.loss, session.data.x_train.shape[-1], lib)


def describe(session: Any) -> dict[str, str]:
    """What config.json records about the SDLM updates (nothing for other runs)."""
    if not _suitable(session):
        return {}
    if sdlm_step.library() is None:
        return {"sdlm_step": "paddle", "sdlm_step_reason": sdlm_step.unavailable_reason()}
    return {"sdlm_step": "fused (lenet5.kernels.sdlm_step)"}
