"""Digest editions: the day's and the week's top stories, curated from the site's stories.

Pure functions of the site index, the [digest] settings and the editor's notes: periods in the
site's time zone, a curation score, selection under the caps and rules, sections by topic.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import cached_property

from newsdigest import urls
from newsdigest.config.digest import DigestSettings
from newsdigest.config.rules import closest_name
from newsdigest.config.site import SiteConfig
from newsdigest.content.files import NOTES_FOLDER, SourceFile
from newsdigest.content.front_matter import decode, parse
from newsdigest.content.markup import RenderTimeout, render_body
from newsdigest.errors import Problem
from newsdigest.fingerprint import plain_repr
from newsdigest.stories.grouping import SiteIndex, Story, Topic, TopicRef

TOPIC_FOLDER = "digest/topic/"  # a topic's weekly editions: digest/topic/<slug>/2026-W46/
DAILY, WEEKLY = "daily", "weekly"
_DAY_KEY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_WEEK_KEY = re.compile(r"^(\d{4})-W(\d{2})$")
OTHER_SECTION = "More news"


@plain_repr
@dataclass(frozen=True)
class Period:
    kind: str  # DAILY or WEEKLY
    key: str  # '2026-11-12' or '2026-W46'
    start: date
    end: date  # inclusive

    @property
    def path(self) -> str:
        return f"digest/{self.kind}/{self.key}/"

    @cached_property
    def title(self) -> str:
        if self.kind == DAILY:
            return f"Today in AI: {self.start:%A} {self.start.day} {self.start:%B %Y}"
        return f"The week in AI: {date_range(self.start, self.end)}"

    @cached_property
    def label(self) -> str:
        """Short name for lists and links: 'Week 46, 2026' or 'Thursday 12 November 2026'."""
        if self.kind == DAILY:
            return f"{self.start:%A} {self.start.day} {self.start:%B %Y}"
        year, week, _ = self.start.isocalendar()
        return f"Week {week}, {year}"


def date_range(start: date, end: date) -> str:
    """'9–15 November 2026', '28 September – 4 October 2026', across years in full."""
    if start.year != end.year:
        return f"{start.day} {start:%B %Y} – {end.day} {end:%B %Y}"
    if start.month != end.month:
        return f"{start.day} {start:%B} – {end.day} {end:%B %Y}"
    return f"{start.day}–{end.day} {end:%B %Y}"


def period_of(kind: str, day: date) -> Period:
    if kind == DAILY:
        return Period(DAILY, day.isoformat(), day, day)
    year, week, weekday = day.isocalendar()
    start = day - timedelta(days=weekday - 1)
    return Period(WEEKLY, f"{year}-W{week:02d}", start, start + timedelta(days=6))


def parse_period(text: str, kind: str | None = None) -> Period | None:
    """'2026-11-12' (the day, or the week it is in) or '2026-W46'; None if neither."""
    text = text.strip()
    week = _WEEK_KEY.match(text)
    if week and kind != DAILY:
        try:
            monday = date.fromisocalendar(int(week[1]), int(week[2]), 1)
        except ValueError:
            return None
        return period_of(WEEKLY, monday)
    if _DAY_KEY.match(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return None
        return period_of(kind or DAILY, day)
    return None


@plain_repr
@dataclass(frozen=True)
class Section:
    label: str
    topic: TopicRef | None
    stories: tuple[Story, ...]


@plain_repr
@dataclass(frozen=True)
class EditionLink:
    title: str
    label: str
    path: str


@plain_repr
@dataclass(frozen=True)
class Edition:
    period: Period
    lead: Story
    sections: tuple[Section, ...]  # the other entries, by topic in a stable order
    note_html: str  # the editor's introduction (sanitised), or ''
    previous: EditionLink | None = None  # older edition of the same kind (and topic)
    next: EditionLink | None = None
    topic: TopicRef | None = None  # a topic's own weekly edition ([digest] topic_editions)

    @property
    def path(self) -> str:
        if self.topic is not None:
            return f"{topic_archive_path(self.topic.slug)}{self.period.key}/"
        return self.period.path

    @property
    def title(self) -> str:
        if self.topic is not None:
            period = self.period
            return f"The week in {self.topic.name}: {date_range(period.start, period.end)}"
        return self.period.title

    @property
    def archive(self) -> str:
        """The list of the editions it is one of: the digest's, or its topic's."""
        return topic_archive_path(self.topic.slug) if self.topic is not None else "digest/"

    @property
    def stories(self) -> tuple[Story, ...]:
        return (self.lead,) + tuple(s for section in self.sections for s in section.stories)

    @property
    def count(self) -> int:
        return 1 + sum(len(section.stories) for section in self.sections)

    @property
    def link(self) -> EditionLink:
        return EditionLink(self.title, self.period.label, self.path)

    @property
    def published_at(self) -> datetime:
        """The newest item's time: a stable date for feeds (the clock would change each build)."""
        return max(s.item.published_at for s in self.stories)


@dataclass(frozen=True)
class EditorNote:
    key: str
    source: str
    html: str


def load_notes(sources: list[SourceFile], settings: DigestSettings,
               nofollow: bool = False) -> tuple[dict[str, EditorNote], list[Problem]]:
    """Editor's notes by edition key (`note_key`), from content/digests/<key>.md, or
    content/digests/<topic slug>/<week>.md for a topic's own edition; bad ones are warned
    about."""
    notes: dict[str, EditorNote] = {}
    warnings: list[Problem] = []
    for source in sources:
        stem = source.rel[len(NOTES_FOLDER):].rsplit(".", 1)[0]
        folder, _, name = stem.rpartition("/")
        period = parse_period(name, WEEKLY if folder else None)
        if "/" in folder or period is None or period.key != name or (
                folder and folder != urls.slugify(folder)):
            warnings.append(Problem(source.rel, None, "", "not an edition name; ignored",
                                    "name it YYYY-MM-DD.md or YYYY-Www.md (a topic's edition: "
                                    "<topic slug>/YYYY-Www.md)"))
            continue
        try:
            text = decode(source, source.path.read_bytes())
        except OSError as exc:
            warnings.append(Problem(source.rel, None, "", f"cannot read: {exc.strerror}"))
            continue
        if isinstance(text, Problem):
            warnings.append(text)
            continue
        body = text
        if text.lstrip().startswith("---"):
            raw = parse(source, text)
            if isinstance(raw, Problem):
                warnings.append(raw)
                continue
            body = raw.body
        try:
            html = render_body(body, 10.0, nofollow)
        except RenderTimeout:
            warnings.append(Problem(source.rel, None, "", "too complex to render; ignored"))
            continue
        except Exception as exc:  # noqa: BLE001 - Python-Markdown fails on odd input, as items'
            warnings.append(Problem(source.rel, None, "",
                                    f"cannot be rendered ({type(exc).__name__}); ignored"))
            continue
        notes[stem] = EditorNote(stem, source.rel, html)
    return notes, warnings


def note_key(edition: Edition) -> str:
    """Which note introduces an edition: '2026-W46', or 'robotics/2026-W46' for a topic's."""
    if edition.topic is not None:
        return f"{edition.topic.slug}/{edition.period.key}"
    return edition.period.key


def curation_score(story: Story, settings: DigestSettings) -> float:
    item = story.item
    return (item.quality * settings.quality_weight
            + min(item.heat, settings.heat_cap) * settings.heat_weight)


def eligible(story: Story, settings: DigestSettings) -> bool:
    """The [digest] rules (a pinned item passes them all; a skipped one none)."""
    item = story.item
    if item.sponsored and not settings.sponsors:
        return False  # paid content: in editions (and so the email) only where the site says
    if item.curation == "pin":
        return True
    if item.curation == "skip" or item.quality < settings.min_quality:
        return False
    if settings.include_topics or settings.exclude_topics:
        topics = {t.casefold() for t in item.topics} | {t.name.casefold() for t in story.topics}
        if settings.include_topics and not topics & set(settings.include_topics):
            return False
        if topics & set(settings.exclude_topics):
            return False
    if not (settings.include_domains or settings.exclude_domains):
        return True
    domain = item.provider.domain.casefold()
    if settings.include_domains and not _in_domains(domain, settings.include_domains):
        return False
    return not _in_domains(domain, settings.exclude_domains)


def _in_domains(domain: str, domains: tuple[str, ...]) -> bool:
    return any(domain == d or domain.endswith("." + d) for d in domains)


def select(stories: list[Story], settings: DigestSettings) -> list[Story]:
    """The period's entries, best first: pinned items, then by score, within the caps."""
    candidates = [s for s in stories if eligible(s, settings)]
    return _capped(candidates, settings, _ranks(candidates, settings))


def _ranks(candidates: list[Story], settings: DigestSettings) -> dict[str, tuple]:
    """Each story's place in a ranking: pinned first, then by score, then the newest."""
    return {s.path: (s.item.curation != "pin", -curation_score(s, settings),
                     -s.item.published_at.timestamp(), s.path) for s in candidates}


def _capped(candidates: list[Story], settings: DigestSettings,
            ranks: dict[str, tuple]) -> list[Story]:
    """Eligible stories ranked (`_ranks`) and cut to the caps."""
    ranked = sorted(candidates, key=lambda s: ranks[s.path])
    chosen: list[Story] = []
    per_topic: dict[str, int] = defaultdict(int)
    for story in ranked:
        if len(chosen) >= settings.max_items:
            break
        topic = story.topics[0].slug if story.topics else ""
        if per_topic[topic] >= settings.max_per_topic and story.item.curation != "pin":
            continue
        per_topic[topic] += 1
        chosen.append(story)
    # Paid content never leads an edition, as it is never a top story: the best other
    # story does, where there is one ([digest] sponsors = true lets sponsors in at all).
    lead = next((s for s in chosen if not s.item.sponsored), None)
    if lead is not None and lead is not chosen[0]:
        chosen.remove(lead)
        chosen.insert(0, lead)
    return chosen


def sections(chosen: list[Story]) -> tuple[Section, ...]:
    """Entries after the lead, by their first topic (by name; untopical last), best first."""
    by_topic: dict[str, list[Story]] = defaultdict(list)
    refs: dict[str, TopicRef] = {}
    for story in chosen:
        ref = story.topics[0] if story.topics else None
        key = ref.slug if ref else ""
        by_topic[key].append(story)
        if ref:
            refs[key] = ref
    order = sorted((k for k in by_topic if k), key=lambda k: (refs[k].name.casefold(), k))
    if "" in by_topic:
        order.append("")
    return tuple(
        Section(refs[k].name if k else OTHER_SECTION, refs.get(k), tuple(by_topic[k]))
        for k in order
    )


def build_editions(index: SiteIndex, config: SiteConfig,
                   notes: dict[str, EditorNote] | None = None) -> list[Edition]:
    """Every edition with at least one entry, newest first (weekly before daily on a tie)."""
    settings = config.digest
    notes = notes or {}
    candidates = [s for s in index.stories if eligible(s, settings)]
    ranks = _ranks(candidates, settings)
    by_day: dict[date, list[Story]] = defaultdict(list)
    for story in candidates:
        by_day[story.local_date.date()].append(story)
    editions: list[Edition] = []
    for kind in _kinds(settings):
        by_period: dict[Period, list[Story]] = defaultdict(list)
        for day, day_stories in by_day.items():
            by_period[period_of(kind, day)].extend(day_stories)
        made = [_edition(period, by_period[period], settings, ranks, notes)
                for period in sorted(by_period, key=lambda p: p.start)]
        editions += _linked([edition for edition in made if edition is not None])
    return _newest_first(editions)


def editions_with_added(editions: list[Edition], index: SiteIndex, config: SiteConfig,
                        notes: dict[str, EditorNote], added: list[Story]) -> list[Edition]:
    """`build_editions` of `index`, the index `editions` were built from with the `added`
    stories in it: only the editions of the periods they joined are chosen again."""
    settings = config.digest
    joined = [story for story in added if eligible(story, settings)]
    if not joined:
        return editions
    result: list[Edition] = []
    for kind in _kinds(settings):
        by_period = {edition.period: edition for edition in editions
                     if edition.period.kind == kind}
        for period in {period_of(kind, story.local_date.date()) for story in joined}:
            candidates = [s for s in _in_period(index.stories, period) if eligible(s, settings)]
            edition = _edition(period, candidates, settings, _ranks(candidates, settings), notes)
            if edition is None:
                by_period.pop(period, None)
            else:
                by_period[period] = edition
        result += _linked([by_period[period] for period in sorted(by_period,
                                                                  key=lambda p: p.start)])
    return _newest_first(result)


def _kinds(settings: DigestSettings) -> list[str]:
    return [kind for kind, on in ((WEEKLY, settings.weekly), (DAILY, settings.daily)) if on]


def _edition(period: Period, stories: list[Story], settings: DigestSettings,
             ranks: dict[str, tuple], notes: dict[str, EditorNote]) -> Edition | None:
    """The site's edition of a period from its eligible stories; None if it has no entry."""
    chosen = _capped(stories, settings, ranks)
    if not chosen:
        return None  # an empty edition is not published
    note = notes.get(period.key)
    return Edition(period, chosen[0], sections(chosen[1:]), note.html if note else "")


def _newest_first(editions: list[Edition]) -> list[Edition]:
    """Newest first, weekly before daily on a tie."""
    return sorted(editions, key=lambda e: (e.period.end, e.period.kind == WEEKLY),
                  reverse=True)


def _in_period(stories: tuple[Story, ...], period: Period) -> tuple[Story, ...]:
    """The stories (newest first) published on a day of `period`, in the site's time zone."""
    def first(before: Callable[[date], bool]) -> int:
        low, high = 0, len(stories)  # the first story for which `before(its day)` holds
        while low < high:
            middle = (low + high) // 2
            if before(stories[middle].local_date.date()):
                high = middle
            else:
                low = middle + 1
        return low

    return stories[first(lambda day: day <= period.end):
                   first(lambda day: day < period.start)]


def _linked(editions: list[Edition]) -> list[Edition]:
    """Each edition with links to the one before and after it (oldest first in, same out)."""
    linked = []
    for i, edition in enumerate(editions):
        previous = editions[i - 1].link if i > 0 else None
        following = editions[i + 1].link if i + 1 < len(editions) else None
        linked.append(replace(edition, previous=previous, next=following))
    return linked


def topic_archive_path(slug: str, page: int = 1) -> str:
    return f"{TOPIC_FOLDER}{slug}/" + (f"page/{page}/" if page > 1 else "")


@plain_repr
@dataclass(frozen=True)
class TopicSeries:
    """One topic's weekly editions ([digest] topic_editions), newest first."""

    topic: TopicRef
    description: str
    editions: tuple[Edition, ...]

    @property
    def path(self) -> str:
        return topic_archive_path(self.topic.slug)


def edition_topics(index: SiteIndex, settings: DigestSettings
                   ) -> tuple[list[Topic], list[str]]:
    """The topics named in topic_editions that the site has (in the setting's order), and the
    names that match none. A name matches a topic's name in any letter case, or its slug."""
    by_key: dict[str, Topic] = {}
    for topic in index.topics:
        by_key.setdefault(topic.name.casefold(), topic)
        by_key.setdefault(topic.slug, topic)
    found: dict[str, Topic] = {}
    missing = []
    for name in settings.topic_editions:
        topic = by_key.get(name.casefold()) or by_key.get(urls.slugify(name))
        if topic is None:
            missing.append(name)
        else:
            found.setdefault(topic.slug, topic)
    return list(found.values()), missing


def build_topic_series(index: SiteIndex, config: SiteConfig,
                       notes: dict[str, EditorNote] | None = None) -> list[TopicSeries]:
    """Each topic_editions topic's weekly editions: the [digest] rules and caps, among the
    topic's stories (its subtopics' included); the lead, then the rest as one section, after
    the editor's note of content/digests/<topic slug>/<week>.md."""
    rules = _topic_rules(config.digest)
    notes = notes or {}
    series = []
    for topic in edition_topics(index, config.digest)[0]:
        ref = TopicRef(topic.name, topic.slug, topic.path)
        candidates = [s for s in topic.stories if eligible(s, rules)]
        ranks = _ranks(candidates, rules)
        by_week: dict[Period, list[Story]] = defaultdict(list)
        for story in candidates:
            by_week[period_of(WEEKLY, story.local_date.date())].append(story)
        made = [_topic_edition(ref, period, by_week[period], rules, ranks, notes)
                for period in sorted(by_week, key=lambda p: p.start)]
        series.append(TopicSeries(ref, topic.description, tuple(reversed(_linked(made)))))
    return series


def topic_series_with_added(series: list[TopicSeries], index: SiteIndex, config: SiteConfig,
                            notes: dict[str, EditorNote], added: list[Story]
                            ) -> list[TopicSeries]:
    """`build_topic_series` of `index`, the index `series` were built from with the `added`
    stories in it (under topics it had): only the weeks they joined are chosen again."""
    rules = _topic_rules(config.digest)
    topics = {topic.slug: topic for topic in index.topics}
    result = []
    for one in series:
        topic = topics[one.topic.slug]
        members = {id(story) for story in topic.stories}
        joined = [s for s in added if id(s) in members and eligible(s, rules)]
        if not joined:
            result.append(one)
            continue
        by_week = {edition.period: edition for edition in one.editions}
        for period in {period_of(WEEKLY, story.local_date.date()) for story in joined}:
            candidates = [s for s in _in_period(topic.stories, period) if eligible(s, rules)]
            by_week[period] = _topic_edition(one.topic, period, candidates, rules,
                                             _ranks(candidates, rules), notes)
        made = [by_week[period] for period in sorted(by_week, key=lambda p: p.start)]
        result.append(replace(one, editions=tuple(reversed(_linked(made)))))
    return result


def _topic_rules(settings: DigestSettings) -> DigestSettings:
    # The topic is the edition's own rule: include_topics is for the site's editions, and a
    # cap per first topic would cut a topic edition's stories by their other topics.
    return replace(settings, include_topics=(), max_per_topic=settings.max_items)


def _topic_edition(topic: TopicRef, period: Period, stories: list[Story],
                   rules: DigestSettings, ranks: dict[str, tuple],
                   notes: dict[str, EditorNote]) -> Edition:
    """A topic's edition of a week, from its eligible stories there (one at least)."""
    chosen = _capped(stories, rules, ranks)
    rest = (Section("More this week", None, tuple(chosen[1:])),) if chosen[1:] else ()
    note = notes.get(f"{topic.slug}/{period.key}")
    return Edition(period, chosen[0], rest, note.html if note else "", topic=topic)


def unknown_edition_topics(index: SiteIndex, config: SiteConfig) -> list[Problem]:
    """A warning for each topic_editions name no topic of the site has, with the nearest."""
    names = sorted({t.name for t in index.topics} | set(config.rules.declared_topics))
    warnings = []
    for name in edition_topics(index, config.digest)[1]:
        nearest = closest_name(name, names)
        hint = f'did you mean "{nearest}"?' if nearest else ""
        warnings.append(Problem("site.toml", None, "digest.topic_editions",
                                f'no topic "{name}" on the site: it gets no editions', hint))
    return warnings


def unused_notes(notes: dict[str, EditorNote], editions: list[Edition]) -> list[Problem]:
    """Notes for a period that has no edition: said, so the editor's words are not lost."""
    keys = {note_key(e) for e in editions}
    return [Problem(note.source, None, "", "no edition for this period (no published item "
                    "passes the [digest] rules, or its kind is off"
                    + (", or the topic is not in [digest] topic_editions" if "/" in key else "")
                    + "); note not shown")
            for key, note in sorted(notes.items()) if key not in keys]


def latest(editions: list[Edition], kind: str | None = None) -> Edition | None:
    return next((e for e in editions if kind is None or e.period.kind == kind), None)


def find(editions: list[Edition], period: Period) -> Edition | None:
    return next((e for e in editions if e.period == period), None)
