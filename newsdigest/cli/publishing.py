"""The commands that check and publish the built site: check, deploy."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from newsdigest.build.options import BuildOptions
from newsdigest.build.pipeline import build_site
from newsdigest.config.site import load_config
from newsdigest.errors import EXIT_OK, NewsdigestError, UsageError

if TYPE_CHECKING:
    pass
from newsdigest.cli.common import build_options_now, print_report, shown_path


def check_command(args: argparse.Namespace) -> int:
    from newsdigest.build.output import recorded_base_url
    from newsdigest.check import check_site

    config = load_config(args.config)
    output = args.output.resolve() if args.output else config.output_dir
    if not (output / "index.html").is_file():
        raise NewsdigestError(f"no built site in {shown_path(output)}; run newsdigest build")
    # Links are checked against the base URL the site was built with (`build --base-url`).
    config = config.with_overrides(base_url=args.base_url or recorded_base_url(output))
    workers = args.jobs or os.cpu_count() or 1
    findings = check_site(output, config, workers)
    no_network = False
    if args.external:
        from newsdigest.check import NO_NETWORK, check_sources, item_sources, source_files

        checked = check_sources(item_sources(output), config.cache_dir / "sources.json",
                                time.time(), allow_private=args.allow_private,
                                archive=args.archive, allow_loopback=args.allow_loopback,
                                files=lambda: source_files(config))
        no_network = checked.no_network
        findings += checked.findings
    for finding in findings:
        print(finding)
    if no_network:
        print(NO_NETWORK, file=sys.stderr)
    pages = sum(1 for _ in output.rglob("*.html"))
    print(f"checked {pages} pages: {len(findings)} problem{'s' if len(findings) != 1 else ''}",
          file=sys.stderr)
    return 1 if findings or no_network else EXIT_OK


def deploy_command(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from newsdigest.build.output import load_manifest
    from newsdigest.build.records import manifest_path
    from newsdigest.check import check_site
    from newsdigest.deploy import targets as deploy
    from newsdigest.deploy.directory import deploy_directory
    from newsdigest.deploy.git import deploy_git
    from newsdigest.deploy.rsync import deploy_rsync
    from newsdigest.deploy.s3 import deploy_s3

    config = load_config(args.config)
    targets = {t.name: t for t in config.deploy}
    if not targets:
        raise UsageError("no deploy target: add one to site.toml, e.g.\n[deploy.production]\n"
                         'type = "git"\nremote = "git@github.com:you/digest.git"\n'
                         'branch = "gh-pages"')
    if args.target is None and len(targets) > 1:
        raise UsageError(f"several targets ({', '.join(sorted(targets))}): name one")
    name = args.target or next(iter(targets))
    if name not in targets:
        raise UsageError(f"no target {name!r} in [deploy] (known: {', '.join(sorted(targets))})")
    target = targets[name]
    project = args.config.resolve().parent if args.config else Path.cwd().resolve()
    protected = deploy.project_folders(config, project)
    deploy.check_destination(target, protected)  # before building: a refusal costs nothing
    built = config
    if args.dry_run and not args.no_build:
        # A dry run changes nothing the user has: the site is built into a folder of the
        # cache (kept, so the next dry run is an incremental build), not into the output.
        built = replace(config, output_dir=config.cache_dir / deploy.DRY_RUN_OUTPUT)
    if not args.no_build:
        report = build_site(built, BuildOptions(now=build_options_now()))
        print_report(report, built, quiet=True)
    findings = check_site(built.output_dir, built, os.cpu_count() or 1)
    for finding in findings:
        print(finding, file=sys.stderr)
    if findings and not args.force:
        raise NewsdigestError(f"the check found {len(findings)} problems: nothing deployed "
                              "(fix them, or deploy anyway with --force)")
    files = deploy.site_files(built.output_dir, load_manifest(manifest_path(built)))
    if not files:
        raise NewsdigestError(f"{built.output_dir} holds no built site: nothing deployed "
                              "(build it, or deploy without --no-build)")
    work = config.cache_dir / "deploy" / name
    if target.kind == "directory":
        plan = deploy_directory(built.output_dir, files, deploy.directory_path(target),
                                       args.dry_run, protected)
    elif target.kind == "rsync":
        plan = deploy_rsync(built.output_dir, files, target.destination, args.dry_run,
                                   protected, work)
    elif target.kind == "s3":
        plan = deploy_s3(built.output_dir, files, target, args.dry_run)
    else:
        plan = deploy_git(built.output_dir, files, target, work, config.title,
                                 args.dry_run)
    for line in plan.lines():
        print(line)
    verb = "would transfer" if args.dry_run else "transferred"
    print(f"{name}: {verb} {plan.transfers} files, {len(plan.deleted)} deleted "
          f"({target.kind} {target.destination})")
    return EXIT_OK
