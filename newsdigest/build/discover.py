"""Step 1 of a build: what the content folder holds, found by names, sizes and times alone.

Light on purpose: a build whose inputs did not change stops after this step, so it must not
pay for importing the stages after it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from newsdigest.config.site import SiteConfig
from newsdigest.content.files import (
    Columns,
    Discovery,
    SourceFile,
    columns_of,
    discover,
    split_notes,
)


@dataclass(frozen=True)
class Sources:
    """What the content folder holds: news items, editor's notes and the files items use."""

    discovery: Discovery  # the news items (and what discovering them warned of) and assets
    notes: list[SourceFile]  # digests/YYYY-MM-DD.md and the like (content.files.split_notes)
    assets: dict[str, Path]  # path in content/ -> file, for local pictures and logos


def listing(files: list[SourceFile], columns: Columns | None = None) -> str:
    """Files by name, size and time, digested (for the keys of what a build keeps), after
    the items of a discovery given as its `columns`. The columns are digested as they lie: a
    line made per file took three times as long, and the repr of 30,000 tuples six times."""
    digest = hashlib.blake2b(digest_size=16)
    for names, sizes, times in (columns or columns_of(()), columns_of(files)):
        digest.update("\0".join(names).encode("utf-8", "surrogatepass"))
        digest.update(len(names).to_bytes(8, "little"))
        digest.update(sizes.tobytes())
        digest.update(times.tobytes())
    return digest.hexdigest()


def find_sources(config: SiteConfig) -> Sources:
    notes, discovery = split_notes(discover(config.content_dir, config.ignore))
    return Sources(discovery, notes, {a.rel: a.path for a in discovery.assets})
