"""Finding the digit on a page: clean ink out of uneven light, then the digit among the blobs.

Photos are not MNIST scans. The light falls off across the page, a hand casts a shadow,
paper is tinted, ink is blue, a small digit sits on a big sheet with specks, ruled lines
and the edge of the table. One global background level cannot serve all of that, so:

1. Polarity. Dark ink on light paper unless the grey levels clearly say light ink on a
   dark ground: a shadow over most of the page must not turn the lit paper into "ink".
2. Illumination. The background is estimated at a scale larger than a stroke with a
   morphological closing (dark ink) or opening (light ink): it erases strokes and keeps
   gradients and even hard shadow edges (a step survives a closing unchanged). Dark ink on
   paper is a reflectance, so ink strength is 1 - picture / background, which a shadow
   does not change; light ink on a dark ground (a screen, MNIST itself) is a difference.
3. Ink. A pixel is ink where its strength clears both an absolute floor and the page's own
   noise (a robust spread of the background).
4. Blobs. Connected components of ink, each with its box and ink mass. Page edges (blobs
   along a border) and ruled lines (long and flat) are dropped; the digit is the blob of
   greatest ink mass, joined by the nearby pieces of itself (the detached bar of a 5, a
   gap in a 0). Other blobs of digit size beside it mean the picture holds several digits.
5. Stroke width. Measured with the distance transform; a pen line thinner than MNIST's
   proportion of the box (about 10-15%) is thickened, a marker thicker than it thinned,
   with grey-level morphology so the anti-aliased edges stay soft.

OpenCV (headless) does the image work: its morphology, components and distance transform
are SIMD code, and it imports in a fifth of the time scipy.ndimage takes (cold start matters
for a command line tool).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MIN_STRENGTH = 0.12  # ink darker than 12% below its local paper (or 12% brighter than its ground)
NOISE_SIGMAS = 6.0  # ...and well clear of the page's own noise
LIGHT_INK_EVIDENCE = 4.0  # how much longer the bright tail must be than the dark one to read light ink
STROKE_TARGET = 0.14  # MNIST's stroke width as a share of the digit's longer side
STROKE_BAND = (0.09, 0.3)  # widths outside this band are brought to the target (thinning only markers)
SAMPLE_SIDE = 128  # the page's grey-level statistics are taken on at most this many rows and columns


@dataclass(frozen=True)
class Blob:
    index: int
    x0: int
    y0: int
    x1: int  # exclusive
    y1: int
    area: int
    mass: float

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def width(self) -> int:
        return self.x1 - self.x0


@dataclass(frozen=True)
class PageDigit:
    """The digit found on a page: its ink (0..1, float32, cropped) and where it was."""

    ink: np.ndarray
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the analysed picture's pixels
    other_digits: int  # digit-sized blobs beside it: the picture may hold a number


def _odd(n: float) -> int:
    n = max(3, int(n))
    return n if n % 2 else n + 1


def _sample(image: np.ndarray) -> np.ndarray:
    """Every k-th row and column, at most SAMPLE_SIDE of each: enough pixels for the page's
    statistics (its grey-level tails, its noise) without sorting every one of them."""
    return image[:: -(-image.shape[0] // SAMPLE_SIDE), :: -(-image.shape[1] // SAMPLE_SIDE)]


def _tails(gray: np.ndarray) -> tuple[float, float, float]:
    """The 0.5th, 50th and 99.5th percentiles of the grey levels, on a sample of the picture."""
    low, median, high = np.percentile(_sample(gray), (0.5, 50, 99.5))
    return float(low), float(median), float(high)


def is_dark_ink(gray: np.ndarray) -> bool:
    """Dark ink on a light page (nearly every photo), unless the picture clearly says otherwise.

    Ink is the rare tail of the grey levels, the page their bulk. Light ink is assumed only
    when the bright tail reaches LIGHT_INK_EVIDENCE times farther from the median than the
    dark tail: a shadow over most of a page puts the median on the shadowed paper, and the
    lit paper then looks like a bright tail, at most a few times farther than the ink's dark
    one; a chalk digit or MNIST's own white-on-black has almost no dark tail at all."""
    low, median, high = _tails(gray)
    return bool(LIGHT_INK_EVIDENCE * (median - low) >= (high - median))


def ink_strength(gray: np.ndarray, kernel_size: int | None = None, dark_ink: bool | None = None) -> np.ndarray:
    """Ink strength 0..1 per pixel (0 = background), whatever the light and the polarity.

    The background is a closing (dark ink) or opening (light ink) with a square of
    `kernel_size`: larger than a stroke, so strokes vanish from it; as small as that
    allows, because a closing also fills a shadow's acute corner over about twice its size.
    By default a fifth of the picture, larger than any stroke (a marker on a small canvas).
    `dark_ink` is decided from the picture (`is_dark_ink`) unless given."""
    if dark_ink is None:
        dark_ink = is_dark_ink(gray)
    size = _odd(kernel_size if kernel_size else min(gray.shape) / 5)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
    # Morphology on the picture's own type (8-bit for nearly all): a quarter of the memory
    # traffic of float, and the background is a grey level anyway.
    background = cv2.morphologyEx(gray, cv2.MORPH_CLOSE if dark_ink else cv2.MORPH_OPEN, kernel)
    if dark_ink and gray.dtype == np.uint8:
        return reflectance_strength(gray, background)
    g = gray.astype(np.float32)
    if dark_ink:
        strength = 1.0 - g / np.maximum(background.astype(np.float32), 1.0)
    else:
        strength = (g - background) / np.float32(max(_tails(gray)[2], 1.0))
    return np.clip(strength, 0.0, 1.0, out=strength)


def reflectance_strength(gray: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Dark ink's strength 1 - gray / max(background, 1), clipped to 0..1, for 8-bit pictures.

    OpenCV divides straight from bytes to float32: one pass instead of the four of the float
    arithmetic in `ink_strength`, with the same float32 values (a test checks every pair)."""
    ratio = cv2.divide(gray, cv2.max(background, 1), dtype=cv2.CV_32F)
    return np.clip(np.subtract(np.float32(1.0), ratio, out=ratio), 0.0, 1.0, out=ratio)


def ink_threshold(strength: np.ndarray) -> float:
    sample = _sample(strength)
    median = float(np.median(sample))
    spread = 1.4826 * float(np.median(np.abs(sample - median)))
    return max(MIN_STRENGTH, median + NOISE_SIGMAS * spread)


def find_blobs(mask: np.ndarray, strength: np.ndarray) -> tuple[np.ndarray, list[Blob]]:
    """Connected components of the 0/1 `mask` (8-connected), labelled on the whole page."""
    # Labelled within the ink's bounding box only: a digit is a small part of most pages.
    left, top, width, height = cv2.boundingRect(mask)
    if width == 0:
        return np.zeros(mask.shape, dtype=np.int32), []
    count, inside, stats, _ = cv2.connectedComponentsWithStats(
        mask[top : top + height, left : left + width], connectivity=8
    )
    labels = np.zeros(mask.shape, dtype=inside.dtype)
    labels[top : top + height, left : left + width] = inside
    ink = mask.astype(bool)  # summing over the ink pixels only: a few percent of the page
    mass = np.bincount(labels[ink], weights=strength[ink], minlength=count)
    blobs = [
        Blob(i, int(x) + left, int(y) + top, int(x + w) + left, int(y + h) + top, int(area), float(mass[i]))
        for i, (x, y, w, h, area) in enumerate(stats)
        if i > 0
    ]
    return labels, blobs


def is_page_furniture(blob: Blob, height: int, width: int) -> bool:
    """Page edges, the table beside the sheet, ruled lines: not digits."""
    # From border to opposite border: a page edge or the table, never a digit, which
    # even drawn large leaves a margin on at least one side.
    spans = (blob.y0 == 0 and blob.y1 == height) or (blob.x0 == 0 and blob.x1 == width)
    ruled = blob.width > 15 * blob.height and blob.width > 0.4 * width
    return spans or ruled


def _near(a: Blob, box: tuple[int, int, int, int], margin: float) -> bool:
    x0, y0, x1, y1 = box
    return a.x0 < x1 + margin and a.x1 > x0 - margin and a.y0 < y1 + margin and a.y1 > y0 - margin


MAX_CANDIDATES = 24  # blobs of most ink considered for the digit; the rest are specks


Box = tuple[int, int, int, int]  # x0, y0, x1, y1


def _solid(blob: Blob, labels: np.ndarray, widths: dict[int, float]) -> bool:
    """A filled region (a pocket of shadowed paper that the closing took for ink, a shadow's
    corner), not strokes: thick all over. A digit is thin almost everywhere, even a
    marker's, even one whose small loop has filled with ink, so the typical thickness along
    its ridges is a small part of its size. Each blob's stroke width goes into `widths`."""
    if blob.area < 64:
        return False
    widths[blob.index] = stroke_width(_pieces(labels, {blob.index}, (blob.x0, blob.y0, blob.x1, blob.y1)))
    return widths[blob.index] > 0.3 * max(blob.height, blob.width)


def _pieces(labels: np.ndarray, group: set[int], box: Box) -> np.ndarray:
    """1 where the box holds a pixel of one of the group's blobs (uint8)."""
    x0, y0, x1, y1 = box
    inside = labels[y0:y1, x0:x1]
    if len(group) == 1:  # the usual case: one blob, and == is several times faster than isin
        return (inside == next(iter(group))).astype(np.uint8)
    return np.isin(inside, list(group)).astype(np.uint8)


def _group_width(labels: np.ndarray, group: set[int], box: Box, widths: dict[int, float]) -> float:
    """The stroke width of the group's ink, reusing a lone blob's width measured already."""
    if len(group) == 1 and next(iter(group)) in widths:
        return widths[next(iter(group))]
    return stroke_width(_pieces(labels, group, box))


def _candidates(mask: np.ndarray, strength: np.ndarray) -> tuple[np.ndarray, list[Blob]]:
    labels, blobs = find_blobs(mask, strength)
    height, width = mask.shape
    kept = sorted((b for b in blobs if not is_page_furniture(b, height, width)), key=lambda b: -b.mass)
    return labels, kept[:MAX_CANDIDATES]


def _group(candidates: list[Blob]) -> tuple[Blob, set[int], tuple[int, int, int, int]]:
    """The digit: the blob of most ink, joined by the nearby pieces of itself until nothing
    more is near. A blob as big as it beside it is another digit, not a piece."""
    seed = max(candidates, key=lambda b: b.mass)
    group, box = {seed.index}, (seed.x0, seed.y0, seed.x1, seed.y1)
    changed = True
    while changed:
        changed = False
        margin = 0.2 * max(box[2] - box[0], box[3] - box[1])
        for blob in candidates:
            if blob.index in group or not _near(blob, box, margin):
                continue
            overlaps_x = min(blob.x1, box[2]) - max(blob.x0, box[0]) > 0.3 * blob.width
            if blob.mass > 0.5 * seed.mass and not overlaps_x:
                continue
            # A speck (a few percent of the digit's ink) may lie inside the digit but must
            # not stretch its box: dust beside a 7 would shift the whole digit.
            inside = blob.x0 >= box[0] and blob.y0 >= box[1] and blob.x1 <= box[2] and blob.y1 <= box[3]
            if blob.mass < 0.03 * seed.mass and not inside:
                continue
            group.add(blob.index)
            box = (min(box[0], blob.x0), min(box[1], blob.y0), max(box[2], blob.x1), max(box[3], blob.y1))
            changed = True
    return seed, group, box


def _find(strength: np.ndarray, threshold: float) -> tuple | None:
    """Blobs of ink, the digit among them, its box and the group's stroke width; None if
    there is no candidate."""
    mask = (strength > threshold).astype(np.uint8)
    labels, candidates = _candidates(mask, strength)
    if not candidates:
        return None
    # Filled regions are dropped, unless nothing else is left (one bold stroke: a "1").
    widths: dict[int, float] = {}
    candidates = [b for b in candidates if not _solid(b, labels, widths)] or candidates
    seed, group, box = _group(candidates)
    return labels, candidates, seed, group, box, _group_width(labels, group, box, widths)


def find_digit(gray: np.ndarray) -> PageDigit | None:
    """The most prominent digit on the page, or None if there is no ink at all.

    Two passes when the strokes are thin against the picture: the first, with a closing a
    fifth of the picture wide, finds the digit and its stroke width; the second redoes the
    background with a closing three stroke widths wide, which fills far smaller pockets of
    shadowed paper (a closing fills any dark region narrower than itself)."""
    dark_ink = is_dark_ink(gray)
    strength = ink_strength(gray, dark_ink=dark_ink)
    threshold = ink_threshold(strength)
    found = _find(strength, threshold)
    if found is None:
        return None
    labels, candidates, seed, group, box, width = found
    # Digit-sized blobs beside the digit: the picture may hold a whole number.
    others = sum(
        1
        for b in candidates
        if b.index not in group and b.mass > 0.25 * seed.mass and b.height > 0.5 * (box[3] - box[1])
    )
    fitted = 3 * width + 3
    if 3 < fitted < 0.6 * min(gray.shape) / 5:
        # Only around the digit (what lies farther cannot join it), so it costs little.
        pad = int(max(2 * fitted, 0.25 * max(box[2] - box[0], box[3] - box[1])))
        rx0, ry0 = max(0, box[0] - pad), max(0, box[1] - pad)
        rx1, ry1 = min(gray.shape[1], box[2] + pad), min(gray.shape[0], box[3] + pad)
        # The whole page decides the polarity: the crop may be mostly shadow.
        local = ink_strength(gray[ry0:ry1, rx0:rx1], int(fitted), dark_ink)
        refound = _find(local, threshold)
        if refound is not None and refound[2].mass > 0.3 * seed.mass:
            strength = np.zeros_like(strength)
            strength[ry0:ry1, rx0:rx1] = local
            local_labels, _, _, group, (x0, y0, x1, y1), width = refound
            labels = np.zeros(gray.shape, dtype=local_labels.dtype)
            labels[ry0:ry1, rx0:rx1] = local_labels
            box = (x0 + rx0, y0 + ry0, x1 + rx0, y1 + ry0)
    x0, y0, x1, y1 = box
    # Soft edges: the anti-aliased rim just below the threshold belongs to the strokes too.
    pieces = _pieces(labels, group, box)
    # The rim reaches half a stroke out: a blurred picture's strokes fade over several pixels.
    reach = _odd(width / 2)
    rim = cv2.dilate(pieces, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (reach, reach)))
    crop = strength[y0:y1, x0:x1] * rim
    return PageDigit(soft_ink(crop, pieces, threshold, width), box, others)


def soft_ink(strength: np.ndarray, pieces: np.ndarray, threshold: float, width: float | None = None) -> np.ndarray:
    """A digit's ink strength (cropped to it, 0 off its strokes and their rims) as soft ink
    0..1: half the threshold is the floor, the strokes' 90th percentile the peak; the stroke
    width then brought to MNIST's proportion. `pieces`: 1 on the strokes themselves."""
    ink = soft_levels(strength, pieces, threshold)
    return normalise_stroke(ink, stroke_width(pieces.astype(np.uint8)) if width is None else width)


def soft_word_ink(strength: np.ndarray, pieces: np.ndarray, threshold: float) -> np.ndarray:
    """soft_ink for a word that a photo's writing finder cut out at the page's scale: the
    stroke width measured on the ink itself (equivalent_width), not on the mask's ridge.
    There a digit is often only 15-40 px high and blurred, so the mask reaches into both
    soft rims of every stroke and measures it up to twice as wide as it is; thinned by that
    much, its strokes wear away (a 14 px 0 became four dots, a bold 4 a "1")."""
    ink = soft_levels(strength, pieces, threshold)
    return normalise_stroke(ink, equivalent_width(ink, pieces))


def word_stroke_width(strength: np.ndarray, pieces: np.ndarray, threshold: float) -> float:
    """The stroke width a word's ink holds (equivalent_width of its soft ink), px."""
    return equivalent_width(soft_levels(strength, pieces, threshold), pieces)


def soft_levels(strength: np.ndarray, pieces: np.ndarray, threshold: float) -> np.ndarray:
    """Ink strength as soft ink 0..1: half the threshold is the floor, the 90th percentile
    of the strokes' strength (`pieces`: 1 on the strokes) the peak."""
    core = strength[pieces > 0]
    peak = float(np.percentile(core, 90)) if core.size else 1.0
    floor = threshold / 2
    return np.clip((strength - floor) / max(peak - floor, 1e-6), 0.0, 1.0).astype(np.float32)


def equivalent_width(ink: np.ndarray, pieces: np.ndarray) -> float:
    """The strokes' width as their ink holds it, px: twice the soft ink's sum (0..1) over
    the length of the pieces' outlines, outer and inner (a stroke L long is outlined by
    about 2L). A blurred line's soft rims count by how dark they are, so this is about
    its width at half its darkness, whatever the blur; 0 for no pieces."""
    contours, _ = cv2.findContours(pieces.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    outline = sum(cv2.arcLength(contour, True) for contour in contours)
    return 2.0 * float(ink.sum()) / outline if outline else 0.0


def stroke_width(pieces: np.ndarray) -> float:
    """Typical stroke width in pixels: twice the distance-transform value along the ridges."""
    padded = cv2.copyMakeBorder(pieces, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    distance = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    # The exact distance's square is a whole number of pixels squared, but OpenCV's float
    # result wobbles in its last bit from call to call (the same mask, one thread: it
    # depends on where the buffers land in memory), which turns ties on the ridge and moves
    # the median. Snapped to the exact value, the same picture gives the same digit in any
    # process (`predict --workers`), in any order.
    distance = np.sqrt(np.round(distance.astype(np.float64) ** 2)).astype(np.float32)
    ridge = (distance > 0) & (distance >= cv2.dilate(distance, np.ones((3, 3), np.uint8)))
    return 2.0 * float(np.median(distance[ridge])) if ridge.any() else 0.0


def normalise_stroke(ink: np.ndarray, width: float) -> np.ndarray:
    """Bring the stroke width (`width` px, stroke_width of the ink's pieces) to MNIST's
    proportion of the digit's longer side."""
    side = max(ink.shape)
    if width <= 0 or side < 8:
        return ink
    ratio = width / side
    if ratio < STROKE_BAND[0]:
        radius = round((STROKE_TARGET * side - width) / 2)
        pad = radius + 1
        padded = cv2.copyMakeBorder(ink, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)
        return cv2.dilate(padded, element)  # grey dilation: a wider line, edges still soft
    if ratio > STROKE_BAND[1]:
        radius = round(min((width - STROKE_TARGET * side) / 2, width / 2 - 1))
        if radius >= 1:
            element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)
            return cv2.erode(ink, element)
    return ink
