"""`newsdigest init`: a new site that builds at once, from the starter files in the package.

The starter files (newsdigest/starter/) ship in the wheel; a few are templates filled in with
the title, the base URL, the time of `init` and the installed version. Nothing that exists is
ever overwritten: a folder holding any of the files is refused, and `--force` adds only the
missing ones.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from string import Template

from newsdigest import __version__
from newsdigest.config.site import DEFAULT_CONFIG, SiteConfig
from newsdigest.errors import NewsdigestError, UsageError

STARTER_DIR = Path(__file__).parent / "starter"
CONTENT = "content/"  # written only into a site that has no content folder at all
DEFAULT_TITLE = "My News Digest"


@dataclass(frozen=True)
class InitResult:
    folder: Path
    written: tuple[str, ...]  # paths in the site, in the order written
    kept: tuple[str, ...]  # files (or content/) that were there already, left as they were


def starter_files(title: str, base_url: str | None, now: datetime) -> dict[str, bytes]:
    """Every file `init` writes, by its path in the new site (content/ files first)."""
    now = now.astimezone(UTC)  # the new site's time zone: its editions are UTC days
    day = now.date()
    year, week, _ = day.isocalendar()
    item = f"content/{day.isoformat()}-welcome.md"
    # Whole seconds, rounded down: the item is never in the future of the first build.
    published = now.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    base_url_line = (f"base_url = {_quoted(base_url)}" if base_url is not None
                     else f"# base_url = {_quoted(SiteConfig().base_url)}")
    return {
        item: _fill("welcome.md", title=_quoted(f"Welcome to {title}"), published=published,
                    file=item.removeprefix("content/")),
        "content/images/welcome.jpg": _starter("welcome.jpg"),
        "content/logos/newsdigest.png": _starter("logo.png"),
        f"content/digests/{day.isoformat()}.md": _fill("note.md", key=day.isoformat(),
                                                         week=f"{year}-W{week:02d}"),
        DEFAULT_CONFIG: _fill("site.toml", title=_quoted(title), base_url_line=base_url_line),
        # Notes that are never published: templates are read by name only, and the build
        # copies no file of static/ whose name starts with a dot.
        "templates/README.md": _starter("templates-README.md"),
        "static/.README.md": _starter("static-README.md"),
        ".gitignore": _starter("gitignore"),
        # The workflow installs exactly this version, so CI builds what `init` was tried with.
        "requirements.txt": f"newsdigest=={__version__}\n".encode(),
        ".github/workflows/pages.yml": _starter("pages.yml"),
    }


def init_site(folder: Path, title: str | None, base_url: str | None, now: datetime,
              force: bool = False) -> InitResult:
    """Write a new site into `folder` (made if missing); refuse one that holds any of its files
    unless `force`, which adds only the missing files and leaves content/ and site.toml alone."""
    title = DEFAULT_TITLE if title is None else " ".join(title.split())
    if not title:
        raise UsageError("--title: expected the site's name, got nothing")
    if base_url is not None:
        # The settings' own check: an http(s) URL with no credential, ending in '/'.
        base_url = SiteConfig().with_overrides(base_url=base_url).base_url
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is a file, not a folder: give a folder for the new site")
    files = starter_files(title, base_url, now)
    blocked = {path: _in_the_way(folder, path) for path in _targets(files)}
    present = list(dict.fromkeys(name for name in blocked.values() if name is not None))
    if present and not force:
        raise UsageError(f"{folder} already holds {', '.join(present)}: nothing written "
                         "(--force adds only the missing files; it never changes a file that "
                         "is there, content/ or site.toml)")
    written = []
    for path, data in files.items():
        if blocked[CONTENT if path.startswith(CONTENT) else path] is not None:
            continue
        target = folder / path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            # "x": created here or not at all, so a file appearing meanwhile is never lost.
            with open(target, "xb") as out:
                out.write(data)
        except OSError as exc:
            done = f" (written: {', '.join(written)})" if written else ""
            raise NewsdigestError(f"cannot write {target}: {exc.strerror}{done}") from None
        written.append(path)
    return InitResult(folder, tuple(written), tuple(present))


def _targets(files: dict[str, bytes]) -> list[str]:
    """What may not be there already: content/ as a whole, then each other file."""
    return [CONTENT] + [path for path in files if not path.startswith(CONTENT)]


def _in_the_way(folder: Path, path: str) -> str | None:
    """What in `folder` stops `path` being written: the file (or content/) itself, or a file
    or symbolic link where one of its folders would be (writing through it would put the file
    elsewhere); None when nothing does."""
    parts = path.rstrip("/").split("/")
    for depth in range(1, len(parts)):
        above = folder.joinpath(*parts[:depth])
        if above.is_symlink() or (os.path.lexists(above) and not above.is_dir()):
            return "/".join(parts[:depth])
    return path if os.path.lexists(folder / path) else None


def _quoted(text: str) -> str:
    # A JSON string is a valid TOML basic string and YAML double-quoted scalar.
    return json.dumps(text, ensure_ascii=False)


def _starter(name: str) -> bytes:
    return (STARTER_DIR / name).read_bytes()


def _fill(name: str, **values: str) -> bytes:
    return Template(_starter(name).decode("utf-8")).substitute(values).encode("utf-8")
