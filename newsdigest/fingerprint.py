"""Fingerprints: a short hash of exactly the values an output is made from.

Page contexts are built from frozen dataclasses, tuples and scalars, whose repr is exact and
deterministic; a Story's repr is its own fingerprint (the item's digest and everything derived
from it), and an Item's repr is its digest. So the repr of a context names all that it shows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T", bound=type)


def fingerprint(*values: Any) -> str:
    text = repr(values)
    if " object at 0x" in text:
        raise TypeError(f"cannot fingerprint a value without a stable repr: {text[:200]}")
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def plain_repr(cls: T) -> T:
    """For a dataclass of values that fingerprints take the repr of, by the thousand per build:
    the generated repr without its guard against cycles (values hold none), twice as fast."""
    cls.__repr__ = cls.__repr__.__wrapped__  # type: ignore[attr-defined]
    return cls


def source_digest(paths: Iterable[Path]) -> str:
    """The bytes of these source files: what other code computed is not reused."""
    digest = hashlib.blake2b(digest_size=8)
    for path in paths:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


# Every module of the package, sub-packages included: caches of what the code made are keyed
# on it, so a changed module is never answered from a cache the old one filled.
PACKAGE = Path(__file__).parent
CODE = source_digest(sorted(PACKAGE.rglob("*.py")))
