"""Reading a whole phone photo, first stage: the sheet in the frame, then the writing on it.

    small, scale = downscale(picture)          # longer side <= 1024 px, grey
    sheet = find_sheet(small)                  # None: no sheet in view (a close-up, a scan)
    page = rectify(small, sheet) if sheet else None
    lines = find_writing(page.image if page else small)
    for line in lines:
        for word in line.words:
            box = box_to_source(word.box, page.homography) if page else word.box
            box = box_to_original(box, scale)  # in the original picture's pixels
            ink = word.ink                     # cleaned ink strength of the word, for a reader

Pure OpenCV and NumPy; nothing here imports the rest of lenet5.
"""

from lenet5.photo.sheet import (
    Rectified,
    Sheet,
    box_to_original,
    box_to_source,
    clip_box,
    downscale,
    find_sheet,
    points_to_original,
    rectify,
)
from lenet5.photo.writing import (
    TextLine,
    Word,
    WordFeatures,
    Writing,
    analyse_writing,
    continues_past_its_ends,
    find_writing,
)

__all__ = [
    "Rectified",
    "Sheet",
    "TextLine",
    "Word",
    "WordFeatures",
    "Writing",
    "analyse_writing",
    "box_to_original",
    "box_to_source",
    "clip_box",
    "continues_past_its_ends",
    "downscale",
    "find_sheet",
    "find_writing",
    "points_to_original",
    "rectify",
]
