"""Fingerprints: a short hash of exactly the values an output is made from."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import date, datetime
from typing import Any

from newsdigest.grouping import Story
from newsdigest.model import Item


def fingerprint(*values: Any) -> str:
    parts: list[str] = []
    for value in values:
        _walk(value, parts)
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8", "surrogatepass"),
                           digest_size=12).hexdigest()


def _walk(value: Any, parts: list[str]) -> None:
    if isinstance(value, Story):
        parts.append(value.fingerprint)  # already covers the item and all derived fields
    elif isinstance(value, Item):
        parts.append(value.digest)
    elif isinstance(value, (str, int, float, bool)) or value is None:
        parts.append(repr(value))
    elif isinstance(value, (datetime, date)):
        parts.append(value.isoformat())
    elif isinstance(value, dict):
        parts.append("{")
        for key in sorted(value):
            parts.append(repr(key))
            _walk(value[key], parts)
        parts.append("}")
    elif isinstance(value, (list, tuple)):
        parts.append("[")
        for entry in value:
            _walk(entry, parts)
        parts.append("]")
    elif dataclasses.is_dataclass(value):
        parts.append(type(value).__name__)
        for field in dataclasses.fields(value):
            _walk(getattr(value, field.name), parts)
    else:
        raise TypeError(f"cannot fingerprint {type(value).__name__}: pass plain values to pages")
