"""The build, step by step: prepare the output folder, discover sources, stop if nothing
changed, gather, plan, write, index, record."""

from __future__ import annotations

import gc
import os
import pickle
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial

from newsdigest.build import kept_state, output, search
from newsdigest.build.explain import explain_outputs, templates_changed
from newsdigest.build.gather import (
    GatheredSite,
    WarmState,
    gather,
    kept_state_key,
    repicture_stories,
)
from newsdigest.build.options import BuildOptions, Progress, progress_counter
from newsdigest.build.output import WriteReport
from newsdigest.build.plan import make_fragments, plan_site
from newsdigest.build.records import (
    inputs_key,
    last_manifest,
    manifest_path,
    snapshot_path,
    templates_record_path,
)
from newsdigest.config.site import SiteConfig
from newsdigest.content.files import Discovery, discover
from newsdigest.content.loading import LoadSettings
from newsdigest.errors import ContentInvalid, Problem
from newsdigest.images import stage as image_stage
from newsdigest.render.curation import CurationReport
from newsdigest.store import load_pickle, save_atomic
from newsdigest.stories import editions
from newsdigest.stories.grouping import SiteIndex


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
    snapshot_key = inputs_key(config, options, discovery) if cache_dir and not warm else ""
    if snapshot_key:
        unchanged = _unchanged_build(config, snapshot_key, now, started, options.search)
        if unchanged is not None:
            return unchanged
    note_sources, discovery = editions.split_notes(discovery)
    settings = LoadSettings.of(config)
    assets = {a.rel: a.path for a in discovery.assets}
    # Steps 1 and 2 are kept between builds (kept_state.py): after edits that move no story,
    # the last build's state is patched instead.
    state_file = manifest_path(config).with_suffix(".state") if cache_dir and not warm else None
    state_key = kept_state_key(config, options, note_sources, discovery) if cache_dir else ""
    repicture = partial(repicture_stories, config, assets, options, now)
    front = None
    if state_file is not None:
        front = kept_state.patched(state_file, state_key, discovery, settings,
                                  config.cache_dir / "items", config.tz, repicture, now)
    elif warm is not None and warm.gathered is not None:
        # Patched in place: kept for the next build only once this one has a front half.
        kept, warm.gathered = warm.gathered, None
        if warm.gathered_key == state_key and warm.items is not None \
                and warm.items_key == settings.key:
            front = kept_state.patched_in_memory(kept, discovery, settings, warm.items,
                                                config.tz, repicture, now)
    if front is None:
        front = gather(config, options, settings, discovery, note_sources, assets, now,
                            progress, warm, cache_dir)
    if warm is not None and cache_dir:
        warm.gathered, warm.gathered_key = front, state_key
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


def _plan_and_write(config: SiteConfig, options: BuildOptions, progress: Progress | None,
                    started: float, now: datetime, discovery: Discovery,
                    front: GatheredSite, snapshot_key: str) -> BuildReport:
    """Steps 3 and 4: plan every output, then render and write those that changed."""
    cache_dir = config.cache_dir if options.use_cache else None
    index, pictures, problems = front.index, front.pictures, front.problems
    plan = plan_site(config, options, now, discovery, front)
    theme, jsons, pages, page_files, outputs = (plan.theme, plan.jsons, plan.pages,
                                                plan.page_files, plan.outputs)
    warnings, curation = plan.warnings, plan.curation
    if config.rules.strict and warnings:  # site.toml build.strict: a warning fails the build
        raise ContentInvalid(warnings, skippable=False)

    # 4. render and write what changed
    manifest_file, manifest = last_manifest(config, cache_dir)
    explanations = explain_outputs(outputs, manifest, config.output_dir,
                            templates_changed(theme, manifest_file),
                            theme) if options.explain else []
    # Every page is made (no record of the last build), or every card is (its template or the
    # settings changed: the oldest story's card, rarely edited, is then missing too): then
    # every story's card and JSON is made first.
    probe = index.stories[-1] if index.stories else None
    if manifest is None or (probe and theme.cards.get((probe.fingerprint, False)) is None):
        make_fragments(index.stories, theme, jsons, config, options.workers)
    counter = progress_counter(progress, "writing", len(outputs))
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
        save_atomic(templates_record_path(manifest_file),
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
        save_atomic(snapshot_path(manifest_file),
                           pickle.dumps((snapshot_key, front.valid_until, record)))
    return build_report


def _unchanged_build(config: SiteConfig, key: str, now: datetime, started: float,
                     needs_search: bool) -> BuildReport | None:
    """The last build's report, if it had the same inputs and its files are still as written.

    Only the passing of time can change a site whose inputs did not: an item dated in the
    future becomes due. The record says when that happens first.
    """
    manifest_file = manifest_path(config)
    match load_pickle(snapshot_path(manifest_file)):
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
