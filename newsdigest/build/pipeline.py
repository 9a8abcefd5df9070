"""The build, stage by stage: load → validate → group → render → write."""

from __future__ import annotations

import difflib
import gc
import hashlib
import os
import pickle
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from newsdigest import __version__, parallel
from newsdigest.build import kept_state, output, search
from newsdigest.build.output import Manifest, WriteReport
from newsdigest.config.site import SiteConfig
from newsdigest.content.files import Discovery, SourceFile, discover
from newsdigest.content.loading import CacheEntry, LoadSettings, load_items, save_cache
from newsdigest.errors import ContentInvalid, Problem
from newsdigest.fingerprint import CODE, PACKAGE, fingerprint
from newsdigest.images import stage as image_stage
from newsdigest.outputs import PHASE_ASSETS, Output, check_one_claim_per_path
from newsdigest.render import api, edition_pages, feeds, sitemaps
from newsdigest.render.curation import REPORT_FOLDER, CurationReport, curation_report, page_context
from newsdigest.render.fragments import Fragments
from newsdigest.render.pages import PageSpec, plan_pages
from newsdigest.render.theme import Theme, default_theme_dir
from newsdigest.store import load_pickle, save_atomic
from newsdigest.stories import editions
from newsdigest.stories.grouping import FUTURE_TOLERANCE, SiteIndex, Story, group
from newsdigest.urls import file_for

PHASE_META = 3
# Settings no page reads (where things are, where they go): changing them re-renders nothing.
_LOCATION_SETTINGS = {"content_dir", "output_dir", "cache_dir", "templates_dir", "static_dir",
                      "deploy",
                      # pages read the pictures the image stage made, which stories' prints cover
                      "images"}


@dataclass(frozen=True)
class BuildOptions:
    drafts: bool = False
    future: bool = False
    skip_invalid: bool = False
    use_cache: bool = True
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    now: datetime | None = None  # the clock, passed in so tests and builds can fix it
    explain: bool = False
    search: bool = True  # build the Pagefind search index (seconds at 10,000 items)
    report: bool = True  # write the curation report page (also off by site.toml digest.report)
    offline: bool = False  # download no image: pages point at remote images' own URLs


@dataclass
class BuildReport:
    items: int
    pages: int
    seconds: float
    parsed: int
    write: WriteReport
    warnings: list[Problem]
    skipped: list[Problem]
    excluded: dict[str, list[str]]
    explanations: list[str] = field(default_factory=list)
    index: SiteIndex | None = None  # what was built, for callers that keep it (serve)
    curation: CurationReport | None = None
    images: image_stage.ImageReport = field(default_factory=image_stage.ImageReport)
    # Content files patched into the last build's kept site state (kept_state.py); None when
    # this build read, grouped and pictured every item.
    patched: list[str] | None = None


Progress = Callable[[str, int, int], None]  # stage, done so far, total


@dataclass
class WarmState:
    """Validated items a long-running caller (serve) keeps between builds.

    With it, a build neither reads nor rewrites the item cache file (at 10,000 items that is
    most of a second); `save()` writes it once, when the caller is done.
    """

    items: dict[str, CacheEntry] | None = None
    items_key: str = ""  # the LoadSettings.key they were validated with
    # The last build's front half (kept_state.py), patched in place by the next build when
    # its edits move no story; made with the settings that give `front_key`.
    front: kept_state.FrontHalf | None = None
    front_key: str = ""

    def save(self, config: SiteConfig) -> None:
        settings = LoadSettings.of(config)
        if self.items is not None and self.items_key == settings.key:
            save_cache(config.cache_dir / "items", settings, self.items)


def build_site(config: SiteConfig, options: BuildOptions,
               progress: Progress | None = None, warm: WarmState | None = None) -> BuildReport:
    # A build allocates many long-lived, acyclic objects: the cyclic collector would walk them
    # again and again for nothing (about a fifth of a no-change rebuild).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _build_site(config, options, progress, warm)
    finally:
        if gc_was_enabled:
            gc.enable()


def _build_site(config: SiteConfig, options: BuildOptions,
                progress: Progress | None, warm: WarmState | None) -> BuildReport:
    started = time.perf_counter()
    now = options.now or datetime.now(UTC)
    output.check_output_dir(config.output_dir, config.content_dir,
                            (config.templates_dir, config.static_dir))
    output.clean_stale_staging(config.output_dir)
    for folder in (config.output_dir, config.output_dir / search.FOLDER):
        output.repair_mode(folder)  # left private by earlier versions
    cache_dir = config.cache_dir if options.use_cache else None

    discovery = discover(config.content_dir, config.ignore)
    snapshot_key = _inputs_key(config, options, discovery) if cache_dir and not warm else ""
    if snapshot_key:
        unchanged = _unchanged_build(config, snapshot_key, now, started, options.search)
        if unchanged is not None:
            return unchanged
    note_sources, discovery = editions.split_notes(discovery)
    settings = LoadSettings.of(config)
    assets = {a.rel: a.path for a in discovery.assets}
    # Steps 1 and 2 are kept between builds (kept_state.py): after edits that move no story,
    # the last build's state is patched instead.
    state_file = _manifest_file(config).with_suffix(".state") if cache_dir and not warm else None
    state_key = _state_key(config, options, note_sources, discovery) if cache_dir else ""
    repicture = partial(_repicture, config, assets, options, now)
    front = None
    if state_file is not None:
        front = kept_state.patched(state_file, state_key, discovery, settings,
                                  config.cache_dir / "items", config.tz, repicture, now)
    elif warm is not None and warm.front is not None:
        # Patched in place: kept for the next build only once this one has a front half.
        kept, warm.front = warm.front, None
        if warm.front_key == state_key and warm.items is not None \
                and warm.items_key == settings.key:
            front = kept_state.patched_in_memory(kept, discovery, settings, warm.items,
                                                config.tz, repicture, now)
    if front is None:
        front = _front_half(config, options, settings, discovery, note_sources, assets, now,
                            progress, warm, cache_dir)
    if warm is not None and cache_dir:
        warm.front, warm.front_key = front, state_key
    # A patched state is not saved again: the next build patches the saved one with every file
    # changed since (a few milliseconds each), and a fork now would slow this build's own
    # planning (its memory copied page by page as it is touched).
    saved = kept_state.save_in_background(state_file, state_key, front) \
        if state_file and front.patched is None else (lambda: None)
    try:
        return _plan_and_write(config, options, progress, started, now, discovery, front,
                               snapshot_key)
    finally:
        saved()


@dataclass
class SitePlan:
    """Every output of the site with its fingerprint, before any is rendered (step 3)."""

    outputs: list[Output]
    pages: list[PageSpec]
    page_files: list[Output]  # the pages' outputs, in the order of `pages`
    theme: Theme
    jsons: Fragments
    warnings: list[Problem]
    curation: CurationReport


def _plan(config: SiteConfig, options: BuildOptions, now: datetime, discovery: Discovery,
          front: kept_state.FrontHalf) -> SitePlan:
    """Plan every output with the fingerprint of what it is made from."""
    cache_dir = config.cache_dir if options.use_cache else None
    index, pictures, digest_editions = front.index, front.pictures, front.editions
    warnings = front.warnings(discovery)
    curation = curation_report(index, digest_editions, front.problems, warnings, now,
                               pictures.generic)
    theme = Theme(config, cache_dir)
    settings_print = settings_fingerprint(config)
    # Each story's card and JSON, kept between builds for lists that shift (fragments.py).
    theme.cards = Fragments(cache_dir / "cards" if cache_dir else None,
                            fingerprint(CODE, theme.digest("_card.html"), settings_print))
    jsons = Fragments(cache_dir / "api" if cache_dir else None,
                      fingerprint(CODE, settings_print))
    pages = plan_pages(index, config, edition_pages.latest_link(digest_editions))
    pages += edition_pages.digest_pages(digest_editions, config)
    theme.preload(sorted({p.template for p in pages} | {"_card.html"}))
    page_files = page_outputs(pages, theme, config)
    outputs = [
        *static_outputs(config),
        *pictures.outputs,
        *page_files,
        *_meta_outputs(pages, page_files, index, config, now, jsons),
        *_digest_outputs(digest_editions, config),
        *_report_outputs(curation, theme, config, options),
    ]
    warnings += _missing_local_images(index, discovery.assets)
    check_one_claim_per_path(outputs)
    return SitePlan(outputs, pages, page_files, theme, jsons, warnings, curation)


def _plan_and_write(config: SiteConfig, options: BuildOptions, progress: Progress | None,
                    started: float, now: datetime, discovery: Discovery,
                    front: kept_state.FrontHalf, snapshot_key: str) -> BuildReport:
    """Steps 3 and 4: plan every output, then render and write those that changed."""
    cache_dir = config.cache_dir if options.use_cache else None
    index, pictures, problems = front.index, front.pictures, front.problems
    plan = _plan(config, options, now, discovery, front)
    theme, jsons, pages, page_files, outputs = (plan.theme, plan.jsons, plan.pages,
                                                plan.page_files, plan.outputs)
    warnings, curation = plan.warnings, plan.curation
    if config.rules.strict and warnings:  # site.toml build.strict: a warning fails the build
        raise ContentInvalid(warnings, skippable=False)

    # 4. render and write what changed
    manifest_file, manifest = _last_manifest(config, cache_dir)
    explanations = _explain(outputs, manifest, config.output_dir,
                            _templates_changed(theme, manifest_file),
                            theme) if options.explain else []
    # Every page is made (no record of the last build), or every card is (its template or the
    # settings changed: the oldest story's card, rarely edited, is then missing too): then
    # every story's card and JSON is made first.
    probe = index.stories[-1] if index.stories else None
    if manifest is None or (probe and theme.cards.get((probe.fingerprint, False)) is None):
        _make_fragments(index.stories, theme, jsons, config, options.workers)
    counter = _counter(progress, "writing", len(outputs))
    harvest = output.Harvest(
        take=lambda: (theme.cards.take_new(), jsons.take_new()),
        give=lambda made: (theme.cards.add(made[0]), jsons.add(made[1])),
    )
    if manifest is None:
        new_manifest, report = output.write_full(outputs, config.output_dir, options.workers,
                                                 counter, harvest)
    else:
        new_manifest, report = output.write_incremental(outputs, manifest, config.output_dir,
                                                        options.workers, counter, harvest)
    output.record_base_url(config.output_dir, config.base_url)  # `check` reads it back
    current = {story.fingerprint for story in index.stories}
    theme.cards.save(current)
    jsons.save(current)
    if manifest_file is not None:
        save_atomic(manifest_file, pickle.dumps(new_manifest, pickle.HIGHEST_PROTOCOL))
        # what the pages were made with, so that --explain can name the templates that change
        save_atomic(_templates_record(manifest_file),
                           pickle.dumps(theme.source_digests()))
    if options.search:
        record = manifest_file.with_suffix(".search") if manifest_file else None
        report.search_indexed = search.update_index(config.output_dir, record,
                                                    search.item_pages(page_files))
    build_report = BuildReport(
        items=len(index.stories),
        pages=len(pages),
        seconds=time.perf_counter() - started,
        parsed=front.parsed,
        write=report,
        warnings=warnings,
        skipped=problems,
        excluded=index.excluded,
        explanations=explanations,
        index=index,
        curation=curation,
        images=pictures.report,
        patched=front.patched,
    )
    if snapshot_key and manifest_file is not None:
        record = replace(build_report, index=None, explanations=[], write=WriteReport(),
                         images=pictures.report.as_cached(), patched=None)
        save_atomic(_snapshot_file(manifest_file),
                           pickle.dumps((snapshot_key, front.valid_until, record)))
    return build_report


@dataclass
class Why:
    """What the next build would do with one file of the site, and why."""

    path: str  # the file, relative to the output folder
    verdict: str
    templates: list[str] = field(default_factory=list)  # every one a page is made with
    sources: list[str] = field(default_factory=list)  # content files of the stories it shows
    similar: list[str] = field(default_factory=list)  # for a path that is no file of the site


def why(config: SiteConfig, options: BuildOptions, wanted: str) -> Why:
    """Plan the next build as `build_site` would, and say what it would do with one file
    (a path of the output folder, a URL of the site or a file in the output folder).

    Nothing of the site is written; the caches are used and brought up to date.
    """
    now = options.now or datetime.now(UTC)
    cache_dir = config.cache_dir if options.use_cache else None
    discovery = discover(config.content_dir, config.ignore)
    note_sources, discovery = editions.split_notes(discovery)
    assets = {a.rel: a.path for a in discovery.assets}
    front = _front_half(config, options, LoadSettings.of(config), discovery, note_sources,
                        assets, now, progress=None, warm=None, cache_dir=cache_dir)
    plan = _plan(config, options, now, discovery, front)
    path = output_path(wanted, config)
    manifest_file, manifest = _last_manifest(config, cache_dir)
    found = next((o for o in plan.outputs if o.path == path), None)
    if found is None:
        if manifest is not None and path in manifest:
            return Why(path, "deleted: no longer a file of the site")
        similar = difflib.get_close_matches(path, [o.path for o in plan.outputs], n=3)
        return Why(path, "not a file of the site", similar=similar)
    spec = next((page for page, made in zip(plan.pages, plan.page_files, strict=True)
                 if made is found), None)
    templates = sorted(_templates_used(plan.theme, found))
    sources = [story.item.source for story in _stories_shown(spec)] if spec else []
    if manifest is None:
        verdict = "rebuilt: the next build is a full build (no record of a previous one)"
    elif output.stale_outputs([found], manifest, config.output_dir):
        changed = _templates_changed(plan.theme, manifest_file)
        verdict = "rebuilt: " + _reason(found, manifest, plan.theme, changed)
    else:
        verdict = "up to date: neither rendered nor written"
    return Why(path, verdict, templates, sources)


def output_path(wanted: str, config: SiteConfig) -> str:
    """The output file a user means by a path, a URL of the site or a file in the output."""
    text = wanted.strip().split("#", 1)[0].split("?", 1)[0]
    base = config.base_url.rstrip("/") + "/"
    base_path = "/" + base.split("://", 1)[-1].partition("/")[2]
    if text.startswith(base):
        text = text[len(base):]
    elif text.startswith(("http://", "https://")):
        text = "/" + text.split("://", 1)[1].partition("/")[2]
    on_disk = Path(text).expanduser().absolute()
    if on_disk.is_relative_to(config.output_dir.absolute()):
        text = on_disk.relative_to(config.output_dir.absolute()).as_posix()
        text = "" if text == "." else text + ("/" if on_disk.is_dir() else "")
    elif text.startswith(base_path):
        text = text[len(base_path):]
    text = text.lstrip("/")
    if not text or text.endswith("/"):
        return text + "index.html"
    return text if "." in text.rsplit("/", 1)[-1] else text + "/index.html"


def _stories_shown(page: PageSpec) -> list[Story]:
    """Every story a page's fingerprint covers, in the order its values hold them: an item
    page's own first, then its "More on" list; a list's top stories, an edition's sections,
    the topics page's latest story of each topic."""
    shown: dict[str, Story] = {}

    def visit(value: object) -> None:
        if isinstance(value, Story):
            shown.setdefault(value.path, value)
        elif isinstance(value, dict):
            for inner in value.values():
                visit(inner)
        elif isinstance(value, list | tuple):
            for inner in value:
                visit(inner)
        elif is_dataclass(value) and not isinstance(value, type):
            for spec in fields(value):
                visit(getattr(value, spec.name))

    visit(page.story)
    visit(page.context if page.inputs is None else page.inputs)
    return list(shown.values())


FRAGMENTS_PARALLEL_THRESHOLD = 500


def _make_fragments(stories: Sequence[Story], theme: Theme, jsons: Fragments,
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


def _front_half(config: SiteConfig, options: BuildOptions, settings: LoadSettings,
                discovery: Discovery, note_sources: list[SourceFile], assets: dict[str, Path],
                now: datetime, progress: Progress | None, warm: WarmState | None,
                cache_dir: Path | None) -> kept_state.FrontHalf:
    """Load, validate, group, picture and choose the editions: every file read."""
    # 1. load and validate every file: all problems are collected before anything is written
    kept = warm.items if warm and cache_dir and warm.items_key == settings.key else None
    loaded = load_items(
        discovery.items,
        settings,
        cache_dir / "items" if cache_dir and kept is None else None,
        options.workers,
        _counter(progress, "reading", len(discovery.items)),
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
    pictures = image_stage.prepare(index, config, assets, options.offline, options.workers,
                              now.timestamp(), progress)
    notes, note_warnings = editions.load_notes(note_sources, config.digest, config.rules.nofollow)
    digest_editions = editions.build_editions(index, config, notes)
    future = [i.published_at for i in loaded.items
              if i.published_at > now + FUTURE_TOLERANCE and not options.future]
    valid_until = min(future) - FUTURE_TOLERANCE if future else None
    if pictures.report.retry_at is not None:  # a failed download may be retried then
        retry = datetime.fromtimestamp(pictures.report.retry_at, UTC)
        valid_until = min(valid_until, retry) if valid_until else retry
    entries = loaded.entries
    return kept_state.FrontHalf(
        index=index,
        pictures=pictures,
        editions=digest_editions,
        problems=problems,
        item_warnings={rel: e.result.warnings for rel, e in entries.items() if e.result.warnings},
        later_warnings=(grouping.warnings + note_warnings
                        + editions.unused_notes(notes, digest_editions)),
        valid_until=valid_until,
        title_keys=grouping.title_keys,
        records={rel: (e.size, e.mtime_ns, e.digest) for rel, e in entries.items()},
        parsed=loaded.parsed,
    )


def _repicture(config: SiteConfig, assets: dict[str, Path], options: BuildOptions,
               now: datetime, index: SiteIndex, generic: set[str]) -> None:
    image_stage.prepare(index, config, assets, options.offline, options.workers, now.timestamp(),
                   generic=generic)


def _state_key(config: SiteConfig, options: BuildOptions, note_sources: list[SourceFile],
               discovery: Discovery) -> str:
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
        [(s.rel, s.size, s.mtime_ns) for s in note_sources + discovery.assets],
        [(s.rel, s.size, s.mtime_ns) for s in static.items + static.assets] if static else None,
    )


def current_index(config: SiteConfig, now: datetime | None = None
                  ) -> tuple[SiteIndex, dict[str, Path]]:
    """Every item a build may show (drafts and future ones too) and the content's other files,
    for commands that need to know what is in use (images --prune)."""
    _, discovery = editions.split_notes(discover(config.content_dir, config.ignore))
    loaded = load_items(discovery.items, LoadSettings.of(config), None, 1, None, None)
    grouping = group(loaded.items, config, now or datetime.now(UTC), True, True)
    return grouping.index, {a.rel: a.path for a in discovery.assets}


def _inputs_key(config: SiteConfig, options: BuildOptions, discovery: Discovery) -> str:
    """Everything a build reads, as sizes and mtimes: equal keys mean an equal site."""
    folders = [config.templates_dir, default_theme_dir() / "templates", config.static_dir,
               default_theme_dir() / "static"]
    found = [discover(folder) if folder.is_dir() else None for folder in folders]
    code = sorted((p.relative_to(PACKAGE).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in PACKAGE.rglob("*.py"))
    return fingerprint(
        __version__, code, settings_fingerprint(config), config.images,
        [str(f) for f in folders], options.drafts, options.future, options.skip_invalid,
        options.search, options.report, options.offline,
        [(s.rel, s.size, s.mtime_ns) for s in discovery.items + discovery.assets],
        [[(s.rel, s.size, s.mtime_ns) for s in (d.items + d.assets)] if d else None
         for d in found],
    )


def _unchanged_build(config: SiteConfig, key: str, now: datetime, started: float,
                     needs_search: bool) -> BuildReport | None:
    """The last build's report, if it had the same inputs and its files are still as written.

    Only the passing of time can change a site whose inputs did not: an item dated in the
    future becomes due. The record says when that happens first.
    """
    manifest_file = _manifest_file(config)
    match load_pickle(_snapshot_file(manifest_file)):
        case (last_key, valid_until, record) if last_key == key:
            pass
        case _:
            return None
    if valid_until is not None and now >= valid_until:
        return None
    manifest = output.load_manifest(manifest_file)
    if manifest is None or not (config.output_dir / output.MARKER).exists():
        return None
    if needs_search and not (config.output_dir / search.FOLDER / "pagefind.js").exists():
        return None
    root = str(config.output_dir)
    for path, (_, size, mtime_ns) in manifest.items():
        file = os.path.join(root, path)
        try:
            stat = os.stat(file)
        except OSError:
            return None
        if (stat.st_size, stat.st_mtime_ns) != (size, mtime_ns):
            return None
        if stat.st_mode & 0o777 == 0o600:
            output.repair_mode(file, stat)
    return replace(record, seconds=time.perf_counter() - started,
                   write=WriteReport(unchanged=len(manifest)))


def _snapshot_file(manifest_file: Path) -> Path:
    return manifest_file.with_suffix(".inputs")


def _counter(progress: Progress | None, stage: str, total: int) -> Callable[[int], None] | None:
    if progress is None:
        return None
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        progress(stage, done, total)

    return advance


def _manifest_file(config: SiteConfig) -> Path:
    key = hashlib.blake2b(str(config.output_dir).encode(), digest_size=6).hexdigest()
    return config.cache_dir / f"manifest-{key}.pickle"


def settings_fingerprint(config: SiteConfig) -> str:
    """Every setting a page can read (not where folders are)."""
    return fingerprint(*(
        (f.name, getattr(config, f.name)) for f in fields(config)
        if f.name not in _LOCATION_SETTINGS
    ))


def page_outputs(pages: list[PageSpec], theme: Theme, config: SiteConfig) -> list[Output]:
    """Each page as an Output fingerprinted by its templates, the settings and its values."""
    settings = settings_fingerprint(config)
    card = theme.digest("_card.html")
    outputs = []
    for page in pages:
        templates = theme.digest(page.template) + (card if page.uses_cards else "")
        values = fingerprint(settings, page.path,
                             page.context if page.inputs is None else page.inputs)
        outputs.append(Output(
            path=file_for(page.path),
            phase=page.phase,
            fingerprint=templates + values,
            produce=partial(_render_spec, theme, page, config),
            values=values,
            templates=(page.template, "_card.html") if page.uses_cards else (page.template,),
        ))
    return outputs


def _render_spec(theme: Theme, page: PageSpec, config: SiteConfig) -> bytes:
    return _render_page(theme, page.template, {**page.context, "site": config})


def _render_page(theme: Theme, template: str, context: dict) -> bytes:
    return theme.render(template, context).encode("utf-8")


def _meta_outputs(pages: list[PageSpec], page_files: list[Output], index: SiteIndex,
                  config: SiteConfig, now: datetime,
                  jsons: Fragments | None = None) -> list[Output]:
    """Feeds, sitemaps and robots.txt: written after the pages they point at."""
    settings = settings_fingerprint(config)
    outputs = []
    for feed in feeds.site_feeds(index, config):
        outputs += _feed_outputs(feed, settings, config)
    for document in api.documents(index, config, jsons):
        outputs.append(Output(document.path, PHASE_META,
                              fingerprint(settings, document.path, document.inputs),
                              document.render))
    # Each sitemap file is made again only when a page it lists changed: a list page's
    # values, or an item page's story (its fingerprint covers date, image and video).
    values_of = {o.path: o.values for o in page_files}
    files = sitemaps.plan_sitemaps(pages)
    for file in files:
        inputs = [page.story if page.story is not None else values_of[file_for(page.path)]
                  for page in file.pages]
        outputs.append(Output(file.name, PHASE_META, fingerprint(settings, file.name, inputs),
                              partial(sitemaps.sitemap_file, file, config)))
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


def _digest_outputs(digest_editions: list[editions.Edition],
                    config: SiteConfig) -> list[Output]:
    """The feed of editions, in the three formats of the site's feeds."""
    feed = edition_pages.editions_feed(digest_editions, config)
    return _feed_outputs(feed, settings_fingerprint(config), config)


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
                   theme.digest("report.html") + fingerprint(settings_fingerprint(config),
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
    for rel, path in sorted(chosen.items()):
        stat = path.stat()
        outputs.append(Output(rel, PHASE_ASSETS,
                              fingerprint(str(path), stat.st_size, stat.st_mtime_ns),
                              copy_from=path))
    return outputs


def _missing_local_images(index: SiteIndex, assets: list[SourceFile]) -> list[Problem]:
    """Local images and logos an item names that are not in the content folder.

    (Local images are published only as the image stage re-encodes them, never copied as
    they are: an SVG or HTML file beside an item would run on the site.)
    """
    present = {a.rel for a in assets}
    missing = []
    for story in index.stories:
        named = [("images", image) for image in story.item.images]
        if story.item.provider.logo is not None:
            named.append(("provider.images", story.item.provider.logo))
        for field_name, image in named:
            if image.local and image.url not in present:
                missing.append(Problem(story.item.source, None, field_name,
                                       f"local image {image.url} not found"))
    return missing


def _templates_record(manifest_file: Path) -> Path:
    return manifest_file.with_suffix(".templates")


def _templates_used(theme: Theme, made: Output) -> set[str]:
    """Every template an output is made with, those its templates reach included."""
    return set().union(*(theme.uses(name) for name in made.templates))


def _templates_changed(theme: Theme, manifest_file: Path | None) -> set[str]:
    """The templates whose source changed since the last build (as far as it recorded)."""
    if manifest_file is None:
        return set()
    before = load_pickle(_templates_record(manifest_file))
    if not isinstance(before, dict):
        return set()
    return {name for name, digest in theme.source_digests().items()
            if name in before and before[name] != digest}


def _what_changed(before: str, now: Output, templates: list[str]) -> str:
    """Which inputs of an output changed, as far as its fingerprint tells.

    A page's fingerprint is its templates' digests followed by the fingerprint of its values
    (`Output.values`): the two halves say whether a template or what it shows changed.
    `templates` are the changed ones among those it uses, when known.
    """
    size = len(now.values)
    if not size or len(before) != len(now.fingerprint):
        return "its inputs changed"
    reasons = []
    if before[:-size] != now.fingerprint[:-size]:
        reasons.append("a template it uses changed"
                       + (f" ({', '.join(templates)})" if templates else ""))
    if before[-size:] != now.values:
        reasons.append("what it shows changed (its items or the settings)")
    return " and ".join(reasons)


def _explain(outputs: list[Output], manifest: Manifest | None, output_dir: Path,
             templates_changed: set[str], theme: Theme) -> list[str]:
    if manifest is None:
        return ["full build: no record of a previous build for this output folder"]
    return [f"{stale.path}: {_reason(stale, manifest, theme, templates_changed)}"
            for stale in output.stale_outputs(outputs, manifest, output_dir)]


def _reason(stale: Output, manifest: Manifest, theme: Theme, templates_changed: set[str]
            ) -> str:
    """Why an output the last build made (or did not) must be made again."""
    known = manifest.get(stale.path)
    if known is None:
        return "new page"
    if known[0] != stale.fingerprint:
        return _what_changed(known[0], stale,
                             sorted(_templates_used(theme, stale) & templates_changed))
    return "file on disk differs from the last build"


def _last_manifest(config: SiteConfig, cache_dir: Path | None
                   ) -> tuple[Path | None, Manifest | None]:
    """The record of the last build into the output folder, and where it is kept."""
    manifest_file = _manifest_file(config) if cache_dir else None
    manifest = output.load_manifest(manifest_file) if manifest_file else None
    if manifest is not None and not (config.output_dir / output.MARKER).exists():
        manifest = None  # the folder was replaced or emptied since
    return manifest_file, manifest
