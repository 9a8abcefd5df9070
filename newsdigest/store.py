"""Cache files: written atomically, read back as a miss when they cannot be used."""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TEMP_PREFIX = ".tmp-newsdigest-"  # a file being written; a build sweeps up those left behind

# What reading back a cache file may raise when it is missing, cut short, or written by other
# code (a class gone or renamed since): the cache is only ever a shortcut, so that is a miss.
UNREADABLE = (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError,
              ValueError, TypeError)


def load_pickle(path: Path) -> Any:
    """The object a cache file holds, or None when it cannot be read back (UNREADABLE)."""
    try:
        with path.open("rb") as handle:
            return pickle.load(handle)
    except UNREADABLE:
        return None


def save_atomic(path: Path,
                data: bytes | bytearray | memoryview | Sequence[bytes | memoryview]) -> None:
    """The file at `path` replaced whole by `data` (or its pieces, one after the other): a
    reader sees the old file or the new one, never part of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            for piece in (data,) if isinstance(data, (bytes, bytearray, memoryview)) else data:
                handle.write(piece)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
