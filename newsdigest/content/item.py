"""A news item as the rest of the pipeline sees it, once validated (model.py makes them)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from newsdigest.content.dedupe import StoryKeys
from newsdigest.content.markup import Embed

KINDS = ("news", "paper", "repo", "video", "opinion", "sponsor")  # front matter `kind`
SPONSOR = "sponsor"  # the kind of paid content: labelled, kept out of feeds and top stories
# The label shown for each kind (none for plain news, the default).
KIND_LABELS = {"paper": "Paper", "repo": "Repo", "video": "Video", "opinion": "Opinion",
               SPONSOR: "Sponsored"}
STORY_ALONE = "alone"  # front matter `story: alone`: never clustered with other items


# Where readers discuss stories, by host (www., old., m. and mobile. aside).
_DISCUSSION_SITES = {"news.ycombinator.com": "Hacker News", "reddit.com": "Reddit",
                     "redd.it": "Reddit", "lobste.rs": "Lobsters", "bsky.app": "Bluesky",
                     "x.com": "X", "twitter.com": "X"}
_MASTODON_POST = re.compile(r"/@[A-Za-z0-9_.-]+/[0-9]+/?")  # any instance: /@user/<id>


def discussion_site(url: str) -> str:
    """The name readers know a discussion thread's site by: Hacker News, Reddit, Lobsters,
    Bluesky, X, Mastodon, else the host name."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    for prefix in ("www.", "old.", "new.", "np.", "m.", "mobile."):
        host = host.removeprefix(prefix)
    for known, name in _DISCUSSION_SITES.items():
        if host == known or host.endswith("." + known):
            return name
    if _MASTODON_POST.fullmatch(parts.path):
        return "Mastodon"
    return host


@dataclass(frozen=True)
class DiscussionLink:
    site: str  # the link's text: "Hacker News", "Reddit (2)"...
    url: str


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
        return self.kind == SPONSOR

    def source_rel(self, nofollow: bool = False) -> str:
        """rel of the links to the source: a sponsor's are marked paid (and keep the referrer
        the sponsor pays for); `nofollow` where the site puts it on links it does not vouch
        for."""
        if not self.sponsored:
            return "noopener noreferrer"
        return "sponsored noopener nofollow" if nofollow else "sponsored noopener"

    @property
    def kind_label(self) -> str:
        """The label shown for the item's kind; '' for plain news."""
        return KIND_LABELS.get(self.kind, "")

    @property
    def discussion_links(self) -> tuple[DiscussionLink, ...]:
        """Each discussion thread named by its site; a second thread on one site is
        numbered, so no two links read the same."""
        links = []
        seen: dict[str, int] = {}
        for url in self.discussion:
            site = discussion_site(url)
            seen[site] = seen.get(site, 0) + 1
            links.append(DiscussionLink(site if seen[site] == 1 else f"{site} ({seen[site]})",
                                        url))
        return tuple(links)

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
