"""Speed of turning a picture into an MNIST digit (decode + lenet5.vision.preprocess), no model.

    python bench/preprocess_speed.py [--repeats 50]

Two pictures: a 12 MP phone-style JPEG (4000x3000, quality 90, a digit of about 600 px on
paper with a light gradient and sensor noise) and a 300 px PNG of a drawn digit. For each,
the p50/p99 of bytes -> 28x28 digit (decode included), and of decoded picture -> digit.

    python bench/preprocess_speed.py --decoders

times decoding the JPEG alone at each DCT scale (Pillow's draft and OpenCV's reduced
decoders): the floor under any preprocessing of a phone photo.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import percentiles, write_result

from lenet5.vision.preprocess import analyse, open_image, read_picture


def phone_jpeg() -> bytes:
    rng = np.random.default_rng(0)
    h, w = 3000, 4000
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    paper = 225 - 60 * xs / w - 20 * ys / h + rng.normal(0, 4, (h, w)).astype(np.float32)
    image = Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8)).convert("RGB")
    ImageDraw.Draw(image).line([(1700, 1200), (2300, 1200), (1900, 1800)], fill=(30, 40, 140), width=40)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def small_png() -> bytes:
    image = Image.new("L", (300, 300), 245)
    ImageDraw.Draw(image).line([(90, 70), (210, 70), (130, 240)], fill=20, width=16)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def timed(work, repeats: int) -> dict[str, float]:
    work()  # warm-up
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        samples.append(1000 * (time.perf_counter() - started))
    return percentiles(samples)


def decoders(data: bytes, repeats: int) -> dict[str, dict[str, float]]:
    """p50/p99 of decoding the JPEG alone, in grey, at each scale libjpeg offers."""
    import cv2

    def pillow(longer: int):
        def decode():
            image = Image.open(io.BytesIO(data))
            image.draft("L", (longer, longer * image.height // image.width))
            image.load()

        return decode

    buffer = np.frombuffer(data, np.uint8)
    cases = {
        "pillow_full": pillow(4000),
        "pillow_1/2": pillow(2000),
        "pillow_1/4": pillow(1000),
        "pillow_1/8": pillow(500),
        "opencv_1/2": lambda: cv2.imdecode(buffer, cv2.IMREAD_REDUCED_GRAYSCALE_2),
        "opencv_1/4": lambda: cv2.imdecode(buffer, cv2.IMREAD_REDUCED_GRAYSCALE_4),
        "opencv_1/8": lambda: cv2.imdecode(buffer, cv2.IMREAD_REDUCED_GRAYSCALE_8),
    }
    results = {}
    for name, decode in cases.items():
        results[name] = timed(decode, repeats)
        print(f"decode {name:11} p50 {results[name]['p50_ms']:.2f} ms p99 {results[name]['p99_ms']:.2f} ms")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--decoders", action="store_true", help="time decoding the 12 MP JPEG alone, per scale")
    args = parser.parse_args()
    if args.decoders:
        print(f"wrote {write_result('jpeg_decoders', decoders(phone_jpeg(), args.repeats))}")
        return
    results = {}
    for name, data in (("jpeg_12mp", phone_jpeg()), ("png_300px", small_png())):
        results[name] = {
            "bytes": len(data),
            "bytes_to_digit": timed(lambda d=data: read_picture(d, "x"), args.repeats),
            "decoded_to_digit": timed(lambda d=data: analyse(open_image(d), "x"), args.repeats),
        }
        r = results[name]
        bytes_ms, decoded_ms = r["bytes_to_digit"], r["decoded_to_digit"]
        print(
            f"{name:9} bytes -> digit p50 {bytes_ms['p50_ms']:.2f} ms p99 {bytes_ms['p99_ms']:.2f} ms"
            f" | open_image + analyse p50 {decoded_ms['p50_ms']:.2f} ms"
        )
    print(f"wrote {write_result('preprocess_speed', {'repeats': args.repeats, **results})}")


if __name__ == "__main__":
    main()
