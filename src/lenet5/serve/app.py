"""FastAPI app: the drawing page, `POST /api/predict`, `GET /api/model`, `GET /healthz`.

FastAPI + uvicorn because they are the standard small-service stack in Python: request
validation, an OpenAPI page at /docs for free, a test client, and an ASGI server that
handles concurrent clients. /docs is Swagger UI served from the `swagger-ui-bundle` package,
so it works with no internet. The model is loaded once; a lock serialises calls into it
because a Paddle Inference predictor (and an ONNX session's input binding) is one object
shared by all requests. Nothing from a request is unpickled or used as a path.

Staying responsive under hostile load: a request body is read with a size cap and a time
limit (413, 408); decoding and preprocessing, the CPU-heavy part, run in worker threads,
never in the event loop, so `/healthz` answers in milliseconds while pictures are being
decoded; at most `max_concurrent` pictures are decoded at once and `max_queue` more may
wait, beyond which requests get 503 with Retry-After instead of an unbounded queue; and the
server has its own pixel budget, lower than the command line's.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import io
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from PIL import Image
from pydantic import BaseModel, Field, WithJsonSchema
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from swagger_ui_bundle import swagger_ui_path

from lenet5.errors import UserError
from lenet5.infer.backends import load_backend
from lenet5.infer.predict import warning_for
from lenet5.reader.read import read_file
from lenet5.store.model_folder import DEFAULT_READER, resolve_model_folder, shipped_models
from lenet5.vision.preprocess import NoInkError, PictureDigit, read_picture

STATIC = Path(__file__).resolve().parent / "static"
DEFAULT_MAX_BYTES = 2 * 1024 * 1024
log = logging.getLogger("lenet5.serve")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/bmp", "image/webp", "image/tiff")
ACCEPTED_TYPES = (*IMAGE_TYPES, "application/json", "multipart/form-data")


@dataclass(frozen=True)
class ServerLimits:
    """What one request may cost. `lenet5 serve --help` lists the flags for each."""

    max_bytes: int = DEFAULT_MAX_BYTES  # request body
    max_pixels: int = 16_000_000  # decoded picture (a 12 MP phone photo fits; the CLI allows 50 MP)
    max_concurrent: int = 2  # pictures decoded at once (decoding is CPU-bound: about the cores)
    max_queue: int = 16  # requests waiting for a decoding slot; beyond: 503
    body_timeout: float = 10.0  # seconds to receive a whole body; beyond: 408


# Keys of a run's config.json / summary.json that /api/model reports: names and numbers,
# never file paths of the machine serving it.
_RECIPE_KEYS = (
    "model", "optimizer", "lr", "batch_size", "epochs", "loss", "seed", "val_size", "train_limit",
    "test_limit", "select_by", "distort", "distort_fraction", "distort_strength", "init",
)  # fmt: skip
_SUMMARY_KEYS = (
    "model", "selected_by", "best_epoch", "val_cost", "val_accuracy", "test_cost", "test_accuracy", "epochs",
    "final_train_cost", "final_train_accuracy", "train_seconds", "wall_seconds", "images_per_second",
)  # fmt: skip


class PredictAnswer(BaseModel):
    """The body of a 200 from /api/predict (documents the schema on /docs)."""

    digit: int = Field(ge=0, le=9)
    probability: float
    probabilities: list[float] = Field(min_length=10, max_length=10)
    model: str
    box: list[int] = Field(description="[x0, y0, x1, y1] of the digit in the uploaded picture's pixels")
    # OpenAPI 3.0's spelling of an optional string (pydantic would write 3.1's `type: null`).
    warning: Annotated[str | None, WithJsonSchema({"type": "string", "nullable": True})] = Field(
        description="set when the answer should not be trusted"
    )
    input_png: str = Field(description="the 28x28 image the model saw, base64 PNG")
    latency_ms: float


class ReadDigitAnswer(BaseModel):
    digit: int = Field(ge=0, le=9)
    probability: float
    box: list[int] = Field(description="[x0, y0, x1, y1] of the digit in the uploaded picture's pixels")


class ReadAnswer(BaseModel):
    """The body of a 200 from /api/read."""

    file: str
    number: str = Field(description="the digits read, left to right")
    confidence: float = Field(description="the product of the digits' probabilities")
    digits: list[ReadDigitAnswer]
    model: str
    latency_ms: float


# The request body both picture routes take, for /docs ("Try it out" offers a file picker).
PICTURE_BODY: dict[str, Any] = {
    "required": True,
    "description": "The picture itself, a form with the picture as a file, or JSON with it in base64.",
    "content": {
        "multipart/form-data": {  # listed first: Swagger UI's "Try it out" then offers a file picker
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        },
        **{kind: {"schema": {"type": "string", "format": "binary"}} for kind in IMAGE_TYPES},
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["image"],
                "properties": {"image": {"type": "string", "description": "base64 PNG or JPEG, or a data: URL"}},
            }
        },
    },
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    408: {"description": "body not received in time"},
    413: {"description": "body too large"},
    415: {"description": "unsupported type"},
    422: {"description": "not a readable picture of a digit"},
    503: {"description": "too many pictures being decoded; retry later"},
}


class PredictionService:
    """The loaded model plus what /api/model reports about it."""

    def __init__(self, model_path: str | Path | None, backend: str | None = None) -> None:
        self.backend = load_backend(model_path, backend)
        self.backend_name = self.backend.name
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
        for name, key, keep in (("config.json", "recipe", _RECIPE_KEYS), ("summary.json", "summary", _SUMMARY_KEYS)):
            try:
                data = json.loads((run_dir / name).read_text())
                data = data.get("train", data) if key == "recipe" else data
            except (OSError, ValueError, RecursionError, AttributeError):
                continue
            if isinstance(data, dict):
                info[key] = {k: data[k] for k in keep if k in data}
        if info.get("recipe", {}).get("model") != "lenet5":
            info.get("recipe", {}).pop("init", None)  # a lenet5-only setting
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


class _LockedScores:
    """A backend whose model calls take a lock (the runtimes' predictor objects are shared)."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self._lock = threading.Lock()
        self.meta = backend.meta
        self.classes = backend.classes
        self.name = backend.name

    def scores(self, inputs: np.ndarray) -> np.ndarray:
        with self._lock:
            return self._backend.scores(inputs)


class ReaderService:
    """The model behind /api/read: the shipped reader model unless told otherwise."""

    def __init__(self, model_path: str | Path | None, backend: str | None = None) -> None:
        self.backend = _LockedScores(load_backend(model_path, backend))
        self.model = self.backend.meta["model"]
        self.folder = resolve_model_folder(model_path)

    def read(self, raw: bytes, max_pixels: int) -> dict[str, Any]:
        with _bad_picture_is_the_clients():
            reading, _ = read_file(self.backend, raw, "upload", max_pixels=max_pixels)
        return reading.to_json()


class _Busy(Exception):
    """Every decoding slot and every queue place is taken."""


class DecodeSlots:
    """At most `running` decodes at once, at most `queued` more waiting; others are refused.

    Thread-based (a counter under a lock, a semaphore taken in the worker thread), so it
    works whatever event loop runs the app, including a test client's."""

    def __init__(self, running: int, queued: int) -> None:
        self._running = threading.BoundedSemaphore(running)
        self._limit = running + queued
        self._admitted = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def admit(self) -> Iterator[None]:
        with self._lock:
            if self._admitted >= self._limit:
                raise _Busy
            self._admitted += 1
        try:
            yield
        finally:
            with self._lock:
                self._admitted -= 1

    def run(self, work: Any, *args: Any) -> Any:
        """Called in a worker thread: wait for a slot, then do the work."""
        with self._running:
            return work(*args)


def _error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": message, "code": code}, headers=headers)


def _png_base64(digit: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(digit).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


class _TooLarge(Exception):
    pass


class _TooSlow(Exception):
    pass


async def _read_body(request: Request, limits: ServerLimits) -> bytes:
    """The body, capped in size (checked as it streams, not only by header) and in time."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_bytes:
        raise _TooLarge
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limits.body_timeout
    chunks, size = [], 0
    stream = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), max(0.0, deadline - loop.time()))
        except StopAsyncIteration:
            break
        except TimeoutError:
            raise _TooSlow from None
        size += len(chunk)
        if size > limits.max_bytes:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _image_from_json(body: bytes) -> bytes:
    try:
        payload = json.loads(body)
        encoded = payload["image"]
        if not isinstance(encoded, str):
            raise TypeError
    except (ValueError, KeyError, TypeError, RecursionError):  # RecursionError: JSON nested 1,000 deep
        raise UserError('JSON body must be {"image": "<base64 PNG or JPEG>"}') from None
    if encoded.startswith("data:"):
        encoded = encoded.partition(",")[2]  # accept a canvas data URL as is
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise UserError("image is not valid base64") from None


async def _image_from_multipart(request: Request, body: bytes) -> bytes:
    """The first file of a multipart/form-data body (`curl -F file=@digit.png`), parsed by
    Starlette with python-multipart from the bytes already read under the size and time caps."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        async with Request(request.scope, receive).form(max_files=4, max_fields=16) as form:
            for value in form.values():
                if not isinstance(value, str):  # an UploadFile
                    return await value.read()
    except Exception as exc:  # python-multipart's errors for a malformed body
        raise UserError(f"malformed multipart body ({type(exc).__name__})") from None
    raise UserError("multipart body has no file; send the picture as a file field, e.g. -F file=@digit.png")


def _raw_image(body: bytes, content_type: str) -> bytes:
    return _image_from_json(body) if content_type == "application/json" else body


@contextlib.contextmanager
def _bad_picture_is_the_clients() -> Iterator[None]:
    """Every failure inside is a UserError (the client's picture, never a 500): a decoder's
    own surprise on crafted bytes is still a bad picture."""
    try:
        yield
    except UserError:
        raise
    except Exception as exc:
        raise UserError(f"upload: cannot decode the image ({type(exc).__name__})") from None


def _decode(body: bytes, content_type: str, max_pixels: int) -> PictureDigit:
    """Body -> the digit found in it."""
    raw = _raw_image(body, content_type)
    with _bad_picture_is_the_clients():
        return read_picture(raw, "upload", max_pixels=max_pixels)


def create_app(
    model_path: str | Path | None = None,
    backend: str | None = None,
    limits: ServerLimits | None = None,
    reader_path: str | Path | None = None,
) -> FastAPI:
    """`reader_path`: the model behind /api/read (default: the shipped reader model, else
    the same model as /api/predict)."""
    limits = limits or ServerLimits()
    service = PredictionService(model_path, backend)
    if reader_path is None:
        reader_path = DEFAULT_READER if DEFAULT_READER in shipped_models() else model_path
    reader = ReaderService(reader_path, backend)
    service.info["reader"] = {  # the model behind /api/read, by name (never a path)
        "name": reader.folder.name if reader.folder.parent.name == "pretrained" else None,
        "model": reader.model,
        "classes": reader.backend.classes,
        "test_accuracy": reader.backend.meta.get("test_accuracy"),
    }
    slots = DecodeSlots(limits.max_concurrent, limits.max_queue)
    app = FastAPI(
        title="lenet5",
        description="Handwritten digit recognition with LeNet-5 on PaddlePaddle. Draw at `/`, call the API here.",
        version=__import__("lenet5").__version__,
        docs_url=None,  # replaced below by a page whose assets are local, not a CDN's
        redoc_url=None,
    )
    # swagger-ui-bundle ships Swagger UI 4.15, which reads OpenAPI 3.0 documents only; this
    # schema uses nothing of 3.1 (a test checks), so it is declared as what it is.
    app.openapi_version = "3.0.3"
    app.state.service = service
    app.state.limits = limits
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="lenet5 API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    # async: answered on the event loop itself, never queued behind decoding threads.
    @app.get("/healthz", summary="Liveness check")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "model": service.info["model"]}

    @app.get("/api/model", summary="The loaded model: architecture, training recipe, test accuracy")
    async def model_info() -> dict[str, Any]:
        return service.info

    async def answer_picture(request: Request, route: str, work: Any) -> JSONResponse:
        """What /api/predict and /api/read share: the body's formats, its limits, the
        decoding slots and the error answers; `work(body, content_type)` does the rest."""
        started = time.perf_counter()
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in ACCEPTED_TYPES:
            return _error(
                415,
                f"unsupported content type {content_type or '(none)'!r}; send one of: {', '.join(ACCEPTED_TYPES)}",
                "unsupported_type",
            )
        try:
            body = await _read_body(request, limits)
        except _TooLarge:
            return _error(413, f"body larger than {limits.max_bytes} bytes", "too_large")
        except _TooSlow:
            return _error(408, f"body not received within {limits.body_timeout:g} s", "timeout")
        except ClientDisconnect:
            log.warning("client disconnected during upload to %s", route)
            return _error(400, "client disconnected", "disconnected")
        try:
            if content_type == "multipart/form-data":
                body, content_type = await _image_from_multipart(request, body), "application/octet-stream"
            with slots.admit():
                answer = await run_in_threadpool(slots.run, work, body, content_type)
        except _Busy:
            return _error(503, "server busy decoding other pictures; retry shortly", "busy", {"Retry-After": "1"})
        except NoInkError:
            return _error(422, "no ink found: draw or upload a digit", "no_ink")
        except UserError as exc:
            return _error(422, str(exc), "bad_image")
        answer["latency_ms"] = 1000 * (time.perf_counter() - started)
        return JSONResponse(answer)

    def predict_one(body: bytes, content_type: str) -> dict[str, Any]:
        picture = _decode(body, content_type, limits.max_pixels)
        probabilities = service.predict(picture.digit)
        best = int(np.argmax(probabilities))
        return {
            "digit": best,
            "probability": float(probabilities[best]),
            "probabilities": [float(p) for p in probabilities],
            "model": service.info["model"],
            "box": list(picture.box),
            "warning": warning_for(picture.other_digits, float(probabilities[best])),
            "input_png": _png_base64(picture.digit),
        }

    def read_all(body: bytes, content_type: str) -> dict[str, Any]:
        return {**reader.read(_raw_image(body, content_type), limits.max_pixels), "model": reader.model}

    @app.post(
        "/api/predict",
        summary="Read the digit in an image",
        description="Body: the image bytes (Content-Type image/png, image/jpeg, ...), a multipart form "
        'with the image as a file field (`curl -F file=@digit.png`), or JSON `{"image": "<base64 PNG>"}`. '
        "The image gets MNIST-style preprocessing (any polarity, size or "
        "position). Answers the digit, its probability, all ten probabilities, the 28x28 input the model "
        "saw (base64 PNG), the digit's box in the picture, a warning when the answer should not be trusted "
        "(several digits, low confidence) and the server-side latency. Errors: 408 body sent too slowly, 413 body too "
        "large, 415 unsupported content type, 422 undecodable image or no ink, 503 server busy (retry "
        "after the Retry-After seconds).",
        openapi_extra={"requestBody": PICTURE_BODY},
        responses={200: {"model": PredictAnswer, "description": "the digit read"}, **ERROR_RESPONSES},
    )
    async def predict(request: Request) -> JSONResponse:
        return await answer_picture(request, "/api/predict", predict_one)

    @app.post(
        "/api/read",
        summary="Read a whole written number (one line of digits)",
        description="The same bodies as /api/predict. Every digit of the number, left to right: the ink is "
        "over-segmented, the network scores every grouping of the pieces, and the best path through the "
        "segmentation graph is kept (LeCun et al. 1998, Section V). Answers the number as a string, its "
        "confidence (the product of the digits' probabilities), each digit with its probability and its box "
        "in the picture's pixels, the model and the server-side latency. Errors as for /api/predict.",
        openapi_extra={"requestBody": PICTURE_BODY},
        responses={200: {"model": ReadAnswer, "description": "the number read"}, **ERROR_RESPONSES},
    )
    async def read(request: Request) -> JSONResponse:
        return await answer_picture(request, "/api/read", read_all)

    return app
