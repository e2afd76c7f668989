"""`python -m lenet5.kernels`: build the custom operators and the fused SDLM step now (make
does this) and say which paths are used."""

from __future__ import annotations

import json
import sys

from lenet5 import kernels
from lenet5.kernels import sdlm_step

if __name__ == "__main__":
    info = kernels.describe()
    fused = sdlm_step.library() is not None
    print(json.dumps({"library": str(kernels.library_path()), **info}))
    print(json.dumps({"sdlm_step": str(sdlm_step.library_path()) if fused else sdlm_step.unavailable_reason()}))
    built = (kernels.available() or not kernels.enabled_by_environment()) and (fused or not sdlm_step.enabled())
    sys.exit(0 if built else 1)
