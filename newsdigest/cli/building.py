"""The commands that build: build, why, images --prune, clean."""

from __future__ import annotations

import argparse
import gc
import shutil
import sys
from datetime import UTC, datetime

from newsdigest.build.pipeline import build_site
from newsdigest.cli.common import (
    TerminalProgress,
    build_options,
    build_options_now,
    content_config,
    print_report,
    reading_options,
    shown_path,
)
from newsdigest.config.site import load_config
from newsdigest.errors import EXIT_OK, EXIT_USAGE, NewsdigestError, UsageError
from newsdigest.urls import REPORT_FOLDER


def build_command(args: argparse.Namespace) -> int:
    # The process ends after the build: collecting its million objects would find no garbage.
    gc.disable()
    config = content_config(args)
    progress = TerminalProgress() if sys.stderr.isatty() and not args.quiet else None
    try:
        report = build_site(config, build_options(args), progress,
                            keep_alive=args.keep_alive)
    finally:
        if progress:
            progress.clear()
    if args.explain and report.patched is not None:
        print(f"kept the last build's site state, patched with {len(report.patched)} edited "
              f"or added item{'s' if len(report.patched) != 1 else ''}: "
              + (", ".join(report.patched[:5]) or "none")
              + (f" and {len(report.patched) - 5} more" if len(report.patched) > 5 else ""))
    print_report(report, config, args.quiet)
    if report.digest_summary and not args.quiet:
        shown = f" (report: {shown_path(config.output_dir / REPORT_FOLDER)})" if (
            config.digest.report and not args.no_report) else ""
        print(report.digest_summary + shown)
    return EXIT_OK


def why_command(args: argparse.Namespace) -> int:
    from newsdigest.build.explain import why

    config = content_config(args)
    answer = why(config, build_options(args), args.page)
    print(f"{answer.path}: {answer.verdict}")
    if answer.templates:
        print(f"  made with: {', '.join(answer.templates)}")
    if answer.sources:
        more = f" and {len(answer.sources) - 5} more" if len(answer.sources) > 5 else ""
        print(f"  shows: {', '.join(answer.sources[:5])}{more}")
    if answer.similar:
        print(f"  did you mean: {', '.join(answer.similar)}")
    return EXIT_OK if not answer.verdict.startswith("not a file") else EXIT_USAGE


def images_command(args: argparse.Namespace) -> int:
    from newsdigest.build.discover import find_sources
    from newsdigest.build.gather import gather
    from newsdigest.images.stage import image_cache_dir, prune

    if not args.prune:
        raise UsageError("images: nothing to do (try --prune)")
    config = content_config(args)
    sources = find_sources(config)
    # Every item a build may show, drafts and future ones too, keeps its images.
    site = gather(config, reading_options(drafts=True, future=True), sources,
                  build_options_now() or datetime.now(UTC), pictures=False)
    report = prune(site.index, config, sources.assets)
    print(f"pruned {shown_path(image_cache_dir(config))}: {report.entries} entries, "
          f"{report.files} files ({report.bytes / 1e6:.1f} MB) no item uses")
    return EXIT_OK


def clean_command(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    cache = args.cache_dir.resolve() if args.cache_dir else config.cache_dir
    if cache.is_dir():
        from newsdigest.build.kept_state import wait_for_saving

        wait_for_saving(cache)
        shutil.rmtree(cache)
        print(f"removed {shown_path(cache)}")
    if args.output and config.output_dir.is_dir():
        from newsdigest.build.output import MARKER

        if not (config.output_dir / MARKER).exists():
            raise NewsdigestError(f"{config.output_dir} was not made by newsdigest; not removed")
        shutil.rmtree(config.output_dir)
        print(f"removed {shown_path(config.output_dir)}")
    return EXIT_OK
