"""`python -m lenet5.kernels`: build the custom operator now (make does this) and say which path is used."""

from __future__ import annotations

import json
import sys

from lenet5 import kernels

if __name__ == "__main__":
    info = kernels.describe()
    print(json.dumps({"library": str(kernels.library_path()), **info}))
    sys.exit(0 if kernels.available() or not kernels.enabled_by_environment() else 1)
