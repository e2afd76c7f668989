"""Fetching a file over HTTP(S) with retries, a size cap and a caller-supplied check."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence

from lenet5.errors import UserError

MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024  # MNIST's largest file is under 10 MB


def fetch(
    name: str,
    base_urls: Sequence[str],
    validate: Callable[[bytes], None],
    attempts: int = 3,
    timeout: float = 30.0,
    backoff: float = 1.0,
) -> bytes:
    """Return the bytes of `name` from the first base URL that serves a copy passing `validate`.

    Each mirror is tried `attempts` times with exponential back-off. `validate` raises
    `UserError` for a corrupt copy; a corrupt copy is not retried from the same mirror
    (it would be the same bytes) but the next mirror is tried.
    """
    problems: list[str] = []
    for base in base_urls:
        url = base.rstrip("/") + "/" + name
        for attempt in range(attempts):
            try:
                data = _get(url, timeout)
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                reason = getattr(exc, "reason", exc)
                problems.append(f"{url}: {reason}")
                if attempt + 1 < attempts:
                    time.sleep(backoff * 2**attempt)
                continue
            try:
                validate(data)
            except UserError as exc:
                problems.append(f"{url}: {exc}")
                break
            return data
    raise UserError(f"{name}: download failed from every mirror ({'; '.join(problems[-3:])})")


def _get(url: str, timeout: float) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "lenet5"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        data = response.read(MAX_DOWNLOAD_BYTES + 1)
    if len(data) > MAX_DOWNLOAD_BYTES:
        raise OSError(f"response larger than {MAX_DOWNLOAD_BYTES} bytes")
    return data
