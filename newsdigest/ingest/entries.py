"""A feed's bytes as entries: RSS 0.9x/1.0/2.0 and Atom through feedparser, JSON Feed here."""

from __future__ import annotations

import calendar
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from newsdigest.content.model import parse_date
from newsdigest.ingest.text import absolute, dimension, first_image, plain_text

MAX_ENTRIES = 1000  # a feed is a list of recent entries; more is a mistake or an attack
_JSON_FEED_VERSIONS = ("https://jsonfeed.org/version/1", "https://jsonfeed.org/version/1.1")


class NotAFeed(Exception):
    """The answer is not a feed we can read (an HTML page, broken XML, bad JSON)."""


@dataclass(frozen=True)
class Picture:
    url: str
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class Entry:
    title: str  # plain text
    url: str  # absolute http(s)
    summary: str = ""  # markup (or text) as the feed gives it
    content: str = ""  # the full text's markup, when the feed carries it
    published: datetime | None = None
    updated: datetime | None = None
    pictures: tuple[Picture, ...] = ()
    video_id: str = ""  # a YouTube feed's yt:videoId
    guid: str = ""


@dataclass(frozen=True)
class Feed:
    title: str
    entries: list[Entry] = field(default_factory=list)


def parse_feed(body: bytes, url: str, content_type: str = "") -> Feed:
    """The feed in `body` (fetched from `url`, which relative links are resolved against)."""
    start = body.lstrip()[:1]
    if "json" in content_type.lower() or start in (b"{", b"["):
        return _json_feed(body, url)
    return _xml_feed(body, url, content_type)


def _xml_feed(body: bytes, url: str, content_type: str) -> Feed:
    import feedparser  # a tenth of a second to import: only commands that read feeds need it

    # A stream, never bytes or text: feedparser opens a str that looks like a URL or a file
    # name, and a hostile body could name a local file.
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers, sanitize_html=False,
                              resolve_relative_uris=True)
    entries = [entry for raw in parsed.entries[:MAX_ENTRIES]
               if (entry := _xml_entry(raw, url)) is not None]
    if not entries:
        # An empty feed is a feed; but no entries with an error or without a known format
        # is a page, a truncated answer or something else, said as such.
        head = body.lstrip().removeprefix(b"\xef\xbb\xbf")[:200].lower()
        if head.startswith(b"<!doctype html") or b"<html" in head:
            raise NotAFeed("not a feed: the address answers an HTML page")
        if not head.startswith(b"<"):
            raise NotAFeed("not a feed: the answer is neither XML nor JSON")
        if parsed.get("bozo") and not isinstance(parsed.get("bozo_exception"), (
                feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)):
            raise NotAFeed(f"broken XML{_where(parsed.get('bozo_exception'))}")
        if not parsed.get("version"):
            raise NotAFeed("not a feed: no RSS, Atom or JSON Feed in the answer")
    return Feed(_title(parsed.feed), entries)


def _xml_entry(raw: Any, feed_url: str) -> Entry | None:
    link = absolute(raw.get("link", ""), feed_url)
    if not link:
        for candidate in raw.get("links", []):
            link = absolute(candidate.get("href", ""), feed_url)
            if link and candidate.get("rel", "alternate") == "alternate":
                break
    guid = str(raw.get("id", "") or "")
    if not link and guid.startswith(("http://", "https://")):
        link = absolute(guid, feed_url)
    title = _title(raw)
    if not link or not title:
        return None  # nothing to point at, or nothing to call it: not an item
    content = ""
    for part in raw.get("content", []):
        if "html" in str(part.get("type", "")) or part.get("value"):
            content = part.get("value", "")
            break
    pictures: list[Picture] = []
    for media in [*raw.get("media_content", []), *raw.get("media_thumbnail", [])]:
        kind = str(media.get("medium", "") or media.get("type", ""))
        if kind and not kind.startswith("image"):
            continue
        found = absolute(media.get("url", ""), link)
        if found:
            pictures.append(Picture(found, dimension(media.get("width")),
                                    dimension(media.get("height"))))
    for enclosure in raw.get("enclosures", []):
        if str(enclosure.get("type", "")).startswith("image/"):
            found = absolute(enclosure.get("href", ""), link)
            if found:
                pictures.append(Picture(found))
    for markup in (content, raw.get("summary", "")):
        image = first_image(markup, link)
        if image:
            pictures.append(Picture(*image))
    return Entry(title=title, url=link, summary=raw.get("summary", ""), content=content,
                 published=_struct_date(raw.get("published_parsed")),
                 # dict.get: feedparser would answer published_parsed for a missing one
                 updated=_struct_date(dict.get(raw, "updated_parsed")),
                 pictures=_unique(pictures), video_id=str(raw.get("yt_videoid", "") or ""),
                 guid=guid)


def _title(raw: Any) -> str:
    """A title as plain text: markup dropped from an HTML one, a text one taken as written
    ('Scaling <policy> models' is a title, not a tag)."""
    title = str(raw.get("title", "") or "")
    detail = raw.get("title_detail") or {}
    if "html" in str(detail.get("type", "")):
        title = plain_text(title)
    return " ".join(title.split())


def _struct_date(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError, TypeError, OSError):
        return None


def _json_feed(body: bytes, url: str) -> Feed:
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise NotAFeed(f"not a feed: broken JSON ({_short(exc)})") from None
    if not isinstance(data, dict) or data.get("version") not in _JSON_FEED_VERSIONS:
        raise NotAFeed("not a feed: JSON without a JSON Feed version")
    items = data.get("items")
    if not isinstance(items, list):
        raise NotAFeed("not a feed: JSON Feed without an items list")
    base = _text(data.get("home_page_url")) or url
    entries = []
    for raw in items[:MAX_ENTRIES]:
        if not isinstance(raw, dict):
            continue
        link = absolute(_text(raw.get("url")) or _text(raw.get("external_url")), base)
        title = " ".join(_text(raw.get("title")).split())
        content = _text(raw.get("content_html"))
        summary = _text(raw.get("summary")) or _html_escape(_text(raw.get("content_text")))
        if not title:
            title = plain_text(summary or content)[:120]
        if not link or not title:
            continue
        pictures = [Picture(found) for key in ("image", "banner_image")
                    if (found := absolute(_text(raw.get(key)), link))]
        for attachment in raw.get("attachments") or []:
            if isinstance(attachment, dict) and _text(attachment.get("mime_type")
                                                      ).startswith("image/"):
                found = absolute(_text(attachment.get("url")), link)
                if found:
                    pictures.append(Picture(found))
        image = first_image(content, link)
        if image:
            pictures.append(Picture(*image))
        entries.append(Entry(title=title, url=link, summary=summary, content=content,
                             published=_iso_date(raw.get("date_published")),
                             updated=_iso_date(raw.get("date_modified")),
                             pictures=_unique(pictures), guid=_text(raw.get("id"))))
    return Feed(plain_text(_text(data.get("title"))), entries)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _html_escape(text: str) -> str:
    import html

    return html.escape(text)


def _iso_date(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return parse_date(value.strip(), UTC)


def _unique(pictures: list[Picture]) -> tuple[Picture, ...]:
    """Each URL once, the first mention with a size winning."""
    chosen: dict[str, Picture] = {}
    for picture in pictures:
        known = chosen.get(picture.url)
        if known is None or (known.width is None and picture.width is not None):
            chosen[picture.url] = picture
    return tuple(chosen.values())


def _where(exc: object) -> str:
    """' at line 2, column 51: undefined entity' from an XML parser's error."""
    line = getattr(exc, "getLineNumber", None)
    if line is None:
        return f": {_short(exc)}"
    message = exc.getMessage() if hasattr(exc, "getMessage") else str(exc)
    return f" at line {line()}, column {exc.getColumnNumber() + 1}: {message}"


def _short(exc: object) -> str:
    return (str(exc) or type(exc).__name__)[:120]
