"""Step 2 of a build: content files read, validated, grouped into stories, pictured, and
the editions chosen; one value, `GatheredSite`, for every command that needs the site."""

from __future__ import annotations

import secrets
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path

from newsdigest.build.discover import Sources, listing
from newsdigest.build.options import BuildOptions, Progress, progress_counter
from newsdigest.config.site import SiteConfig, settings_fingerprint
from newsdigest.content.files import Discovery, SourceFile, discover
from newsdigest.content.loading import CacheEntry, LoadSettings, load_items, save_cache
from newsdigest.errors import ContentInvalid, Problem
from newsdigest.fingerprint import CODE, fingerprint
from newsdigest.images import stage as image_stage
from newsdigest.render.curation import ImageFacts, image_facts
from newsdigest.stories import editions
from newsdigest.stories.clusters import ClusterInputs
from newsdigest.stories.editions import Edition
from newsdigest.stories.grouping import FUTURE_TOLERANCE, SiteIndex, Story, TopicRef, group


def new_stamp() -> str:
    """A new gathered site's stamp (GatheredSite.stamp)."""
    return secrets.token_hex(8)


@dataclass
class GatheredSite:
    """The site as gathered: stories grouped and pictured, editions chosen, with what was
    wrong. What a build knows before it plans pages; kept between builds (kept_state.py)."""

    index: SiteIndex
    pictures: image_stage.ImageStage
    editions: list[Edition]
    topic_series: list[editions.TopicSeries]  # [digest] topic_editions: each topic's own
    problems: list[Problem]
    item_warnings: dict[str, list[Problem]]  # per content file (only those with any)
    later_warnings: list[Problem]  # from grouping (grouping_warnings) and the editor's notes
    valid_until: datetime | None  # when time alone changes it: a future item becomes due
    title_keys: Counter[str]  # grouping.Grouping.title_keys
    records: dict[str, tuple[int, int, str]]  # content file -> size, mtime_ns, content hash
    # The local images each story's item names, by story path (local_images), every kind
    # and provider name of the items and the sponsored stories (item_facets: the search
    # page's filters, the feeds) and the topic each spelling of a topic name in the items is
    # (topic_spellings): kept, so that a rebuild knows them without reading every item of a
    # kept state.
    local_images: dict[str, tuple[LocalImage, ...]]
    facets: ItemFacets
    topic_spellings: dict[str, TopicRef]
    image_facts: ImageFacts  # what the curation report says of the stories' images
    # Which gathering of the site this is: a new one for each full gather and each add, the
    # same through in-place edits (plan.LastBuild: the last build's files made from it).
    stamp: str = field(default_factory=new_stamp)
    edited: frozenset[str] = frozenset()  # paths of the stories this build edited in place
    # Whether those edits left every story's last change as it was before them (most edits
    # correct a title or a text, not the update date): the sitemap of the list pages then
    # says what it said (plan.Reuse.dates_kept).
    dates_kept: bool = True
    # A site this build added stories to: the stamp of the one it added them to, and the
    # stories whose item pages show other stories now: the added ones, and those with
    # another "more" (plan.reuse).
    added_to: str = ""
    reached: frozenset[str] = frozenset()
    clusters: ClusterInputs | None = None  # grouping.Grouping.clusters
    source_urls: frozenset[str] = frozenset()  # grouping.Grouping.source_urls
    related_urls: frozenset[str] = frozenset()  # grouping.Grouping.related_urls
    grouping_warnings: list[Problem] = field(default_factory=list)  # grouping.Grouping.warnings
    parsed: int = 0  # files read and validated by this build
    patched: list[str] | None = None  # content files patched into a kept state; None: made
    added: int = 0  # of those, how many were added (a state with additions is kept again)
    # The patched files validated, for the item cache when the state is kept again: the next
    # build compares its edits with the versions the state was made from.
    patched_entries: dict[str, CacheEntry] = field(default_factory=dict)

    def warnings(self, discovery: Discovery) -> list[Problem]:
        """The build's warnings so far, in the order a build that read every file gives
        (the discovered files', which are in order of their names)."""
        items, warned = discovery.items, self.item_warnings
        if len(warned) * 16 > len(items):  # many files warned of: one pass over them all
            by_file = [w for s in items for w in warned.get(s.rel, ())]
        else:
            by_file = [w for rel in sorted(warned) if _discovered(items, rel)
                       for w in warned[rel]]
        return discovery.warnings + by_file + self.later_warnings


_REL = attrgetter("rel")


def _discovered(items: list[SourceFile], rel: str) -> bool:
    """Whether a file is among the discovered items (in order of their names): looked up,
    where going through 30,000 of them for a few warned of took 5 ms a build."""
    at = bisect_left(items, rel, key=_REL)
    return at < len(items) and items[at].rel == rel


@dataclass
class WarmState:
    """Validated items a long-running caller (serve) keeps between builds.

    With it, a build neither reads nor rewrites the item cache file (at 10,000 items that is
    most of a second); `save()` writes it once, when the caller is done.
    """

    items: dict[str, CacheEntry] | None = None
    items_key: str = ""  # the LoadSettings.key they were validated with
    # The last build's gathered site (kept_state.py), patched in place by the next build when
    # its edits move no story; made with the settings that give `gathered_key`.
    gathered: GatheredSite | None = None
    gathered_key: str = ""

    def save(self, config: SiteConfig) -> None:
        settings = LoadSettings.of(config)
        if self.items is not None and self.items_key == settings.key:
            save_cache(config.cache_dir / "items", settings, self.items)


def gather(config: SiteConfig, options: BuildOptions, sources: Sources, now: datetime,
           progress: Progress | None = None, warm: WarmState | None = None,
           pictures: bool = True) -> GatheredSite:
    """Load and validate every item, group the stories, picture them and choose the editions.

    Every command that needs the site gathers it here, with its own options: a build, serve
    (with `warm`, what it keeps between builds), `digest`, `report`, `why`, `images --prune`
    and `check --external` (these two with `pictures=False`: which items exist is enough).
    Invalid items raise ContentInvalid unless `options.skip_invalid`.
    """
    cache_dir = config.cache_dir if options.use_cache else None
    settings = LoadSettings.of(config)
    # 1. load and validate every file: all problems are collected before anything is written
    kept = warm.items if warm and cache_dir and warm.items_key == settings.key else None
    loaded = load_items(
        sources.discovery.items,
        settings,
        cache_dir / "items" if cache_dir and kept is None else None,
        options.workers,
        progress_counter(progress, "reading", len(sources.discovery.items)),
        kept,
    )
    if warm is not None and cache_dir:
        warm.items, warm.items_key = loaded.entries, settings.key
    # 2. group: choose what is published, arrange by topic and date
    grouping = group(loaded.items, config, now, options.drafts, options.future)
    problems = loaded.problems + grouping.problems
    if problems and not options.skip_invalid:
        raise ContentInvalid(problems)
    index = grouping.index
    # 2b. images: thumbnails for every story (downloaded once, made once), or fallbacks
    stage = image_stage.prepare(index, config, sources.assets, options.offline,
                                options.workers, now.timestamp(), progress) \
        if pictures else image_stage.ImageStage([], image_stage.ImageReport())
    digest_editions, series, edition_warnings = choose_editions(config, sources, index)
    future = [i.published_at for i in loaded.items
              if i.published_at > now + FUTURE_TOLERANCE and not options.future]
    valid_until = until_retry(min(future) - FUTURE_TOLERANCE if future else None,
                              stage.report)
    entries = loaded.entries
    return GatheredSite(
        index=index,
        pictures=stage,
        editions=digest_editions,
        topic_series=series,
        problems=problems,
        item_warnings={rel: e.result.warnings for rel, e in entries.items() if e.result.warnings},
        later_warnings=grouping.warnings + edition_warnings,
        valid_until=valid_until,
        title_keys=grouping.title_keys,
        clusters=grouping.clusters,
        source_urls=grouping.source_urls,
        related_urls=grouping.related_urls,
        grouping_warnings=grouping.warnings,
        records={rel: (e.size, e.mtime_ns, e.content_hash) for rel, e in entries.items()},
        parsed=loaded.parsed,
        local_images=local_images(index.stories),
        facets=item_facets(index.stories),
        topic_spellings=topic_spellings(index.stories),
        image_facts=image_facts(index.stories, stage.generic),
    )


@dataclass(frozen=True)
class ItemFacets:
    """What passes over the whole site read of every item: the search page's filters and
    the sponsored stories (feeds leave them out). An edit that changes any of them moves its
    story (kept_state._shape), so edits patched in place leave them as they are."""

    kinds: frozenset[str]  # "" for an item that names none
    providers: frozenset[str]  # "" for an item whose provider has no name
    sponsored: frozenset[str]  # the paths of the stories whose item is sponsored

    def __or__(self, other: ItemFacets) -> ItemFacets:
        return ItemFacets(self.kinds | other.kinds, self.providers | other.providers,
                          self.sponsored | other.sponsored)


def topic_spellings(stories: Iterable[Story]) -> dict[str, TopicRef]:
    """Each topic name as the stories' items spell it, casefolded: the topic it is."""
    return {name.casefold(): ref for story in stories
            for name, ref in zip(story.item.topics, story.topics, strict=True)}


def item_facets(stories: Iterable[Story]) -> ItemFacets:
    shown = [(story.path, story.item) for story in stories]
    return ItemFacets(frozenset(item.kind for _, item in shown),
                      frozenset(item.provider.name for _, item in shown),
                      frozenset(path for path, item in shown if item.sponsored))


@dataclass(frozen=True)
class LocalImage:
    """A local image or logo an item names: its content file, front matter field and path."""

    source: str
    field_name: str
    rel: str


def local_images(stories: Iterable[Story]) -> dict[str, tuple[LocalImage, ...]]:
    """The local images and logos each story's item names, for the stories naming any."""
    found = {}
    for story in stories:
        item = story.item
        named = [LocalImage(item.source, "images", image.url)
                 for image in item.images if image.local]
        logo = item.provider.logo
        if logo is not None and logo.local:
            named.append(LocalImage(item.source, "provider.images", logo.url))
        if named:
            found[story.path] = tuple(named)
    return found


def until_retry(valid_until: datetime | None, report: image_stage.ImageReport
                ) -> datetime | None:
    """When a gathered site is out of date: `valid_until`, or sooner, when a failed download
    may be retried."""
    if report.retry_at is None:
        return valid_until
    retry = datetime.fromtimestamp(report.retry_at, UTC)
    return min(valid_until, retry) if valid_until else retry


def choose_editions(config: SiteConfig, sources: Sources, index: SiteIndex,
                    kept: GatheredSite | None = None, added: list[Story] | None = None
                    ) -> tuple[list[Edition], list[editions.TopicSeries], list[Problem]]:
    """The digest's editions and each [digest] topic_editions topic's own, with what the
    editor's notes and the settings for them were warned of. With `kept`, a gathered site
    whose index is `index` without the `added` stories, only the periods these join are
    chosen again."""
    notes, note_warnings = editions.load_notes(sources.notes, config.digest,
                                               config.rules.nofollow)
    if kept is not None:
        digest_editions = editions.editions_with_added(kept.editions, index, config, notes,
                                                       added or [])
        series = editions.topic_series_with_added(kept.topic_series, index, config, notes,
                                                  added or [])
    else:
        digest_editions = editions.build_editions(index, config, notes)
        series = editions.build_topic_series(index, config, notes)
    return digest_editions, series, (
        note_warnings + editions.unknown_edition_topics(index, config)
        + editions.unused_notes(notes, [*digest_editions, *(
            e for one in series for e in one.editions)]))


def repicture_stories(config: SiteConfig, assets: dict[str, Path], options: BuildOptions,
                      now: datetime, index: SiteIndex, generic: set[str]
                      ) -> image_stage.ImageStage:
    """Pictures for the stories of `index` (those a kept state patched), with the site's
    generic images as the whole site has them."""
    return image_stage.prepare(index, config, assets, options.offline, options.workers,
                               now.timestamp(), generic=generic)


def kept_state_key(config: SiteConfig, options: BuildOptions, sources: Sources) -> str:
    """Everything the kept site state is made from besides the news items themselves."""
    image_index = image_stage.image_cache_dir(config) / "index.json"
    try:
        stat = image_index.stat()
        image_cache = (stat.st_size, stat.st_mtime_ns)
    except OSError:
        image_cache = None
    static = discover(config.static_dir) if config.static_dir.is_dir() else None
    return fingerprint(
        CODE, settings_fingerprint(config), config.images, str(config.content_dir),
        str(config.static_dir), str(image_index), image_cache,
        options.drafts, options.future, options.skip_invalid, options.offline,
        listing(sources.notes + sources.discovery.assets),
        listing(static.items + static.assets) if static else None,
    )
