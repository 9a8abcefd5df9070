"""A news item as the rest of the pipeline sees it, once validated (model.py makes them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from newsdigest.content.dedupe import StoryKeys
from newsdigest.content.markup import Embed

KINDS = ("news", "paper", "repo", "video", "opinion", "sponsor")  # front matter `kind`
STORY_ALONE = "alone"  # front matter `story: alone`: never clustered with other items


@dataclass(frozen=True)
class Image:
    url: str  # absolute http(s) URL, or a path relative to the content folder when local
    width: int | None
    height: int | None
    title: str = ""
    local: bool = False


@dataclass(frozen=True)
class Provider:
    name: str
    domain: str
    logo: Image | None = None


@dataclass(frozen=True)
class Related:
    title: str
    url: str
    excerpt: str = ""
    published_at: datetime | None = None
    type: str = "article"
    provider: str = ""
    quality: int = 0


@dataclass(frozen=True, repr=False)
class Item:
    """One news item as the rest of the pipeline sees it. `secured` is deliberately absent."""

    source: str  # path relative to the content folder
    content_hash: str  # of the file's bytes and the settings validation read
    title: str
    slug: str  # URL-safe: front matter `slug`, else from the file name
    published_at: datetime  # aware, UTC
    url: str  # the story's source: webUrl, else originalUrl
    excerpt: str = ""
    updated_at: datetime | None = None
    amp_url: str = ""
    category: str = ""
    type: str = "article"
    quality: int = 0
    heat: int = 0
    published: bool = True
    removed: bool = False
    provider: Provider = Provider("", "")
    topics: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    images: tuple[Image, ...] = ()
    embed: Embed | None = None
    length_seconds: int | None = None
    price: str = ""
    related: tuple[Related, ...] = ()
    body_html: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    curation: str = ""  # front matter `digest`: "pin", "skip" or ""
    story: str = ""  # front matter `story`: the editor's cluster key, "alone", or ""
    why: str = ""  # one sentence: why it matters
    kind: str = ""  # one of KINDS, or "" when not given
    discussion: tuple[str, ...] = ()  # http(s) URLs of threads about it (Hacker News, ...)
    reading_minutes: int | None = None  # of the source
    # What tells this story apart from other items' (dedupe.py): derived here, once per file
    # version, so that a rebuild finds duplicates by lookups alone.
    story_keys: StoryKeys = StoryKeys()

    def __repr__(self) -> str:
        # The content hash covers every field: the file's bytes and the validation settings.
        return f"Item({self.source!r}, {self.content_hash!r})"

    @property
    def score(self) -> float:
        """Quality first, popularity second: heat is capped so one viral item cannot win."""
        return self.quality + min(self.heat, 300) / 3

    @property
    def sponsored(self) -> bool:
        return self.kind == "sponsor"

    @property
    def is_video(self) -> bool:
        return self.type == "video"

    @property
    def duration(self) -> str:
        """`length` as people read it: 1:02:03 or 12:09."""
        if self.length_seconds is None:
            return ""
        hours, rest = divmod(self.length_seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
