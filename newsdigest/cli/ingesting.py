"""The commands that bring items in: ingest, add, approve."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from newsdigest.errors import EXIT_OK

if TYPE_CHECKING:
    pass
from newsdigest.cli.common import build_options_now, offline, shown_path, site_config


def ingest_command(args: argparse.Namespace) -> int:
    from newsdigest.errors import EXIT_INVALID
    from newsdigest.ingest.run import IngestOptions, ingest

    config = site_config(args)
    report = ingest(config, IngestOptions(
        sources=tuple(args.source), opml=args.opml, dry_run=args.dry_run,
        publish=args.publish, offline=offline(args), now=build_options_now()))
    if report.offline:
        print("ingest: offline: no source fetched, nothing written")
        return EXIT_OK
    for outcome in report.outcomes:
        for name in outcome.new:
            shown = shown_path(report.folder / name)
            print(f"  would write {shown}" if report.dry_run else f"  wrote {shown}")
    print(report.summary_line())
    for outcome in report.failed:
        streak = (f"; failed {outcome.failures} runs in a row, since "
                  f"{outcome.failing_since[:16].replace('T', ' ')}"
                  if outcome.failing_since else "")
        print(f"  {outcome.source.name}: {outcome.failure} ({outcome.source.url}){streak}",
              file=sys.stderr)
    return EXIT_INVALID if report.all_failed else EXIT_OK


def add_command(args: argparse.Namespace) -> int:
    from newsdigest.ingest.page import add_page

    config = site_config(args)
    if offline(args):
        print("add: offline (NEWSDIGEST_OFFLINE): nothing fetched, nothing written")
        return EXIT_OK
    path = add_page(config, args.url, tuple(t.strip() for t in args.topic if t.strip()),
                    args.publish, build_options_now())
    print(shown_path(path))
    return EXIT_OK


def approve_command(args: argparse.Namespace) -> int:
    from newsdigest.errors import EXIT_INVALID
    from newsdigest.ingest.approve import approve

    config = site_config(args)
    failed = False
    for result in approve(config, args.targets):
        where = shown_path(result.path) if result.path else result.target
        if result.outcome in ("published", "already published"):
            print(f"{where}: {result.outcome}")
        else:
            failed = True
            print(f"error: {where}: {result.outcome}", file=sys.stderr)
    return EXIT_INVALID if failed else EXIT_OK
