"""What every command shares: finding the settings, build options, printing a build's report."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from newsdigest.build.options import BuildOptions
from newsdigest.build.pipeline import BuildReport
from newsdigest.config.site import DEFAULT_CONFIG, SiteConfig, load_config
from newsdigest.errors import NewsdigestError, Problem
from newsdigest.images.resolve import ImageReport

if TYPE_CHECKING:
    pass


MAX_WARNINGS_SHOWN = 25


def offline(args: argparse.Namespace) -> bool:
    return bool(args.offline) or os.environ.get("NEWSDIGEST_OFFLINE", "") not in ("", "0")


def site_config(args: argparse.Namespace) -> SiteConfig:
    config = load_config(args.config)
    return config.with_overrides(
        content_dir=getattr(args, "content", None),
        output_dir=getattr(args, "output", None) if isinstance(args.output, Path) else None,
        templates_dir=getattr(args, "templates", None),
        base_url=getattr(args, "base_url", None),
        cache_dir=getattr(args, "cache_dir", None),
    )


def content_config(args: argparse.Namespace) -> SiteConfig:
    """The settings of a command that reads the content, which must then exist."""
    config = site_config(args)
    require_content(config, args.config)
    return config


def find_site_config(start: Path) -> Path | None:
    """site.toml in `start` or the nearest folder above it that has one."""
    for folder in (start, *start.parents):
        candidate = folder / DEFAULT_CONFIG
        if candidate.is_file():
            return candidate
    return None


def require_content(config: SiteConfig, config_file: Path | None) -> None:
    if config.content_dir.is_dir():
        return
    if config_file is None:
        raise NewsdigestError(
            f"no {DEFAULT_CONFIG} in {Path.cwd()} or any folder above it, and no content "
            "folder here: run newsdigest in your site's folder, or pass --config FILE")
    raise NewsdigestError(f"content folder not found: {config.content_dir} "
                          f"(set by {config_file}, [build] content)")


def build_options(args: argparse.Namespace) -> BuildOptions:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    now = datetime.fromtimestamp(int(epoch), UTC) if epoch and epoch.isdigit() else None
    return BuildOptions(
        drafts=args.drafts,
        future=args.future,
        skip_invalid=args.skip_invalid,
        use_cache=not args.no_cache,
        workers=args.jobs or os.cpu_count() or 1,
        now=now,
        explain=args.explain,
        search=not args.no_search,
        report=not args.no_report,
        offline=offline(args),
    )


def build_options_now() -> datetime | None:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    return datetime.fromtimestamp(int(epoch), UTC) if epoch and epoch.isdigit() else None


def reading_options(**more: bool) -> BuildOptions:
    """How commands that only read the site gather it: invalid files reported, not fatal,
    and nothing downloaded (the pictures the last build made are used)."""
    return BuildOptions(skip_invalid=True, offline=True, **more)


def print_report(report: BuildReport, config: SiteConfig, quiet: bool) -> None:
    for problem in report.skipped:
        print(f"skipped: {problem}", file=sys.stderr)
    print_warnings(report.warnings)
    for line in report.explanations:
        print(f"rebuilt {line}")
    if quiet:
        return
    for reason, sources in sorted(report.excluded.items()):
        names = ", ".join(sources[:5]) + (f" and {len(sources) - 5} more" if len(sources) > 5
                                          else "")
        flag = "--future" if reason == "future" else "--drafts"
        print(f"left out {len(sources)} {reason} item{'s' if len(sources) != 1 else ''} "
              f"({flag} to include): {names}")
    write = report.write
    mode = "full build" if write.full else f"{write.rendered} rebuilt, {write.unchanged} unchanged"
    skipped = f", {len(report.skipped)} invalid skipped" if report.skipped else ""
    print(
        f"built {report.items} items into {report.pages} pages in {report.seconds:.2f} s "
        f"({mode}; {write.written} files written, {write.deleted} deleted{skipped}) "
        f"-> {shown_path(config.output_dir)}"
    )
    print_images(report.images)


def print_images(images: ImageReport) -> None:
    """One summary line, then each reason images fell back, once, with a few of the URLs."""
    if not (images.fetched or images.cached or images.generated or images.fallbacks):
        return
    generic = f"; {images.generic} generic left out" if images.generic else ""
    print(f"images: {images.fetched} fetched, {images.cached} cached, {images.generated} "
          f"generated, {images.fallback_count} fallbacks{generic}")
    for reason, refs in sorted(images.fallbacks.items()):
        names = ", ".join(shown_ref(r) for r in refs[:3])
        more = f" and {len(refs) - 3} more" if len(refs) > 3 else ""
        print(f"  fallback ({reason}): {names}{more}")


def shown_ref(ref: str) -> str:
    return ref if ref.startswith(("http:", "https:")) else shown_path(Path(ref))


def print_warnings(warnings: list[Problem]) -> None:
    for problem in warnings[:MAX_WARNINGS_SHOWN]:
        print(f"warning: {problem}", file=sys.stderr)
    if len(warnings) > MAX_WARNINGS_SHOWN:
        print(f"warning: ... and {len(warnings) - MAX_WARNINGS_SHOWN} more warnings",
              file=sys.stderr)


def shown_path(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class TerminalProgress:
    """One self-updating line on a terminal; nothing when output is piped."""

    def __init__(self) -> None:
        self._shown = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        width = 24
        filled = width * done // max(total, 1)
        sys.stderr.write(f"\r{stage:8} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        sys.stderr.flush()
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
