"""Property-based tests: any bytes at all, and above all almost-valid pictures (real headers,
damaged bodies, odd sizes and modes), give a digit or a one-line UserError, never anything
else; through HTTP, never a 5xx. Hypothesis generates and shrinks the inputs; Schemathesis
fuzzes the API from its own OpenAPI schema."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from lenet5.errors import UserError
from lenet5.vision.preprocess import load_digit

FORMATS = {
    "PNG": ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"),
    "JPEG": ("L", "RGB", "CMYK"),
    "GIF": ("L", "P"),
    "TIFF": ("1", "L", "RGB", "RGBA", "I;16", "F", "CMYK"),
    "BMP": ("1", "L", "P", "RGB"),
    "WEBP": ("RGB", "RGBA"),
}
CONTENT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "TIFF": "image/tiff"}
CONTENT_TYPES |= {"BMP": "image/bmp", "WEBP": "image/webp"}
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


@st.composite
def pictures(draw: st.DrawFn) -> tuple[str, bytes, bool]:
    """A real encoded picture of random format, mode, size and content: ink, noise or flat.
    The flag says it clearly holds a stroke, so reading it must give a digit, not an error."""
    fmt = draw(st.sampled_from(sorted(FORMATS)))
    mode = draw(st.sampled_from(FORMATS[fmt]))
    kind = draw(st.sampled_from(["noise", "flat", "stroke"]))
    # Mostly small, sometimes past the 512 px working size and 2048 px (where 16-bit pictures
    # once failed); noise stays small so that encoding it stays fast.
    side = st.integers(1, 300) if kind == "noise" else st.one_of(st.integers(1, 300), st.integers(2000, 2600))
    width, height = draw(side), draw(side)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    background = draw(st.integers(0, 255))
    if kind == "noise":
        gray = rng.integers(0, 256, (height, width), dtype=np.uint8)
    else:
        gray = np.full((height, width), background, dtype=np.uint8)
        if kind == "stroke":
            gray[height // 4 : max(height // 4 + 1, 3 * height // 4), width // 2 : width // 2 + max(1, width // 8)] = 0
    image = Image.fromarray(gray).convert("RGB").convert(mode) if mode not in ("I;16", "I", "F") else None
    if image is None:
        image = Image.fromarray(gray.astype({"I;16": np.uint16, "I": np.int32, "F": np.float32}[mode]) * 200)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    clear = kind == "stroke" and background >= 128 and min(width, height) >= 16 and mode not in ("1", "P", "CMYK")
    return fmt, buffer.getvalue(), clear


@st.composite
def damaged_pictures(draw: st.DrawFn) -> tuple[str, bytes, bool]:
    """A real picture, then truncated, overwritten in places, spliced with junk, or left whole
    (the flag: left whole and clearly holding a stroke)."""
    fmt, data, clear = draw(pictures())
    damage = draw(st.sampled_from(["none", "truncate", "flip", "splice", "header_only"]))
    if damage == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif damage == "flip":
        buffer = bytearray(data)
        for _ in range(draw(st.integers(1, 20))):
            buffer[draw(st.integers(0, len(buffer) - 1))] = draw(st.integers(0, 255))
        data = bytes(buffer)
    elif damage == "splice":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(max_size=200)) + data[at:]
    elif damage == "header_only":
        data = data[:32] + draw(st.binary(max_size=500))
    return fmt, data, clear and damage == "none"


def _digit_or_user_error(data: bytes, must_read: bool = False) -> None:
    try:
        digit = load_digit(data, "fuzz")
    except UserError as exc:
        assert not must_read, f"a whole picture with a clear stroke was refused: {exc}"
        assert str(exc).startswith("fuzz: ") and "\n" not in str(exc)
        return
    assert digit.shape == (28, 28) and digit.dtype == np.uint8


@FUZZ
@given(damaged_pictures())
def test_damaged_pictures_give_a_digit_or_one_line(picture: tuple[str, bytes, bool]) -> None:
    _digit_or_user_error(picture[1], must_read=picture[2])


@FUZZ
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_give_a_digit_or_one_line(data: bytes) -> None:
    _digit_or_user_error(data)


def test_headers_claiming_huge_pictures_are_refused_before_decoding() -> None:
    """A PNG whose header says 60000x60000 (a decompression bomb) costs a header read."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 60000, 60000, 8, 0, 0, 0, 0)
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 10000))
        + chunk(b"IEND", b"")
    )
    with pytest.raises(UserError, match="image too large"):
        load_digit(bomb, "bomb")


@pytest.fixture(scope="module")
def client(trained_run: Path) -> TestClient:
    from lenet5.serve.app import create_app

    return TestClient(create_app(trained_run))


@FUZZ
@given(picture=damaged_pictures(), as_json=st.booleans())
def test_api_never_answers_5xx_to_a_picture(
    client: TestClient, picture: tuple[str, bytes, bool], as_json: bool
) -> None:
    import base64

    fmt, data, clear = picture
    if as_json:
        response = client.post("/api/predict", json={"image": base64.b64encode(data).decode()})
    else:
        response = client.post("/api/predict", content=data, headers={"Content-Type": CONTENT_TYPES[fmt]})
    assert response.status_code in (200, 413, 422), response.text
    assert response.status_code == 200 or not clear, response.text
    if response.status_code == 200:
        assert len(response.json()["probabilities"]) == 10
    else:
        assert response.json()["code"] in ("bad_image", "no_ink", "too_large")


# Schemathesis generates requests for every operation in the app's own OpenAPI schema
# (bodies of every documented content type, headers, methods) and checks each answer:
# no 5xx, and status codes, content types and bodies as the schema documents them.
# Driven through Hypothesis directly: its pytest plugin does not support pytest 9 yet.
# One check is left out: "a schema-valid request is accepted". A PNG can be valid by the
# schema (any bytes) and still be a blank page; the 422 for it is the documented answer.
def test_api_conforms_to_its_schema(trained_run: Path) -> None:
    import schemathesis
    from schemathesis.checks import positive_data_acceptance

    from lenet5.serve.app import create_app

    api = schemathesis.openapi.from_asgi("/openapi.json", create_app(trained_run))
    labels: set[str] = set()

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(case=api.as_strategy())
    def check(case) -> None:
        labels.add(f"{case.method} {case.path}")
        case.call_and_validate(excluded_checks=[positive_data_acceptance])

    check()
    assert labels >= {"POST /api/predict", "GET /api/model", "GET /healthz"}
