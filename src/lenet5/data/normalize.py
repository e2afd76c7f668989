"""Pixel normalisations. Each model names the one it was trained with.

- `seed`: the article's notebook, p/255*2-1 on the 28x28 digit (background -1, ink +1).
- `paper`: LeCun et al. 1998, p/255*1.275-0.1 (background -0.1, ink 1.175), the 28x28
  digit centred in a 32x32 field of background. The paper says this gives mean ~0 and
  variance ~1; on MNIST's 28x28 pixels it gives mean ~0.07 and standard deviation ~0.39.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Normalization:
    name: str
    scale: float  # applied to p/255
    offset: float
    size: int  # side of the model's input plane

    @property
    def background(self) -> float:
        return self.offset

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """uint8 [N, 28, 28] (0 = background) -> float32 [N, 1, size, size]."""
        images = np.asarray(images)
        if images.ndim == 2:
            images = images[None]
        x = images.astype(np.float32) * np.float32(self.scale / 255.0) + np.float32(self.offset)
        pad = (self.size - x.shape[-1]) // 2
        if pad:
            x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)), constant_values=np.float32(self.offset))
        return x[:, None]

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "scale": self.scale, "offset": self.offset, "size": self.size}


# Each network's input normalisation, by network name: known here, without importing the
# networks (and so without Paddle), because model folders and training settings are
# checked against it on paths that never load Paddle. lenet5.models.registry checks that
# every registered network agrees.
NETWORK_INPUTS: dict[str, str] = {"lenet5": "paper", "seed": "seed"}

NORMALIZATIONS: dict[str, Normalization] = {
    "seed": Normalization("seed", 2.0, -1.0, 28),
    "paper": Normalization("paper", 1.275, -0.1, 32),
}
