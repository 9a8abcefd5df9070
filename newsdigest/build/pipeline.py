"""The build, step by step: prepare the output folder, discover sources, stop if nothing
changed; else gather, plan, write, index and record (steps.py)."""

from __future__ import annotations

import gc
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from newsdigest.build import output, search
from newsdigest.build.discover import find_sources
from newsdigest.build.options import BuildOptions, Progress
from newsdigest.build.output import WriteReport
from newsdigest.build.records import inputs_key, manifest_path, snapshot_path
from newsdigest.build.report import BuildReport
from newsdigest.config.site import SiteConfig
from newsdigest.store import load_pickle

if TYPE_CHECKING:
    from newsdigest.build.gather import WarmState

__all__ = ["BuildOptions", "BuildReport", "build_site"]


def build_site(config: SiteConfig, options: BuildOptions,
               progress: Progress | None = None, warm: WarmState | None = None,
               keep_alive: list[object] | None = None) -> BuildReport:
    """Build the site into its output folder. The objects it gathered and planned go to
    `keep_alive`, if given, rather than being freed as it returns: a process that exits
    right after (the command line) skips freeing them one by one: a twentieth of a
    rebuild after one edit."""
    # A build allocates many long-lived, acyclic objects: the cyclic collector would walk them
    # again and again for nothing (about a fifth of a no-change rebuild).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _build_site(config, options, progress, warm, keep_alive)
    finally:
        if gc_was_enabled:
            gc.enable()


def _build_site(config: SiteConfig, options: BuildOptions, progress: Progress | None,
                warm: WarmState | None, keep_alive: list[object] | None) -> BuildReport:
    started = time.perf_counter()
    now = options.now or datetime.now(UTC)
    _prepare_output(config)
    # Not in the preview server (`warm`): its threads make forking unsafe, and its output
    # folder is its own.
    disk = output.DiskCheck(manifest_path(config) if options.use_cache and not warm else None,
                            config.output_dir)
    try:
        return _build_checked(config, options, progress, warm, started, now, disk, keep_alive)
    finally:
        disk.result()  # the child reaped, whatever happened


def _build_checked(config: SiteConfig, options: BuildOptions, progress: Progress | None,
                   warm: WarmState | None, started: float, now: datetime,
                   disk: output.DiskCheck, keep_alive: list[object] | None) -> BuildReport:
    sources = find_sources(config)
    if keep_alive is not None:
        keep_alive.append(sources)
    inputs = inputs_key(config, options, sources) if options.use_cache and not warm else ""
    if inputs and (unchanged := _unchanged_build(config, inputs, now, started, options, disk)):
        return unchanged
    # Imported only now: a build with no input changed stops above, and importing the
    # stages after discovery would be most of its time.
    from newsdigest.build import steps

    return steps.build_changed(config, options, sources, inputs, progress, warm, started, now,
                               disk, keep_alive)


def _prepare_output(config: SiteConfig) -> None:
    """Refuse an output folder that is not ours; clean up after a build that was killed."""
    output.check_output_dir(config.output_dir, config.content_dir,
                            (config.templates_dir, config.static_dir))
    output.clean_stale_staging(config.output_dir)
    for folder in (config.output_dir, config.output_dir / search.FOLDER):
        output.repair_mode(folder)  # left private by earlier versions


def _unchanged_build(config: SiteConfig, key: str, now: datetime, started: float,
                     options: BuildOptions, disk: output.DiskCheck) -> BuildReport | None:
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
    if not (config.output_dir / output.MARKER).exists():
        return None
    if options.search and not search.index_exists(config.output_dir):
        return None
    if disk.result() != set():  # files changed since, or not known
        return None
    return replace(record, seconds=time.perf_counter() - started,
                   write=WriteReport(unchanged=disk.listed))
