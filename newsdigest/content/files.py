"""Discover stage: the files of the content folder, found by names, sizes and times alone.

No file is read here (content.front_matter reads them): a build whose inputs did not change
stops after finding them, so this module imports nothing it would not use.
"""

from __future__ import annotations

import os
import re
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fnmatch import translate
from functools import cached_property, lru_cache
from operator import attrgetter
from pathlib import Path
from typing import NamedTuple

from newsdigest.errors import Problem

ITEM_SUFFIXES = (".md", ".markdown", ".txt")
_JUNK_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}
_JUNK_SUFFIXES = ("~", ".swp", ".swo", ".swx", ".tmp", ".bak", ".orig", ".part")
NOTES_FOLDER = "digests/"  # in the content folder: editor's notes, not news items

class SourceFile(NamedTuple):
    """A file found in the content folder (a named tuple: every build makes one per file,
    at twice the speed of a frozen dataclass)."""

    abspath: str
    rel: str  # posix path relative to the content folder: how files are named to the user
    size: int = -1  # from the directory scan, so the cache check needs no second stat
    mtime_ns: int = -1

    @property
    def path(self) -> Path:
        # Made on use: ten thousand Path objects cost a tenth of a no-change rebuild.
        return Path(self.abspath)


@dataclass(frozen=True)
class Discovery:
    items: list[SourceFile]
    assets: list[SourceFile]
    warnings: list[Problem]

    @cached_property
    def columns(self) -> Columns:
        """The items' names, sizes and times, each in one sequence: compared and digested
        whole, where a loop over 30,000 files took a tenth of a rebuild's patching."""
        return columns_of(self.items)


class Columns(NamedTuple):
    names: tuple[str, ...]  # paths in the content folder (SourceFile.rel), in order
    sizes: array[int]
    mtimes: array[int]  # of the same files, in nanoseconds


def columns_of(files: Sequence[SourceFile]) -> Columns:
    if not files:
        return Columns((), array("q"), array("q"))
    _, names, sizes, times = zip(*files, strict=True)
    return Columns(names, array("q", sizes), array("q", times))


def is_junk(name: str) -> bool:
    """Editor and OS droppings that are never content nor assets."""
    return (
        name in _JUNK_NAMES
        or name.startswith((".", "#"))
        or name.endswith(_JUNK_SUFFIXES)
    )


@lru_cache(maxsize=16)
def _ignore_pattern(patterns: tuple[str, ...]) -> re.Pattern[str]:
    # One expression for all the patterns: asked for every file of every build.
    return re.compile("|".join(translate(p.casefold()) for p in patterns) or r"(?!)")


_file = attrgetter("path")
_rel = attrgetter("rel")


def discover(content_dir: Path, ignore: Sequence[str] = ()) -> Discovery:
    """Every item and asset below the content folder, in a stable order; links are not followed.

    Files and folders matching an `ignore` pattern (site.toml [build] ignore, globs) are left
    out, by name or by path in the folder, in any letter case (README.md, Readme.md and
    readme.md are all one file).
    """
    items: list[SourceFile] = []
    assets: list[SourceFile] = []
    warnings: list[Problem] = []
    # The patterns' one expression, looked up once: every build runs this loop for every file.
    ignored = _ignore_pattern(tuple(ignore)).match if ignore else None
    pending = [(str(content_dir), "")]
    new_source = tuple.__new__  # a named tuple made as a tuple: its own __new__ was a third
    while pending:              # of the time taken for each file
        folder, prefix = pending.pop()
        try:
            # Scanned through the folder's descriptor: each file's stat then looks it up by its
            # name in the folder, not by its whole path (a tenth of the scan's time).
            descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            warnings.append(Problem(prefix.rstrip("/") or ".", None, "", f"cannot read folder: "
                                    f"{exc.strerror}"))
            continue
        try:
            for entry in os.scandir(descriptor):  # in no order: sorted once, at the end
                name = entry.name
                if is_junk(name):
                    continue
                rel = prefix + name
                if ignored is not None and (ignored(name.casefold()) or ignored(rel.casefold())):
                    continue
                if entry.is_file(follow_symlinks=False):  # most are: asked first
                    try:
                        stat = entry.stat()
                    except FileNotFoundError:  # removed since the folder was listed
                        continue
                    source = new_source(SourceFile, (f"{folder}/{name}", rel, stat.st_size,
                                                     stat.st_mtime_ns))
                    item = name.endswith(".md") or name.lower().endswith(ITEM_SUFFIXES)
                    (items if item else assets).append(source)
                elif entry.is_symlink():
                    warnings.append(Problem(rel, None, "", "symbolic link not followed"))
                elif entry.is_dir() and name != "__pycache__":
                    pending.append((f"{folder}/{name}", rel + "/"))
        except OSError as exc:
            warnings.append(Problem(prefix.rstrip("/") or ".", None, "", f"cannot read folder: "
                                    f"{exc.strerror}"))
        finally:
            os.close(descriptor)
    items.sort(key=_rel)
    assets.sort(key=_rel)
    warnings.sort(key=_file)
    return Discovery(items, assets, warnings)


def split_notes(discovery: Discovery) -> tuple[list[SourceFile], Discovery]:
    """The editor's notes (content/digests/), and the discovery without them: not news items."""
    notes = [s for s in discovery.items if s.rel.startswith(NOTES_FOLDER)]
    return notes, replace(discovery,
                          items=[s for s in discovery.items if not s.rel.startswith(NOTES_FOLDER)])
