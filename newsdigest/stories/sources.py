"""The feeds of [sources] as the last `newsdigest ingest` left them: each one's health, kept in
its cache (.cache/ingest.json), for the curation report (the page and `newsdigest report`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from newsdigest.config.site import SiteConfig

CACHE_NAME = "ingest.json"
CACHE_VERSION = 1


def read_cache(path: Path) -> dict[str, Any]:
    """The ingest cache (validators, first-seen times, health), empty when unusable."""
    empty: dict[str, Any] = {"version": CACHE_VERSION, "sources": {}, "seen": {}, "health": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return empty
    if (not isinstance(data, dict) or data.get("version") != CACHE_VERSION
            or not isinstance(data.get("sources"), dict) or not isinstance(data.get("seen"), dict)):
        return empty
    if not isinstance(data.get("health"), dict):
        data["health"] = {}
    return data


SILENT_DAYS = 30  # a source with nothing new for this long is flagged in the report


def health_lines(config: SiteConfig, now: datetime | None = None) -> list[str]:
    """The sources of site.toml as the curation report lists them: each one's state after the
    last `newsdigest ingest` (from its cache), failing ones first, then silent ones."""
    now = now or datetime.now(UTC)
    health = read_cache(config.cache_dir / CACHE_NAME)["health"]
    failing, silent, fine = [], [], []
    for source in config.sources:
        known = health.get(source.url)
        if not isinstance(known, dict):
            fine.append(f"{source.name}: not fetched yet")
            continue
        if known.get("failures"):
            since = str(known.get("since", ""))[:16].replace("T", " ")
            failing.append(f"{source.name}: failing, {known['failures']} run"
                           f"{'s' * (known['failures'] != 1)} in a row since {since}: "
                           f"{known.get('error', '')} ({source.url})")
            continue
        line = f"ok, last read {str(known.get('ok', ''))[:16].replace('T', ' ')}"
        if "seen" in known:
            line += f"; {known['seen']} entries in the feed, {known.get('imported', 0)} imported"
        if known.get("last_new"):
            line += f", the last new on {str(known['last_new'])[:10]}"
        quiet = _quiet_since(known)
        # Dates, not a count of days: the report page must change only when a source does.
        if quiet is not None and now - quiet >= timedelta(days=SILENT_DAYS):
            silent.append(f"{source.name}: silent, nothing new since "
                          f"{quiet.date().isoformat()}; {line}")
        else:
            fine.append(f"{source.name}: {line}")
    return failing + silent + fine


def _quiet_since(health: dict[str, Any]) -> datetime | None:
    """When the source last brought a new item (when it was first read, if never)."""
    try:
        since = datetime.fromisoformat(str(health.get("last_new") or health.get("first_ok")))
    except ValueError:
        return None
    return since if since.tzinfo is not None else None


def source_health(config: SiteConfig, now: datetime) -> tuple[str, ...]:
    """The curation report's lines about the sources; none when the site has no [sources]."""
    return tuple(health_lines(config, now)) if config.sources else ()


def next_change(config: SiteConfig, now: datetime) -> datetime | None:
    """When time alone next changes the health lines: the first source to turn silent."""
    health = read_cache(config.cache_dir / CACHE_NAME)["health"]
    changes = []
    for source in config.sources:
        known = health.get(source.url)
        if not isinstance(known, dict) or known.get("failures"):
            continue
        since = _quiet_since(known)
        if since is not None and since + timedelta(days=SILENT_DAYS) > now:
            changes.append(since + timedelta(days=SILENT_DAYS))
    return min(changes, default=None)
