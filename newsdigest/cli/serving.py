"""`newsdigest serve`: the preview server in the terminal."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from newsdigest.build.options import BuildOptions
from newsdigest.config.site import SiteConfig
from newsdigest.errors import EXIT_OK, NewsdigestError, Problem, UsageError

if TYPE_CHECKING:
    from newsdigest.serve.rebuild import Rebuild
from newsdigest.cli.common import (
    content_config,
    offline,
    print_report,
    print_warnings,
    shown_path,
    site_config,
)


def serve_command(args: argparse.Namespace) -> int:
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
        offline=offline(args),
    )
    config_file = args.config
    server = PreviewServer(lambda url: serve_config(site_config(args), url), options,
                           ServeOptions(args.host, args.port), _ServeLog(),
                           config_file.resolve() if config_file else None)
    _stop_on_signals()
    try:
        server.start()
        print(f"serving {shown_path(server.preview.output_dir)} at {server.url} "
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
            print_warnings(report.warnings)
            self._warnings = report.warnings
        if cause == "first build" and report is not None:
            print_report(report, config, quiet=False)
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
