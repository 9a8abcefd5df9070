"""What the content folder already holds: an entry is new only if no item (published or not)
is the same story, by the rules of the build's duplicate merge (content/dedupe.py)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from newsdigest.config.site import SiteConfig
from newsdigest.content.dedupe import normalise_title, normalise_url
from newsdigest.content.files import SourceFile, discover
from newsdigest.content.front_matter import RawItem, decode, parse
from newsdigest.content.model import parse_date


@dataclass
class KnownStories:
    """Normalised URLs and same-story keys (local day + normalised title) seen so far, with
    the file names taken: new entries are added as they are accepted, so two sources of one
    run that carry the same story give one file."""

    tz: tzinfo
    urls: set[str] = field(default_factory=set)
    titles: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)  # casefolded file names of the inbox folder

    def title_key(self, title: str, published_at: datetime) -> str:
        normal = normalise_title(title)
        return f"{published_at.astimezone(self.tz).date().isoformat()} {normal}" if normal else ""

    def knows(self, url: str, title: str, published_at: datetime) -> bool:
        key = self.title_key(title, published_at)
        return normalise_url(url) in self.urls or bool(key and key in self.titles)

    def add(self, url: str, title: str, published_at: datetime) -> None:
        self.urls.add(normalise_url(url))
        key = self.title_key(title, published_at)
        if key:
            self.titles.add(key)

    def add_item(self, raw: RawItem) -> None:
        data = raw.data
        for name in ("webUrl", "originalUrl", "ampWebUrl", "cdnAmpWebUrl"):
            if isinstance(data.get(name), str):
                self.urls.add(normalise_url(data[name]))
        related_list = data.get("related")
        for related in related_list if isinstance(related_list, list) else []:
            if isinstance(related, dict) and isinstance(related.get("webUrl"), str):
                self.urls.add(normalise_url(related["webUrl"]))
        published_at = parse_date(data.get("publishedDateTime"), self.tz)
        title = data.get("title")
        if isinstance(title, str) and published_at is not None:
            key = self.title_key(title, published_at)
            if key:
                self.titles.add(key)


def front_matters(config: SiteConfig, sources: Iterable[SourceFile]
                  ) -> Iterator[tuple[SourceFile, RawItem]]:
    """Each item file's front matter as the build parses it, not validated; files it cannot
    read (too large, unreadable, broken YAML) are left out, for the build to report."""
    for source in sources:
        if source.size > config.max_file_bytes:
            continue
        try:
            text = decode(source, source.path.read_bytes())
        except OSError:
            continue
        raw = parse(source, text, config.rules.max_front_matter_bytes) \
            if isinstance(text, str) else text
        if isinstance(raw, RawItem):
            yield source, raw


def known_stories(config: SiteConfig) -> KnownStories:
    """Every item file of the content folder, read as the build reads it (a file it cannot
    read is left to the build to report)."""
    known = KnownStories(config.tz)
    if not config.content_dir.is_dir():
        return known
    found = discover(config.content_dir, config.ignore)
    folder = config.ingest.folder.strip("/") + "/"
    for source in found.items:
        if source.rel.startswith(folder) and "/" not in source.rel[len(folder):]:
            known.names.add(source.rel[len(folder):].casefold())
    for _, raw in front_matters(config, found.items):
        known.add_item(raw)
    for asset in found.assets:  # a name taken by any file, item or not, is not reused
        if asset.rel.startswith(folder):
            known.names.add(asset.rel[len(folder):].casefold())
    return known
