"""Step 3 of a build: every output of the site with the fingerprint of what it is made from,
before any is rendered."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

from newsdigest import parallel
from newsdigest.build.gather import GatheredSite, LocalImage
from newsdigest.build.options import BuildOptions
from newsdigest.build.output import Manifest
from newsdigest.config.site import SiteConfig, settings_fingerprint
from newsdigest.content.files import Discovery, SourceFile, discover
from newsdigest.errors import Problem
from newsdigest.fingerprint import CODE, fingerprint
from newsdigest.outputs import PHASE_ASSETS, Output, check_one_claim_per_path
from newsdigest.render import api, default_theme_dir, edition_pages, feeds, sitemaps
from newsdigest.render.curation import CurationReport, curation_report, page_context
from newsdigest.render.fragments import Fragments
from newsdigest.render.pages import PageSpec, plan_pages
from newsdigest.render.theme import Theme, content_security_policy, headers_file
from newsdigest.stories.grouping import SiteIndex, Story
from newsdigest.stories.sources import source_health
from newsdigest.urls import REPORT_FOLDER, file_for

PHASE_META = 3
HEADERS_FILE = "_headers"  # response headers for the hosts that read it (Netlify, Cloudflare)


@dataclass
class SitePlan:
    """Every output of the site with its fingerprint, before any is rendered (step 3)."""

    outputs: list[Output]
    pages: list[PageSpec]
    page_files: list[Output]  # the pages' outputs, in the order of `pages`
    theme: Theme
    jsons: Fragments
    warnings: list[Problem]
    curation: CurationReport | None  # None until with_report
    # Item pages of the site left out of `outputs`, as the last build made them (files):
    # their story and the stories below them are as they were (kept_item_pages).
    kept: frozenset[str] = frozenset()
    # Each item page's line in the sitemaps, kept between builds like the cards (`jsons`)
    sitemap_lines: Fragments = field(default_factory=lambda: Fragments(None, ""))
    # List pages and API documents left out of `outputs` likewise: what they show is as
    # it was (page_outputs, _meta_outputs).
    kept_lists: frozenset[str] = frozenset()


@dataclass(frozen=True)
class LastBuild:
    """What the last build into the output folder left: its manifest, the stamp of the
    gathered site its files were made from (GatheredSite.stamp), the stories it had edited
    in that site (paths), whether its edits kept every story's last change
    (GatheredSite.dates_kept) and its files found changed on disk since (None: not known)."""

    manifest: Manifest
    stamp: str
    edited: frozenset[str]
    dates_kept: bool
    changed_on_disk: set[str] | None


def plan_site(config: SiteConfig, options: BuildOptions, now: datetime, discovery: Discovery,
              front: GatheredSite, last: LastBuild | None = None) -> SitePlan:
    """Plan every output with the fingerprint of what it is made from; after edits alone,
    the item pages they do not reach are left as `last` made them (SitePlan.kept)."""
    return with_report(plan_outputs(config, options, now, discovery, front, last), config,
                       options, now, front)


def plan_outputs(config: SiteConfig, options: BuildOptions, now: datetime,
                 discovery: Discovery, front: GatheredSite, last: LastBuild | None = None
                 ) -> SitePlan:
    """`plan_site` but for the curation report (`with_report`), the one output that shows
    the story clusters' similarities (a patched build may still be checking them)."""
    cache_dir = config.cache_dir if options.use_cache else None
    index, pictures, digest_editions = front.index, front.pictures, front.editions
    warnings = front.warnings(discovery)
    theme = Theme(config, cache_dir)
    settings_print = settings_fingerprint(config)
    # Each story's card and JSON, kept between builds for lists that shift (fragments.py).
    theme.cards = Fragments(cache_dir / "cards" if cache_dir else None,
                            fingerprint(CODE, theme.template_hash("_card.html"), settings_print))
    theme.rows = Fragments(cache_dir / "rows" if cache_dir else None,
                           fingerprint(CODE, theme.template_hash("_row.html"), settings_print),
                           by_variant=True)
    jsons = Fragments(cache_dir / "api" if cache_dir else None,
                      fingerprint(CODE, settings_print))
    # each item page's line in its month's sitemap file (sitemaps.sitemap_file)
    sitemap_lines = Fragments(cache_dir / "sitemaps" if cache_dir else None,
                              fingerprint(CODE, settings_print), by_variant=True)
    site_feeds = feeds.site_feeds(index, config, front.facets.sponsored)
    editions_feed = edition_pages.editions_feed(digest_editions, config)
    # Each [digest] topic_editions topic's own weekly editions: pages, feed, /feeds/ entry.
    series = front.topic_series
    topic_feeds = [edition_pages.topic_editions_feed(one, config) for one in series]
    links = feeds.feed_links(site_feeds, editions_feed, config, topic_feeds)
    reused = reuse(front, last)
    kept = kept_item_pages(front, reused, _page_templates(theme, "item.html", True))
    pages = plan_pages(index, config, edition_pages.latest_link(digest_editions),
                       {one.topic.slug: one.path for one in series}, kept)
    pages += edition_pages.digest_pages(digest_editions, config, series)
    pages.append(feeds.feeds_page(links, config))
    theme.preload(sorted({p.template for p in pages} | {"_card.html"}))
    # The pages and API documents no change reaches are left as they are, like the item
    # pages: making an output of each (and checking it before writing) was a tenth of a
    # rebuild's planning after an edit at 30,000 items.
    kept_lists: set[str] | None = set() if reused is not None and reused.lists else None
    page_files = page_outputs(pages, theme, config, reused, kept_lists)
    outputs = [
        *static_outputs(config),
        *pictures.outputs,
        *page_files,
        *_meta_outputs(pages, index, config, now,
                       [*site_feeds, editions_feed, *topic_feeds], jsons, reused,
                       sitemap_lines, kept_lists),
        Output(feeds.OPML_FILE, PHASE_META, fingerprint(settings_print, links),
               partial(feeds.opml, links, config)),
    ]
    warnings += _missing_local_images(index, front.local_images, discovery.assets)
    return SitePlan(outputs, pages, page_files, theme, jsons, warnings, None,
                    frozenset(kept.values()), sitemap_lines, frozenset(kept_lists or ()))


def with_report(plan: SitePlan, config: SiteConfig, options: BuildOptions, now: datetime,
                front: GatheredSite) -> SitePlan:
    """The plan with the curation report, and checked to claim each path once."""
    plan.curation = curation_report(front.index, front.editions, front.problems, plan.warnings,
                                    now, front.image_facts, source_health(config, now),
                                    config)
    plan.outputs += _report_outputs(plan.curation, plan.theme, config, options)
    check_one_claim_per_path(plan.outputs)
    return plan


@dataclass(frozen=True)
class Reuse:
    """What a build patched with edits or additions takes from the last build (`reuse`):
    the fingerprint of each page no change reaches, as its manifest has it."""

    manifest: Manifest
    # The stories edited in this build or in the last, since the site was gathered (a story
    # edited then and edited back now is as the site has it, not as the last build made its
    # pages), by identity: a page shows the site's own story objects, and a page's stories
    # are scattered in memory, where reading each one's path took twice as long.
    edited_ids: frozenset[int]
    changed_on_disk: set[str]
    # After additions: the lists' stories shifted, which no fingerprint kept says, so only
    # item pages are taken, but for those that show other stories now (files).
    lists: bool = True
    remade: frozenset[str] = frozenset()
    # Every story's last change as the last build had it: neither build's edits changed one.
    dates_kept: bool = False

    def known(self, file: str, templates: str, shows: tuple[Story, ...] | None) -> str | None:
        """The last build's fingerprint of a page that shows `shows` (None: not known), if
        it still holds: no story it shows was edited, its templates are the same, and its
        file is as written."""
        known = self.manifest.get(file)
        if (known is None or shows is None or not known[0].startswith(templates)
                or file in self.changed_on_disk or file in self.remade):
            return None
        return known[0] if self.edited_ids.isdisjoint(map(id, shows)) else None


def reuse(front: GatheredSite, last: LastBuild | None) -> Reuse | None:
    """What this build can take from the last (Reuse), when its files on disk were checked:
    with edits to the site the last build's files were made from, its pages; with stories
    added to that site, its item pages."""
    if last is None or last.changed_on_disk is None or front.patched is None:
        return None
    edited = front.edited | last.edited
    edited_ids = frozenset(id(story) for story in front.index.stories if story.path in edited
                           ) if edited else frozenset()
    if front.added and last.stamp == front.added_to:
        return Reuse(last.manifest, edited_ids, last.changed_on_disk, lists=False,
                     remade=frozenset(map(file_for, front.reached)))
    if front.added or last.stamp != front.stamp:
        return None
    return Reuse(last.manifest, edited_ids, last.changed_on_disk,
                 dates_kept=front.dates_kept and last.dates_kept)


def kept_item_pages(front: GatheredSite, reused: Reuse | None, templates: str
                    ) -> dict[str, str]:
    """The paths of the item pages (made with `templates`) a patched build does not need to
    plan, with their files: the last build's fingerprint of each holds (Reuse.known: no
    story it shows, its own and those below it, was edited, and no other is shown now).
    Found for all stories at once: asked page by page, at 30,000 items this took a quarter
    of planning."""
    if reused is None:
        return {}
    stories, more, manifest = front.index.stories, front.index.more, reused.manifest
    edited_ids = reused.edited_ids
    reached = {story.path for story in stories if id(story) in edited_ids} | {
        path for path, shown in more.items() if not edited_ids.isdisjoint(map(id, shown))
    } if edited_ids else set()
    refused = reused.changed_on_disk | reused.remade
    kept = {}
    for story in stories:
        path = story.path
        if path in reached:
            continue
        file = path + "index.html"  # urls.file_for of a story's path, which ends in '/'
        known = manifest.get(file)
        if known is not None and known[0].startswith(templates) and file not in refused:
            kept[path] = file
    return kept


FRAGMENTS_PARALLEL_THRESHOLD = 500


def make_fragments(stories: Sequence[Story], theme: Theme, jsons: Fragments,
                    config: SiteConfig, workers: int) -> None:
    """Each story's card and JSON, made once, shared between the workers, before the pages.

    Left to the page workers, each would make most of them again: every worker renders lists
    and item pages that show nearly every story.
    """
    missing = [story for story in stories
               if theme.cards.get((story.fingerprint, False)) is None
               or jsons.get((story.fingerprint, "json")) is None]
    if workers <= 1 or len(missing) < FRAGMENTS_PARALLEL_THRESHOLD:
        return  # made on demand, as pages ask for them

    def make(start: int, end: int) -> list[tuple[str, str, str]]:
        share = missing[start:end]
        cards = [theme.card_html(story) for story in share]  # all cards, then all JSON:
        texts = [api.story_text(story, config) for story in share]  # each stays warm
        return list(zip([story.fingerprint for story in share], cards, texts, strict=True))

    chunk = max(50, min(250, len(missing) // (workers * 8)))
    for part in parallel.fork_map(make, len(missing), workers, chunk):
        for fingerprint_, card, text in part:
            theme.cards.put((fingerprint_, False), card)
            jsons.put((fingerprint_, "json"), text)
    # Saved now: the page workers fork from this process, and would otherwise hand all of
    # them back to it as pieces they made (tens of megabytes through pipes, held twice).
    current = {story.fingerprint for story in stories}
    theme.cards.save(current)
    jsons.save(current)


def page_outputs(pages: list[PageSpec], theme: Theme, config: SiteConfig,
                 reused: Reuse | None = None, kept: set[str] | None = None) -> list[Output]:
    """Each page as an Output fingerprinted by its templates, the settings and its values
    (or as the last build fingerprinted it, when `reused` says it still holds: then, given
    `kept`, its file goes there instead, left as it is)."""
    settings = settings_fingerprint(config)
    outputs = []
    for page in pages:
        templates = _page_templates(theme, page.template, page.uses_cards)
        path = file_for(page.path)
        known = reused.known(path, templates, page.shows) if reused is not None and (
            reused.lists or page.story is not None) else None
        if known is not None and kept is not None:
            kept.add(path)
            continue
        if known is not None:
            values = known[len(templates):]
        else:
            values = fingerprint(settings, page.path,
                                 page.context if page.inputs is None else page.inputs)
        outputs.append(Output(
            path=path,
            phase=page.phase,
            fingerprint=templates + values,
            produce=partial(_render_spec, theme, page, config),
            values=values,
            templates=(page.template, "_card.html") if page.uses_cards else (page.template,),
        ))
    return outputs


def _page_templates(theme: Theme, template: str, uses_cards: bool) -> str:
    """The part of a page's fingerprint that its templates make (its values the rest)."""
    return theme.template_hash(template) + (theme.template_hash("_card.html")
                                            if uses_cards else "")


def _render_spec(theme: Theme, page: PageSpec, config: SiteConfig) -> bytes:
    return _render_page(theme, page.template, {**page.context, "site": config})


def _render_page(theme: Theme, template: str, context: dict) -> bytes:
    return theme.render(template, context).encode("utf-8")


def _meta_outputs(pages: list[PageSpec], index: SiteIndex, config: SiteConfig, now: datetime,
                  all_feeds: list[feeds.Feed], jsons: Fragments | None = None,
                  reused: Reuse | None = None, sitemap_lines: Fragments | None = None,
                  kept: set[str] | None = None) -> list[Output]:
    """Feeds, sitemaps and robots.txt: written after the pages they point at; the API's
    documents and the items' sitemaps as the last build fingerprinted them when `reused`
    says that still holds (as page_outputs; documents then go to `kept`, if given)."""
    settings = settings_fingerprint(config)
    known = reused.known if reused is not None and reused.lists else _unknown
    outputs = []
    for feed in all_feeds:
        outputs += _feed_outputs(feed, settings, config)
    for document in api.documents(index, config, jsons):
        same = known(document.path, "", document.shows)
        if same is not None and kept is not None:
            kept.add(document.path)
            continue
        outputs.append(Output(
            document.path, PHASE_META,
            same or fingerprint(settings, document.path, document.inputs), document.render))
    # Each sitemap file is made again only when what it says of a page changed: a list
    # page's path and last change (SitemapFile.changes), or an item page's story (its
    # fingerprint covers date, image and video).
    files = sitemaps.plan_sitemaps(pages, index.stories)
    # A file of list pages says what it did when the pages are the last build's and no
    # story's last change moved (finding each page's took a tenth of planning).
    pages_kept = reused is not None and reused.lists and reused.dates_kept
    for file in files:
        if file.pages:
            sitemap_print = (pages_kept and known(file.name, "", ())) or fingerprint(
                settings, file.name, [page.path for page in file.pages], file.changes)
        else:
            sitemap_print = known(file.name, "", file.stories) or fingerprint(
                settings, file.name, file.stories)
        outputs.append(Output(file.name, PHASE_META, sitemap_print,
                              partial(sitemaps.sitemap_file, file, config, sitemap_lines)))
    outputs.append(Output("sitemap.xml", PHASE_META,
                          fingerprint(settings, [(f.name, f.newest) for f in files]),
                          partial(sitemaps.sitemap_index, files, config)))
    recent = sitemaps.news_window(index.stories, now)
    outputs += [
        Output("sitemap-news.xml", PHASE_META, fingerprint(settings, recent),
               partial(sitemaps.news_sitemap, recent, config)),
        Output("robots.txt", PHASE_META, fingerprint(settings),
               partial(sitemaps.robots_txt, config)),
    ]
    return outputs


def _unknown(file: str, templates: str, shows: tuple[Story, ...] | None) -> None:
    return None  # Reuse.known with nothing to reuse


def _feed_outputs(feed: feeds.Feed, settings: str, config: SiteConfig) -> list[Output]:
    """One feed in every format (RSS, Atom, JSON Feed), each remade only when the feed changed."""
    return [Output(feed.path(name), PHASE_META, fingerprint(settings, name, feed),
                   partial(write, feed, config)) for name, write in feeds.WRITERS.items()]


def _report_outputs(curation: CurationReport, theme: Theme, config: SiteConfig,
                    options: BuildOptions) -> list[Output]:
    """The curation report page: in the output for the editors, linked from no public page."""
    if not (options.report and config.digest.report):
        return []
    theme.preload(["report.html"])
    return [Output(REPORT_FOLDER + "index.html", PHASE_META,
                   theme.template_hash("report.html") + fingerprint(settings_fingerprint(config),
                                                              curation),
                   partial(_render_page, theme, "report.html", page_context(curation, config)),
                   templates=("report.html",))]


def static_outputs(config: SiteConfig) -> list[Output]:
    """The theme's static files, then the site's, which win on the same path."""
    chosen: dict[str, Path] = {}
    for folder in (default_theme_dir() / "static", config.static_dir):
        if folder.is_dir():
            found = discover(folder)
            for source in found.items + found.assets:
                chosen[source.rel] = source.path
    outputs = []
    theme_headers = default_theme_dir() / "static" / HEADERS_FILE
    for rel, path in sorted(chosen.items()):
        stat = path.stat()
        if rel == HEADERS_FILE and path == theme_headers:  # the site's own is copied as it is
            outputs.append(Output(rel, PHASE_ASSETS, fingerprint(
                str(path), stat.st_size, stat.st_mtime_ns, content_security_policy(config)),
                partial(_theme_headers, path, config)))
            continue
        outputs.append(Output(rel, PHASE_ASSETS,
                              fingerprint(str(path), stat.st_size, stat.st_mtime_ns),
                              copy_from=path))
    return outputs


def _theme_headers(path: Path, config: SiteConfig) -> bytes:
    return headers_file(path.read_bytes(), config)


def _missing_local_images(index: SiteIndex, named: dict[str, tuple[LocalImage, ...]],
                          assets: list[SourceFile]) -> list[Problem]:
    """Local images and logos an item names that are not in the content folder (`named`:
    GatheredSite.local_images).

    (Local images are published only as the image stage re-encodes them, never copied as
    they are: an SVG or HTML file beside an item would run on the site.)
    """
    present = {a.rel for a in assets}
    return [Problem(image.source, None, image.field_name, f"local image {image.rel} not found")
            for story in index.stories  # every story of every build: no list made per story
            for image in named.get(story.path, ()) if image.rel not in present]
