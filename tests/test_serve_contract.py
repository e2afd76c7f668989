"""`lenet5.serve.limits` and `lenet5.serve.bodies` on their own: decoding slots, and request
bodies read from a hand-driven ASGI stream (no server, no model: `make mutation` runs these)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pytest
from PIL import Image
from starlette.requests import Request

from lenet5.errors import UserError
from lenet5.serve.bodies import (
    TooLarge,
    TooSlow,
    bad_picture_is_the_clients,
    error,
    image_from_json,
    image_from_multipart,
    png_base64,
    raw_image,
    read_body,
)
from lenet5.serve.limits import Busy, DecodeSlots, ServerLimits

# decoding slots


def test_slots_admit_running_plus_queued_then_refuse() -> None:
    slots = DecodeSlots(running=2, queued=1)
    with slots.admit(), slots.admit(), slots.admit(), pytest.raises(Busy), slots.admit():
        pass
    with slots.admit(), slots.admit(), slots.admit():  # every place is given back
        pass


def test_a_refused_request_takes_no_place() -> None:
    slots = DecodeSlots(running=1, queued=0)
    with slots.admit():
        for _ in range(3):
            with pytest.raises(Busy), slots.admit():
                pass
    with slots.admit():
        pass


def test_a_failing_request_gives_its_place_back() -> None:
    slots = DecodeSlots(running=1, queued=0)
    with pytest.raises(RuntimeError), slots.admit():
        raise RuntimeError
    with slots.admit():
        pass


def test_run_does_the_work_in_at_most_running_threads_at_once() -> None:
    slots = DecodeSlots(running=2, queued=8)
    inside, most, lock = 0, 0, threading.Lock()
    release = threading.Event()

    def work(x: int) -> int:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        release.wait(5)
        with lock:
            inside -= 1
        return x * 10

    results: list[int] = []
    threads = [threading.Thread(target=lambda i=i: results.append(slots.run(work, i))) for i in range(5)]
    for thread in threads:
        thread.start()
    threading.Timer(0.3, release.set).start()
    for thread in threads:
        thread.join(10)
    assert most == 2
    assert sorted(results) == [0, 10, 20, 30, 40]


def test_default_limits() -> None:
    limits = ServerLimits()
    assert limits.max_bytes == 2 * 1024 * 1024
    assert limits.max_concurrent >= 1


# request bodies


def _request(
    chunks: list[bytes],
    headers: dict[str, str] | None = None,
    stall: float | None = None,
) -> Request:
    """A request whose body arrives as `chunks`; after them, a stall of `stall` seconds."""
    pending = list(chunks)

    async def receive() -> dict[str, Any]:
        if pending:
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending) or stall is not None}
        if stall is not None:
            await asyncio.sleep(stall)
        return {"type": "http.request", "body": b"", "more_body": False}

    raw_headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request({"type": "http", "method": "POST", "headers": raw_headers}, receive)


def _run(coro: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(coro())


def test_a_body_in_chunks_is_joined() -> None:
    body = _run(lambda: read_body(_request([b"ab", b"", b"cd"]), ServerLimits(max_bytes=4)))
    assert body == b"abcd"


def test_a_body_over_the_cap_is_refused_as_it_streams() -> None:
    with pytest.raises(TooLarge):
        _run(lambda: read_body(_request([b"abc", b"de"]), ServerLimits(max_bytes=4)))


@pytest.mark.parametrize(("declared", "refused"), [("5", True), ("4", False), ("x5", False), ("-1", False)])
def test_the_declared_length_is_checked_before_reading(declared: str, refused: bool) -> None:
    request = _request([b"ab"], headers={"content-length": declared})
    if refused:
        with pytest.raises(TooLarge):
            _run(lambda: read_body(request, ServerLimits(max_bytes=4)))
    else:
        assert _run(lambda: read_body(request, ServerLimits(max_bytes=4))) == b"ab"


def test_a_stalled_body_is_too_slow_within_its_time() -> None:
    async def timed() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(TooSlow):
            await read_body(_request([b"ab"], stall=30), ServerLimits(body_timeout=0.2))
        return loop.time() - start

    assert 0.15 < asyncio.run(timed()) < 2


def test_the_time_limit_is_for_the_whole_body() -> None:
    # each chunk in time, the whole too late: the deadline is not renewed per chunk
    async def receive_slowly() -> bytes:
        chunks = iter([b"a"] * 6)

        async def receive() -> dict[str, Any]:
            await asyncio.sleep(0.1)
            chunk = next(chunks, None)
            return {"type": "http.request", "body": chunk or b"", "more_body": chunk is not None}

        request = Request({"type": "http", "method": "POST", "headers": []}, receive)
        return await read_body(request, ServerLimits(body_timeout=0.35))

    with pytest.raises(TooSlow):
        asyncio.run(receive_slowly())


def _png(value: int = 7) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (3, 2), value).save(buffer, format="PNG")
    return buffer.getvalue()


def test_png_base64_round_trips() -> None:
    digit = np.arange(6, dtype=np.uint8).reshape(2, 3)
    decoded = Image.open(io.BytesIO(base64.b64decode(png_base64(digit))))
    assert decoded.format == "PNG"
    np.testing.assert_array_equal(np.asarray(decoded), digit)


def test_error_answers_are_json_with_a_code() -> None:
    response = error(413, "too big", "too_large", headers={"Retry-After": "1"})
    assert response.status_code == 413
    assert json.loads(response.body) == {"error": "too big", "code": "too_large"}
    assert response.headers["retry-after"] == "1"


def test_json_bodies_carry_base64_or_a_data_url() -> None:
    png = _png()
    encoded = base64.b64encode(png).decode()
    assert image_from_json(json.dumps({"image": encoded}).encode()) == png
    assert image_from_json(json.dumps({"image": "data:image/png;base64," + encoded}).encode()) == png
    assert raw_image(json.dumps({"image": encoded}).encode(), "application/json") == png
    assert raw_image(png, "image/png") == png


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"picture": "x"}', b'{"image": 5}', b'["image"]', b"[" * 5000 + b"]" * 5000],
)
def test_a_json_body_of_another_shape_is_one_line(body: bytes) -> None:
    with pytest.raises(UserError) as excinfo:
        image_from_json(body)
    assert str(excinfo.value) == 'JSON body must be {"image": "<base64 PNG or JPEG>"}'


@pytest.mark.parametrize(
    "encoded",
    [
        "abc",
        "ab!d",
        "data:image/png;base64,ab=c",
        "éé",
        "YWJj!ZGVm",  # base64 of "abcdef" with a stray character: refused, not skipped
        "YWJj ZGVm",
        "data:image/png;base64,YWJj,ZGVm",  # everything after the first comma is the payload
    ],
)
def test_bad_base64_is_one_line(encoded: str) -> None:
    with pytest.raises(UserError) as excinfo:
        image_from_json(json.dumps({"image": encoded}).encode())
    assert str(excinfo.value) == "image is not valid base64"


def _multipart(*parts: tuple[str, str | None, bytes]) -> tuple[bytes, dict[str, str]]:
    boundary = "XyZ"
    body = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + content + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return body, {"content-type": f"multipart/form-data; boundary={boundary}"}


def test_multipart_gives_the_first_file() -> None:
    body, headers = _multipart(("note", None, b"hello"), ("file", "a.png", b"PNG-A"), ("other", "b.png", b"PNG-B"))
    request = _request([], headers=headers)
    assert _run(lambda: image_from_multipart(request, body)) == b"PNG-A"


def test_multipart_without_a_file_is_one_line() -> None:
    body, headers = _multipart(("note", None, b"hello"))
    with pytest.raises(UserError) as excinfo:
        _run(lambda: image_from_multipart(_request([], headers=headers), body))
    assert str(excinfo.value) == (
        "multipart body has no file; send the picture as a file field, e.g. -F file=@digit.png"
    )


def test_multipart_limits_its_files_and_fields() -> None:
    body, headers = _multipart(*[(f"f{i}", f"{i}.png", b"x") for i in range(5)])
    with pytest.raises(UserError, match=r"^malformed multipart body \(MultiPartException\)$"):
        _run(lambda: image_from_multipart(_request([], headers=headers), body))
    four, headers = _multipart(*[(f"f{i}", f"{i}.png", b"x") for i in range(4)])
    assert _run(lambda: image_from_multipart(_request([], headers=headers), four)) == b"x"
    fields, headers = _multipart(*[(f"n{i}", None, b"x") for i in range(17)], ("file", "a.png", b"y"))
    with pytest.raises(UserError, match="malformed multipart body"):
        _run(lambda: image_from_multipart(_request([], headers=headers), fields))
    sixteen, headers = _multipart(*[(f"n{i}", None, b"x") for i in range(15)], ("file", "a.png", b"y"))
    assert _run(lambda: image_from_multipart(_request([], headers=headers), sixteen)) == b"y"


def test_decoder_surprises_become_the_clients_error() -> None:
    with pytest.raises(UserError) as excinfo, bad_picture_is_the_clients():
        raise ZeroDivisionError
    assert str(excinfo.value) == "upload: cannot decode the image (ZeroDivisionError)"
    with pytest.raises(UserError) as excinfo, bad_picture_is_the_clients():
        raise UserError("upload: too many pixels")
    assert str(excinfo.value) == "upload: too many pixels"
    with bad_picture_is_the_clients():
        pass
