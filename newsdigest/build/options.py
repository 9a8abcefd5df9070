"""Build options and the progress callback: what every step of a build is given."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class BuildOptions:
    drafts: bool = False
    future: bool = False
    skip_invalid: bool = False
    use_cache: bool = True
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    now: datetime | None = None  # the clock, passed in so tests and builds can fix it
    explain: bool = False
    search: bool = True  # build the Pagefind search index (seconds at 10,000 items)
    report: bool = True  # write the curation report page (also off by site.toml digest.report)
    offline: bool = False  # download no image: pages point at remote images' own URLs


Progress = Callable[[str, int, int], None]  # stage, done so far, total


def progress_counter(progress: Progress | None, stage: str, total: int
                     ) -> Callable[[int], None] | None:
    if progress is None:
        return None
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        progress(stage, done, total)

    return advance
