"""Backends that run an exported model folder on normalised inputs and return probabilities."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from lenet5.errors import UserError
from lenet5.store.files import read_bytes, regular_file
from lenet5.store.model_folder import (
    ONNX_FILE,
    PADDLE_GRAPH,
    PADDLE_PARAMS,
    ModelMeta,
    detect_backend,
    load_meta,
    resolve_model_folder,
)

MAX_MODEL_BYTES = 64 * 1024 * 1024  # LeNet-5 models are under 1 MB; a bigger file is not one of ours


class Backend(Protocol):
    name: str
    meta: ModelMeta
    classes: int

    def probabilities(self, inputs: np.ndarray) -> np.ndarray: ...

    def scores(self, inputs: np.ndarray) -> np.ndarray: ...


class _Runner:
    """What both runtimes share: a model's raw output, and the ten digits' probabilities.

    A model trained with a junk class (lenet5.reader.junk) has 11 outputs; `probabilities`
    then gives the ten digits' share of them, renormalised, so reading one digit is the
    same whatever the model; `scores` gives all of them (the number reader uses the junk
    class to reject pieces that are not one whole digit)."""

    classes = 10

    def scores(self, inputs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def probabilities(self, inputs: np.ndarray) -> np.ndarray:
        return digit_probabilities(self.scores(inputs), self.meta)


def digit_probabilities(scores: np.ndarray, meta: ModelMeta) -> np.ndarray:
    """The ten digits' probabilities from a model's scores: the junk class (if any) left
    out and the rest renormalised, then the model's calibrated temperature applied
    (p_i proportional to p_i^(1/T), fitted on validation digits: bench/calibration.py)."""
    digits = scores[:, :10].astype(np.float64)
    temperature = meta.calibration.temperature if meta.calibration else 1.0
    if temperature != 1.0:
        logits = np.log(np.maximum(digits, 1e-30)) / temperature
        digits = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (digits / np.maximum(digits.sum(axis=1, keepdims=True), 1e-30)).astype(np.float32)


class PaddleInferenceBackend(_Runner):
    """Paddle Inference predictor (`paddle.inference`), the deployment runtime."""

    name = "paddle"

    def __init__(self, path: str | Path | None, label: object = None) -> None:
        folder = resolve_model_folder(path)
        label = label or folder
        self.meta = load_meta(folder)
        json_path, params_path = folder / PADDLE_GRAPH, folder / PADDLE_PARAMS
        for required in (json_path, params_path):
            if not required.is_file() and not required.is_symlink():
                raise UserError(f"{required}: missing from model folder")
            regular_file(required, MAX_MODEL_BYTES, "Paddle Inference model file")
        from lenet5.runtime import import_paddle, prefer_fast_mkl

        prefer_fast_mkl()
        inference = import_paddle().inference
        config = inference.Config(str(json_path), str(params_path))
        config.disable_gpu()
        config.disable_glog_info()
        try:
            self._predictor = inference.create_predictor(config)
        except Exception as exc:  # Paddle raises bare RuntimeErrors/ValueErrors for bad files
            raise UserError(f"{label}: Paddle Inference cannot load the model ({type(exc).__name__})") from None
        self._input = self._predictor.get_input_handle(self._predictor.get_input_names()[0])
        self._output = self._predictor.get_output_handle(self._predictor.get_output_names()[0])

    def scores(self, inputs: np.ndarray) -> np.ndarray:
        inputs = np.ascontiguousarray(inputs, dtype=np.float32)
        self._input.reshape(list(inputs.shape))
        self._input.copy_from_cpu(inputs)
        self._predictor.run()
        return self._output.copy_to_cpu()


class OnnxRuntimeBackend(_Runner):
    """ONNX Runtime on the folder's `model.onnx`, or on a conversion made in memory."""

    name = "onnx"

    def __init__(self, path: str | Path | None, label: object = None) -> None:
        folder = resolve_model_folder(path)
        label = label or folder
        self.meta = load_meta(folder)
        try:
            import onnxruntime as ort
        except ImportError:
            raise UserError("--backend onnx needs onnxruntime: pip install onnxruntime") from None
        onnx_file = folder / ONNX_FILE
        if onnx_file.is_file():
            model = read_bytes(onnx_file, MAX_MODEL_BYTES, "ONNX model")
        else:
            from lenet5.infer.convert import convert_to_onnx  # imports Paddle: only for folders without ONNX

            model = convert_to_onnx(folder)
        options = ort.SessionOptions()
        options.log_severity_level = 3  # unused-initializer notices from converted graphs are noise
        options.intra_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise UserError(f"{label}: ONNX Runtime cannot load the model ({type(exc).__name__})") from None
        self._input = self._session.get_inputs()[0].name

    def scores(self, inputs: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input: np.ascontiguousarray(inputs, dtype=np.float32)})[0]


BACKENDS = {"paddle": PaddleInferenceBackend, "onnx": OnnxRuntimeBackend}


def load_backend(path: str | Path | None, backend: str | None = None, label: object = None) -> Backend:
    """Open a model folder and run it once on a blank input, so a truncated parameter file
    or a graph that does not take the input its `lenet5.json` describes fails here, with one
    line naming the folder, and never in the middle of a user's batch or a server request."""
    folder = resolve_model_folder(path)
    backend = backend or detect_backend(folder)
    if backend not in BACKENDS:
        raise UserError(f"--backend {backend}: choose from {', '.join(BACKENDS)}")
    runner = BACKENDS[backend](folder, label or (path if path is not None else folder))
    blank = runner.meta.normalize(np.zeros((1, 28, 28), dtype=np.uint8))
    try:
        out = runner.scores(blank)
    except Exception as exc:  # the runtimes raise their own types for broken graphs
        raise UserError(f"{label or path}: the model does not run ({type(exc).__name__})") from None
    if np.shape(out) not in ((1, 10), (1, 11)) or not np.all(np.isfinite(out)):
        raise UserError(f"{label or path}: the model does not output 10 probabilities (or 11, with a junk class)")
    runner.classes = int(np.shape(out)[1])
    return runner


def predict_batched(backend: Backend, inputs: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    return np.concatenate(
        [backend.probabilities(inputs[i : i + batch_size]) for i in range(0, len(inputs), batch_size)]
    )
