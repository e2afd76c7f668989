"""Request bodies: read under a size cap and a time limit, in any of the accepted forms
(the picture itself, a multipart form, JSON with base64), and the error answers."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import io
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
from fastapi import Request
from fastapi.responses import JSONResponse
from PIL import Image

from lenet5.errors import UserError
from lenet5.serve.limits import ServerLimits


def error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": message, "code": code}, headers=headers)


def png_base64(digit: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(digit).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


class TooLarge(Exception):
    pass


class TooSlow(Exception):
    pass


async def read_body(request: Request, limits: ServerLimits) -> bytes:
    """The body, capped in size (checked as it streams, not only by header) and in time."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_bytes:
        raise TooLarge
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
            raise TooSlow from None
        size += len(chunk)
        if size > limits.max_bytes:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def image_from_json(body: bytes) -> bytes:
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


async def image_from_multipart(request: Request, body: bytes) -> bytes:
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


def raw_image(body: bytes, content_type: str) -> bytes:
    return image_from_json(body) if content_type == "application/json" else body


@contextlib.contextmanager
def bad_picture_is_the_clients() -> Iterator[None]:
    """Every failure inside is a UserError (the client's picture, never a 500): a decoder's
    own surprise on crafted bytes is still a bad picture."""
    try:
        yield
    except UserError:
        raise
    except Exception as exc:
        raise UserError(f"upload: cannot decode the image ({type(exc).__name__})") from None
