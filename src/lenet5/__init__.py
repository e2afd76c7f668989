"""LeNet-5 handwritten digit recognition on PaddlePaddle 3.x.

    >>> import lenet5
    >>> model = lenet5.load()          # the shipped default model (lenet5.api)
    >>> model.predict("digit.png")     # doctest: +SKIP

`load`, `Model` and `UserError` are imported on first use, so `import lenet5` (and every
command's start) stays cheap.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# Typed imports for type checkers: `from lenet5.api import load, Model`.
_LAZY = {"load": "lenet5.api", "Model": "lenet5.api", "UserError": "lenet5.errors"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lenet5' has no attribute {name!r}")


__all__ = ["Model", "UserError", "__version__", "load"]
