"""`newsdigest add URL`: one web page made an item from its own metadata (OpenGraph, JSON-LD,
<meta>, <title>), the way a link preview is made."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from newsdigest.config.site import SiteConfig
from newsdigest.content.model import check_url, parse_date
from newsdigest.errors import NewsdigestError
from newsdigest.images.fetch import FetchFailed, FetchLimits, Lookups, request
from newsdigest.ingest.entries import Picture
from newsdigest.ingest.items import NewItem, file_name, item_text, write_new
from newsdigest.ingest.known import known_stories
from newsdigest.ingest.text import (
    MIN_READING_WORDS,
    absolute,
    cut_at_word,
    dimension,
    domain_of,
    main_text_words,
    plain_text,
    reading_minutes,
    video_embed,
    without_campaign,
)

MAX_PAGE_BYTES = 4 * 1024 * 1024
MAX_LD_SCRIPTS = 20
MAX_LD_NODES = 500  # objects looked at in a page's JSON-LD: a hostile page may nest deeply
_ARTICLE_TYPES = {"NewsArticle", "Article", "BlogPosting", "ReportageNewsArticle",
                  "AnalysisNewsArticle", "TechArticle", "VideoObject"}
_DATE_META = ("article:published_time", "og:published_time", "datepublished", "date",
              "pubdate", "publishdate", "parsely-pub-date", "dc.date", "dc.date.issued",
              "sailthru.date")
_AGENT = "newsdigest-add/1 (+https://pypi.org/project/newsdigest/)"


class _Metadata(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title = ""
        self.canonical = ""
        self.ld_scripts: list[str] = []
        self._in_title = False
        self._in_ld = False
        self._ld: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta":
            key = (values.get("property") or values.get("name") or values.get("itemprop")
                   or "").strip().lower()
            if key and "content" in values:
                self.meta.setdefault(key, values["content"].strip())
        elif tag == "title" and not self.title:
            self._in_title = True
        elif tag == "link" and "canonical" in values.get("rel", "").lower().split():
            self.canonical = self.canonical or values.get("href", "")
        elif (tag == "script" and values.get("type", "").strip().lower() == "application/ld+json"
              and len(self.ld_scripts) < MAX_LD_SCRIPTS):
            self._in_ld = True
            self._ld = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "script" and self._in_ld:
            self._in_ld = False
            self.ld_scripts.append("".join(self._ld))

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif self._in_ld:
            self._ld.append(data)


@dataclass
class PageFacts:
    title: str = ""
    excerpt: str = ""
    url: str = ""
    published: datetime | None = None
    pictures: list[Picture] = field(default_factory=list)
    provider: str = ""
    video: str = ""
    reading_minutes: int | None = None


def page_facts(html: str, page_url: str) -> PageFacts:
    """What the page says of itself; OpenGraph first, then JSON-LD, then plain <meta>."""
    parser = _Metadata()
    parser.feed(html)
    parser.close()
    meta = parser.meta
    article = _ld_article(parser.ld_scripts)
    url = (absolute(meta.get("og:url", ""), page_url) or absolute(parser.canonical, page_url)
           or absolute(_text(article.get("url")), page_url) or page_url)
    facts = PageFacts(url=url)
    facts.title = " ".join((meta.get("og:title") or _text(article.get("headline"))
                            or _text(article.get("name")) or meta.get("twitter:title")
                            or parser.title).split())
    facts.excerpt = plain_text(meta.get("og:description") or _text(article.get("description"))
                               or meta.get("description") or meta.get("twitter:description", ""))
    for value in (meta.get(name) for name in _DATE_META):
        if value:
            facts.published = parse_date(value, UTC)
            if facts.published:
                break
    if facts.published is None:
        for key in ("datePublished", "uploadDate", "dateCreated"):
            facts.published = parse_date(_text(article.get(key)), UTC) if article.get(key) \
                else None
            if facts.published:
                break
    image = absolute(meta.get("og:image:secure_url") or meta.get("og:image", ""), url)
    if image:
        facts.pictures.append(Picture(image, dimension(meta.get("og:image:width")),
                                      dimension(meta.get("og:image:height"))))
    facts.pictures += list(_ld_images(article, url))
    twitter = absolute(meta.get("twitter:image", ""), url)
    if twitter:
        facts.pictures.append(Picture(twitter))
    publisher = article.get("publisher")
    facts.provider = " ".join((meta.get("og:site_name") or (
        _text(publisher.get("name")) if isinstance(publisher, dict) else "")).split())
    # The page's own text first; a page that shows too little of it (a paywall) may still
    # say how long it is in its JSON-LD.
    words = main_text_words(html)
    # A number, or its digits as text as some sites write it ("wordCount": "1150").
    declared = article.get("wordCount")
    if isinstance(declared, str) and re.fullmatch(r"\s*\d{1,7}\s*", declared):
        declared = int(declared)
    if words < MIN_READING_WORDS and isinstance(declared, int) and not isinstance(declared, bool):
        words = declared
    facts.reading_minutes = reading_minutes(words)
    is_video = meta.get("og:type", "").startswith("video") or _types(article) & {"VideoObject"}
    if is_video or video_embed(url):
        facts.video = (video_embed(url) or video_embed(_text(article.get("embedUrl")))
                       or video_embed(meta.get("og:video:url") or meta.get("og:video", "")))
    return facts


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("@type")
    return {kind} if isinstance(kind, str) else {k for k in kind if isinstance(k, str)} \
        if isinstance(kind, list) else set()


def _ld_article(scripts: list[str]) -> dict[str, Any]:
    """The first article or video object of the page's JSON-LD (in a @graph or a list too)."""
    for script in scripts:
        try:
            data = json.loads(script)
        except (ValueError, RecursionError):
            continue  # a broken block says nothing; the others may
        for node in _nodes(data):
            if _types(node) & _ARTICLE_TYPES:
                return node
    return {}


def _nodes(data: Any) -> Iterator[dict[str, Any]]:
    pending = [data]
    seen = 0
    while pending and seen < MAX_LD_NODES:
        value = pending.pop(0)
        seen += 1
        if isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, dict):
            yield value
            graph = value.get("@graph")
            if isinstance(graph, list):
                pending.extend(graph)


def _ld_images(article: dict[str, Any], base: str) -> Iterator[Picture]:
    images = article.get("image") or article.get("thumbnailUrl") or []
    for image in images if isinstance(images, list) else [images]:
        if isinstance(image, str) and (url := absolute(image, base)):
            yield Picture(url)
        elif isinstance(image, dict) and (url := absolute(_text(image.get("url")), base)):
            yield Picture(url, dimension(image.get("width")), dimension(image.get("height")))


def add_page(config: SiteConfig, url: str, topics: tuple[str, ...], publish: bool,
             now: datetime | None = None) -> Path:
    """Fetch the page and write its item into the inbox; the path written."""
    if check_url(url) is None:
        raise NewsdigestError(f"add: not an http(s) URL: {url[:80]}")
    settings = config.ingest
    limits = FetchLimits(timeout=settings.timeout, max_bytes=MAX_PAGE_BYTES,
                         allow_private=settings.allow_private,
                         allow_loopback=settings.allow_loopback, seconds=settings.timeout)
    try:
        answer = request(url, "GET", limits, Lookups(settings.timeout, stage_seconds=math.inf),
                         read_body=True, headers={"User-Agent": _AGENT,
                                                  "Accept": "text/html,application/xhtml+xml"})
    except FetchFailed as exc:
        raise NewsdigestError(f"add: {url}: {exc.reason}") from None
    if answer.status != 200:
        raise NewsdigestError(f"add: {url}: HTTP {answer.status}")
    if "html" not in answer.headers.get("content-type", "text/html").lower():
        raise NewsdigestError(f"add: {url}: not a web page "
                              f"({answer.headers.get('content-type', '')[:60]})")
    facts = page_facts(_decoded(answer.body, answer.headers.get("content-type", "")),
                       answer.moved or url)
    facts.url = without_campaign(facts.url)
    if check_url(facts.url) is None:
        facts.url = url
    if not facts.title:
        raise NewsdigestError(f"add: {url}: the page has no title (no og:title, JSON-LD "
                              "headline or <title>); nothing written")
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    published_at = facts.published if facts.published and facts.published <= now else now
    known = known_stories(config)
    if known.knows(facts.url, facts.title, published_at):
        raise NewsdigestError(f"add: {facts.url} is already in the content folder (the same URL "
                              "or the same story); nothing written")
    domain = domain_of(facts.url)
    item = NewItem(title=facts.title, url=facts.url, published_at=published_at.replace(
        microsecond=0), excerpt=cut_at_word(facts.excerpt, config.max_excerpt_chars),
        provider=facts.provider or domain, domain=domain, topics=tuple(dict.fromkeys(topics)),
        pictures=tuple(facts.pictures), video=facts.video,
        published=publish or settings.publish,
        reading_minutes=None if facts.video else facts.reading_minutes)
    folder = config.content_dir / settings.folder
    while True:
        name = file_name(item, known.names)
        try:
            return write_new(folder, name, item_text(item))
        except FileExistsError:
            known.names.add(name.casefold())


def _decoded(body: bytes, content_type: str) -> str:
    charset = "utf-8"
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    try:
        return body.decode(charset, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")
