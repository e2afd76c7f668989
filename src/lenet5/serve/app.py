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
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from swagger_ui_bundle import swagger_ui_path

from lenet5.errors import UserError
from lenet5.infer.photo import read_photo_digit
from lenet5.infer.predict import warning_for
from lenet5.serve.bodies import (
    TooLarge,
    TooSlow,
    bad_picture_is_the_clients,
    error,
    image_from_multipart,
    png_base64,
    raw_image,
    read_body,
)
from lenet5.serve.limits import Busy, DecodeSlots, ServerLimits
from lenet5.serve.protocol import OneLineErrors
from lenet5.serve.schemas import ACCEPTED_TYPES, ERROR_RESPONSES, PICTURE_BODY, PredictAnswer, ReadAnswer
from lenet5.serve.services import PredictionService, ReaderService
from lenet5.store.model_folder import DEFAULT_READER, shipped_models
from lenet5.vision.preprocess import NoInkError

STATIC = Path(__file__).resolve().parent / "static"
log = logging.getLogger("lenet5.serve")


PREDICT_DESCRIPTION = (
    "Body: the image bytes (Content-Type image/png, image/jpeg, ...), a multipart form with the image as a "
    'file field (`curl -F file=@digit.png`), or JSON `{"image": "<base64 PNG>"}`. The image gets MNIST-style '
    "preprocessing (any polarity, size or position). Answers the digit, its probability, all ten "
    "probabilities, the 28x28 input the model saw (base64 PNG), the digit's box in the picture, a warning when "
    "the answer should not be trusted (several digits, low confidence) and the server-side latency. Errors: "
    "408 body sent too slowly, 413 body too large, 415 unsupported content type, 422 undecodable image or no "
    "ink, 503 server busy (retry after the Retry-After seconds)."
)
READ_DESCRIPTION = (
    "The same bodies as /api/predict. Every digit of the number, left to right: the ink is over-segmented, the "
    "network scores every grouping of the pieces, and the best path through the segmentation graph is kept "
    "(LeCun et al. 1998, Section V). Answers the number as a string, its confidence (the product of the "
    "digits' probabilities), each digit with its probability and its box in the picture's pixels, the model "
    "and the server-side latency. Errors as for /api/predict."
)


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
        "name": reader.name,
        "model": reader.model,
        "classes": reader.backend.classes,
        "test_accuracy": reader.backend.meta.test_accuracy,
    }
    app = FastAPI(
        lifespan=_one_line_loop_errors,
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
    _add_pages(app)
    _add_info_routes(app, service)
    _add_picture_routes(app, PictureRoutes(service, reader, limits))
    return app


@contextlib.asynccontextmanager
async def _one_line_loop_errors(_app: FastAPI) -> AsyncIterator[None]:
    """The event loop's own errors (a refused accept when descriptors run out, a broken
    transport) logged as one line each, at most once a second: never a traceback each."""
    asyncio.get_running_loop().set_exception_handler(OneLineErrors())
    yield


def _add_pages(app: FastAPI) -> None:
    """The drawing page and the API docs, all served from local files (no CDN)."""
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


def _add_info_routes(app: FastAPI, service: PredictionService) -> None:
    # async: answered on the event loop itself, never queued behind decoding threads.
    @app.get("/healthz", summary="Liveness check")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "model": service.info["model"]}

    @app.get("/api/model", summary="The loaded model: architecture, training recipe, test accuracy")
    async def model_info() -> dict[str, Any]:
        return service.info


def _add_picture_routes(app: FastAPI, routes: PictureRoutes) -> None:
    @app.post(
        "/api/predict",
        summary="Read the digit in an image",
        description=PREDICT_DESCRIPTION,
        openapi_extra={"requestBody": PICTURE_BODY},
        responses={200: {"model": PredictAnswer, "description": "the digit read"}, **ERROR_RESPONSES},
    )
    async def predict(request: Request) -> JSONResponse:
        return await routes.answer(request, "/api/predict", routes.predict_one)

    @app.post(
        "/api/read",
        summary="Read a whole written number (one line of digits)",
        description=READ_DESCRIPTION,
        openapi_extra={"requestBody": PICTURE_BODY},
        responses={200: {"model": ReadAnswer, "description": "the number read"}, **ERROR_RESPONSES},
    )
    async def read(request: Request) -> JSONResponse:
        return await routes.answer(request, "/api/read", routes.read_all)


class PictureRoutes:
    """What /api/predict and /api/read do: take a picture under the request limits, then
    read its digit or its number."""

    def __init__(self, service: PredictionService, reader: ReaderService, limits: ServerLimits) -> None:
        self.service, self.reader, self.limits = service, reader, limits
        self.slots = DecodeSlots(limits.max_concurrent, limits.max_queue)

    async def answer(self, request: Request, route: str, work: Any) -> JSONResponse:
        """The body's formats, its limits, the decoding slots and the error answers;
        `work(body, content_type)` does the rest in a worker thread."""
        started = time.perf_counter()
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in ACCEPTED_TYPES:
            accepted = ", ".join(ACCEPTED_TYPES)
            return error(415, f"unsupported content type {content_type or '(none)'!r}; send one of: {accepted}",
                         "unsupported_type")  # fmt: skip
        try:
            body = await read_body(request, self.limits)
        except TooLarge:
            return error(413, f"body larger than {self.limits.max_bytes} bytes", "too_large")
        except TooSlow:
            return error(408, f"body not received within {self.limits.body_timeout:g} s", "timeout")
        except ClientDisconnect:
            log.warning("client disconnected during upload to %s", route)
            return error(400, "client disconnected", "disconnected")
        try:
            if content_type == "multipart/form-data":
                body, content_type = await image_from_multipart(request, body), "application/octet-stream"
            with self.slots.admit():
                work_done = run_in_threadpool(self.slots.run, work, body, content_type)
                answer = await asyncio.wait_for(work_done, self.limits.request_timeout)
        except TimeoutError:
            limit = self.limits.request_timeout
            return error(503, f"not answered within {limit:g} s; retry later", "timeout", {"Retry-After": "5"})
        except Busy:
            return error(503, "server busy decoding other pictures; retry shortly", "busy", {"Retry-After": "1"})
        except NoInkError:
            return error(422, "no ink found: draw or upload a digit", "no_ink")
        except UserError as exc:
            return error(422, str(exc), "bad_image")
        answer["latency_ms"] = 1000 * (time.perf_counter() - started)
        return JSONResponse(answer)

    def predict_one(self, body: bytes, content_type: str) -> dict[str, Any]:
        with bad_picture_is_the_clients():
            picture = read_photo_digit(raw_image(body, content_type), "upload", max_pixels=self.limits.max_pixels)
        probabilities = self.service.predict(picture.digit)
        best = int(np.argmax(probabilities))
        return {
            "digit": best,
            "probability": float(probabilities[best]),
            "probabilities": [float(p) for p in probabilities],
            "model": self.service.info["model"],
            "box": list(picture.box),
            "warning": warning_for(picture.other_digits, float(probabilities[best])),
            "input_png": png_base64(picture.digit),
        }

    def read_all(self, body: bytes, content_type: str) -> dict[str, Any]:
        reading = self.reader.read(raw_image(body, content_type), self.limits.max_pixels)
        return {**reading, "model": self.reader.model}
