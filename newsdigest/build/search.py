"""Full-text search for static hosting: Pagefind indexes the item pages into /pagefind/.

Pagefind re-reads every item page it indexes (seconds at 10,000 items), so a rebuild indexes
only the item pages that changed since the whole index was made: they go into a second,
small index (/pagefind-recent/) with the list of pages whose entries in the whole index are
out of date (edited or gone), which the search page leaves out. Past MOST_RECENT changed
pages the whole index is made again and the small one emptied. Each index is made in a
folder beside the output and swapped in whole: readers never see half an index.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from newsdigest.build.output import make_staging, rename_exchange
from newsdigest.errors import NewsdigestError
from newsdigest.fingerprint import fingerprint
from newsdigest.outputs import Output
from newsdigest.store import load_pickle, save_atomic

FOLDER = "pagefind"  # every item page, as of the last time the whole index was made
RECENT = "pagefind-recent"  # the item pages changed since, and the ones it replaces
REPLACED = "replaced.json"  # in RECENT: page paths whose entries in FOLDER are out of date
INDEXED = "news/**/index.html"
# Past this many changed item pages the whole index is made again (seconds): otherwise the
# search page passes over more and more out-of-date entries, and the small index keeps growing.
MOST_RECENT = 300


def item_pages(outputs: Sequence[Output]) -> dict[str, str]:
    """What the index is made from: each item page as it was rendered (its fingerprint)."""
    return {o.path: o.fingerprint for o in outputs if o.path.startswith("news/")}


def update_index(output_dir: Path, record: Path | None, pages: dict[str, str]) -> bool:
    """Bring the index up to date with the item pages; True if anything was indexed."""
    whole = output_dir / FOLDER
    last = _read_record(record) if record is not None else None
    if last is not None and (whole / "pagefind.js").exists():
        indexed, recent_print = last
        changed = sorted(path for path, made in pages.items() if indexed.get(path) != made)
        replaced = sorted({path for path in changed if path in indexed}
                          | {path for path in indexed if path not in pages})
        if len(changed) + len(replaced) <= MOST_RECENT:
            now = fingerprint([(path, pages[path]) for path in changed], replaced)
            if now == recent_print and (output_dir / RECENT / REPLACED).exists():
                return False
            _index_recent(output_dir, changed, replaced)
            _write_record(record, indexed, now)
            return True
    _run_pagefind(output_dir, whole, None)
    _index_recent(output_dir, [], [])
    _write_record(record, pages, fingerprint([], []))
    return True


def _index_recent(output_dir: Path, changed: list[str], replaced: list[str]) -> None:
    """The small index of the changed pages; with none, an empty one, so that the search
    page always finds the files it asks for."""
    target = output_dir / RECENT
    # Pagefind indexes a folder: one holding links to just the changed pages, at their paths.
    pages = make_staging(output_dir, "pagefind-pages")
    try:
        for path in changed:
            (pages / path).parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(output_dir / path, pages / path)
            except OSError:  # a file system without hard links
                shutil.copyfile(output_dir / path, pages / path)
        _run_pagefind(pages, target, replaced)
    finally:
        shutil.rmtree(pages, ignore_errors=True)


def _run_pagefind(site: Path, target: Path, replaced: list[str] | None) -> None:
    """Index the item pages of `site` into a new folder, then swap it in as `target`."""
    fresh = make_staging(target.parent, "pagefind")  # beside the output, never in it
    try:
        if not any(site.glob(INDEXED)):
            (fresh / "pagefind.js").write_text("export {};\n")  # nothing to find, nothing new
        else:
            done = subprocess.run(
                [sys.executable, "-m", "pagefind", "--site", str(site), "--output-path",
                 str(fresh), "--glob", INDEXED, "--silent"],
                capture_output=True, text=True, timeout=900,
            )
            if done.returncode != 0 or not (fresh / "pagefind.js").exists():
                raise NewsdigestError(
                    "search index: pagefind failed: "
                    f"{(done.stderr or done.stdout).strip()[-500:]}"
                    " (build with --no-search to skip the search index)")
        if replaced is not None:
            # as the search page sees them: the page's folder, without index.html
            folders = [path.removesuffix("index.html") for path in replaced]
            (fresh / REPLACED).write_text(json.dumps(folders))
        if not (target.is_dir() and rename_exchange(fresh, target)):
            if target.exists():
                shutil.rmtree(target)
            os.rename(fresh, target)
            fresh.mkdir()
    except FileNotFoundError as exc:
        raise NewsdigestError(f"search index: cannot run pagefind ({exc})") from None
    finally:
        shutil.rmtree(fresh, ignore_errors=True)


def _read_record(record: Path) -> tuple[dict[str, str], str] | None:
    match load_pickle(record):
        case (dict() as indexed, str() as recent):
            return indexed, recent
        case _:
            return None


def _write_record(record: Path | None, indexed: dict[str, str], recent: str) -> None:
    if record is not None:
        save_atomic(record, pickle.dumps((indexed, recent), pickle.HIGHEST_PROTOCOL))
