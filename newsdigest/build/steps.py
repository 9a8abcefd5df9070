"""A build after discovery, when an input changed: gather (or patch the kept state), plan,
write, index and record."""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from functools import partial
from pathlib import Path

from newsdigest.build import kept_state, output, search
from newsdigest.build.discover import Sources
from newsdigest.build.explain import explain_outputs, templates_changed
from newsdigest.build.gather import (
    GatheredSite,
    WarmState,
    gather,
    kept_state_key,
    repicture_stories,
)
from newsdigest.build.options import BuildOptions, Progress, progress_counter
from newsdigest.build.output import Manifest, WriteReport
from newsdigest.build.plan import (
    LastBuild,
    SitePlan,
    make_fragments,
    plan_outputs,
    with_report,
)
from newsdigest.build.records import (
    basis_path,
    last_manifest,
    manifest_path,
    snapshot_path,
    templates_record_path,
)
from newsdigest.build.report import BuildReport
from newsdigest.config.site import SiteConfig
from newsdigest.content.loading import LoadSettings
from newsdigest.errors import ContentInvalid
from newsdigest.render.curation import summary_line
from newsdigest.store import load_pickle, save_atomic
from newsdigest.stories.sources import next_change

# Up to this many stories, the search index is started before the pages are planned, not
# after: its process's start (importing Pagefind's client, naming its binary, making every
# record's key) is then out of the way by the time the pages are written. On a larger site
# the pages that planning touches, shared with that process since the fork, are copied one
# by one as it touches them, which costs more: one edit at 10,000 items 0.568 -> 0.523 s,
# at 30,000 items 1.004 -> 1.053 s (medians of 12 and 10 alternated runs).
INDEX_WHILE_PLANNING = 20_000


def build_changed(config: SiteConfig, options: BuildOptions, sources: Sources, inputs: str,
                  progress: Progress | None, warm: WarmState | None, started: float,
                  now: datetime, disk: output.DiskCheck,
                  keep_alive: list[object] | None = None) -> BuildReport:
    """Everything after discovery; `inputs` is the key this build's report is kept under,
    `keep_alive` where its site and plan go rather than being freed (pipeline.build_site)."""
    # a command line's process ends with the build: the kept state's writer is not waited for
    detach = keep_alive is not None
    gathered, settled, kept = _gather_or_patch(config, options, sources, now, progress, warm,
                                               detach=detach)
    indexing: search.IndexUpdate | None = None
    try:
        cache_dir = config.cache_dir if options.use_cache else None
        manifest_file, manifest = last_manifest(config, cache_dir)
        # made while the pages are written (on a smaller site, planned too), swapped in after
        # them; abandoned if the build fails before
        early = len(gathered.index.stories) <= INDEX_WHILE_PLANNING
        if early:
            indexing = _start_indexing(config, options, gathered, manifest is None, warm)
        last = _last_build(manifest_file, manifest, disk) if not options.explain else None
        plan = plan_outputs(config, options, now, sources.discovery, gathered, last)
        if not settled():  # an edit changed a story cluster (rare): gather and plan again
            gathered, _, kept = _gather_or_patch(config, options, sources, now, progress,
                                                 warm, patch=False, detach=detach)
            if indexing is not None:  # of the stories as they were patched
                indexing.abandon()
                indexing = _start_indexing(config, options, gathered, manifest is None, warm)
            plan = plan_outputs(config, options, now, sources.discovery, gathered, last)
        plan = with_report(plan, config, options, now, gathered)
        if options.search:
            search.refuse_clashes(plan.outputs, config.static_dir.name)
        if config.rules.strict and plan.warnings:  # [build] strict: a warning fails the build
            raise ContentInvalid(plan.warnings, skippable=False)
        if not early:
            indexing = _start_indexing(config, options, gathered, manifest is None, warm)
        written, explanations = _write(config, options, plan, gathered, progress,
                                       manifest_file, manifest, disk.result())
        if indexing is not None:
            written.search_indexed = indexing.finish()
        report = BuildReport(
            items=len(gathered.index.stories), pages=len(plan.pages) + len(plan.kept),
            seconds=time.perf_counter() - started, parsed=gathered.parsed, write=written,
            warnings=plan.warnings, skipped=gathered.problems, excluded=gathered.index.excluded,
            explanations=explanations, index=gathered.index,
            digest_summary=summary_line(plan.curation),
            images=gathered.pictures.report, patched=gathered.patched)
        _record(config, gathered, inputs, report, now)
        if keep_alive is not None:
            keep_alive.append((gathered, plan, manifest))
        return report
    except KeyboardInterrupt:
        if indexing is not None:
            indexing.abandon(tidy=False)
        raise
    finally:
        if indexing is not None:
            indexing.abandon()  # stopped if this build failed; finished, it has nothing left
        kept()


def _start_indexing(config: SiteConfig, options: BuildOptions, gathered: GatheredSite,
                    whole: bool, warm: WarmState | None) -> search.IndexUpdate | None:
    """The search index being brought up to date with the stories, in a process of its own
    (search.IndexUpdate); made `whole` for an output folder made anew. None: no search."""
    if not options.search:
        return None
    facets = gathered.facets
    indexing = search.IndexUpdate(
        config.output_dir, _record_file(config, options, ".search"),
        partial(search.records, gathered.index.stories, gathered.index.topics, facets.kinds,
                facets.providers),
        config.language,
        # the preview server's site is patched in place from its last build, not from
        # the one it gathered: what it edited is not counted from the gathering
        search.Basis(gathered.stamp, gathered.edited) if warm is None else None)
    indexing.start(whole)
    return indexing


def _gather_or_patch(config: SiteConfig, options: BuildOptions, sources: Sources,
                     now: datetime, progress: Progress | None, warm: WarmState | None,
                     patch: bool = True, detach: bool = False
                     ) -> tuple[GatheredSite, Callable[[], bool], Callable[[], None]]:
    """The gathered site, patched from the last build's when its edits move no story and
    what it adds are stories of their own (kept_state.py; not with `patch` False), the
    function that says whether the patch stands (kept_state.Patch.settled) and the one that
    waits until it is kept for the next build (or, `detach`ed, lets it be kept meanwhile:
    kept_state.save_in_background)."""
    settings = LoadSettings.of(config)
    state_file = _record_file(config, options, ".state") if not warm else None
    state_key = kept_state_key(config, options, sources) if options.use_cache else ""
    repicture = partial(repicture_stories, config, sources.assets, options, now)
    gathered: GatheredSite | None = None
    settled: Callable[[], bool] = lambda: True  # noqa: E731
    patched: kept_state.Patch | None = None
    if state_file is not None and patch:
        patched = kept_state.patched(state_file, state_key, sources, config,
                                     config.cache_dir / "items", repicture, now)
        if patched is not None:
            gathered, settled = patched.front, patched.settled
    elif warm is not None and warm.gathered is not None:
        # Patched in place: kept for the next build only once this one has gathered.
        last, warm.gathered = warm.gathered, None
        if warm.gathered_key == state_key and warm.items is not None \
                and warm.items_key == settings.key:
            gathered = kept_state.patched_in_memory(last, sources, config, warm.items,
                                                    repicture, now)
    if gathered is None:
        gathered = gather(config, options, sources, now, progress, warm)
    # A state patched with edits alone is not saved again: the next build patches the saved
    # one with every file changed since (a few milliseconds each), and a fork now would slow
    # this build's own planning (its memory copied page by page as it is touched). One with
    # additions is: every build after would add them again (the editions, the archive and
    # each story's "more" made again: a tenth of a second at 10,000 items).
    kept_again = state_file is not None and (gathered.patched is None or gathered.added > 0)
    if options.use_cache and (kept_again or warm is not None):
        # Keyed as it is now: pictures made by this build changed the image cache's index,
        # and the next build finds the state it made (not a key no build can match).
        state_key = kept_state_key(config, options, sources)
    if warm is not None and options.use_cache:
        warm.gathered, warm.gathered_key = gathered, state_key
    if not kept_again:
        return gathered, settled, lambda: None
    assert state_file is not None
    return gathered, settled, kept_state.save_in_background(
        state_file, state_key, gathered, config.cache_dir / "items", settings,
        patched.checking if patched is not None else None, detach)


def _write(config: SiteConfig, options: BuildOptions, plan: SitePlan, gathered: GatheredSite,
           progress: Progress | None, manifest_file: Path | None, manifest: Manifest | None,
           changed_on_disk: set[str] | None) -> tuple[WriteReport, list[str]]:
    """Render and write the outputs whose fingerprint changed (all of them with no record of
    the last build, `manifest`), and say why each was made again when asked (--explain)."""
    theme, jsons, stories = plan.theme, plan.jsons, gathered.index.stories
    explanations = explain_outputs(plan.outputs, manifest, config.output_dir,
                                   templates_changed(theme, manifest_file),
                                   theme) if options.explain else []
    # Every page is made (no record of the last build), or every card is (its template or the
    # settings changed: the oldest story's card, rarely edited, is then missing too): then
    # every story's card and JSON is made first.
    probe = stories[-1] if stories else None
    if manifest is None or (probe and theme.cards.get((probe.fingerprint, False)) is None):
        make_fragments(stories, theme, jsons, config, options.workers)
    counter = progress_counter(progress, "writing", len(plan.outputs))
    # what workers render and keep for the next build: cards, API JSON, archive and sitemap
    # lines
    kept_pieces = (theme.cards, jsons, theme.rows, plan.sitemap_lines)
    harvest = output.Harvest(
        take=lambda: [pieces.take_new() for pieces in kept_pieces],
        give=lambda made: [pieces.add(new) for pieces, new in zip(kept_pieces, made,
                                                                     strict=True)],
    )
    if manifest_file is not None:  # until the manifest says what these files are
        basis_path(manifest_file).unlink(missing_ok=True)
    if manifest is None:
        changes, written = output.write_full(plan.outputs, config.output_dir,
                                             options.workers, counter, harvest)
    else:
        changes, written = output.write_incremental(plan.outputs, manifest, config.output_dir,
                                                    options.workers, counter, harvest,
                                                    changed_on_disk,
                                                    plan.kept | plan.kept_lists)
    output.record_base_url(config.output_dir, config.base_url)  # `check` reads it back
    current = {story.fingerprint for story in stories}
    for pieces in kept_pieces:
        pieces.save(current)
    if manifest_file is not None:
        output.save_manifest(manifest_file, manifest, changes)
        # what the pages were made with, so that --explain can name the templates that change
        save_atomic(templates_record_path(manifest_file), pickle.dumps(theme.source_hashes()))
        # and from which gathered site, with which of its stories edited (plan.LastBuild):
        # none when stories were added, since that site is a new one with the edits in it
        edited = frozenset() if gathered.added else gathered.edited
        save_atomic(basis_path(manifest_file),
                    pickle.dumps((gathered.stamp, edited, gathered.dates_kept)))
    return written, explanations


def _last_build(manifest_file: Path | None, manifest: Manifest | None,
                disk: output.DiskCheck) -> LastBuild | None:
    if manifest_file is None or manifest is None:
        return None
    match load_pickle(basis_path(manifest_file)):
        case (str() as stamp, frozenset() as edited, bool() as dates_kept):
            return LastBuild(manifest, stamp, edited, dates_kept, disk.result())
    return None  # made by a build that did not finish, or by an older version


def _record(config: SiteConfig, gathered: GatheredSite, inputs: str,
            report: BuildReport, now: datetime) -> None:
    """Keep this build's report with the key of its inputs: the next build with the same
    inputs and files on disk as written returns it and does nothing else, until time alone
    changes the site (a future item is due, a source of the curation report turns silent)."""
    if not inputs:
        return
    kept = replace(report, index=None, explanations=[], write=WriteReport(),
                   images=gathered.pictures.report.as_cached(), patched=None)
    valid_until = min(filter(None, (gathered.valid_until, next_change(config, now))),
                      default=None)
    save_atomic(snapshot_path(manifest_path(config)),
                pickle.dumps((inputs, valid_until, kept)))


def _record_file(config: SiteConfig, options: BuildOptions, suffix: str) -> Path | None:
    """A record of the last build into this output folder, beside its manifest."""
    return manifest_path(config).with_suffix(suffix) if options.use_cache else None
