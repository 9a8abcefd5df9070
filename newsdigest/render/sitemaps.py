"""Sitemaps and robots.txt, made from the same pages as the site."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property, partial
from html import escape
from operator import attrgetter
from typing import NamedTuple, TypeVar

from newsdigest.config.site import SiteConfig
from newsdigest.render.fragments import Fragments, month_of
from newsdigest.render.pages import PageSpec
from newsdigest.stories.grouping import Story

T = TypeVar("T")
MAX_URLS = 50_000  # per sitemap file, by the protocol
_MODIFIED = attrgetter("modified")


class Entry(NamedTuple):
    path: str
    lastmod: str
    image: str = ""  # absolute URL of the page's main image
    video: tuple[str, str, str, str, int | None] | None = None  # thumb, title, text, player, s


@dataclass(frozen=True)
class SitemapFile:
    """One file of the sitemap index and the pages it lists: list pages, or item pages (by
    their story)."""

    name: str
    pages: tuple[PageSpec, ...]
    stories: tuple[Story, ...]
    newest: datetime | None  # the latest change among its pages, for the index

    @cached_property
    def changes(self) -> tuple[str, ...]:
        """Each list page's last change, as the file says it: the newest of its stories'
        (PageSpec.listing), none for a page of no list. What a file of list pages is
        fingerprinted by (with their paths), not their values, which an edited title
        changes."""
        return tuple(map(_last_change, self.pages))


def plan_sitemaps(pages: list[PageSpec], stories: tuple[Story, ...]) -> list[SitemapFile]:
    """sitemap.xml is an index of files: the list pages (`pages` but the item pages) in one,
    the item pages (one per story) by month of publication, each at most 50,000 URLs. An
    edit then remakes the file of its month only, not one holding every page of the site."""
    lists = [page for page in pages if page.story is None and is_listed(page)]
    months: dict[tuple[int, int], list[Story]] = {}
    newest_of: dict[tuple[int, int], datetime] = {}
    for story in stories:
        month = (story.local_date.year, story.local_date.month)
        months.setdefault(month, []).append(story)
        newest = newest_of.get(month)
        if newest is None or story.modified > newest:
            newest_of[month] = story.modified
    overall = max(newest_of.values(), default=None)  # the archive pages list every story
    files = [SitemapFile(name, tuple(chunk), (), overall)
             for name, chunk in _chunked("sitemap-pages", lists)]
    for (year, month), month_stories in sorted(months.items(), reverse=True):
        files += [SitemapFile(name, (), tuple(chunk), newest_of[(year, month)])
                  for name, chunk in _chunked(f"sitemap-items-{year}-{month:02d}",
                                              month_stories)]
    return files


def _chunked(stem: str, entries: list[T]) -> list[tuple[str, list[T]]]:
    chunks = [entries[i : i + MAX_URLS] for i in range(0, len(entries), MAX_URLS)]
    return [(f"{stem}-{n}.xml" if n > 1 else f"{stem}.xml", chunk)
            for n, chunk in enumerate(chunks, 1)]


def sitemap_index(files: list[SitemapFile], config: SiteConfig) -> bytes:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for file in files:
        lastmod = f"<lastmod>{file.newest.isoformat()}</lastmod>" if file.newest else ""
        lines.append(f"  <sitemap><loc>{escape(config.absolute_url(file.name))}</loc>"
                     f"{lastmod}</sitemap>")
    lines.append("</sitemapindex>")
    return ("\n".join(lines) + "\n").encode()


def sitemap_file(file: SitemapFile, config: SiteConfig, kept: Fragments | None = None
                 ) -> bytes:
    """A file of the sitemap index; `kept`: each item page's line, kept between builds with
    the others of its month, which is the file's (an edit then makes its month's file of one
    new line and the kept ones, not of a thousand items read again)."""
    kept = kept if kept is not None else Fragments(None, "", by_variant=True)
    return _urlset([*(_url(entry, config) for entry in list_entries(file)), *(
        kept.made((story.fingerprint, month_of(story)), partial(_item_url, story, config))
        for story in file.stories)])


def _item_url(story: Story, config: SiteConfig) -> str:
    return _url(_item_entry(story, config), config)


def list_entries(file: SitemapFile) -> list[Entry]:
    """Each list page of the file, with the newest date of its stories."""
    return [Entry(page.path, change) for page, change in zip(file.pages, file.changes,
                                                              strict=True)]


def _last_change(page: PageSpec) -> str:
    newest = max(map(_MODIFIED, page.listing), default=None)
    return newest.isoformat() if newest else ""


def _item_entry(story: Story, config: SiteConfig) -> Entry:
    """The entry of a story's item page, with its newest date, image and video."""
    item = story.item
    image = config.absolute_link(story.image_url) if story.image_url else ""
    video = None
    if item.embed is not None:
        video = (image or item.embed.poster_url, item.title, item.excerpt or item.title,
                 item.embed.src, item.length_seconds)
    return Entry(story.path, story.modified.isoformat(), image, video)


def is_listed(page: PageSpec) -> bool:
    """Pages for readers that search engines should know (not 404.html, not redirects)."""
    return page.listed and not page.path.endswith(".html")


def _urlset(urls: list[str]) -> bytes:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
             'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1" '
             'xmlns:video="http://www.google.com/schemas/sitemap-video/1.1">', *urls,
             "</urlset>"]
    return ("\n".join(lines) + "\n").encode()


def _url(entry: Entry, config: SiteConfig) -> str:
    parts = [f"<loc>{escape(config.absolute_url(entry.path))}</loc>"]
    if entry.lastmod:
        parts.append(f"<lastmod>{entry.lastmod}</lastmod>")
    if entry.image:
        parts.append(f"<image:image><image:loc>{escape(entry.image)}</image:loc>"
                     "</image:image>")
    if entry.video and entry.video[0]:
        thumb, title, text, player, seconds = entry.video
        parts.append(
            f"<video:video><video:thumbnail_loc>{escape(thumb)}</video:thumbnail_loc>"
            f"<video:title>{escape(title)}</video:title>"
            f"<video:description>{escape(text[:2048])}</video:description>"
            f"<video:player_loc>{escape(player)}</video:player_loc>"
            + (f"<video:duration>{seconds}</video:duration>" if seconds else "")
            + "</video:video>")
    return "  <url>" + "".join(parts) + "</url>"


def news_sitemap(stories: tuple[Story, ...], config: SiteConfig) -> bytes:
    """Google News sitemap: the items of the last two days, but for sponsored ones (Google
    News takes news, and paid content presented as news breaks its policies)."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
             'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">']
    for story in stories:
        if story.item.sponsored:
            continue
        lines.append(
            f"  <url><loc>{escape(config.absolute_url(story.path))}</loc><news:news>"
            f"<news:publication><news:name>{escape(config.title)}</news:name>"
            f"<news:language>{escape(config.language)}</news:language></news:publication>"
            f"<news:publication_date>{story.item.published_at.isoformat()}"
            f"</news:publication_date><news:title>{escape(story.item.title)}</news:title>"
            "</news:news></url>")
    lines.append("</urlset>")
    return ("\n".join(lines) + "\n").encode()


def news_window(stories: tuple[Story, ...], now: datetime) -> tuple[Story, ...]:
    """The stories of the last two days. `stories` are newest first: the walk stops at the
    first older one instead of reading every story of the site."""
    start = now - timedelta(days=2)
    window = []
    for story in stories:
        published = story.item.published_at
        if published < start:
            break
        if published <= now:  # not one dated in the future (built with --future)
            window.append(story)
    return tuple(window)


def robots_txt(config: SiteConfig) -> bytes:
    return (
        "User-agent: *\n"
        "Allow: /\n"
        f"Disallow: {config.url('404.html')}\n\n"
        f"Sitemap: {config.absolute_url('sitemap.xml')}\n"
        f"Sitemap: {config.absolute_url('sitemap-news.xml')}\n"
    ).encode()
