"""Sitemaps and robots.txt, made from the same pages as the site."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from newsdigest.config import SiteConfig
from newsdigest.grouping import Story
from newsdigest.pages import PageSpec

MAX_URLS = 50_000  # per sitemap file, by the protocol


@dataclass(frozen=True)
class Entry:
    path: str
    lastmod: str
    image: str = ""  # absolute URL of the page's main image
    video: tuple[str, str, str, str, int | None] | None = None  # thumb, title, text, player, s


def sitemap_entries(pages: list[PageSpec], config: SiteConfig) -> list[Entry]:
    """Every page a search engine should know, in page order, with its newest date."""
    entries = []
    for page in pages:
        if not is_listed(page):
            continue
        newest = _newest(page)
        story = page.story
        image = config.absolute_link(story.image_url) if story and story.image_url else ""
        video = None
        if story is not None and story.item.embed is not None:
            item = story.item
            video = (image or item.embed.poster_url, item.title, item.excerpt or item.title,
                     item.embed.src, item.length_seconds)
        entries.append(Entry(page.path, newest.isoformat() if newest else "", image, video))
    return entries


def is_listed(page: PageSpec) -> bool:
    """Pages for readers that search engines should know (not 404.html, not redirects)."""
    return page.listed and not page.path.endswith(".html")


def _newest(page: PageSpec) -> datetime | None:
    story = page.story
    if story is not None:
        return story.item.updated_at or story.item.published_at
    stories = page.context.get("stories") or ()
    dates = [s.item.updated_at or s.item.published_at for s in stories]
    return max(dates) if dates else None


def sitemap_names(count: int) -> list[str]:
    """The sitemap files for a number of pages (all sitemap pages are HTML pages but 404)."""
    if count <= MAX_URLS:
        return ["sitemap.xml"]
    return ["sitemap.xml"] + [f"sitemap-{n}.xml" for n in range(1, -(-count // MAX_URLS) + 1)]


def sitemap_files(entries: list[Entry], config: SiteConfig) -> dict[str, bytes]:
    """sitemap.xml, or past 50,000 URLs an index of sitemap-N.xml files."""
    chunks = [entries[i : i + MAX_URLS] for i in range(0, len(entries), MAX_URLS)] or [[]]
    if len(chunks) == 1:
        return {"sitemap.xml": _urlset(chunks[0], config)}
    files = {f"sitemap-{n}.xml": _urlset(chunk, config) for n, chunk in enumerate(chunks, 1)}
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    lines += [f"  <sitemap><loc>{escape(config.absolute_url(name))}</loc></sitemap>"
              for name in files]
    lines.append("</sitemapindex>")
    files["sitemap.xml"] = ("\n".join(lines) + "\n").encode()
    return files


def _urlset(entries: list[Entry], config: SiteConfig) -> bytes:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
             'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1" '
             'xmlns:video="http://www.google.com/schemas/sitemap-video/1.1">']
    for entry in entries:
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
        lines.append("  <url>" + "".join(parts) + "</url>")
    lines.append("</urlset>")
    return ("\n".join(lines) + "\n").encode()


def news_sitemap(stories: tuple[Story, ...], config: SiteConfig) -> bytes:
    """Google News sitemap: the items of the last two days."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
             'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">']
    for story in stories:
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
    return tuple(s for s in stories if now - timedelta(days=2) <= s.item.published_at <= now)


def robots_txt(config: SiteConfig) -> bytes:
    return (
        "User-agent: *\n"
        "Allow: /\n"
        f"Disallow: {config.url('404.html')}\n\n"
        f"Sitemap: {config.absolute_url('sitemap.xml')}\n"
        f"Sitemap: {config.absolute_url('sitemap-news.xml')}\n"
    ).encode()
