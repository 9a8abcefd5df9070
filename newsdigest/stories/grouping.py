"""Group stage: choose what is published and arrange it by topic and date, newest first."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from operator import attrgetter

from newsdigest import urls
from newsdigest.config.site import SiteConfig
from newsdigest.content.dedupe import Credit, title_key
from newsdigest.content.item import Image, Item
from newsdigest.errors import Problem
from newsdigest.fingerprint import plain_repr
from newsdigest.stories.clusters import Cluster, ClusterInputs, NearMiss, merge_stories
from newsdigest.stories.picture import Picture

FUTURE_TOLERANCE = timedelta(minutes=5)


@plain_repr
@dataclass(frozen=True, slots=True)
class TopicRef:
    name: str
    slug: str
    path: str


@dataclass(slots=True, repr=False)
class Story:
    """A published item with everything derived from its place in the site.

    Its repr is its fingerprint, so the repr of any page context names exactly what it shows.
    Grouping makes it; the image stage then sets its picture and logo (and folds them into
    the fingerprint) in place, before anything reads them. Nothing changes it after that.
    """

    item: Item
    path: str  # page path such as 'news/2026/10/03/some-title/'
    local_date: datetime  # publication time in the site's time zone
    topics: tuple[TopicRef, ...]
    image: Image | None
    fingerprint: str  # of the item and all derived values above
    modified: datetime  # its last change: updated, else published
    also: tuple[Credit, ...] = ()  # other sources of the same story, merged into this one
    # Set by the image stage (images.py), which also folds them into the fingerprint.
    picture: Picture | None = None  # the card's and page's image; None: a placeholder tile
    logo: Picture | None = None  # the provider's logo, small
    # A local main image as published: its re-encoded largest thumbnail (a site path), never
    # the file as given (an SVG or HTML file would run on the site); '' if it is not an image.
    image_file: str = ""

    def __repr__(self) -> str:
        # The fingerprint covers the path too; a bare attribute is the cheapest repr, and page
        # fingerprints take a hundred thousand of them per build.
        return self.fingerprint

    @property
    def score(self) -> float:
        return self.item.score

    @property
    def hue(self) -> int:
        """One of 12 placeholder colours, fixed per first topic, so a topic's tiles match."""
        key = self.topics[0].slug if self.topics else self.item.provider.domain
        return int(hashlib.blake2b(key.encode(), digest_size=2).hexdigest(), 16) % 12

    @property
    def image_url(self) -> str:
        """Absolute URL of a remote image, or the site path of a local one's published copy."""
        if self.image is None:
            return ""
        return self.image_file if self.image.local else self.image.url


@plain_repr
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


@plain_repr
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


@plain_repr
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
    merged: dict[str, tuple[str, ...]] = field(default_factory=dict)  # kept -> merged sources
    # Pages of items merged into another story: their own path -> the story they are part of.
    moved: dict[str, Story] = field(default_factory=dict)
    # Each story of several items, with how each joined it (the curation report lists them).
    clusters: tuple[Cluster, ...] = ()
    near_misses: tuple[NearMiss, ...] = ()  # alike items that are not one story


@dataclass
class Grouping:
    index: SiteIndex
    problems: list[Problem]
    warnings: list[Problem]
    # How many items that may be merged share each dedupe.title_key: a kept site state
    # (sitestate.py) checks that an edited title joins no other story.
    title_keys: Counter[str] = field(default_factory=Counter)
    # What the story clusters were made from: a kept site state checks an edit against it.
    clusters: ClusterInputs | None = None
    # The normalised source and related-coverage URLs of the same items: a kept site state
    # checks that an added item is no other's duplicate.
    source_urls: frozenset[str] = frozenset()
    related_urls: frozenset[str] = frozenset()


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
    selected = newest_first(kept)
    kept, same_source = _drop_duplicate_sources(selected)  # each step keeps the order
    unmerged = kept
    # exact duplicates and story clusters (stories/clusters.py): each story shown once
    stories_merged = merge_stories(kept, config.tz, config.stories)
    kept, credits = stories_merged.kept, stories_merged.credits
    merged = _with_same_source(stories_merged.merged, same_source)
    topic_names = _topic_names(kept, config)
    refs = _topic_refs(topic_names, warnings)
    tz = config.tz
    stories: list[Story] = []
    by_path: dict[str, Story] = {}
    for item in kept:
        local_date = item.published_at.astimezone(tz)
        path = urls.item_path(local_date, item.slug)
        topics = tuple(refs[name.casefold()] for name in item.topics)
        story = make_story(item, path, local_date, topics, credits.get(item.source, ()))
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
        merged=merged,
        moved=_moved(selected, merged, by_path, tz),
        clusters=stories_merged.clusters,
        near_misses=stories_merged.near_misses,
    )
    return Grouping(index, problems, warnings,
                    Counter(key for key in (title_key(i, tz) for i in unmerged) if key),
                    stories_merged.inputs,
                    frozenset(url for i in unmerged for url in i.story_keys.urls),
                    frozenset(url for i in unmerged for url in i.story_keys.related))


def with_stories_added(index: SiteIndex, added: list[Story], config: SiteConfig) -> SiteIndex:
    """The index with stories added, each a story of its own under topics the site has (as
    a kept site state patches an added item in): in every list in its place, newest first,
    with the top stories, the archive and each story's "more" made again as `group` makes
    them."""
    stories = _with_inserted(index.stories, added)
    by_slug = {topic.slug: topic for topic in index.topics}
    joined: dict[str, list[Story]] = defaultdict(list)  # topic slug -> added stories
    for story in added:
        for ref in story.topics:
            for slug in (ref.slug, *(a.slug for a in by_slug[ref.slug].ancestors)):
                if story not in joined[slug]:
                    joined[slug].append(story)
    topics = tuple(
        replace(topic, stories=tuple(_with_inserted(topic.stories, joined[topic.slug])))
        if topic.slug in joined else topic for topic in index.topics)
    return replace(index, stories=tuple(stories), top_stories=_top_stories(stories, config),
                   topics=topics, years=_years(stories),
                   more=_more_from_topics(stories, config.more_items, index.more, added))


def _with_inserted(stories: tuple[Story, ...], added: list[Story]) -> list[Story]:
    """Stories in `newest_first` order of their items, with `added` put in their places: a
    binary search each, which reads a few of a kept state's items, not all."""
    result = list(stories)
    for story in added:
        when, source = story.item.published_at, story.item.source
        low, high = 0, len(result)
        while low < high:  # the first story that comes after this one
            middle = (low + high) // 2
            other = result[middle].item
            if other.published_at > when or (other.published_at == when
                                             and other.source < source):
                low = middle + 1
            else:
                high = middle
        result.insert(low, story)
    return result


def _moved(items: list[Item], merged: dict[str, tuple[str, ...]], by_path: dict[str, Story],
           tz: tzinfo) -> dict[str, Story]:
    """Where the page of each item merged into another story went.

    A story's merged items may have had pages of their own in earlier builds (a duplicate can
    arrive later): their URLs keep working, as pages that send readers to the story.
    """
    by_source = {item.source: item for item in items}
    lead_of = {story.item.source: story for story in by_path.values()}
    moved = {}
    for lead_source, sources in merged.items():
        lead = lead_of.get(lead_source)
        if lead is None:
            continue
        for source in sources:
            item = by_source[source]
            path = urls.item_path(item.published_at.astimezone(tz), item.slug)
            if path not in by_path:
                moved[path] = lead
    return dict(sorted(moved.items()))


def with_cluster_scores(index: SiteIndex, scores: dict[str, tuple[str, float | None]],
                        near_misses: tuple[NearMiss, ...]) -> SiteIndex:
    """The index with these similarities (ClusterInputs.scores) and near misses, clusters
    unchanged: a kept site state patched with edited words (only the curation report shows
    them)."""
    clusters = tuple(
        replace(cluster, members=tuple(
            replace(m, how=scores[m.source][0], score=scores[m.source][1])
            if m.source in scores else m for m in cluster.members))
        for cluster in index.clusters)
    return replace(index, clusters=clusters, near_misses=near_misses)


def newest_first(items: list[Item]) -> list[Item]:
    """Newest first; equal times in path order. Two stable sorts avoid a Python key per item."""
    by_path = sorted(items, key=attrgetter("source"))
    return sorted(by_path, key=attrgetter("published_at"), reverse=True)


def make_story(item: Item, path: str, local_date: datetime,
               topics: tuple[TopicRef, ...], also: tuple[Credit, ...] = ()) -> Story:
    """The story of an item at its place in the site (path, local date, topics, credits)."""
    return Story(item, path, local_date, topics, _main_image(item),
                 _fingerprint(item.content_hash, path, [(t.name, t.slug) for t in topics], also),
                 item.updated_at or item.published_at, also)


def _fingerprint(*parts: object) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()


def _drop_duplicate_sources(items: list[Item]) -> tuple[list[Item], dict[str, tuple[str, ...]]]:
    """One story per source URL: the first of `items` (newest first) stays; the others are
    its copies, by the source file of the one that stays."""
    best: dict[str, Item] = {}
    copies: dict[str, tuple[str, ...]] = {}
    for item in items:
        kept = best.setdefault(item.url, item)
        if kept is not item:
            copies[kept.source] = copies.get(kept.source, ()) + (item.source,)
    keep = {id(i) for i in best.values()}
    return [i for i in items if id(i) in keep], copies


def _with_same_source(merged: dict[str, tuple[str, ...]], copies: dict[str, tuple[str, ...]]
                      ) -> dict[str, tuple[str, ...]]:
    """Copies of one source URL merged into the story their kept copy is part of (its own, or
    the one it was merged into): their pages send readers there, as other duplicates' do."""
    lead_of = {other: lead for lead, others in merged.items() for other in others}
    combined = dict(merged)
    for kept, sources in copies.items():
        lead = lead_of.get(kept, kept)
        combined[lead] = combined.get(lead, ()) + sources
    return combined


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
    start = stories[0].item.published_at - timedelta(days=config.top_stories_days)
    band = 3 * config.top_stories
    # Paid content is never top news: sponsored items stay on the lists, out of this band,
    # which holds the latest days' stories, or the latest few in a quiet week. The list is
    # newest first: the band is where it starts, and no older item is read (an add reads
    # the few it needs of a kept state's).
    recent: list[Story] = []
    for story in stories:
        if len(recent) >= band and story.item.published_at < start:
            break
        if not story.item.sponsored:
            recent.append(story)
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


def _more_from_topics(stories: list[Story], limit: int,
                      kept: dict[str, tuple[Story, ...]] | None = None,
                      added: list[Story] | None = None) -> dict[str, tuple[Story, ...]]:
    """For each story, the stories of its topics nearest to it in time.

    Taking neighbours (not the newest of the topic) keeps the choice local, so adding an item
    changes this list only on the pages near it, and incremental rebuilds stay small. With
    `kept`, the lists before the `added` stories joined `stories`, only the stories whose
    neighbours they are (within `limit` places in a topic they share) are walked again.
    """
    if limit < 1:
        return {}
    members_of: dict[str, list[int]] = defaultdict(list)  # topic -> story numbers, newest first
    places: list[list[tuple[list[int], int]]] = []  # per story: (its topic's members, position)
    for number, story in enumerate(stories):
        place = []
        for ref in story.topics:
            members = members_of[ref.slug]
            place.append((members, len(members)))
            members.append(number)
        places.append(place)
    walked: Collection[int] = range(len(stories))
    if kept is not None and added is not None:
        new = {id(story) for story in added}
        walked = {number for number, story in enumerate(stories) if id(story) in new}
        for number in list(walked):
            for members, at in places[number]:
                walked.update(members[max(0, at - limit):at + limit + 1])
    # the instant published_at is (of the stories walked from and their neighbours alone,
    # when few are walked again)
    when: list[float] | dict[int, float]
    if kept is None:
        when = [story.local_date.timestamp() for story in stories]
    else:
        when = {}
        for number in walked:
            for members, at in places[number]:
                for neighbour in members[max(0, at - limit):at + limit + 1]:
                    if neighbour not in when:
                        when[neighbour] = stories[neighbour].local_date.timestamp()
            if number not in when:
                when[number] = stories[number].local_date.timestamp()
    fresh: dict[int, tuple[Story, ...]] = {}
    for number in walked:
        at_time = when[number]
        gaps: dict[int, float] = {}
        for members, at in places[number]:
            left, right, end = at - 1, at + 1, len(members)
            # Walk outwards from the story, always taking the nearer neighbour in time; left is
            # newer, right is older, and a tie goes to the newer one.
            for _ in range(limit):
                if left >= 0:
                    left_gap = when[members[left]] - at_time
                    if right < end and at_time - when[members[right]] < left_gap:
                        chosen, right = members[right], right + 1
                    else:
                        chosen, left = members[left], left - 1
                elif right < end:
                    chosen, right = members[right], right + 1
                else:
                    break
                gaps[chosen] = abs(when[chosen] - at_time)
        ranked = sorted([(gap, stories[n].path, n) for n, gap in gaps.items()])[:limit]
        fresh[number] = tuple(stories[n] for _, _, n in ranked)
    if kept is None:
        return {story.path: fresh[number] for number, story in enumerate(stories)}
    return {story.path: fresh[number] if number in fresh else kept[story.path]
            for number, story in enumerate(stories)}
