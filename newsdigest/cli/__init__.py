"""Command line: options live here, each command calls one function in a module of this
package. Only this package prints."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from newsdigest import __version__
from newsdigest.cli.common import find_site_config
from newsdigest.errors import EXIT_OK, EXIT_USAGE, NewsdigestError


def run() -> None:
    """Console entry point: exit without freeing the build's objects one by one.

    A 10,000-item build holds about a million objects; tearing them down costs a sixth of a
    no-change rebuild and achieves nothing at exit (mypy exits the same way). The command
    hands them here (`keep_alive`) rather than freeing them as it returns.
    """
    keep_alive: list[object] = []
    try:
        code = main(keep_alive=keep_alive)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`newsdigest build --explain | head`): not an error of ours,
        # and no traceback. 141 is what a shell reports for a process killed by SIGPIPE.
        code = 141
    with contextlib.suppress(BrokenPipeError):
        sys.stderr.flush()
    os._exit(code)


def _command(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    """A command's function, imported when it runs: a build that finds nothing changed ends
    in a tenth of a second, and importing what serve, ingest or deploy use would double it."""

    def run(args: argparse.Namespace) -> int:
        return int(getattr(importlib.import_module(f"newsdigest.cli.{module}"), name)(args))

    return run


def main(argv: Sequence[str] | None = None, keep_alive: list[object] | None = None) -> int:
    """Run one command; what it made goes to `keep_alive`, if given, rather than being
    freed (a process that exits right after, `run`)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    args.keep_alive = keep_alive
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
    build.set_defaults(run=_command("building", "build_command"))

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
    why.set_defaults(run=_command("building", "why_command"), no_cache=False, explain=False,
                     jobs=None, no_search=True)

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
    check.set_defaults(run=_command("publishing", "check_command"))

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
    deploy.set_defaults(run=_command("publishing", "deploy_command"))

    _images_parser(commands)
    _ingest_parsers(commands)

    clean = commands.add_parser("clean", help="remove the build cache",
                                description="Remove the build cache (.cache/ by default).")
    clean.add_argument("--config", type=Path, metavar="FILE", help="site settings (site.toml)")
    clean.add_argument("--cache-dir", type=Path, metavar="DIR", help="cache folder")
    clean.add_argument("--output", action="store_true", help="remove the output folder too")
    clean.set_defaults(run=_command("building", "clean_command"))
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
    serve.set_defaults(run=_command("serving", "serve_command"), output=None, base_url=None)


def _offline_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--offline", action="store_true",
                        help="download no image: pages use thumbnails already made, else the "
                        "images' own URLs (also NEWSDIGEST_OFFLINE=1)")


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
    images.set_defaults(run=_command("building", "images_command"), output=None, base_url=None)


def _site_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--content", type=Path, metavar="DIR", help="content folder")
    parser.add_argument("--output", type=Path, metavar="DIR", help="output folder")
    parser.add_argument("--config", type=Path, metavar="FILE", help="site settings (site.toml)")
    parser.add_argument("--templates", type=Path, metavar="DIR",
                        help="folder of templates that override the default theme")
    parser.add_argument("--base-url", metavar="URL", help="public URL of the site")
    parser.add_argument("--cache-dir", type=Path, metavar="DIR", help="cache folder")


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
    digest.add_argument("--topic", metavar="T",
                        help="that topic's own weekly edition (a topic of [digest] "
                             "topic_editions)")
    digest.add_argument("--output", type=Path, metavar="DIR", dest="email_dir",
                        help="write email.html, email.txt (and email.eml) into this folder")
    digest.add_argument("--eml", action="store_true",
                        help="also make a multipart message file with both parts")
    digest.add_argument("--content", type=Path, metavar="DIR", help="content folder")
    digest.add_argument("--config", type=Path, metavar="FILE", help="site settings (site.toml)")
    digest.add_argument("--templates", type=Path, metavar="DIR",
                        help="folder of templates that override the default theme")
    digest.add_argument("--base-url", metavar="URL", help="public URL of the site")
    digest.set_defaults(run=_command("digests", "digest_command"), output=None)

    report = commands.add_parser(
        "report", help="print the curation report (duplicates, images, invalid files...)",
        description="Print the curation report: items per topic and day, duplicate stories "
                    "merged, items without an image or with a generic one, dropped embeds, "
                    "invalid files, items left out.")
    report.add_argument("--html", type=Path, metavar="FILE",
                        help="also write the report as an HTML page to FILE")
    report.add_argument("--content", type=Path, metavar="DIR", help="content folder")
    report.add_argument("--config", type=Path, metavar="FILE", help="site settings (site.toml)")
    report.set_defaults(run=_command("digests", "report_command"), output=None)


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
    ingest.set_defaults(run=_command("ingesting", "ingest_command"), output=None, base_url=None)

    approve = commands.add_parser(
        "approve", help="publish reviewed drafts (published: true)",
        description="Set published: true in each item, given by its file or its story's URL; "
                    "every other byte of the file stays as it is.")
    approve.add_argument("targets", nargs="+", metavar="FILE|URL")
    approve.add_argument("--config", type=Path, metavar="FILE", help="site settings (site.toml)")
    approve.set_defaults(run=_command("ingesting", "approve_command"), output=None, base_url=None)

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
    add.set_defaults(run=_command("ingesting", "add_command"), output=None, base_url=None,
                     offline=False)


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
    init.set_defaults(run=init_command)


def init_command(args: argparse.Namespace) -> int:
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
