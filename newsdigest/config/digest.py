"""The [digest] section of site.toml: which editions, how they are curated, how they are mailed."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class DigestSettings:
    daily: bool = True
    weekly: bool = True
    max_items: int = 10  # per edition, all topics together
    max_per_topic: int = 3
    quality_weight: float = 1.0  # curation score = quality * this + min(heat, heat_cap) * ...
    heat_weight: float = 0.33
    heat_cap: int = 300  # one viral item must not outrank every well-judged one
    min_quality: int = 0
    include_topics: tuple[str, ...] = ()  # empty: every topic
    exclude_topics: tuple[str, ...] = ()
    include_domains: tuple[str, ...] = ()  # provider domains (and their subdomains)
    exclude_domains: tuple[str, ...] = ()
    unsubscribe: str = "*|UNSUB|*"  # the mailing tool's merge tag or URL, put in every email
    from_address: str = ""  # for --eml; default: the site title at the base URL's host
    report: bool = True  # write the curation report page (_report/) into the output
    sponsors: bool = False  # sponsored items (kind: sponsor) in feeds and editions
    # Topics (as named in items or [topics]) that get weekly editions of their own, with
    # their own pages, feed and email; in this order on /feeds/.
    topic_editions: tuple[str, ...] = ()


_LISTS = {"include_topics", "exclude_topics", "include_domains", "exclude_domains"}
_TYPES: dict[str, type] = {f.name: type(getattr(DigestSettings(), f.name))
                           for f in fields(DigestSettings)}


def parse_digest(data: Any, problems: list[str]) -> DigestSettings:
    """[digest] values, each bad one reported in `problems` in the style of the other sections."""
    if data is None:
        return DigestSettings()
    if not isinstance(data, dict):
        problems.append("[digest]: expected a table")
        return DigestSettings()
    values: dict[str, Any] = {}
    for key, value in data.items():
        expected = _TYPES.get(key)
        if expected is None:
            problems.append(f"digest.{key}: unknown setting")
        elif key == "topic_editions":
            values[key] = _topic_names(value, problems)
        elif key in _LISTS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                problems.append(f"digest.{key}: expected a list of names, got {value!r}")
            else:
                values[key] = tuple(v.strip().casefold() for v in value if v.strip())
        elif expected is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                problems.append(f"digest.{key}: expected a number of 0 or more, got {value!r}")
            else:
                values[key] = float(value)
        elif expected is int:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (
                    value < 1 and key in ("max_items", "max_per_topic")):
                problems.append(f"digest.{key}: expected a positive integer, got {value!r}")
            else:
                values[key] = value
        elif not isinstance(value, expected):
            problems.append(f"digest.{key}: expected {_kind(expected)}, got {value!r}")
        else:
            values[key] = value
    return DigestSettings(**values)


def _topic_names(value: Any, problems: list[str]) -> tuple[str, ...]:
    """Topic names as written (a topic's pages show its name), each once."""
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f'digest.topic_editions: expected a list of topic names such as '
                        f'["Robotics"], got {value!r}')
        return ()
    names: dict[str, str] = {}
    for name in value:
        name = " ".join(name.split())
        if name.casefold() in names:
            problems.append(f"digest.topic_editions: {name!r} is named twice")
        names.setdefault(name.casefold(), name)
    return tuple(names.values())


def _kind(expected: type) -> str:
    return "true or false" if expected is bool else "text"
