"""Settings of `newsdigest ingest`: site.toml [ingest] (how) and [sources.NAME] (what)."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from newsdigest.urls import is_safe_relative


@dataclass(frozen=True)
class IngestSettings:
    """[ingest]: where new items go and how sources are fetched."""

    folder: str = "inbox"  # below the content folder
    publish: bool = False  # new items are drafts (published: false) until approved
    max_age_days: int = 30  # older entries are not imported
    timeout: float = 10.0  # seconds per source, a wall-clock deadline for all its hops
    concurrency: int = 8
    allow_private: bool = False
    allow_loopback: bool = False


@dataclass(frozen=True)
class Source:
    """[sources.NAME]: one feed and what to take from it."""

    name: str
    url: str
    topics: tuple[str, ...] = ()
    provider: str = ""  # '' for the feed's title
    include: tuple[str, ...] = ()  # words or /regex/: an entry must match one (when given)
    exclude: tuple[str, ...] = ()  # words or /regex/: an entry matching one is left out
    max_items: int = 0  # new entries taken per run; 0 for all


_INGEST_TYPES: dict[str, tuple[type, ...]] = {
    "folder": (str,), "publish": (bool,), "max_age_days": (int,), "timeout": (int, float),
    "concurrency": (int,), "allow_private": (bool,), "allow_loopback": (bool,),
}
_SOURCE_KEYS = {f.name for f in fields(Source)} - {"name"}
_LIST_KEYS = ("topics", "include", "exclude")


def parse_ingest(data: Any, problems: list[str]) -> IngestSettings:
    if data is None:
        return IngestSettings()
    if not isinstance(data, dict):
        problems.append("[ingest]: expected a table")
        return IngestSettings()
    values: dict[str, Any] = {}
    for key, value in data.items():
        expected = _INGEST_TYPES.get(key)
        if expected is None:
            problems.append(f"ingest.{key}: unknown setting")
        elif not isinstance(value, expected) or (bool not in expected and isinstance(value, bool)):
            problems.append(f"ingest.{key}: expected {expected[0].__name__}, got {value!r}")
        elif key in ("max_age_days", "timeout", "concurrency") and value <= 0:
            problems.append(f"ingest.{key}: expected a positive number, got {value!r}")
        elif key == "folder" and not is_safe_relative(value.strip().strip("/")):
            problems.append(f"ingest.folder: expected a folder inside the content folder, "
                            f"such as \"inbox\", got {value!r}")
        else:
            values[key] = value.strip().strip("/") if key == "folder" else value
    return IngestSettings(**values)


def parse_sources(data: Any, problems: list[str]) -> tuple[Source, ...]:
    if data is None:
        return ()
    if not isinstance(data, dict):
        problems.append("[sources]: expected tables such as [sources.NAME] with a url")
        return ()
    sources = []
    for name, table in data.items():
        if not isinstance(table, dict):
            problems.append(f"sources.{name}: expected a table with a url")
            continue
        source = _source(name, table, problems)
        if source is not None:
            sources.append(source)
    return tuple(sources)


def _source(name: str, table: dict[str, Any], problems: list[str]) -> Source | None:
    before = len(problems)
    for key in sorted(set(table) - _SOURCE_KEYS):
        problems.append(f"sources.{name}.{key}: unknown setting")
    url = table.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(f"sources.{name}.url: expected the feed's http(s) URL, got {url!r}")
    values: dict[str, Any] = {}
    for key in _LIST_KEYS:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip()
                                                  for v in value):
            problems.append(f"sources.{name}.{key}: expected a list of text, got {value!r}")
            continue
        values[key] = tuple(v.strip() for v in value)
        if key != "topics":
            for pattern in value:
                if _is_regex(pattern):
                    try:
                        re.compile(pattern.strip()[1:-1])
                    except re.error as exc:
                        problems.append(f"sources.{name}.{key}: not a regular expression "
                                        f"({pattern!r}: {exc})")
    provider = table.get("provider", "")
    if not isinstance(provider, str):
        problems.append(f"sources.{name}.provider: expected text, got {provider!r}")
    max_items = table.get("max_items", 0)
    if not isinstance(max_items, int) or isinstance(max_items, bool) or max_items < 0:
        problems.append(f"sources.{name}.max_items: expected a positive integer, "
                        f"got {max_items!r}")
    if len(problems) > before:
        return None
    return Source(name=name, url=url.strip(), provider=provider.strip(), max_items=max_items,
                  **values)


def _is_regex(pattern: str) -> bool:
    pattern = pattern.strip()
    return len(pattern) > 2 and pattern.startswith("/") and pattern.endswith("/")


def word_rule(pattern: str) -> re.Pattern[str]:
    """An include/exclude/keyword rule as a case-insensitive pattern: /regex/ as written, else
    the words as whole words ('model' matches 'Model' and 'model,' but not 'remodel')."""
    pattern = pattern.strip()
    if _is_regex(pattern):
        return re.compile(pattern[1:-1], re.IGNORECASE)
    return re.compile(r"(?<!\w)" + re.escape(pattern) + r"(?!\w)", re.IGNORECASE)
