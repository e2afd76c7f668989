"""FastAPI app: the drawing page, `POST /api/predict`, `GET /api/model`, `GET /healthz`.

FastAPI + uvicorn because they are the standard small-service stack in Python: request
validation, an OpenAPI page at /docs for free, a test client, and an ASGI server that
handles concurrent clients. The model is loaded once; a lock serialises calls into it
because a Paddle Inference predictor (and an ONNX session's input binding) is one object
shared by all requests. Nothing from a request is unpickled or used as a path.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from PIL import Image

from lenet5.errors import UserError
from lenet5.infer.backends import load_backend
from lenet5.infer.export import resolve_model_folder
from lenet5.infer.preprocess import NoInkError, load_digit

STATIC = Path(__file__).resolve().parent / "static"
DEFAULT_MAX_BYTES = 2 * 1024 * 1024
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/bmp", "image/webp", "image/tiff")


class PredictionService:
    """The loaded model plus what /api/model reports about it."""

    def __init__(self, model_path: str | Path, backend: str = "paddle") -> None:
        self.backend = load_backend(model_path, backend)
        self.backend_name = backend
        self.folder = resolve_model_folder(model_path)
        self._lock = threading.Lock()
        self.info = self._describe()

    def _describe(self) -> dict[str, Any]:
        meta = self.backend.meta
        run_dir = self.folder.parent
        info: dict[str, Any] = {
            "model": meta["model"],
            "backend": self.backend_name,
            "input": meta["input"],
            "normalization": meta["normalization"].to_dict(),
            "test_accuracy": meta.get("test_accuracy"),
        }
        for name, key in (("config.json", "recipe"), ("summary.json", "summary")):
            try:
                data = json.loads((run_dir / name).read_text())
            except (OSError, ValueError):
                continue
            info[key] = data.get("train", data) if key == "recipe" else data
        try:
            from lenet5.models import create_model
            from lenet5.models.summary import layer_table

            info["architecture"] = layer_table(create_model(meta["model"]), meta["model"])
        except (ImportError, UserError):
            info["architecture"] = None
        return info

    def predict(self, digit: np.ndarray) -> np.ndarray:
        x = self.backend.meta["normalization"](digit[None])
        with self._lock:
            return self.backend.probabilities(x)[0]


def _error(status: int, message: str, code: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": message, "code": code})


def _png_base64(digit: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(digit).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The body, or None once it exceeds `limit` (checked as it streams, not only by header)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _image_from_json(body: bytes) -> bytes:
    try:
        payload = json.loads(body)
        encoded = payload["image"]
        if not isinstance(encoded, str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise UserError('JSON body must be {"image": "<base64 PNG or JPEG>"}') from None
    if encoded.startswith("data:"):
        encoded = encoded.partition(",")[2]  # accept a canvas data URL as is
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise UserError("image is not valid base64") from None


def create_app(model_path: str | Path, backend: str = "paddle", max_bytes: int = DEFAULT_MAX_BYTES) -> FastAPI:
    service = PredictionService(model_path, backend)
    app = FastAPI(
        title="lenet5",
        description="Handwritten digit recognition with LeNet-5 on PaddlePaddle. Draw at `/`, call the API here.",
        version=__import__("lenet5").__version__,
    )
    app.state.service = service
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/healthz", summary="Liveness check")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "model": service.info["model"]}

    @app.get("/api/model", summary="The loaded model: architecture, training recipe, test accuracy")
    def model_info() -> dict[str, Any]:
        return service.info

    @app.post(
        "/api/predict",
        summary="Read the digit in an image",
        description="Body: the image bytes (Content-Type image/png, image/jpeg, ...) or JSON "
        '`{"image": "<base64 PNG>"}`. The image gets MNIST-style preprocessing (any polarity, size or '
        "position). Answers the digit, its probability, all ten probabilities, the 28x28 input the model "
        "saw (base64 PNG) and the server-side latency. Errors: 413 body too large, 415 unsupported content "
        "type, 422 undecodable image or no ink.",
        responses={413: {"description": "body too large"}, 415: {"description": "unsupported type"}},
    )
    async def predict(request: Request) -> JSONResponse:
        started = time.perf_counter()
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json" and content_type not in IMAGE_TYPES:
            return _error(415, f"unsupported content type {content_type or '(none)'!r}", "unsupported_type")
        body = await _read_capped(request, max_bytes)
        if body is None:
            return _error(413, f"body larger than {max_bytes} bytes", "too_large")
        try:
            raw = _image_from_json(body) if content_type == "application/json" else body
            digit = load_digit(raw, "upload")
        except NoInkError:
            return _error(422, "no ink found: draw or upload a digit", "no_ink")
        except UserError as exc:
            return _error(422, str(exc), "bad_image")
        probabilities = service.predict(digit)
        best = int(np.argmax(probabilities))
        return JSONResponse(
            {
                "digit": best,
                "probability": float(probabilities[best]),
                "probabilities": [float(p) for p in probabilities],
                "model": service.info["model"],
                "input_png": _png_base64(digit),
                "latency_ms": 1000 * (time.perf_counter() - started),
            }
        )

    return app
