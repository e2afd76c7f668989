"""In-process single-image prediction latency for each backend: from PNG bytes (decode +
MNIST-style preprocessing + model) and from an already decoded picture (preprocessing +
model, what an application holding the image in memory pays).

python bench/predict_latency.py --model runs/NAME [--repeats 300]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import percentiles, write_result

from lenet5.data.synthetic_photos import photo_set
from lenet5.infer.backends import load_backend
from lenet5.infer.predict import predict_digit
from lenet5.vision.preprocess import load_digit, mnist_digit, open_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--backends", default="paddle,onnx")
    args = parser.parse_args()
    pngs, decoded = [], []
    for _, image in photo_set(50, seed=3):
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        pngs.append(buffer.getvalue())
        decoded.append(open_image(buffer.getvalue()))
    results = {}
    for name in args.backends.split(","):
        backend = load_backend(args.model, name)
        for png in pngs[:10]:  # warm-up
            predict_digit(backend, load_digit(png), "x")
        total, preprocess, model, from_decoded = [], [], [], []
        for i in range(args.repeats):
            png = pngs[i % len(pngs)]
            t0 = time.perf_counter()
            digit = load_digit(png)
            t1 = time.perf_counter()
            predict_digit(backend, digit, "x")
            t2 = time.perf_counter()
            predict_digit(backend, mnist_digit(decoded[i % len(decoded)]), "x")
            t3 = time.perf_counter()
            total.append(1000 * (t2 - t0))
            preprocess.append(1000 * (t1 - t0))
            model.append(1000 * (t2 - t1))
            from_decoded.append(1000 * (t3 - t2))
        results[name] = {
            "total": percentiles(total),
            "preprocess": percentiles(preprocess),
            "model": percentiles(model),
            "decoded_image_to_probabilities": percentiles(from_decoded),
        }
        t = results[name]
        print(
            f"{name:7} PNG bytes -> probabilities p50 {t['total']['p50_ms']:.3f} ms p99 {t['total']['p99_ms']:.3f} ms"
            f" (decode + preprocess {t['preprocess']['p50_ms']:.3f}, model {t['model']['p50_ms']:.3f}) | "
            f"decoded image -> probabilities p50 {t['decoded_image_to_probabilities']['p50_ms']:.3f} ms"
            f" p99 {t['decoded_image_to_probabilities']['p99_ms']:.3f} ms"
        )
    results["batch_1000_images_per_s"] = batch_throughput(args.model, args.backends.split(","))
    print(f"wrote {write_result('predict_latency', {'model': args.model, 'repeats': args.repeats, **results})}")


def batch_throughput(model: str, backends: list[str]) -> dict[str, float]:
    """Images/s scoring 1,000 normalised test digits in one call: eager Paddle and each backend."""
    import numpy as np

    from lenet5.data import mnist
    from lenet5.models import network_for
    from lenet5.runtime import import_paddle
    from lenet5.store import checkpoint
    from lenet5.store.run_dir import RunDir

    paddle = import_paddle()
    data = mnist.load()
    rates = {}
    runners = {name: load_backend(model, name) for name in backends}
    x = next(iter(runners.values())).meta.normalize(data.test_images[:1000])
    run_dir = Path(model)
    if (run_dir / "checkpoints" / "best.npz").is_file():
        net = network_for(RunDir(run_dir).read_settings())
        checkpoint.load(run_dir / "checkpoints" / "best.npz", net)
        net.eval()

        def eager() -> None:
            with paddle.no_grad():
                net.probabilities(net(paddle.to_tensor(x))).numpy()

        runners_calls = {"eager_paddle": eager}
    else:
        runners_calls = {}
    for name, runner in runners.items():
        runners_calls[name] = lambda r=runner: r.probabilities(x)
    for name, call in runners_calls.items():
        call()
        times = []
        for _ in range(5):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        rates[name] = 1000 / float(np.median(times))
        print(f"batch of 1000: {name:13} {rates[name]:9.0f} images/s")
    return rates


if __name__ == "__main__":
    main()
