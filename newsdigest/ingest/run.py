"""`newsdigest ingest`: every source fetched at once (each within its own deadline), then its
new entries written one file each, in the order of the sources, as drafts by default.

Nothing is lost: a file is only ever created, never replaced, and an entry already in the
content folder (by URL or as the same story) is not written again, so a second run writes
nothing. The cache (.cache/ingest.json) keeps each source's validators for conditional
requests and the time an undated entry was first seen, so its date never moves.
"""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from newsdigest.config.ingest import Source, word_rule
from newsdigest.config.site import SiteConfig
from newsdigest.content.dedupe import normalise_url
from newsdigest.content.model import check_url
from newsdigest.errors import NewsdigestError, UsageError
from newsdigest.fingerprint import fingerprint
from newsdigest.images.fetch import FetchFailed, FetchLimits, Lookups, request
from newsdigest.ingest.entries import Entry, Feed, NotAFeed, parse_feed
from newsdigest.ingest.items import MAX_URL_CHARS, NewItem, file_name, item_text, write_new
from newsdigest.ingest.known import KnownStories, known_stories
from newsdigest.ingest.text import (
    clean_body,
    cut_at_word,
    domain_of,
    main_text_words,
    plain_text,
    reading_minutes,
    video_embed,
    without_campaign,
)
from newsdigest.store import save_atomic
from newsdigest.stories.sources import CACHE_NAME, read_cache

AGENT = "newsdigest-ingest/1 (+https://pypi.org/project/newsdigest/)"
MAX_FEED_BYTES = 8 * 1024 * 1024
_ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, "
           "application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, "
           "application/json;q=0.8, */*;q=0.5")
SEEN_KEPT_DAYS = 400  # first-seen times of undated entries: longer than any max_age_days


@dataclass(frozen=True)
class IngestOptions:
    sources: tuple[str, ...] = ()  # the names to read; () for all
    opml: Path | None = None  # read the feeds of this OPML file instead of site.toml's
    dry_run: bool = False
    publish: bool = False  # on top of ingest.publish
    offline: bool = False
    now: datetime | None = None


@dataclass
class SourceOutcome:
    source: Source
    new: list[str] = field(default_factory=list)  # file names (written, or to be)
    known: int = 0
    filtered: int = 0
    failure: str = ""
    not_modified: bool = False
    # Health, from the cache: runs failed in a row (this one included) and since when
    failures: int = 0
    failing_since: str = ""


@dataclass
class IngestReport:
    outcomes: list[SourceOutcome]
    folder: Path
    dry_run: bool = False
    offline: bool = False

    @property
    def failed(self) -> list[SourceOutcome]:
        return [o for o in self.outcomes if o.failure]

    @property
    def all_failed(self) -> bool:
        return bool(self.outcomes) and len(self.failed) == len(self.outcomes)

    def summary_line(self) -> str:
        count = len(self.outcomes)
        new = sum(len(o.new) for o in self.outcomes)
        known = sum(o.known for o in self.outcomes)
        filtered = sum(o.filtered for o in self.outcomes)
        failed = len(self.failed)
        line = (f"ingest: {count} source{'s' * (count != 1)}, {new} new"
                f"{' (dry run: nothing written)' if self.dry_run else ''}, "
                f"{known} already known, {filtered} filtered")
        if failed:
            line += f", {failed} source{'s' * (failed != 1)} failed"
        return line


def ingest(config: SiteConfig, options: IngestOptions) -> IngestReport:
    sources = _chosen_sources(config, options)
    folder = config.content_dir / config.ingest.folder
    if options.offline:
        return IngestReport([], folder, options.dry_run, offline=True)
    now = (options.now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    cache_path = config.cache_dir / CACHE_NAME
    cache = read_cache(cache_path)
    answers = _fetch_all(sources, config, cache)
    known = known_stories(config)
    publish = options.publish or config.ingest.publish
    outcomes = []
    for source, answer in zip(sources, answers, strict=True):
        outcome = SourceOutcome(source)
        outcomes.append(outcome)
        _record_health(cache, outcome, answer, now)
        if isinstance(answer, str):
            continue
        if answer is None:
            outcome.not_modified = True
            continue
        feed, validators = answer
        for item in _new_items(source, feed, config, known, cache, now, outcome, publish):
            name = file_name(item, known.names)
            known.names.add(name.casefold())
            if not options.dry_run:
                name = _create(folder, item, known.names, name)
            outcome.new.append(name)
        cache["sources"][source.url] = {**validators, "settings": _settings_key(source, config)}
        if not options.dry_run:
            _record_entries(cache["health"][source.url], len(feed.entries), len(outcome.new),
                            now)
    if not options.dry_run:
        _save_cache(cache_path, cache, now)
    return IngestReport(outcomes, folder, options.dry_run)


def _record_health(cache: dict[str, Any], outcome: SourceOutcome, answer: Answer,
                   now: datetime) -> None:
    """Each source's last success and its current run of failures, kept in the cache: a
    source failing for days (moved, gone, blocking us) is told apart from a bad minute."""
    health = cache["health"].get(outcome.source.url)
    health = dict(health) if isinstance(health, dict) else {}
    if isinstance(answer, str):
        outcome.failure = answer
        failures = health.get("failures", 0)
        outcome.failures = (failures if isinstance(failures, int) else 0) + 1
        outcome.failing_since = str(health.get("since", "")) if outcome.failures > 1 else ""
        health.update(failures=outcome.failures, error=answer,
                      since=outcome.failing_since or now.isoformat())
    else:
        for failure_only in ("error", "since"):
            health.pop(failure_only, None)
        health.update(ok=now.isoformat(), failures=0)
        health.setdefault("first_ok", now.isoformat())
    cache["health"][outcome.source.url] = health


def _record_entries(health: dict[str, Any], seen: int, imported: int, now: datetime) -> None:
    """What a source's feed held this run and what it brought: a feed that answers but has
    had nothing new for weeks has stopped silently, the complaint users of every aggregator
    share."""
    total = health.get("imported", 0)
    health.update(seen=seen, imported=(total if isinstance(total, int) else 0) + imported)
    if imported:
        health["last_new"] = now.isoformat()


def _create(folder: Path, item: NewItem, taken: set[str], name: str) -> str:
    text = item_text(item)
    while True:
        try:
            write_new(folder, name, text)
            return name
        except FileExistsError:  # made meanwhile, or hidden from the scan: kept, next name
            taken.add(name.casefold())
            name = file_name(item, taken)
            taken.add(name.casefold())


def _chosen_sources(config: SiteConfig, options: IngestOptions) -> list[Source]:
    if options.opml is not None:
        sources = opml_sources(options.opml)
        where = str(options.opml)
    else:
        sources = list(config.sources)
        where = "site.toml"
    if options.sources:
        by_name = {s.name.casefold(): s for s in sources}
        unknown = [n for n in options.sources if n.casefold() not in by_name]
        if unknown:
            raise UsageError(f"no source named {unknown[0]!r} in {where} (known: "
                             f"{', '.join(s.name for s in sources) or 'none'})")
        sources = [by_name[n.casefold()] for n in dict.fromkeys(options.sources)]
    if not sources:
        raise NewsdigestError(
            f"no sources in {where}: add one such as\n  [sources.example]\n"
            '  url = "https://example.com/feed.xml"\nor pass --opml FILE')
    return sources


def opml_sources(path: Path) -> list[Source]:
    """Every feed of an OPML subscription list, nested folders included, once each."""
    import listparser

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the OPML file ({exc.strerror})") from None
    parsed = listparser.parse(data)
    if not parsed.feeds and (parsed.bozo or not parsed.version):
        raise UsageError(f"{path}: not an OPML subscription list (no feeds found)")
    sources: dict[str, Source] = {}
    names: set[str] = set()
    for feed in parsed.feeds:
        url = str(feed.get("url", "")).strip()
        if not check_url(url) or url in sources:
            continue
        name = " ".join(str(feed.get("title", "") or "").split()) or domain_of(url) or url
        if name.casefold() in names:
            name = f"{name} ({url})"
        names.add(name.casefold())
        sources[url] = Source(name=name, url=url)
    return list(sources.values())


Answer = tuple[Feed, dict[str, str]] | str | None  # a feed, why it failed, or not modified


def _fetch_all(sources: list[Source], config: SiteConfig, cache: dict[str, Any]
               ) -> list[Answer]:
    settings = config.ingest
    limits = FetchLimits(timeout=settings.timeout, max_bytes=MAX_FEED_BYTES,
                         allow_private=settings.allow_private,
                         allow_loopback=settings.allow_loopback, seconds=settings.timeout)
    lookups = Lookups(settings.timeout, stage_seconds=math.inf)

    def one(source: Source) -> Answer:
        known = cache["sources"].get(source.url, {})
        conditional = known.get("settings") == _settings_key(source, config)
        return fetch_source(source, limits, lookups, known if conditional else {})

    workers = max(1, min(settings.concurrency, len(sources)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest") as pool:
        return list(pool.map(one, sources))


def fetch_source(source: Source, limits: FetchLimits, lookups: Lookups,
                 validators: dict[str, str]) -> Answer:
    """The source's feed and its validators; None when unchanged since `validators`; else the
    reason it failed, in a few words."""
    headers = {"User-Agent": AGENT, "Accept": _ACCEPT}
    if validators.get("etag"):
        headers["If-None-Match"] = validators["etag"]
    if validators.get("last-modified"):
        headers["If-Modified-Since"] = validators["last-modified"]
    try:
        answer = request(source.url, "GET", limits, lookups, read_body=True, headers=headers)
    except FetchFailed as exc:
        return exc.reason
    if answer.status == 304 and validators:
        return None
    if answer.status in (404, 410):
        return f"source gone: HTTP {answer.status}"
    if answer.status != 200:
        return f"HTTP {answer.status}"
    try:
        feed = parse_feed(answer.body, answer.moved or source.url,
                          answer.headers.get("content-type", ""))
    except NotAFeed as exc:
        return str(exc)
    kept = {k: v for k, v in answer.headers.items() if k in ("etag", "last-modified")}
    return feed, kept


def _new_items(source: Source, feed: Feed, config: SiteConfig, known: KnownStories,
               cache: dict[str, Any], now: datetime, outcome: SourceOutcome,
               publish: bool) -> list[NewItem]:
    include = [word_rule(p) for p in source.include]
    exclude = [word_rule(p) for p in source.exclude]
    keywords = [(topic.name, [word_rule(k) for k in topic.keywords])
                for topic in config.topics if topic.keywords]
    oldest = now - timedelta(days=config.ingest.max_age_days)
    items: list[NewItem] = []
    for entry in feed.entries:
        url = check_url(without_campaign(entry.url)) if len(entry.url) <= MAX_URL_CHARS \
            else None
        if url is None:
            outcome.filtered += 1
            continue
        published_at = _entry_date(entry, url, cache, now)
        summary = plain_text(entry.summary or entry.content)
        text = f"{entry.title} {summary}"
        if (published_at < oldest or (include and not any(r.search(text) for r in include))
                or any(r.search(text) for r in exclude)):
            outcome.filtered += 1
            continue
        if known.knows(url, entry.title, published_at):
            outcome.known += 1
            continue
        if source.max_items and len(items) >= source.max_items:
            outcome.filtered += 1
            continue
        known.add(url, entry.title, published_at)
        topics = list(source.topics)
        topics += [name for name, rules in keywords if any(r.search(text) for r in rules)]
        body = clean_body(entry.content) if entry.content else ""
        if len(body.encode()) > config.rules.max_body_bytes:
            body = ""  # the build would cut it mid-markup: the link and excerpt say enough
        # A feed carrying the full text gives the reading time (a teaser is too short to
        # count: reading_minutes gives none); a video has a length instead.
        video = video_embed(url, entry.video_id)
        minutes = reading_minutes(main_text_words(body)) if body and not video else None
        domain = domain_of(url)
        items.append(NewItem(
            title=entry.title, url=url, published_at=published_at,
            excerpt=cut_at_word(summary, config.max_excerpt_chars),
            provider=source.provider or feed.title or domain, domain=domain,
            topics=tuple(dict.fromkeys(topics))[:config.rules.max_topics],
            pictures=entry.pictures,
            video=video, body=body, published=publish, reading_minutes=minutes))
    return items


def _entry_date(entry: Entry, url: str, cache: dict[str, Any], now: datetime) -> datetime:
    """Published, else updated, else when first seen (kept, so it never moves); a date in
    the future is the time seen too (a feed's clock or typo must not pin it on top)."""
    date = entry.published or entry.updated
    if date is not None and date <= now:
        return date.replace(microsecond=0)
    key = normalise_url(url)
    seen = cache["seen"].get(key)
    try:
        first = datetime.fromisoformat(seen) if isinstance(seen, str) else None
    except ValueError:
        first = None
    if first is None or first.tzinfo is None or first > now:
        first = now
        cache["seen"][key] = now.isoformat()
    return first


def _settings_key(source: Source, config: SiteConfig) -> str:
    """What decides which entries of an answer are taken: when it changes, the feed is asked
    for in full (not 'if modified'), so a widened filter sees the entries it left out."""
    return fingerprint(replace(source, name=""), config.ingest.max_age_days,
                       tuple((t.name, t.keywords) for t in config.topics))


def _save_cache(path: Path, cache: dict[str, Any], now: datetime) -> None:
    oldest = (now - timedelta(days=SEEN_KEPT_DAYS)).isoformat()
    cache["seen"] = {k: v for k, v in cache["seen"].items() if isinstance(v, str) and v >= oldest}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_atomic(path, json.dumps(cache, sort_keys=True, indent=1).encode())

