"""The HTTP API through FastAPI's test client: every route and every bad input."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from conftest import DATA_DIR
from lenet5.data import mnist
from lenet5.serve.app import ServerLimits, create_app


@pytest.fixture(scope="module")
def client(trained_run: Path) -> TestClient:
    return TestClient(create_app(trained_run, limits=ServerLimits(max_bytes=200_000)))


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def digit_png() -> tuple[int, bytes]:
    data = mnist.load(DATA_DIR)
    page = Image.new("L", (200, 200), 255)
    page.paste(Image.fromarray(255 - data.test_images[0]).resize((120, 120)), (40, 30))
    return int(data.test_labels[0]), _png(page)


def test_healthz_and_model(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "model": "seed"}
    info = client.get("/api/model").json()
    assert info["model"] == "seed" and info["recipe"]["optimizer"] == "adam"
    assert 0 < info["test_accuracy"] <= 1 and info["summary"]["best_epoch"] in (0, 1)
    assert info["architecture"]["layers"][0]["name"] == "conv1"
    # /api/read's model: the shipped reader, by name, with its junk class; never a path.
    assert info["reader"] == {
        "name": "reader", "model": "seed", "classes": 11, "test_accuracy": info["reader"]["test_accuracy"],
    }  # fmt: skip
    assert 0.99 < info["reader"]["test_accuracy"] <= 1


def test_page_and_assets_are_local(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "<canvas" in page.text
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    assert client.get("/openapi.json").json()["paths"].keys() >= {"/api/predict", "/api/model", "/healthz"}


def test_predict_png_bytes(client: TestClient, digit_png: tuple[int, bytes]) -> None:
    label, png = digit_png
    answer = client.post("/api/predict", content=png, headers={"Content-Type": "image/png"}).json()
    assert set(answer) >= {"digit", "probability", "probabilities", "model", "latency_ms", "input_png"}
    assert len(answer["probabilities"]) == 10 and abs(sum(answer["probabilities"]) - 1) < 1e-4
    assert answer["probability"] == max(answer["probabilities"]) and answer["digit"] == label
    seen = np.asarray(Image.open(io.BytesIO(base64.b64decode(answer["input_png"]))))
    assert seen.shape == (28, 28)


def test_predict_json_base64_and_data_url(client: TestClient, digit_png: tuple[int, bytes]) -> None:
    label, png = digit_png
    encoded = base64.b64encode(png).decode()
    for image in (encoded, f"data:image/png;base64,{encoded}"):
        answer = client.post("/api/predict", json={"image": image})
        assert answer.status_code == 200 and answer.json()["digit"] == label


def test_predict_multipart_upload(client: TestClient, digit_png: tuple[int, bytes]) -> None:
    """What `curl -F file=@digit.png` and browsers' forms send."""
    label, png = digit_png
    answer = client.post("/api/predict", files={"file": ("digit.png", png, "image/png")})
    assert answer.status_code == 200 and answer.json()["digit"] == label
    # Any field name; a form without a file is the client's error, named as such.
    assert client.post("/api/predict", files={"picture": ("d.png", png, "image/png")}).json()["digit"] == label
    no_file = client.post("/api/predict", files={"note": (None, "hello")})
    assert no_file.status_code == 422 and "no file" in no_file.json()["error"]
    broken = client.post("/api/predict", content=png, headers={"Content-Type": "multipart/form-data; boundary=zzz"})
    assert broken.status_code == 422


def test_unsupported_type_lists_the_accepted_ones(client: TestClient) -> None:
    error = client.post("/api/predict", content=b"x", headers={"Content-Type": "text/plain"}).json()["error"]
    for accepted in ("image/png", "image/jpeg", "application/json", "multipart/form-data"):
        assert accepted in error


def test_api_docs_need_no_internet(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    for asset in ("/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-ui.css"):
        response = client.get(asset)
        assert response.status_code == 200 and len(response.content) > 50_000
    # The bundled Swagger UI (4.x) reads OpenAPI 3.0: the document must use nothing of 3.1.
    schema = client.get("/openapi.json").json()
    assert schema["openapi"].startswith("3.0.")
    assert '"null"' not in client.get("/openapi.json").text
    body = schema["paths"]["/api/predict"]["post"]["requestBody"]["content"]
    assert body["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"hello", "text/plain", 415, "unsupported_type"),
        (b"hello", "", 415, "unsupported_type"),
        (b"not a png", "image/png", 422, "bad_image"),
        (b"", "image/png", 422, "bad_image"),
        (b'{"img": 1}', "application/json", 422, "bad_image"),
        (b"{broken", "application/json", 422, "bad_image"),
        (b'{"image": "@@@"}', "application/json", 422, "bad_image"),
    ],
)
def test_bad_requests(client: TestClient, body: bytes, content_type: str, status: int, code: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/api/predict", content=body, headers=headers)
    assert response.status_code == status
    assert response.json()["code"] == code and response.json()["error"]


def test_blank_canvas_is_no_ink(client: TestClient) -> None:
    response = client.post(
        "/api/predict", content=_png(Image.new("L", (280, 280), 255)), headers={"Content-Type": "image/png"}
    )
    assert response.status_code == 422 and response.json()["code"] == "no_ink"


def test_body_too_large(client: TestClient) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (500, 500), dtype=np.uint8)
    big = _png(Image.fromarray(noise))
    assert len(big) > 200_000
    response = client.post("/api/predict", content=big, headers={"Content-Type": "image/png"})
    assert response.status_code == 413 and response.json()["code"] == "too_large"
    # Without a Content-Length (chunked upload) the cap is enforced while reading.
    chunks = (big[i : i + 65536] for i in range(0, len(big), 65536))
    response = client.post("/api/predict", content=chunks, headers={"Content-Type": "image/png"})
    assert response.status_code == 413


def test_truncated_upload_never_500(client: TestClient, digit_png: tuple[int, bytes]) -> None:
    _, png = digit_png
    for cut in (8, 40, len(png) // 2):
        response = client.post("/api/predict", content=png[:cut], headers={"Content-Type": "image/png"})
        assert response.status_code == 422


def test_concurrent_requests_agree(client: TestClient, digit_png: tuple[int, bytes]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    _, png = digit_png

    def call(_i: int) -> list[float]:
        return client.post("/api/predict", content=png, headers={"Content-Type": "image/png"}).json()["probabilities"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(call, range(24)))
    assert all(r == results[0] for r in results)
