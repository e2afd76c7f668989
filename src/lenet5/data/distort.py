"""Random affine distortions of digits, as in the paper's distorted training set (Section III-C):
horizontal and vertical translation, scaling, squeezing (one axis compressed while the other
is stretched) and horizontal shearing, drawn fresh for every pattern on every pass.

The paper names the kinds of distortion but not their ranges; ours are below. All of it
is vectorised numpy (inverse mapping + bilinear interpolation), seeded by the caller's
generator, so a pass's distorted set is the same every time it is regenerated.

Optionally (`train --elastic`), an elastic distortion on top of the affine map: every pixel
is displaced by a smooth random field, uniform noise blurred by a Gaussian (Simard, Steinkraus
and Platt 2003, "Best practices for convolutional neural networks applied to visual document
analysis"), which bends strokes locally as different hands do, where an affine map only moves
the digit as a whole.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DistortionRanges:
    translate: float = 2.0  # pixels, each axis, uniform in +/-
    scale: float = 0.10  # overall size factor in 1 +/- scale
    squeeze: float = 0.15  # x *= q, y /= q with q in 1 +/- squeeze
    shear: float = 0.15  # x += shear * y (horizontal shear), uniform in +/-

    def scaled(self, strength: float) -> DistortionRanges:
        """Every range times `strength` (`train --distort-strength`)."""
        return DistortionRanges(*(strength * getattr(self, f) for f in ("translate", "scale", "squeeze", "shear")))


DEFAULT_RANGES = DistortionRanges()


def random_affines(n: int, rng: np.random.Generator, ranges: DistortionRanges = DEFAULT_RANGES) -> np.ndarray:
    """[n, 2, 3] forward maps (x, y) -> A @ (x, y) + t, about the image centre."""
    s = 1 + rng.uniform(-ranges.scale, ranges.scale, n)
    q = 1 + rng.uniform(-ranges.squeeze, ranges.squeeze, n)
    h = rng.uniform(-ranges.shear, ranges.shear, n)
    t = rng.uniform(-ranges.translate, ranges.translate, (n, 2))
    sx, sy = s * q, s / q
    affines = np.zeros((n, 2, 3))
    affines[:, 0, 0], affines[:, 0, 1], affines[:, 1, 1] = sx, h * sy, sy
    affines[:, :, 2] = t
    return affines


def _sources(affines: np.ndarray, height: int, width: int, dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Where each output pixel of every digit comes from under its affine map (inverse
    mapping about the image centre): x and y, [n, H*W] each, in pixels. `warp` keeps
    float64 (the paper recipe's runs are reproduced bit for bit); OpenCV's maps are float32."""
    cy, cx = (height - 1) / 2, (width - 1) / 2
    ys, xs = np.mgrid[0:height, 0:width]
    out_xy = np.stack([xs.ravel() - cx, ys.ravel() - cy]).astype(dtype)  # [2, H*W], centred
    linear, shift = affines[:, :, :2], affines[:, :, 2].astype(dtype)
    inverse = np.linalg.inv(linear).astype(dtype)  # [n, 2, 2]
    src = np.einsum("nij,njp->nip", inverse, out_xy[None] - shift[:, :, None])  # [n, 2, H*W]
    return src[:, 0] + cx, src[:, 1] + cy


def warp(images: np.ndarray, affines: np.ndarray) -> np.ndarray:
    """Apply per-image affine maps to [n, H, W] images (0 = background) by inverse mapping."""
    n, height, width = images.shape
    sx, sy = _sources(affines, height, width)
    x0, y0 = np.floor(sx).astype(np.int64), np.floor(sy).astype(np.int64)
    fx, fy = sx - x0, sy - y0
    flat = images.reshape(n, -1).astype(np.float32)
    rows = np.arange(n)[:, None]

    def tap(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        inside = (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)
        index = np.clip(yy, 0, height - 1) * width + np.clip(xx, 0, width - 1)
        return np.where(inside, flat[rows, index], 0.0)

    value = (
        tap(y0, x0) * (1 - fx) * (1 - fy)
        + tap(y0, x0 + 1) * fx * (1 - fy)
        + tap(y0 + 1, x0) * (1 - fx) * fy
        + tap(y0 + 1, x0 + 1) * fx * fy
    )
    return value.reshape(n, height, width).astype(np.float32)


def warp_opencv(images: np.ndarray, affines: np.ndarray) -> np.ndarray:
    """The same maps as `warp`, by OpenCV's warpAffine: about 5x faster (C++, one call per
    digit). On float pictures it interpolates in floating point: pixels agree with `warp`
    within 1e-3 grey levels, not bit for bit, so the paper recipe keeps `warp` and its
    measured runs stay reproducible."""
    import cv2

    n, height, width = images.shape
    centre = np.array([(width - 1) / 2, (height - 1) / 2])
    # Forward maps about the centre, written for pixel coordinates: p' = A (p - c) + c + t,
    # all at once; the loop below is then one OpenCV call per digit, writing in place.
    linear, shift = affines[:, :, :2], affines[:, :, 2]
    matrices = np.concatenate([linear, (centre + shift - linear @ centre)[:, :, None]], axis=2)
    out = np.empty((n, height, width), dtype=np.float32)
    source = images.astype(np.float32)
    for i in range(n):
        cv2.warpAffine(source[i], matrices[i], (width, height), dst=out[i], flags=cv2.INTER_LINEAR, borderValue=0.0)
    return out


# The elastic field's smoothness: Ciresan et al. (2010) used a Gaussian of sigma 5-6 px with
# Simard's scheme on MNIST; 6 keeps the field smooth across a whole 28 px digit.
ELASTIC_SIGMA = 6.0
ELASTIC_MODES = 6  # see elastic_fields


def _gaussian_matrix(size: int, sigma: float) -> np.ndarray:
    """[size, size] matrix that blurs a length-`size` signal with a Gaussian of `sigma`, the
    kernel cut at 3 sigma and renormalised at the borders (so a field does not fade there)."""
    offsets = np.arange(size)[:, None] - np.arange(size)[None, :]
    weights = np.exp(-0.5 * (offsets / sigma) ** 2) * (np.abs(offsets) <= 3 * sigma)
    return weights / weights.sum(axis=1, keepdims=True)


@functools.lru_cache(maxsize=4)
def _elastic_basis(size: int) -> np.ndarray:
    """[size, ELASTIC_MODES]: V diag(sqrt w) of elastic_fields, the same for every chunk."""
    blur = _gaussian_matrix(size, ELASTIC_SIGMA)
    eigenvalues, eigenvectors = np.linalg.eigh(blur @ blur.T / 3)
    keep = np.argsort(eigenvalues)[::-1][:ELASTIC_MODES]
    basis = (eigenvectors[:, keep] * np.sqrt(eigenvalues[keep])).astype(np.float32)
    basis.flags.writeable = False  # shared by every call
    return basis


def elastic_fields(n: int, size: int, rms: float, rng: np.random.Generator) -> np.ndarray:
    """[n, 2, size, size] smooth displacement fields (x, y), in pixels, with the statistics of
    Simard et al.'s fields (uniform noise blurred by a Gaussian of ELASTIC_SIGMA), scaled so
    that one axis's displacement has a root mean square of `rms` pixels. (They give the
    amplitude as a factor, alpha, on the blurred noise; a root mean square in pixels says
    what it does.)

    Blurring a size x size grid of noise for every digit costs more than the warp itself,
    so the fields are drawn directly: a blurred field is a sum of many independent noises,
    near enough Gaussian, with the covariance C (x) C per axis, C = B B^T / 3 the 1-D blur's
    (B) covariance of uniform noise (variance 1/3). With C = V diag(w) V^T, the field
    V diag(sqrt w) Z diag(sqrt w) V^T, Z standard normal, has exactly that covariance; the
    six largest eigenvalues hold 99.9995% of it at sigma 6 (28 px), so Z is 6 x 6."""
    basis = _elastic_basis(size)
    # Expected mean square of one pixel's displacement is the mean of diag(C) squared
    # (separable covariance); the scale makes its square root `rms`.
    scale = rms / (basis**2).sum(axis=1).mean()
    z = rng.standard_normal((n, 2, ELASTIC_MODES, ELASTIC_MODES), dtype=np.float32)
    return (basis @ z @ basis.T) * np.float32(scale)


def warp_elastic(images: np.ndarray, affines: np.ndarray, fields: np.ndarray) -> np.ndarray:
    """The affine maps of `warp`, then each output pixel's source moved by `fields`
    ([n, 2, H, W], pixels), by OpenCV's remap (bilinear, 0 outside the digit)."""
    import cv2

    n, height, width = images.shape
    sx, sy = _sources(affines, height, width, np.float32)
    map_x = sx.reshape(n, height, width) + fields[:, 0]
    map_y = sy.reshape(n, height, width) + fields[:, 1]
    out = np.empty((n, height, width), dtype=np.float32)
    source = images.astype(np.float32)
    for i in range(n):
        cv2.remap(source[i], map_x[i], map_y[i], cv2.INTER_LINEAR, dst=out[i], borderValue=0.0)
    return out


def distort_batch(
    images: np.ndarray,
    rng: np.random.Generator,
    ranges: DistortionRanges = DEFAULT_RANGES,
    chunk: int = 4096,
    engine: str = "numpy",
    elastic: float = 0.0,
) -> np.ndarray:
    """Distorted copies (float32, 0..255) of uint8 [n, 28, 28] digits. `engine` "numpy"
    (the reference, in chunks) or "opencv" (the same maps, faster). `elastic` > 0 adds an
    elastic field of that root-mean-square displacement in pixels (OpenCV, in chunks)."""
    affines = random_affines(len(images), rng, ranges)
    if elastic > 0:
        # Drawn after the affine maps, from the same generator: with --elastic 0 the affine
        # distortions of a seed are those of runs made before the option existed.
        parts = []
        for i in range(0, len(images), chunk):
            fields = elastic_fields(len(images[i : i + chunk]), images.shape[-1], elastic, rng)
            parts.append(warp_elastic(images[i : i + chunk], affines[i : i + chunk], fields))
        return np.concatenate(parts)
    if engine == "opencv":
        return warp_opencv(images, affines)
    return np.concatenate([warp(images[i : i + chunk], affines[i : i + chunk]) for i in range(0, len(images), chunk)])
