"""A small name -> model registry, so the CLI, exports and reports all say `--model NAME`."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lenet5.data.normalize import NETWORK_INPUTS
from lenet5.errors import UserError

if TYPE_CHECKING:
    from lenet5.settings import TrainSettings


@dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: Callable[..., Any]
    normalization: str  # a key of lenet5.data.normalize.NORMALIZATIONS
    description: str


_REGISTRY: dict[str, ModelSpec] = {}
INPUTS = NETWORK_INPUTS  # each network's normalisation (lenet5.data.normalize); register_model checks it
# Modules that register models when imported; importing lazily keeps `--help` free of Paddle.
_MODEL_MODULES = ("lenet5.models.seed", "lenet5.models.lenet1998")


def register_model(name: str, normalization: str, description: str) -> Callable[[Any], Any]:
    def decorate(builder: Any) -> Any:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        if INPUTS.get(name) != normalization:
            raise ValueError(f"model {name!r}: add it to normalize.NETWORK_INPUTS with normalization {normalization!r}")
        _REGISTRY[name] = ModelSpec(name, builder, normalization, description)
        return builder

    return decorate


def _load_all() -> None:
    for module in _MODEL_MODULES:
        importlib.import_module(module)


def list_models() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def get_spec(name: str) -> ModelSpec:
    _load_all()
    if name not in _REGISTRY:
        raise UserError(f"unknown model {name!r}; choose from {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


@contextlib.contextmanager
def reference_path(model: Any) -> Iterator[Any]:
    """Run a model through its textbook layer order (see SeedNet.fused) inside the block."""
    fused = getattr(model, "fused", None)
    if fused is not None:
        model.fused = False
    try:
        yield model
    finally:
        if fused is not None:
            model.fused = fused


def create_model(name: str, **kwargs: Any) -> Any:
    """Build a freshly initialised model by registry name."""
    return get_spec(name).builder(**kwargs)


def network_for(settings: TrainSettings) -> Any:
    """The freshly initialised network a run's settings describe: lenet5 with its weight
    range, or the seed network with an 11th (junk) output when trained with junk pieces."""
    if settings.model == "lenet5":
        return create_model("lenet5", init=settings.init)
    return create_model(settings.model, num_classes=11) if settings.junk > 0 else create_model(settings.model)
