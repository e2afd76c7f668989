"""Training recipes: every hyper-parameter of a published result, in one place.

`SEED` is the article's notebook (Paddle实现LeNet-5, Part 2): Adam at 1e-3, batch 128,
10 epochs, cross-entropy on the seed network. The CLI's defaults are this recipe.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Recipe:
    name: str
    model: str
    optimizer: str
    lr: float
    batch_size: int
    epochs: int
    loss: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


SEED = Recipe(name="seed", model="seed", optimizer="adam", lr=1e-3, batch_size=128, epochs=10, loss="cross_entropy")

RECIPES: dict[str, Recipe] = {r.name: r for r in (SEED,)}
