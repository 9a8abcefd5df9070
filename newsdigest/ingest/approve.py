"""`newsdigest approve`: a reviewed draft published, by its file or its story's URL.

Only the value of the front matter's top-level `published:` line changes; every other byte
of the file (comments, quoting, line endings, the body) stays as the editor left it.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from newsdigest.config.site import SiteConfig
from newsdigest.content.dedupe import normalise_url
from newsdigest.content.files import discover
from newsdigest.ingest.known import front_matters

_BOUNDARY = re.compile(rb"^---[ \t]*\r?\n?$")
_PUBLISHED = re.compile(rb"^(published[ \t]*:[ \t]*)([^#\r\n]*?)([ \t]*(?:#[^\r\n]*)?\r?\n?)$")
_FALSE = {b"false", b"False", b"FALSE", b"no", b"No", b"NO", b"off", b"Off", b"OFF", b"n",
          b"'false'", b'"false"'}


@dataclass(frozen=True)
class Approval:
    target: str  # as given
    path: Path | None
    outcome: str  # "published", "already published", or why not


def approve(config: SiteConfig, targets: list[str]) -> list[Approval]:
    results = []
    for target in targets:
        if target.startswith(("http://", "https://")):
            paths = _items_with_url(config, target)
            if not paths:
                results.append(Approval(target, None, "no item in the content folder has "
                                                      "this URL"))
            results += [Approval(target, path, publish_file(path)) for path in paths]
        else:
            path = Path(target)
            if not path.is_file() and (config.content_dir / target).is_file():
                path = config.content_dir / target
            results.append(Approval(target, path, publish_file(path) if path.is_file()
                                    else "file not found"))
    return results


def publish_file(path: Path) -> str:
    """Set `published: true` in the file's front matter; the outcome in a few words."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"cannot read: {exc.strerror}"
    lines = data.splitlines(keepends=True)
    start = 0
    if lines and lines[0].startswith(b"\xef\xbb\xbf"):
        lines[0] = lines[0][3:]
        bom = b"\xef\xbb\xbf"
    else:
        bom = b""
    while start < len(lines) and not lines[start].strip():
        start += 1
    if start == len(lines) or not _BOUNDARY.match(lines[start]):
        return "not a news item: no front matter ('---' first)"
    for index in range(start + 1, len(lines)):
        line = lines[index]
        if _BOUNDARY.match(line):
            return "already published (no published: line)"
        match = _PUBLISHED.match(line)
        if match is None:
            continue
        value = match.group(2).strip()
        if value not in _FALSE:
            return "already published" if value in (b"true", b"True", b"yes") else \
                f"published: is {value.decode(errors='replace')!r}, not false; left as it is"
        lines[index] = match.group(1) + b"true" + match.group(3)
        _replace(path, bom + b"".join(lines))
        return "published"
    return "not a news item: front matter not closed"


def _replace(path: Path, data: bytes) -> None:
    """Atomically: a reader (or a crash) sees the old file or the new one, never half."""
    mode = path.stat().st_mode & 0o7777
    handle, temporary = tempfile.mkstemp(prefix=".approve-", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _items_with_url(config: SiteConfig, url: str) -> list[Path]:
    wanted = normalise_url(url)
    found = []
    for source, raw in front_matters(config, discover(config.content_dir, config.ignore).items):
        if any(isinstance(raw.data.get(name), str) and normalise_url(raw.data[name]) == wanted
               for name in ("webUrl", "originalUrl")):
            found.append(source.path)
    return found
