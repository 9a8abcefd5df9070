"""New item files, in the shape of the pipeline's own (content/000_0d84c82fd133e02b.txt)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from newsdigest.content.model import check_url
from newsdigest.ingest.entries import Picture
from newsdigest.ingest.text import cut_at_word
from newsdigest.urls import DOMAIN, slugify

# What the build takes as provider.domain (content/model.py): another host (an address, a
# single label) is left out, and the build shows the link's host.
MAX_NAME_TRIES = 1000
# Caps on what a feed may put in one file: the build refuses front matter over 64 KB.
MAX_TITLE_CHARS = 500
MAX_NAME_CHARS = 200
MAX_URL_CHARS = 2000


@dataclass(frozen=True)
class NewItem:
    title: str
    url: str
    published_at: datetime
    excerpt: str = ""
    provider: str = ""
    domain: str = ""
    topics: tuple[str, ...] = ()
    pictures: tuple[Picture, ...] = ()
    video: str = ""  # featuredContent: the iframe of a YouTube or Vimeo video
    body: str = ""  # sanitized HTML
    published: bool = False
    reading_minutes: int | None = None  # of the source's text, where it was there to count


def quoted(text: str) -> str:
    """A YAML double-quoted scalar that reads back as exactly `text` (quotes, backslashes,
    control characters, '---', '#', unicode): PyYAML's own emitter does the escaping."""
    dumped = yaml.safe_dump(text, default_style='"', allow_unicode=True, width=1 << 30)
    return dumped.removesuffix("\n").removesuffix("\n...").strip()


def item_text(item: NewItem) -> str:
    lines = ["---", f"title: {quoted(cut_at_word(item.title, MAX_TITLE_CHARS))}"]
    if item.excerpt:
        lines.append(f"excerpt: {quoted(item.excerpt)}")
    lines.append(f"publishedDateTime: {item.published_at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}")
    lines.append(f"webUrl: {quoted(item.url)}")
    lines.append(f"type: {'video' if item.video else 'article'}")
    lines.append(f"published: {'true' if item.published else 'false'}")
    if item.reading_minutes:
        lines.append(f"readingMinutes: {item.reading_minutes}")
    if item.video:
        lines.append(f"featuredContent: {quoted(item.video)}")
    provider = cut_at_word(item.provider or item.domain or "Unknown", MAX_NAME_CHARS)
    lines += ["", "provider:", f"  name: {quoted(provider)}"]
    if DOMAIN.fullmatch(item.domain):
        lines.append(f"  domain: {item.domain}")
    if item.topics:
        lines += ["", "topics:", *[f"  - {quoted(topic)}" for topic in item.topics]]
    pictures = [p for p in item.pictures if len(p.url) <= MAX_URL_CHARS and check_url(p.url)]
    if pictures:
        lines += ["", "images:"]
        for picture in pictures[:1]:  # the item's picture; the rest are the feed's extras
            lines.append(f"  - url: {quoted(picture.url)}")
            if picture.width and picture.height:
                lines += [f"    width: {picture.width}", f"    height: {picture.height}"]
    lines.append("---")
    text = "\n".join(lines) + "\n"
    if item.body:
        text += "\n" + item.body.strip() + "\n"
    return text


def file_name(item: NewItem, taken: set[str]) -> str:
    """YYYY-MM-DD-<slug>.md, with -2, -3... when the name is taken (by a file or this run)."""
    stem = f"{item.published_at.astimezone(UTC):%Y-%m-%d}-{slugify(item.title, 'item')}"
    for number in range(1, MAX_NAME_TRIES):
        name = f"{stem}.md" if number == 1 else f"{stem}-{number}.md"
        if name.casefold() not in taken:
            return name
    raise FileExistsError(f"{stem}.md and {MAX_NAME_TRIES} more names are taken")


def write_new(folder: Path, name: str, text: str) -> Path:
    """Create the file; never replace one (O_EXCL: a file made meanwhile is kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    return path
