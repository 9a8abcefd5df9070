"""Full-text search for static hosting: Pagefind indexes the item pages into /pagefind/.

Pagefind re-reads every item page (about 10 s at 10,000 items), so the index is rebuilt only
when an item page changed (or the index is missing), into a folder beside the output that is
then swapped in whole: readers never see half an index.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from newsdigest.errors import NewsdigestError
from newsdigest.fingerprint import fingerprint
from newsdigest.output import Output, make_staging, rename_exchange, save_atomic

FOLDER = "pagefind"
INDEXED = "news/**/index.html"


def pages_print(outputs: Sequence[Output]) -> str:
    """What the index is made from: the item pages as they were rendered."""
    return fingerprint([(o.path, o.fingerprint) for o in outputs if o.path.startswith("news/")])


def update_index(output_dir: Path, record: Path | None, printed: str) -> bool:
    """Rebuild the index if the item pages changed since it was made; True if it was rebuilt."""
    target = output_dir / FOLDER
    if record is not None and target.is_dir():
        try:
            if record.read_text() == printed:
                return False
        except OSError:
            pass
    fresh = make_staging(output_dir, "pagefind")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pagefind", "--site", str(output_dir), "--output-path",
             str(fresh), "--glob", INDEXED, "--silent"],
            capture_output=True, text=True, timeout=900,
        )
        if done.returncode != 0 or not (fresh / "pagefind.js").exists():
            raise NewsdigestError(
                f"search index: pagefind failed: {(done.stderr or done.stdout).strip()[-500:]}"
                " (build with --no-search to skip the search index)")
        if target.is_dir() and rename_exchange(fresh, target):
            pass
        else:
            if target.exists():
                shutil.rmtree(target)
            os.rename(fresh, target)
            fresh.mkdir()
    except FileNotFoundError as exc:
        raise NewsdigestError(f"search index: cannot run pagefind ({exc})") from None
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
    if record is not None:
        save_atomic(record, printed.encode())
    return True
