"""Group stage: choose what is published and arrange it by topic and date, newest first."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import attrgetter

from newsdigest import urls
from newsdigest.config import SiteConfig
from newsdigest.errors import Problem
from newsdigest.model import Image, Item
from newsdigest.picture import Picture

FUTURE_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class TopicRef:
    name: str
    slug: str
    path: str


@dataclass(frozen=True, slots=True, repr=False)
class Story:
    """A published item with everything derived from its place in the site.

    Its repr is its fingerprint, so the repr of any page context names exactly what it shows.
    """

    item: Item
    path: str  # page path such as 'news/2026/10/03/some-title/'
    local_date: datetime  # publication time in the site's time zone
    topics: tuple[TopicRef, ...]
    image: Image | None
    fingerprint: str  # of the item and all derived values above
    # Set by the image stage (images.py), which also folds them into the fingerprint.
    picture: Picture | None = None  # the card's and page's image; None: a placeholder tile
    logo: Picture | None = None  # the provider's logo, small

    def __repr__(self) -> str:
        return f"Story({self.path!r}, {self.fingerprint!r})"

    @property
    def score(self) -> float:
        return story_score(self.item)

    @property
    def hue(self) -> int:
        """One of 12 placeholder colours, fixed per first topic, so a topic's tiles match."""
        key = self.topics[0].slug if self.topics else self.item.provider.domain
        return int(hashlib.blake2b(key.encode(), digest_size=2).hexdigest(), 16) % 12

    @property
    def image_url(self) -> str:
        """Absolute URL of a remote image, or the site path of a local one beside the page."""
        if self.image is None:
            return ""
        if self.image.local:
            return self.path + self.image.url.rsplit("/", 1)[-1]
        return self.image.url


@dataclass(frozen=True)
class Topic:
    name: str
    slug: str
    path: str
    description: str
    image: str
    stories: tuple[Story, ...]  # its own and its subtopics' items, newest first
    parent: TopicRef | None
    children: tuple[TopicRef, ...]
    ancestors: tuple[TopicRef, ...]  # root first, for breadcrumbs

    @property
    def ref(self) -> TopicRef:
        return TopicRef(self.name, self.slug, self.path)


@dataclass(frozen=True)
class Month:
    year: int
    month: int
    stories: tuple[Story, ...]

    @property
    def path(self) -> str:
        return urls.archive_path(self.year, self.month)

    @property
    def label(self) -> str:
        return datetime(self.year, self.month, 1).strftime("%B %Y")


@dataclass(frozen=True)
class Year:
    year: int
    months: tuple[Month, ...]  # newest first

    @property
    def path(self) -> str:
        return urls.archive_path(self.year)

    @property
    def count(self) -> int:
        return sum(len(m.stories) for m in self.months)


@dataclass(frozen=True)
class SiteIndex:
    stories: tuple[Story, ...]  # newest first
    top_stories: tuple[Story, ...]
    topics: tuple[Topic, ...]  # by name
    years: tuple[Year, ...]  # newest first
    more: dict[str, tuple[Story, ...]]  # story path -> more items from its topics
    excluded: dict[str, list[str]] = field(default_factory=dict)  # reason -> sources


@dataclass
class Grouping:
    index: SiteIndex
    problems: list[Problem]
    warnings: list[Problem]


def story_score(item: Item) -> float:
    """Editorial quality first, popularity second: heat is capped so one viral item can't win."""
    return item.quality + min(item.heat, 300) / 3


def select(
    items: list[Item], now: datetime, drafts: bool, future: bool
) -> tuple[list[Item], dict[str, list[str]]]:
    """Leave out unpublished, withdrawn and future items unless asked; say which."""
    kept: list[Item] = []
    excluded: dict[str, list[str]] = defaultdict(list)
    for item in items:
        if not item.published and not drafts:
            excluded["unpublished"].append(item.source)
        elif item.removed and not drafts:
            excluded["removed"].append(item.source)
        elif item.published_at > now + FUTURE_TOLERANCE and not future:
            excluded["future"].append(item.source)
        else:
            kept.append(item)
    return kept, dict(excluded)


def group(
    items: list[Item], config: SiteConfig, now: datetime, drafts: bool = False,
    future: bool = False,
) -> Grouping:
    problems: list[Problem] = []
    warnings: list[Problem] = []
    kept, excluded = select(items, now, drafts, future)
    kept = _drop_duplicate_sources(kept, warnings)
    kept = newest_first(kept)
    topic_names = _topic_names(kept, config)
    refs = _topic_refs(topic_names, warnings)
    tz = config.tz
    stories: list[Story] = []
    by_path: dict[str, Story] = {}
    for item in kept:
        local_date = item.published_at.astimezone(tz)
        path = urls.item_path(local_date, item.slug)
        topics = tuple(refs[name.casefold()] for name in item.topics)
        story = make_story(item, path, local_date, topics)
        if path in by_path:
            other = by_path[path].item.source
            problems.append(Problem(
                item.source, None, "slug",
                f"same URL /{path} as {other}", "give one of them a different `slug:`",
            ))
            continue
        by_path[path] = story
        stories.append(story)
    topics = _topics(stories, refs, topic_names, config, warnings)
    index = SiteIndex(
        stories=tuple(stories),
        top_stories=_top_stories(stories, config),
        topics=topics,
        years=_years(stories),
        more=_more_from_topics(stories, config.more_items),
        excluded=excluded,
    )
    return Grouping(index, problems, warnings)


def newest_first(items: list[Item]) -> list[Item]:
    """Newest first; equal times in path order. Two stable sorts avoid a Python key per item."""
    by_path = sorted(items, key=attrgetter("source"))
    return sorted(by_path, key=attrgetter("published_at"), reverse=True)


def make_story(item: Item, path: str, local_date: datetime,
               topics: tuple[TopicRef, ...]) -> Story:
    """The story of an item at its place in the site (path, local date and topics)."""
    return Story(item, path, local_date, topics, _main_image(item),
                 _fingerprint(item.digest, path, [(t.name, t.slug) for t in topics]))


def _fingerprint(*parts: object) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()


def _drop_duplicate_sources(items: list[Item], warnings: list[Problem]) -> list[Item]:
    """One story per source URL: the newest (then the first path) wins, the others are named."""
    best: dict[str, Item] = {}
    for item in newest_first(items):
        kept = best.setdefault(item.url, item)
        if kept is not item:
            warnings.append(Problem(
                item.source, None, "webUrl", f"same source as {kept.source}; left out"
            ))
    keep = {id(i) for i in best.values()}
    return [i for i in items if id(i) in keep]


def _topic_names(items: list[Item], config: SiteConfig) -> dict[str, str]:
    """Display name per case-folded topic: site.toml's, else the most used spelling."""
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    for item in items:
        for name in item.topics:
            spellings[name.casefold()][name] += 1
    for meta in config.topics:
        spellings[meta.name.casefold()][meta.name] += 0
        if meta.parent:
            spellings[meta.parent.casefold()][meta.parent] += 0
    names = {}
    for key, counter in spellings.items():
        meta = config.topic_settings(key)
        if meta and meta.display_name:
            names[key] = meta.display_name
        else:
            names[key] = min(counter, key=lambda n: (-counter[n], n))
    return names


def _topic_refs(names: dict[str, str], warnings: list[Problem]) -> dict[str, TopicRef]:
    """A unique slug per topic; names that slug alike get -2, -3... in a stable order."""
    refs: dict[str, TopicRef] = {}
    taken: dict[str, str] = {}
    for key in sorted(names):
        name = names[key]
        base = slug = urls.slugify(name)
        number = 1
        while slug in taken:
            number += 1
            slug = f"{base}-{number}"
        if number > 1:
            warnings.append(Problem(
                "topics", None, name,
                f"slug '{base}' already used by {taken[base]!r}; using '{slug}'"
            ))
        taken[slug] = name
        refs[key] = TopicRef(name, slug, urls.topic_path(slug))
    return refs


def _topics(
    stories: list[Story], refs: dict[str, TopicRef], names: dict[str, str],
    config: SiteConfig, warnings: list[Problem],
) -> tuple[Topic, ...]:
    parents: dict[str, str] = {}
    for meta in config.topics:
        if meta.parent:
            parents[meta.name.casefold()] = meta.parent.casefold()
    for key in list(parents):
        seen = {key}
        node = parents.get(key)
        while node is not None:
            if node in seen:
                warnings.append(Problem("site.toml", None, f"topics.{names[key]}.parent",
                                        "parent topics form a loop; ignored"))
                parents.pop(key)
                break
            seen.add(node)
            node = parents.get(node)
    children: dict[str, list[str]] = defaultdict(list)
    for child, parent in parents.items():
        children[parent].append(child)
    own: dict[str, list[Story]] = defaultdict(list)
    for story in stories:
        for name in story.item.topics:
            own[name.casefold()].append(story)

    def descendants(key: str) -> list[str]:
        found = []
        for child in sorted(children.get(key, [])):
            found.append(child)
            found.extend(descendants(child))
        return found

    topics = []
    for key, ref in refs.items():
        keys = [key, *descendants(key)]
        if len(keys) == 1:
            topic_stories = own.get(key, [])
        else:
            merged = {s.path: s for k in keys for s in own.get(k, [])}
            by_item = {s.item.source: s for s in merged.values()}
            ordered = newest_first([s.item for s in merged.values()])
            topic_stories = [by_item[i.source] for i in ordered]
        ancestors = []
        node = parents.get(key)
        while node is not None:
            ancestors.insert(0, refs[node])
            node = parents.get(node)
        meta = config.topic_settings(key)
        topics.append(Topic(
            name=ref.name,
            slug=ref.slug,
            path=ref.path,
            description=meta.description if meta else "",
            image=meta.image if meta else "",
            stories=tuple(topic_stories),
            parent=refs[parents[key]] if key in parents else None,
            children=tuple(sorted((refs[c] for c in children.get(key, [])),
                                  key=lambda r: r.name.casefold())),
            ancestors=tuple(ancestors),
        ))
    return tuple(sorted(topics, key=lambda t: (t.name.casefold(), t.slug)))


def _main_image(item: Item) -> Image | None:
    return item.images[0] if item.images else None


def _top_stories(stories: list[Story], config: SiteConfig) -> tuple[Story, ...]:
    """The most notable items of the latest days, relative to the newest item, not the clock."""
    if not stories or config.top_stories < 1:
        return ()
    newest = stories[0].item.published_at
    recent = [
        s for s in stories
        if newest - s.item.published_at <= timedelta(days=config.top_stories_days)
    ]
    # A quiet week still gets a full band: then the choice is among the latest few.
    recent = recent if len(recent) >= 3 * config.top_stories else stories[: 3 * config.top_stories]
    ranked = sorted(recent, key=lambda s: (-s.score, -s.item.published_at.timestamp(), s.path))
    return tuple(ranked[: config.top_stories])


def _years(stories: list[Story]) -> tuple[Year, ...]:
    by_month: dict[tuple[int, int], list[Story]] = defaultdict(list)
    for story in stories:
        by_month[(story.local_date.year, story.local_date.month)].append(story)
    years: dict[int, list[Month]] = defaultdict(list)
    for (year, month), month_stories in sorted(by_month.items(), reverse=True):
        years[year].append(Month(year, month, tuple(month_stories)))
    return tuple(Year(year, tuple(months)) for year, months in years.items())


def _more_from_topics(stories: list[Story], limit: int) -> dict[str, tuple[Story, ...]]:
    """For each story, the stories of its topics nearest to it in time.

    Taking neighbours (not the newest of the topic) keeps the choice local, so adding an item
    changes this list only on the pages near it, and incremental rebuilds stay small.
    """
    if limit < 1:
        return {}
    when = {s.path: s.item.published_at.timestamp() for s in stories}
    by_topic: dict[str, list[Story]] = defaultdict(list)
    for story in stories:
        for ref in story.topics:
            by_topic[ref.slug].append(story)
    position = {
        slug: {s.path: i for i, s in enumerate(members)} for slug, members in by_topic.items()
    }
    more: dict[str, tuple[Story, ...]] = {}
    for story in stories:
        at_time = when[story.path]
        candidates: dict[str, tuple[float, str, Story]] = {}
        for ref in story.topics:
            members = by_topic[ref.slug]
            at = position[ref.slug][story.path]
            left, right = at - 1, at + 1
            # Walk outwards from the story, always taking the nearer neighbour in time.
            for _ in range(limit):
                left_gap = at_time - when[members[left].path] if left >= 0 else None
                right_gap = (when[members[right].path] - at_time if right < len(members)
                             else None)
                if left_gap is None and right_gap is None:
                    break
                if right_gap is None or (left_gap is not None and abs(left_gap) <= abs(right_gap)):
                    chosen, left = members[left], left - 1
                else:
                    chosen, right = members[right], right + 1
                gap = abs(when[chosen.path] - at_time)
                candidates[chosen.path] = (gap, chosen.path, chosen)
        ranked = sorted(candidates.values())
        more[story.path] = tuple(entry[2] for entry in ranked[:limit])
    return more
