"""Command line: options live here, each command calls one function. Only this module prints."""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import shutil
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from newsdigest import __version__
from newsdigest.build.explain import why
from newsdigest.build.options import BuildOptions
from newsdigest.build.pipeline import BuildReport, build_site
from newsdigest.config.site import DEFAULT_CONFIG, SiteConfig, load_config
from newsdigest.errors import EXIT_OK, EXIT_USAGE, NewsdigestError, Problem, UsageError
from newsdigest.images.stage import ImageReport

if TYPE_CHECKING:
    from newsdigest.serve.rebuild import Rebuild

MAX_WARNINGS_SHOWN = 25


def run() -> None:
    """Console entry point: exit without freeing the build's objects one by one.

    A 10,000-item build holds about a million objects; tearing them down costs a sixth of a
    no-change rebuild and achieves nothing at exit (mypy exits the same way).
    """
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`newsdigest build --explain | head`): not an error of ours,
        # and no traceback. 141 is what a shell reports for a process killed by SIGPIPE.
        code = 141
    with contextlib.suppress(BrokenPipeError):
        sys.stderr.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    if "config" in args and args.config is None:
        # Run from any folder of a site, as git is from any folder of a repository.
        args.config = find_site_config(Path.cwd())
    try:
        return int(args.run(args))
    except NewsdigestError as exc:
        print(f"error: {exc}" if "\n" not in str(exc) else str(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted; the previous output is intact", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsdigest", description="Build, preview and deploy a curated AI news digest."
    )
    parser.add_argument("--version", action="version", version=f"newsdigest {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", dest="command")
    _init_parser(commands)

    build = commands.add_parser("build", help="build the site into the output folder",
                                description="Build the site from the content folder.")
    _site_options(build)
    build.add_argument("--drafts", action="store_true",
                       help="include unpublished (published: false) and removed items")
    build.add_argument("--future", action="store_true", help="include items dated in the future")
    build.add_argument("--skip-invalid", action="store_true",
                       help="build without the files that cannot be used (warn, exit 0)")
    build.add_argument("--no-cache", action="store_true",
                       help="ignore and do not write the build cache (a full build)")
    build.add_argument("--explain", action="store_true", help="say why each page was rebuilt")
    build.add_argument("--no-search", action="store_true",
                       help="do not build the search index (Pagefind)")
    build.add_argument("--jobs", type=int, default=None, metavar="N",
                       help="worker processes (default: all cores)")
    build.add_argument("--quiet", "-q", action="store_true", help="print only problems")
    build.add_argument("--no-report", action="store_true",
                       help="leave the curation report page (_report/) out of the output")
    _offline_option(build)
    build.set_defaults(run=_build)

    why = commands.add_parser(
        "why", help="say what the next build would do with one page, and why",
        description="Plan the next build (writing no page) and say whether it would render "
                    "PAGE again and why, which templates make it and which items it shows.")
    why.add_argument("page", metavar="PAGE",
                     help="a path of the site (news/2026/11/02/slug/, feed.xml), a URL of the "
                          "site, or a file in the output folder")
    _site_options(why)
    why.add_argument("--drafts", action="store_true", help="as `build --drafts`")
    why.add_argument("--future", action="store_true", help="as `build --future`")
    why.add_argument("--skip-invalid", action="store_true", help="as `build --skip-invalid`")
    why.add_argument("--no-report", action="store_true", help="as `build --no-report`")
    _offline_option(why)
    # the build options `why` has no use for: the search index makes no page
    why.set_defaults(run=_why, no_cache=False, explain=False, jobs=None, no_search=True)

    _serve_parser(commands)
    _digest_parsers(commands)

    check = commands.add_parser("check", help="check the built site before deploying it",
                                description="Check every internal link and image, orphan "
                                "pages, feeds, sitemaps and page titles of the built site.")
    check.add_argument("--config", type=Path, metavar="FILE", help="site settings (site.toml)")
    check.add_argument("--output", type=Path, metavar="DIR", help="the built site to check")
    check.add_argument("--base-url", metavar="URL",
                       help="public URL the site was built for (default: the one the build "
                            "recorded, else site.toml's)")
    check.add_argument("--jobs", type=int, default=None, metavar="N", help="worker processes")
    check.add_argument("--external", action="store_true",
                       help="also fetch every item's source URL (cached for a day)")
    check.add_argument("--archive", action="store_true",
                       help="with --external: suggest an archived copy for dead sources")
    check.add_argument("--allow-private", action="store_true", help=argparse.SUPPRESS)
    check.add_argument("--allow-loopback", action="store_true", help=argparse.SUPPRESS)
    check.set_defaults(run=_check)

    deploy = commands.add_parser(
        "deploy", help="build, check and deploy the site to a target of site.toml [deploy]",
        description="Build (unless --no-build), check, then deploy to a [deploy.NAME] target.")
    deploy.add_argument("target", nargs="?", help="the target's name (default: the only one)")
    deploy.add_argument("--config", type=Path, metavar="FILE", help="site settings (site.toml)")
    deploy.add_argument("--no-build", action="store_true", help="deploy the existing output")
    deploy.add_argument("--force", action="store_true", help="deploy even if the check fails")
    deploy.add_argument("--dry-run", action="store_true",
                        help="list what would be added, changed and deleted; change nothing "
                        "(the site is built into the cache, not the output folder)")
    deploy.set_defaults(run=_deploy)

    _images_parser(commands)
    _ingest_parsers(commands)

    clean = commands.add_parser("clean", help="remove the build cache",
                                description="Remove the build cache (.cache/ by default).")
    clean.add_argument("--config", type=Path, metavar="FILE", help="site settings (site.toml)")
    clean.add_argument("--cache-dir", type=Path, metavar="DIR", help="cache folder")
    clean.add_argument("--output", action="store_true", help="remove the output folder too")
    clean.set_defaults(run=_clean)
    return parser


def _serve_parser(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser(
        "serve", help="preview the site with live reload",
        description="Build the site (drafts and future items included) into the cache, serve it "
                    "on this machine and rebuild on every change; open pages update themselves.")
    serve.add_argument("--content", type=Path, metavar="DIR", help="content folder")
    serve.add_argument("--config", type=Path, metavar="FILE", help="site settings (site.toml)")
    serve.add_argument("--templates", type=Path, metavar="DIR",
                       help="folder of templates that override the default theme")
    serve.add_argument("--cache-dir", type=Path, metavar="DIR",
                       help="cache folder (the preview is built into its serve-public/)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free)")
    serve.add_argument("--open", action="store_true", help="open the site in a web browser")
    serve.add_argument("--no-drafts", action="store_true",
                       help="leave out unpublished and removed items, as `build` does")
    serve.add_argument("--no-future", action="store_true",
                       help="leave out items dated in the future, as `build` does")
    serve.add_argument("--jobs", type=int, default=None, metavar="N",
                       help="worker processes for large rebuilds (default: all cores)")
    _offline_option(serve)
    serve.set_defaults(run=_serve, output=None, base_url=None)


def _offline_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--offline", action="store_true",
                        help="download no image: pages use thumbnails already made, else the "
                        "images' own URLs (also NEWSDIGEST_OFFLINE=1)")


def _offline(args: argparse.Namespace) -> bool:
    return bool(args.offline) or os.environ.get("NEWSDIGEST_OFFLINE", "") not in ("", "0")


def _images_parser(commands: argparse._SubParsersAction) -> None:
    images = commands.add_parser(
        "images", help="manage the image cache (downloads and thumbnails)",
        description="Manage the image cache: --prune deletes downloads and thumbnails that no "
                    "current item (drafts and future items included) uses.")
    images.add_argument("--config", type=Path, metavar="FILE", help="site settings (site.toml)")
    images.add_argument("--content", type=Path, metavar="DIR", help="content folder")
    images.add_argument("--cache-dir", type=Path, metavar="DIR", help="cache folder")
    images.add_argument("--prune", action="store_true",
                        help="delete cache entries no current item uses")
    images.set_defaults(run=_images, output=None, base_url=None)


def _site_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--content", type=Path, metavar="DIR", help="content folder")
    parser.add_argument("--output", type=Path, metavar="DIR", help="output folder")
    parser.add_argument("--config", type=Path, metavar="FILE", help="site settings (site.toml)")
    parser.add_argument("--templates", type=Path, metavar="DIR",
                        help="folder of templates that override the default theme")
    parser.add_argument("--base-url", metavar="URL", help="public URL of the site")
    parser.add_argument("--cache-dir", type=Path, metavar="DIR", help="cache folder")


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
        offline=_offline(args),
    )


def _build(args: argparse.Namespace) -> int:
    # The process ends after the build: collecting its million objects would find no garbage.
    gc.disable()
    config = content_config(args)
    progress = _Progress() if sys.stderr.isatty() and not args.quiet else None
    try:
        report = build_site(config, build_options(args), progress)
    finally:
        if progress:
            progress.clear()
    if args.explain and report.patched is not None:
        print(f"kept the last build's site state, patched with {len(report.patched)} edited "
              f"item{'s' if len(report.patched) != 1 else ''}: "
              + (", ".join(report.patched[:5]) or "none")
              + (f" and {len(report.patched) - 5} more" if len(report.patched) > 5 else ""))
    _print_report(report, config, args.quiet)
    if report.curation is not None and not args.quiet:
        from newsdigest.render.curation import REPORT_FOLDER, summary_line

        shown = f" (report: {_shown_path(config.output_dir / REPORT_FOLDER)})" if (
            config.digest.report and not args.no_report) else ""
        print(summary_line(report.curation) + shown)
    return EXIT_OK


def _digest_parsers(commands: argparse._SubParsersAction) -> None:
    digest = commands.add_parser(
        "digest", help="write one digest edition as an email (HTML, text, .eml)",
        description="Make one edition's email: email.html (inlined CSS, for mail clients) and "
                    "email.txt (the plain-text part). Without --output, the text part is "
                    "printed (or, with --eml, the whole message).")
    kind = digest.add_mutually_exclusive_group()
    kind.add_argument("--weekly", action="store_const", const="weekly", dest="kind",
                      help="the weekly edition (the default when weekly editions are on)")
    kind.add_argument("--daily", action="store_const", const="daily", dest="kind",
                      help="the daily edition")
    digest.add_argument("--date", metavar="D",
                        help="the edition of this day (YYYY-MM-DD) or week (YYYY-Www); "
                             "default: the latest")
    digest.add_argument("--output", type=Path, metavar="DIR", dest="email_dir",
                        help="write email.html, email.txt (and email.eml) into this folder")
    digest.add_argument("--eml", action="store_true",
                        help="also make a multipart message file with both parts")
    digest.add_argument("--content", type=Path, metavar="DIR", help="content folder")
    digest.add_argument("--config", type=Path, metavar="FILE", help="site settings (site.toml)")
    digest.add_argument("--templates", type=Path, metavar="DIR",
                        help="folder of templates that override the default theme")
    digest.add_argument("--base-url", metavar="URL", help="public URL of the site")
    digest.set_defaults(run=_digest, output=None)

    report = commands.add_parser(
        "report", help="print the curation report (duplicates, images, invalid files...)",
        description="Print the curation report: items per topic and day, duplicate stories "
                    "merged, items without an image or with a generic one, dropped embeds, "
                    "invalid files, items left out.")
    report.add_argument("--html", type=Path, metavar="FILE",
                        help="also write the report as an HTML page to FILE")
    report.add_argument("--content", type=Path, metavar="DIR", help="content folder")
    report.add_argument("--config", type=Path, metavar="FILE", help="site settings (site.toml)")
    report.set_defaults(run=_report_command, output=None)


def _digest(args: argparse.Namespace) -> int:
    from newsdigest.build.gather import find_sources, gather
    from newsdigest.render import newsletter
    from newsdigest.render.theme import Theme
    from newsdigest.stories import editions

    config = site_config(args)
    settings = config.digest
    kind = args.kind or ("weekly" if settings.weekly else "daily")
    if not getattr(settings, kind):
        raise UsageError(f"--{kind}: {kind} editions are off (digest.{kind} in site.toml)")
    period = None
    if args.date is not None:
        period = editions.parse_period(args.date, kind)
        if period is None:
            raise UsageError(f"--date: expected YYYY-MM-DD"
                             f"{' or YYYY-Www' if kind == 'weekly' else ''}, got {args.date!r}")
    require_content(config, args.config)
    site = gather(config, _reading_options(), find_sources(config),
                  build_options_now() or datetime.now(UTC))
    edition = (editions.find(site.editions, period) if period
               else editions.latest(site.editions, kind))
    if edition is None:
        when = f" for {period.label}" if period else ""
        raise NewsdigestError(f"no {kind} edition{when}: no published item of that period "
                              "passes the [digest] rules")
    files = newsletter.render_email(edition, config, Theme(config))
    message = newsletter.eml(edition, files, config) if args.eml else None
    if args.email_dir is None:
        if message is not None:
            sys.stdout.buffer.write(message)
        else:
            sys.stdout.write(files.text)
        sys.stdout.flush()
        return EXIT_OK
    folder = args.email_dir
    folder.mkdir(parents=True, exist_ok=True)
    written = [("email.html", files.html.encode()), ("email.txt", files.text.encode())]
    if message is not None:
        written.append(("email.eml", message))
    for name, data in written:
        (folder / name).write_bytes(data)
    print(f"{edition.title} ({edition.count} stories) -> "
          + ", ".join(_shown_path(folder / name) for name, _ in written))
    return EXIT_OK


def _reading_options(**more: bool) -> BuildOptions:
    """How commands that only read the site gather it: invalid files reported, not fatal,
    and nothing downloaded (the pictures the last build made are used)."""
    return BuildOptions(skip_invalid=True, offline=True, **more)


def _report_command(args: argparse.Namespace) -> int:
    from newsdigest.build.gather import find_sources, gather
    from newsdigest.render.curation import curation_report, page_context, text_report
    from newsdigest.render.theme import Theme

    config = content_config(args)
    now = build_options_now() or datetime.now(UTC)
    sources = find_sources(config)
    site = gather(config, _reading_options(), sources, now)
    curation = curation_report(site.index, site.editions, site.problems,
                               site.warnings(sources.discovery), now, site.pictures.generic)
    sys.stdout.write(text_report(curation))
    _print_source_health(config)
    if args.html is not None:
        html = Theme(config).render("report.html", page_context(curation, config))
        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(html, encoding="utf-8")
        print(f"wrote {_shown_path(args.html)}", file=sys.stderr)
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from newsdigest.serve.rebuild import serve_config
    from newsdigest.serve.server import PreviewServer, ServeOptions, is_loopback

    content_config(args)  # settings and content are read again by each rebuild
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port: expected 0 to 65535, got {args.port}")
    if not is_loopback(args.host):
        print(f"warning: listening on {args.host}: other machines can read this preview, drafts "
              "included; use --host 127.0.0.1 to keep it on this machine", file=sys.stderr)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    options = BuildOptions(
        drafts=not args.no_drafts,
        future=not args.no_future,
        workers=args.jobs or os.cpu_count() or 1,
        now=datetime.fromtimestamp(int(epoch), UTC) if epoch and epoch.isdigit() else None,
        # Pagefind re-reads every page: seconds per save on a large site. Preview skips it.
        search=False,
        offline=_offline(args),
    )
    config_file = args.config
    server = PreviewServer(lambda url: serve_config(site_config(args), url), options,
                           ServeOptions(args.host, args.port), _ServeLog(),
                           config_file.resolve() if config_file else None)
    _stop_on_signals()
    try:
        server.start()
        print(f"serving {_shown_path(server.preview.output_dir)} at {server.url} "
              "(Ctrl-C to stop)", flush=True)
        if args.open:
            import webbrowser

            webbrowser.open(server.url)
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    print("stopped", flush=True)
    return EXIT_OK


def _stop_on_signals() -> None:
    """Ctrl-C, `kill` and service managers stop the server cleanly.

    Python leaves SIGINT ignored when the parent ignored it (a shell's background job, CI
    runners): the server would then outlive every Ctrl-C and `kill -INT`.
    """
    import signal
    import threading

    server_pid = os.getpid()

    def interrupt(signum: int, frame: object) -> None:
        if os.getpid() != server_pid:  # a forked build worker being ended by its pool
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)
        signal.signal(signal.SIGINT, signal.default_int_handler)


class _ServeLog:
    """Prints each rebuild of `serve` as one timestamped line; errors in full."""

    def __init__(self) -> None:
        self._warnings: list[Problem] = []

    def rebuilt(self, rebuild: Rebuild, cause: str, config: SiteConfig) -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        cause = cause or "first build"
        if rebuild.error is not None:
            print(f"{stamp} {cause}: build failed; still serving the last good build",
                  file=sys.stderr)
            if isinstance(rebuild.error, NewsdigestError):
                print(str(rebuild.error), file=sys.stderr, flush=True)
            else:
                import traceback

                print("internal error (a bug in newsdigest; please report it):", file=sys.stderr)
                traceback.print_exception(rebuild.error, file=sys.stderr)
                sys.stderr.flush()
            return
        report = rebuild.report
        if report is not None and report.warnings != self._warnings:
            _print_warnings(report.warnings)
            self._warnings = report.warnings
        if cause == "first build" and report is not None:
            _print_report(report, config, quiet=False)
            sys.stdout.flush()
            return
        label = {"pages": "updated", "static": "copied", "build": "rebuilt"}[rebuild.kind]
        print(f"{stamp} {cause}: {label} in {rebuild.seconds * 1000:.0f} ms: "
              f"{_changed_files(rebuild.changed)}", flush=True)


def _changed_files(paths: tuple[str, ...] | None) -> str:
    if paths is None:
        return "all files"
    if not paths:
        return "no file changed"
    more = f" and {len(paths) - 3} more" if len(paths) > 3 else ""
    return ", ".join(paths[:3]) + more


def _print_report(report: BuildReport, config: SiteConfig, quiet: bool) -> None:
    for problem in report.skipped:
        print(f"skipped: {problem}", file=sys.stderr)
    _print_warnings(report.warnings)
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
        f"-> {_shown_path(config.output_dir)}"
    )
    _print_images(report.images)


def _print_images(images: ImageReport) -> None:
    """One summary line, then each reason images fell back, once, with a few of the URLs."""
    if not (images.fetched or images.cached or images.generated or images.fallbacks):
        return
    generic = f"; {images.generic} generic left out" if images.generic else ""
    print(f"images: {images.fetched} fetched, {images.cached} cached, {images.generated} "
          f"generated, {images.fallback_count} fallbacks{generic}")
    for reason, refs in sorted(images.fallbacks.items()):
        names = ", ".join(_shown_ref(r) for r in refs[:3])
        more = f" and {len(refs) - 3} more" if len(refs) > 3 else ""
        print(f"  fallback ({reason}): {names}{more}")


def _shown_ref(ref: str) -> str:
    return ref if ref.startswith(("http:", "https:")) else _shown_path(Path(ref))


def _print_warnings(warnings: list[Problem]) -> None:
    for problem in warnings[:MAX_WARNINGS_SHOWN]:
        print(f"warning: {problem}", file=sys.stderr)
    if len(warnings) > MAX_WARNINGS_SHOWN:
        print(f"warning: ... and {len(warnings) - MAX_WARNINGS_SHOWN} more warnings",
              file=sys.stderr)


def _shown_path(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _why(args: argparse.Namespace) -> int:
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


def _check(args: argparse.Namespace) -> int:
    from newsdigest.build.output import recorded_base_url
    from newsdigest.check import check_site

    config = load_config(args.config)
    output = args.output.resolve() if args.output else config.output_dir
    if not (output / "index.html").is_file():
        raise NewsdigestError(f"no built site in {_shown_path(output)}; run newsdigest build")
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


def _deploy(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from newsdigest import deploy
    from newsdigest.build.output import load_manifest
    from newsdigest.build.records import manifest_path
    from newsdigest.check import check_site

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
        _print_report(report, built, quiet=True)
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
        plan = deploy.deploy_directory(built.output_dir, files, deploy.directory_path(target),
                                       args.dry_run, protected)
    elif target.kind == "rsync":
        plan = deploy.deploy_rsync(built.output_dir, files, target.destination, args.dry_run,
                                   protected, work)
    elif target.kind == "s3":
        plan = deploy.deploy_s3(built.output_dir, files, target, args.dry_run)
    else:
        plan = deploy.deploy_git(built.output_dir, files, target, work, config.title,
                                 args.dry_run)
    for line in plan.lines():
        print(line)
    verb = "would transfer" if args.dry_run else "transferred"
    print(f"{name}: {verb} {plan.transfers} files, {len(plan.deleted)} deleted "
          f"({target.kind} {target.destination})")
    return EXIT_OK


def _ingest_parsers(commands: argparse._SubParsersAction) -> None:
    ingest = commands.add_parser(
        "ingest", help="write new items from the feeds of site.toml [sources] (as drafts)",
        description="Read every [sources.NAME] feed of site.toml (or the named ones, or the "
                    "feeds of an OPML file) and write one item file per new entry into "
                    "content/<ingest.folder>/ (inbox), as drafts unless --publish.")
    ingest.add_argument("--source", action="append", default=[], metavar="NAME",
                        help="read only this source (repeatable)")
    ingest.add_argument("--opml", type=Path, metavar="FILE",
                        help="read the feeds of this OPML subscription list instead")
    ingest.add_argument("--dry-run", action="store_true",
                        help="list what would be written; write nothing")
    ingest.add_argument("--publish", action="store_true",
                        help="write the new items published (default: drafts)")
    ingest.add_argument("--config", type=Path, metavar="FILE", help="site settings (site.toml)")
    ingest.add_argument("--offline", action="store_true",
                        help="fetch nothing and write nothing (also NEWSDIGEST_OFFLINE=1)")
    ingest.set_defaults(run=_ingest, output=None, base_url=None)

    approve = commands.add_parser(
        "approve", help="publish reviewed drafts (published: true)",
        description="Set published: true in each item, given by its file or its story's URL; "
                    "every other byte of the file stays as it is.")
    approve.add_argument("targets", nargs="+", metavar="FILE|URL")
    approve.add_argument("--config", type=Path, metavar="FILE", help="site settings (site.toml)")
    approve.set_defaults(run=_approve, output=None, base_url=None)

    add = commands.add_parser(
        "add", help="write an item for one web page, from its own metadata",
        description="Fetch one web page and write its item into content/<ingest.folder>/ from "
                    "what the page says of itself (OpenGraph, JSON-LD, <meta>, <title>).")
    add.add_argument("url", metavar="URL")
    add.add_argument("--topic", action="append", default=[], metavar="T",
                     help="give the item this topic (repeatable)")
    add.add_argument("--publish", action="store_true",
                     help="write it published (default: a draft)")
    add.add_argument("--config", type=Path, metavar="FILE", help="site settings (site.toml)")
    add.set_defaults(run=_add, output=None, base_url=None, offline=False)


def _ingest(args: argparse.Namespace) -> int:
    from newsdigest.errors import EXIT_INVALID
    from newsdigest.ingest.run import IngestOptions, ingest

    config = site_config(args)
    report = ingest(config, IngestOptions(
        sources=tuple(args.source), opml=args.opml, dry_run=args.dry_run,
        publish=args.publish, offline=_offline(args), now=build_options_now()))
    if report.offline:
        print("ingest: offline: no source fetched, nothing written")
        return EXIT_OK
    for outcome in report.outcomes:
        for name in outcome.new:
            shown = _shown_path(report.folder / name)
            print(f"  would write {shown}" if report.dry_run else f"  wrote {shown}")
    print(report.summary_line())
    for outcome in report.failed:
        streak = (f"; failed {outcome.failures} runs in a row, since "
                  f"{outcome.failing_since[:16].replace('T', ' ')}"
                  if outcome.failing_since else "")
        print(f"  {outcome.source.name}: {outcome.failure} ({outcome.source.url}){streak}",
              file=sys.stderr)
    return EXIT_INVALID if report.all_failed else EXIT_OK


def _add(args: argparse.Namespace) -> int:
    from newsdigest.ingest.page import add_page

    config = site_config(args)
    if _offline(args):
        print("add: offline (NEWSDIGEST_OFFLINE): nothing fetched, nothing written")
        return EXIT_OK
    path = add_page(config, args.url, tuple(t.strip() for t in args.topic if t.strip()),
                    args.publish, build_options_now())
    print(_shown_path(path))
    return EXIT_OK


def _print_source_health(config: SiteConfig) -> None:
    """The curation report's last part: how the feeds of `newsdigest ingest` are doing."""
    if not config.sources:
        return
    from newsdigest.ingest.run import health_lines

    lines = health_lines(config, build_options_now())
    failing = sum(": failing, " in line for line in lines)
    silent = sum(": silent, " in line for line in lines)
    print(f"\nSources of newsdigest ingest ({len(lines)}, {failing} failing, {silent} silent)")
    for line in lines:
        print(f"  {line}")


def _approve(args: argparse.Namespace) -> int:
    from newsdigest.errors import EXIT_INVALID
    from newsdigest.ingest.approve import approve

    config = site_config(args)
    failed = False
    for result in approve(config, args.targets):
        where = _shown_path(result.path) if result.path else result.target
        if result.outcome in ("published", "already published"):
            print(f"{where}: {result.outcome}")
        else:
            failed = True
            print(f"error: {where}: {result.outcome}", file=sys.stderr)
    return EXIT_INVALID if failed else EXIT_OK


def build_options_now() -> datetime | None:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    return datetime.fromtimestamp(int(epoch), UTC) if epoch and epoch.isdigit() else None


def _images(args: argparse.Namespace) -> int:
    from newsdigest.build.gather import find_sources, gather
    from newsdigest.images.stage import image_cache_dir, prune

    if not args.prune:
        raise UsageError("images: nothing to do (try --prune)")
    config = content_config(args)
    sources = find_sources(config)
    # Every item a build may show, drafts and future ones too, keeps its images.
    site = gather(config, _reading_options(drafts=True, future=True), sources,
                  build_options_now() or datetime.now(UTC), pictures=False)
    report = prune(site.index, config, sources.assets)
    print(f"pruned {_shown_path(image_cache_dir(config))}: {report.entries} entries, "
          f"{report.files} files ({report.bytes / 1e6:.1f} MB) no item uses")
    return EXIT_OK


def _clean(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    cache = args.cache_dir.resolve() if args.cache_dir else config.cache_dir
    if cache.is_dir():
        shutil.rmtree(cache)
        print(f"removed {_shown_path(cache)}")
    if args.output and config.output_dir.is_dir():
        from newsdigest.build.output import MARKER

        if not (config.output_dir / MARKER).exists():
            raise NewsdigestError(f"{config.output_dir} was not made by newsdigest; not removed")
        shutil.rmtree(config.output_dir)
        print(f"removed {_shown_path(config.output_dir)}")
    return EXIT_OK


def _init_parser(commands: argparse._SubParsersAction) -> None:
    init = commands.add_parser(
        "init", help="create a new site, ready to build",
        description="Create a new site in DIR: site.toml with every setting, a welcome item "
                    "and an editor's note, templates/ and static/, .gitignore, requirements.txt "
                    "and a GitHub Pages workflow. A folder holding any of these is refused.")
    init.add_argument("dir", nargs="?", default=".", metavar="DIR",
                      help="the new site's folder (default: this one); made if missing")
    init.add_argument("--title", help="the site's name (default: My News Digest)")
    init.add_argument("--base-url", metavar="URL",
                      help="the public URL the site will have (default: http://127.0.0.1:8000/)")
    init.add_argument("--force", action="store_true",
                      help="add the missing files to a folder that holds some (never changes a "
                           "file that is there, content/ or site.toml)")
    init.set_defaults(run=_init)


def _init(args: argparse.Namespace) -> int:
    import shlex

    from newsdigest.init import init_site

    result = init_site(Path(args.dir), args.title, args.base_url, datetime.now(UTC), args.force)
    for path in result.written:
        print(f"created {path}")
    for path in result.kept:
        print(f"kept {path} (already there)")
    print("next:")
    print(f"cd {shlex.quote(args.dir)}")
    print("newsdigest serve")
    print("newsdigest build")
    return EXIT_OK


class _Progress:
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
