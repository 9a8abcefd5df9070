"""Machine-readable outputs made from the same index as the pages: sitemap, robots.txt."""

from __future__ import annotations

from datetime import datetime
from html import escape

from newsdigest.config import SiteConfig
from newsdigest.grouping import SiteIndex
from newsdigest.pages import PageSpec


def sitemap_entries(pages: list[PageSpec], index: SiteIndex) -> list[tuple[str, str]]:
    """(page path, lastmod) for every page a search engine should know, in page order."""
    entries = []
    for page in pages:
        if page.path.endswith(".html"):
            continue
        newest = _newest(page)
        entries.append((page.path, newest.isoformat() if newest else ""))
    return entries


def _newest(page: PageSpec) -> datetime | None:
    story = page.context.get("story")
    if story is not None:
        return story.item.updated_at or story.item.published_at
    stories = page.context.get("stories") or ()
    dates = [s.item.updated_at or s.item.published_at for s in stories]
    return max(dates) if dates else None


def sitemap_xml(entries: list[tuple[str, str]], config: SiteConfig) -> bytes:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for path, lastmod in entries:
        lines.append(f"  <url><loc>{escape(config.absolute_url(path))}</loc>"
                     + (f"<lastmod>{lastmod}</lastmod>" if lastmod else "") + "</url>")
    lines.append("</urlset>")
    return ("\n".join(lines) + "\n").encode()


def robots_txt(config: SiteConfig) -> bytes:
    return (
        "User-agent: *\n"
        "Allow: /\n"
        f"Disallow: {config.url('404.html')}\n\n"
        f"Sitemap: {config.absolute_url('sitemap.xml')}\n"
    ).encode()
