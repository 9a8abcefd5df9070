"""Validate stage: raw front matter into typed, frozen items, or located problems."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, tzinfo
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from newsdigest.config.rules import ContentRules, NearNames, closest_name
from newsdigest.content.dedupe import story_keys
from newsdigest.content.front_matter import RawItem
from newsdigest.content.item import KINDS, SPONSOR, Image, Item, Provider, Related
from newsdigest.content.markup import (
    Embed,
    RenderTimeout,
    parse_embed,
    render_body,
)
from newsdigest.errors import Problem
from newsdigest.urls import DOMAIN, item_slug

MAX_DIMENSION = 10_000
MAX_RELATED = 20
MAX_SCORE = 1_000_000_000  # quality and heat; past it a number is a mistake, not a score
MAX_LENGTH_SECONDS = 31 * 86400  # a video's `length`
MAX_DISCUSSION = 10  # `discussion` links kept
MAX_READING_MINUTES = 600
MAX_WHY = 300  # characters: `why` is one sentence
MAX_STORY_KEY = 200
# Dates a site can hold. Later steps count from them (a week before the newest item, an
# edition's ISO week, feeds' timestamps): year 1 and year 9999 overflow there, and an offset
# alone takes 9999-12-31T23:00:00-05:00 past the last date Python has.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class _Fields:
    """The fields of one mapping of the format (FORMAT.md and what validate() reads), and the
    mappings inside it (a mapping, or a list of them) with their own fields."""

    names: frozenset[str]
    nested: tuple[tuple[str, _Fields], ...] = ()


def _fields(plain: tuple[str, ...], **nested: _Fields) -> _Fields:
    return _Fields(frozenset(plain) | frozenset(nested), tuple(nested.items()))


_IMAGE_FIELDS = _fields(("url", "width", "height", "title", "isCached"))
_PROVIDER_FIELDS = _fields(("name", "domain"), images=_IMAGE_FIELDS)
_RELATED_FIELDS = _fields(("title", "excerpt", "publishedDateTime", "webUrl", "originalUrl",
                           "type", "quality"), provider=_PROVIDER_FIELDS)
_FIELDS = _fields((
    "title", "excerpt", "publishedDateTime", "updatedDateTime", "webUrl", "originalUrl",
    "ampWebUrl", "cdnAmpWebUrl", "category", "type", "quality", "heat", "published", "removed",
    "topics", "tags", "featuredContent", "length", "price", "secured", "slug", "digest",
    "story", "why", "kind", "discussion", "readingMinutes",
), provider=_PROVIDER_FIELDS, images=_IMAGE_FIELDS, related=_RELATED_FIELDS)
_KNOWN_FIELDS = _FIELDS.names
DIGEST_RULES = ("pin", "skip")  # front matter `digest:`: always in its editions, or never
_DURATION = re.compile(r"P(?:(\d+)D)?T?(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?")


@dataclass
class Validation:
    item: Item | None
    problems: list[Problem]  # the file is unusable
    warnings: list[Problem]  # built, but something was dropped or fixed


class _Checker:
    """Collects every problem of one file instead of stopping at the first."""

    def __init__(self, raw: RawItem):
        self.raw = raw
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def error(self, name: str, message: str, hint: str = "") -> None:
        self.problems.append(Problem(self.raw.source, self.raw.line(name), name, message, hint))

    def warn(self, name: str, message: str, hint: str = "") -> None:
        self.warnings.append(Problem(self.raw.source, self.raw.line(name), name, message, hint))

    def unknown_fields(self, data: dict[Any, Any], known: _Fields, path: str = "") -> None:
        """A warning for each field the format does not have, with the nearest one it does:
        a misspelt `publised: false` would otherwise publish the item without a word."""
        if not data.keys() <= known.names:
            for key in data:
                if key not in known.names:
                    name = f"{path}.{key}" if path else str(key)
                    near = closest_name(str(key), known.names)
                    self.warn(name, f"unknown field; did you mean {path + '.' if path else ''}"
                                    f"{near}?" if near else "unknown field; ignored")
        for key, inner in known.nested:
            value = data.get(key)
            name = f"{path}.{key}" if path else key
            if isinstance(value, dict):
                self.unknown_fields(value, inner, name)
            elif isinstance(value, list):
                # Only the related entries that are kept are read: the rest are dropped whole.
                entries = value[:MAX_RELATED] if key == "related" and not path else value
                for index, entry in enumerate(entries):
                    if isinstance(entry, dict):
                        self.unknown_fields(entry, inner, f"{name}[{index}]")


@dataclass(frozen=True)
class RenderedBody:
    """An item's Markdown body as sanitized HTML, or why it could not be rendered."""

    html: str = ""
    cut: bool = False  # longer than the limit: rendered up to it
    error: str = ""
    hint: str = ""


DEFAULT_RULES = ContentRules()


def render_item_body(body: str, rules: ContentRules = DEFAULT_RULES) -> RenderedBody:
    """The body as sanitized HTML, cut to the size limit first; a body that fails to render
    (too slow, nested too deeply) is an error of the item, not of the build."""
    encoded = body.encode("utf-8", "surrogatepass")
    cut = len(encoded) > rules.max_body_bytes
    if cut:
        body = encoded[: rules.max_body_bytes].decode("utf-8", "ignore").rsplit("\n", 1)[0]
    try:
        return RenderedBody(render_body(body, rules.render_seconds, rules.nofollow), cut)
    except RenderTimeout as exc:
        return RenderedBody(cut=cut, error=str(exc), hint="simplify the Markdown")
    except RecursionError:
        return RenderedBody(cut=cut, error="Markdown nests too deeply to render",
                            hint="simplify the Markdown")
    except Exception as exc:  # Python-Markdown fails on some odd input (attribute lists)
        return RenderedBody(cut=cut, error=f"Markdown failed to render ({type(exc).__name__})",
                            hint="simplify the Markdown")


def validate(raw: RawItem, content_hash: str, tz: tzinfo, rules: ContentRules = DEFAULT_RULES,
             body: RenderedBody | None = None) -> Validation:
    """Type-check every field; wrong types fail the file, unsafe optional values are dropped.

    `body` is render_item_body(raw.body, rules), when the caller rendered it already.
    """
    check = _Checker(raw)
    data = raw.data
    title = _required_text(check, data, "title")
    published_at = _required_date(check, data, "publishedDateTime", tz)
    updated_at = _optional_date(check, data, "updatedDateTime", tz)
    item_type = _text(check, data, "type") or "article"
    embed = _embed(check, data, rules.embed_hosts)
    url = _source_url(check, data, embed)
    quality = _score(check, data, "quality")
    heat = _score(check, data, "heat")
    published = _flag(check, data, "published", True)
    removed = _flag(check, data, "removed", False)
    topics = _names(check, data, "topics", rules.max_topics, rules.near_topics)
    tags = _names(check, data, "tags", rules.max_topics)
    provider = _provider(check, data.get("provider"), url, raw.source)
    images = tuple(
        image
        for index, entry in enumerate(_list(check, data, "images"))
        if (image := _image(check, entry, f"images[{index}]", raw.source)) is not None
    )
    related = _related(check, data, tz)
    length = _length(check, data)
    slug = item_slug(raw.source, _text(check, data, "slug"))
    curation = _curation(check, data)
    digest_fields = _digest_fields(check, data)
    rendered = body if body is not None else render_item_body(raw.body, rules)
    if rendered.cut:
        check.warn("body", f"longer than {rules.max_body_bytes // 1024} KB; cut (raise "
                           "build.max_body_kb to keep more)")
    if rendered.error:
        check.error("body", rendered.error, rendered.hint)
    check.unknown_fields(data, _FIELDS)
    if rules.strict and check.warnings:
        check.problems += [replace(w, hint=w.hint or "an error with build.strict = true")
                           for w in check.warnings]
        check.warnings = []
    if check.problems:
        return Validation(None, check.problems, check.warnings)
    body_html = rendered.html
    if digest_fields["kind"] == SPONSOR:
        body_html = _sponsored_links(body_html, rules.nofollow)
    assert title is not None and published_at is not None and url is not None
    amp_url = _optional_url(check, data, "ampWebUrl")
    excerpt = _squash(_text(check, data, "excerpt"))
    item = Item(
        source=raw.source,
        content_hash=content_hash,
        title=title,
        slug=slug,
        published_at=published_at,
        url=url,
        excerpt=excerpt,
        updated_at=updated_at,
        amp_url=amp_url,
        category=_text(check, data, "category"),
        type=item_type,
        quality=quality,
        heat=heat,
        published=published,
        removed=removed,
        provider=provider,
        topics=topics,
        tags=tags,
        images=images,
        embed=embed,
        length_seconds=length,
        price=_text(check, data, "price"),
        related=related,
        body_html=body_html,
        extra={k: v for k, v in data.items() if k not in _KNOWN_FIELDS},
        curation=curation,
        **digest_fields,
        story_keys=story_keys(title, url, amp_url, related, excerpt),
    )
    return Validation(item, [], check.warnings)


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{'true' if value else 'false'} (a yes/no value)"
    if isinstance(value, int) and not -10**18 < value < 10**18:
        # Never written out: past 4,300 digits, str() itself raises.
        return f"a number of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _required_text(check: _Checker, data: dict[str, Any], name: str) -> str | None:
    if name not in data:
        check.error(name, "required")
        return None
    value = data[name]
    if not isinstance(value, str):
        check.error(name, f"expected text, got {_describe(value)}", "quote the value")
        return None
    if not value.strip():
        check.error(name, "required, but empty")
        return None
    return _squash(value)


def _text(check: _Checker, data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float)) and not isinstance(value, bool) and name != "excerpt":
        return str(value)
    check.error(name, f"expected text, got {_describe(value)}", "quote the value")
    return ""


def _squash(text: str) -> str:
    return " ".join(text.split())


def parse_date(value: Any, tz: tzinfo) -> datetime | None:
    """ISO 8601 text (Z, offset, or none: the site's time zone), a bare date, or epoch seconds,
    from EARLIEST to LATEST."""
    parsed = _parse_date(value, tz)
    return parsed if isinstance(parsed, datetime) else None


_OUT_OF_RANGE = "out of range"


def _parse_date(value: Any, tz: tzinfo) -> datetime | str:
    """The date in UTC, or why not: "invalid" or _OUT_OF_RANGE."""
    if isinstance(value, bool):
        return "invalid"
    if isinstance(value, (int, float)) and math.isfinite(value):
        if not EARLIEST.timestamp() <= value < LATEST.timestamp():
            return _OUT_OF_RANGE
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return "invalid"
    else:
        return "invalid"
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    try:
        parsed = parsed.astimezone(UTC)
    except (OverflowError, ValueError):  # moved past year 1 or 9999 by the offset
        return _OUT_OF_RANGE
    return parsed if EARLIEST <= parsed < LATEST else _OUT_OF_RANGE


def _required_date(
    check: _Checker, data: dict[str, Any], name: str, tz: tzinfo
) -> datetime | None:
    if data.get(name) is None:
        check.error(name, "required", "e.g. 2021-05-06T10:00:00Z")
        return None
    return _optional_date(check, data, name, tz)


def _optional_date(
    check: _Checker, data: dict[str, Any], name: str, tz: tzinfo
) -> datetime | None:
    value = data.get(name)
    if value is None:
        return None
    parsed = _parse_date(value, tz)
    if isinstance(parsed, str):
        shown = value if isinstance(value, str) else _describe(value)
        if parsed == _OUT_OF_RANGE:
            check.error(name, f"date out of range ({shown!s:.40})",
                        f"use a date from {EARLIEST.year} to {LATEST.year - 1}")
        else:
            check.error(name, f"invalid date ({shown!s:.40})",
                        "use ISO 8601, e.g. 2021-05-06T10:00:00Z")
        return None
    return parsed


def check_url(value: Any) -> str | None:
    """An http(s) URL with a host and no credentials, re-serialised; None for anything else."""
    if not isinstance(value, str):
        return None
    return _check_url_text(value)


_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")


# Most URLs are this plain (lower-case http(s), a host name, no port or user): for them the
# general check below would return the text as it is, with "/" for an empty path. It is a
# tenth of loading an item, so they skip it.
_PLAIN_URL = re.compile(
    r"(https?://[a-z0-9-]+(?:\.[a-z0-9-]+)*)(/[^?#\x00-\x20\x7f]*)?"
    r"(\?[^#\x00-\x20\x7f]+)?(#[^\x00-\x20\x7f]+)?")


@lru_cache(maxsize=65536)  # the same provider logos and hosts recur across thousands of items
def _check_url_text(value: str) -> str | None:
    text = value.strip()
    plain = _PLAIN_URL.fullmatch(text)
    if plain is not None:
        origin, path, query, fragment = plain.groups()
        return origin + (path or "/") + (query or "") + (fragment or "")
    return parse_url(text)


def parse_url(text: str) -> str | None:
    """The URL rule in full: http(s), a host, no credentials, a valid port; re-serialised."""
    if not text or _CONTROL_OR_SPACE.search(text):
        return None
    try:
        parts = urlsplit(text)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not hostname:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    netloc = parts.netloc.lower()
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), netloc, path, parts.query, parts.fragment))


def _source_url(check: _Checker, data: dict[str, Any], embed: Embed | None) -> str | None:
    for name in ("webUrl", "originalUrl"):
        if data.get(name) is not None:
            url = check_url(data[name])
            if url is None:
                check.error(name, f"not an http(s) URL ({str(data[name])[:60]!r})")
            return url
    if embed is not None:
        return embed.watch_url
    check.error("webUrl", "required (or originalUrl): the link to the original story")
    return None


def _optional_url(check: _Checker, data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    url = check_url(value)
    if url is None:
        check.warn(name, "not an http(s) URL; link dropped")
        return ""
    return url


def _score(check: _Checker, data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if value is None:
        return 0
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        if len(value.strip()) > 18:  # not a score, and int() refuses past 4,300 digits
            check.error(name, f"expected a whole number up to {MAX_SCORE:,}, got "
                              f"{len(value.strip())} digits")
            return 0
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        check.error(name, f"expected a whole number, got {_describe(value)}")
        return 0
    if value < 0:
        check.error(name, f"expected a whole number of 0 or more, got {_describe(value)}")
        return 0
    if value > MAX_SCORE:
        check.error(name, f"expected a whole number up to {MAX_SCORE:,}, got "
                          f"{_describe(value)}")
        return 0
    return value


def _flag(check: _Checker, data: dict[str, Any], name: str, default: bool) -> bool:
    value = data.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        check.error(name, f"expected true or false, got {_describe(value)}", "remove the quotes")
        return default
    return value


def _list(check: _Checker, data: dict[str, Any], name: str) -> list[Any]:
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        check.error(name, f"expected a list, got {_describe(value)}")
        return []
    return value


def _names(check: _Checker, data: dict[str, Any], name: str, limit: int,
           declared: NearNames | None = None) -> tuple[str, ...]:
    """Up to `limit` different names, in their order; with `declared`, a name one edit away
    from a declared one (and not itself declared) is warned about."""
    value = data.get(name)
    if isinstance(value, str):
        check.warn(name, f"expected a list, got one name; read as [{value!r}]")
        value = [value]
        data = {name: value}
    entries = _list(check, data, name)
    names: dict[str, str] = {}  # casefolded -> as written: one lookup per entry, not a scan
    for index, entry in enumerate(entries):
        if len(names) == limit:
            # The limit comes before the work: 10,000 topics once cost seconds to compare.
            check.warn(name, f"{len(entries)} {name}; only the first {limit} are used")
            break
        if not isinstance(entry, str):
            check.error(f"{name}[{index}]", f"expected text, got {_describe(entry)}", "quote it")
        elif not entry.strip():
            check.warn(f"{name}[{index}]", "empty name ignored")
        else:
            squashed = _squash(entry)
            key = squashed.casefold()
            if key not in names:
                names[key] = squashed
                near = declared.near(key) if declared is not None else None
                if near is not None:
                    check.warn(f"{name}[{index}]", f"topic {squashed!r} is not declared in "
                                                   f"site.toml; did you mean {near!r}?")
    return tuple(names.values())


def _curation(check: _Checker, data: dict[str, Any]) -> str:
    value = data.get("digest")
    if value is None:
        return ""
    if isinstance(value, str) and value.strip().lower() in DIGEST_RULES:
        return value.strip().lower()
    check.error("digest", f"expected pin or skip, got {_describe(value)}",
                "pin keeps the item in its digest editions, skip keeps it out")
    return ""


def _digest_fields(check: _Checker, data: dict[str, Any]) -> dict[str, Any]:
    """The fields a digest reader sees beside the excerpt: `story`, `why`, `kind`,
    `discussion` and `readingMinutes`, as Item's keyword arguments."""
    story = _squash(_text(check, data, "story"))
    if len(story) > MAX_STORY_KEY:
        check.error("story", f"longer than {MAX_STORY_KEY} characters",
                    "any short key shared by the items of one story, or alone")
        story = ""
    why = _squash(_text(check, data, "why"))
    if len(why) > MAX_WHY:
        check.warn("why", f"{len(why)} characters; shown cut at {MAX_WHY}",
                   "one sentence on why it matters; the excerpt says the rest")
        why = why[:MAX_WHY].rsplit(" ", 1)[0] + "…"
    return {"story": story, "why": why, "kind": _kind(check, data),
            "discussion": _discussion(check, data),
            "reading_minutes": _reading_minutes(check, data)}


_LINK_REL = re.compile(r'(<a\s(?:[^>]*?\s)?rel=")[^"]*(")')


def _sponsored_links(html: str, nofollow: bool) -> str:
    """A sponsored item's body links marked paid, as its link to the source is (the body is
    sanitized: every <a> has the rel nh3 gave it, and no quote inside an attribute value)."""
    rel = "sponsored noopener nofollow" if nofollow else "sponsored noopener"
    return _LINK_REL.sub(lambda m: m[1] + rel + m[2], html) if "<a" in html else html


def _kind(check: _Checker, data: dict[str, Any]) -> str:
    """One of KINDS, or ''. An unknown kind is dropped with a warning, but one that reads as
    "sponsor" is an error: dropping it would show paid content unlabelled, as news."""
    kind = _squash(_text(check, data, "kind")).lower()
    if not kind or kind in KINDS:
        return kind
    near = closest_name(kind, KINDS)
    if near == SPONSOR or SPONSOR in kind or "advert" in kind:
        check.error("kind", f"unknown kind {kind[:40]!r}",
                    "write kind: sponsor for paid content: it is labelled Sponsored")
        return ""
    check.warn("kind", f"unknown kind {kind[:40]!r}; ignored",
               f"did you mean {near}?" if near else f"one of {', '.join(KINDS)}")
    return ""


def _discussion(check: _Checker, data: dict[str, Any]) -> tuple[str, ...]:
    """Up to MAX_DISCUSSION different http(s) URLs; one URL alone is read as a list of one."""
    value = data.get("discussion")
    if isinstance(value, str):
        check.warn("discussion", "expected a list, got one URL; read as a list of one",
                   "write it as a list: discussion: [URL]")
        data = {"discussion": [value]}
    entries = _list(check, data, "discussion")
    if len(entries) > MAX_DISCUSSION:
        check.warn("discussion", f"{len(entries)} links; only the first {MAX_DISCUSSION} "
                                 "are kept", "keep the threads readers most want to see")
    discussion: list[str] = []
    for index, entry in enumerate(entries[:MAX_DISCUSSION]):
        url = check_url(entry)
        if url is None:
            # _describe, not str(): str() of a number of 5,000 digits raises.
            shown = repr(entry[:60]) if isinstance(entry, str) else _describe(entry)
            check.warn(f"discussion[{index}]", f"not an http(s) URL ({shown}); dropped",
                       "the thread's full address, e.g. https://news.ycombinator.com/item?id=1")
        elif url not in discussion:
            discussion.append(url)
    return tuple(discussion)


def _reading_minutes(check: _Checker, data: dict[str, Any]) -> int | None:
    """Whole minutes from 1 to MAX_READING_MINUTES; "7" and 7.0 are 7."""
    value = data.get("readingMinutes")
    if value is None:
        return None
    minutes = value
    if isinstance(value, str) and re.fullmatch(r"\s*\d{1,4}\s*", value):
        minutes = int(value)
    elif isinstance(value, float) and value.is_integer():
        minutes = int(value)
    if isinstance(minutes, int) and not isinstance(minutes, bool) \
            and 1 <= minutes <= MAX_READING_MINUTES:
        return minutes
    check.warn("readingMinutes", f"expected whole minutes from 1 to {MAX_READING_MINUTES}, "
                                 f"got {_describe(value)}; ignored",
               "e.g. readingMinutes: 6, or leave it out")
    return None


def _dimension(check: _Checker, value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_DIMENSION:
        return value
    check.warn(name, f"expected a size from 1 to {MAX_DIMENSION}, got {_describe(value)}; ignored")
    return None


def _image(check: _Checker, entry: Any, name: str, source: str) -> Image | None:
    if not isinstance(entry, dict):
        check.warn(name, f"expected a mapping with url, width, height; got {_describe(entry)}")
        return None
    raw_url = entry.get("url")
    if not isinstance(raw_url, str) or not raw_url.strip():
        check.warn(f"{name}.url", "missing; image dropped")
        return None
    title = entry.get("title")
    title = _squash(title) if isinstance(title, str) else ""
    width = _dimension(check, entry.get("width"), f"{name}.width")
    height = _dimension(check, entry.get("height"), f"{name}.height")
    url = check_url(raw_url)
    if url is not None:
        return Image(url, width, height, title)
    local = _local_path(raw_url.strip(), source)
    if local is None:
        check.warn(f"{name}.url",
                   f"not an http(s) URL or a file beside the item ({raw_url[:60]!r})")
        return None
    return Image(local, width, height, title, local=True)


def _local_path(url: str, source: str) -> str | None:
    """A relative image path resolved against the item's folder, if it stays in the content."""
    if ":" in url or url.startswith(("/", "\\")) or "\\" in url or "?" in url or "#" in url:
        return None
    parts = [p for p in source.split("/")[:-1]]
    for part in url.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts) if parts else None


def _provider(check: _Checker, value: Any, url: str | None, source: str) -> Provider:
    host = (urlsplit(url).hostname or "") if url else ""
    host = host.removeprefix("www.")
    if value is None:
        check.warn("provider", f"missing; shown as {host or 'unknown source'}")
        return Provider(host or "Unknown source", host)
    if not isinstance(value, dict):
        check.warn("provider", f"expected a mapping, got {_describe(value)}; ignored")
        return Provider(host or "Unknown source", host)
    name = value.get("name")
    if not isinstance(name, str) or not name.strip():
        check.warn("provider.name", "missing; the source's host name is shown")
        name = host or "Unknown source"
    domain = value.get("domain")
    if not isinstance(domain, str) or not DOMAIN.fullmatch(domain.strip().lower()):
        if domain is not None:
            check.warn("provider.domain", f"not a domain name ({str(domain)[:40]!r})")
        domain = host
    logo = None
    logos = value.get("images")
    if isinstance(logos, list):
        for index, entry in enumerate(logos):
            logo = _image(check, entry, f"provider.images[{index}]", source)
            if logo is not None:
                break
    elif logos is not None:
        check.warn("provider.images", f"expected a list, got {_describe(logos)}; ignored")
    return Provider(_squash(name), domain.strip().lower(), logo)


def _embed(check: _Checker, data: dict[str, Any], hosts: tuple[str, ...]) -> Embed | None:
    value = data.get("featuredContent")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        check.warn("featuredContent", f"expected HTML text, got {_describe(value)}; ignored")
        return None
    embed, reason = parse_embed(value, hosts)
    if embed is None:
        check.warn("featuredContent", f"{reason}; embed dropped")
    return embed


def _length(check: _Checker, data: dict[str, Any]) -> int | None:
    value = data.get("length")
    if value is None:
        return None
    match = _DURATION.fullmatch(value.strip()) if isinstance(value, str) else None
    if not match or not any(match.groups()):
        check.warn("length", f"expected an ISO 8601 duration like PT12M9S, got {_describe(value)}")
        return None
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    total = days * 86400 + hours * 3600 + minutes * 60 + seconds
    if not total <= MAX_LENGTH_SECONDS:  # also infinity: float() of a thousand digits
        check.warn("length", f"longer than {MAX_LENGTH_SECONDS // 86400} days ({value:.40}); "
                             "ignored")
        return None
    return int(total)


def _related(check: _Checker, data: dict[str, Any], tz: tzinfo) -> tuple[Related, ...]:
    entries = _list(check, data, "related")
    if len(entries) > MAX_RELATED:
        check.warn("related", f"{len(entries)} entries; only the first {MAX_RELATED} are kept")
    related: list[Related] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries[:MAX_RELATED]):
        name = f"related[{index}]"
        if not isinstance(entry, dict):
            check.warn(name, f"expected a mapping, got {_describe(entry)}; dropped")
            continue
        title = entry.get("title")
        url = check_url(entry.get("webUrl") or entry.get("originalUrl"))
        if not isinstance(title, str) or not title.strip() or url is None:
            check.warn(name, "needs a title and an http(s) webUrl; dropped")
            continue
        if url in seen:
            continue
        seen.add(url)
        provider = entry.get("provider")
        provider_name = provider.get("name") if isinstance(provider, dict) else None
        quality = entry.get("quality")
        excerpt = entry.get("excerpt")
        kind = entry.get("type")
        related.append(
            Related(
                title=_squash(title),
                url=url,
                excerpt=_squash(excerpt) if isinstance(excerpt, str) else "",
                published_at=parse_date(entry.get("publishedDateTime"), tz),
                type=kind if isinstance(kind, str) else "article",
                provider=_squash(provider_name) if isinstance(provider_name, str) else "",
                quality=quality if type(quality) is int and 0 <= quality <= MAX_SCORE else 0,
            )
        )
    return tuple(related)
