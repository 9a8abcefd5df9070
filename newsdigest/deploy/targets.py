"""What every deploy target shares: which folders a deploy may replace, which files it sends,
the plan it prints."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from newsdigest.build import search
from newsdigest.build.output import (
    MARKER,
    TEMP_PREFIX,
    WRITING,
    Manifest,
)
from newsdigest.config.deploy import Target
from newsdigest.errors import EXIT_USAGE, NewsdigestError

if TYPE_CHECKING:
    from newsdigest.config.site import SiteConfig


# In a folder target: says an earlier deploy made it, so the next may replace it. In an S3
# prefix: the record of the keys this site uploaded, the only ones a deploy may delete.
DEPLOY_MARKER = ".newsdigest-deploy"


DEPLOY_MARKER_TEXT = "made by newsdigest deploy: each deploy replaces this folder\n"


EXCLUDED = {MARKER, WRITING, DEPLOY_MARKER}


# Made by Pagefind in a folder of its own and swapped in whole: not in the build's manifest.
SEARCH_FOLDERS = (f"{search.FOLDER}/", f"{search.RECENT}/")


DRY_RUN_OUTPUT = "deploy-dry-run"  # in the cache folder: what `deploy --dry-run` builds


class DeployError(NewsdigestError):
    """A deploy step failed; the message says what state the target is in and what to do."""


class DeployRefused(DeployError):
    """The target holds, or is, something a deploy must not replace; nothing was changed."""

    exit_code = EXIT_USAGE


@dataclass
class Plan:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    @property
    def transfers(self) -> int:
        return len(self.added) + len(self.changed)

    def lines(self) -> list[str]:
        return ([f"add    {p}" for p in self.added] + [f"change {p}" for p in self.changed]
                + [f"delete {p}" for p in self.deleted])


def project_folders(config: SiteConfig, project: Path) -> dict[str, Path]:
    """What a deploy must never replace nor write into, by the name an error gives it."""
    folders = {"the project": project, "the content folder": config.content_dir,
               "the templates folder": config.templates_dir,
               "the static folder": config.static_dir, "the cache": config.cache_dir,
               "the output folder": config.output_dir}
    if config.images.cache is not None:
        folders["the image cache"] = config.images.cache
    return folders


def check_folder(target: Path, protected: Mapping[str, Path]) -> None:
    """Refuse a folder a deploy would replace unless it is missing, empty or made by a deploy,
    or when it overlaps one of the project's folders (as output.check_output_dir does for the
    output folder, with a marker of its own: a deployed site is not an output folder)."""
    where = target.resolve()
    if where == Path(where.anchor) or where == Path.home().resolve():
        raise DeployRefused(f"deploy target {where} is refused: a deploy replaces the whole "
                            "folder; choose one of its own")
    folders = [(folder.resolve(), name) for name, folder in protected.items()]
    # named after the innermost folder that holds it, else the outermost one it holds
    holding = sorted((f for f in folders if where.is_relative_to(f[0])), key=_depth)
    held = sorted((f for f in folders if f[0].is_relative_to(where)), key=_depth)
    if holding or held:
        folder, name = holding[-1] if holding else held[0]
        raise DeployRefused(f"deploy target {where} overlaps {name} ({folder}); a deploy "
                            "replaces the whole folder: choose one outside it")
    if where.exists() and not where.is_dir():
        raise DeployRefused(f"deploy target {where} exists and is not a folder")
    try:
        foreign = where.is_dir() and any(where.iterdir())
    except OSError as exc:
        raise DeployRefused(f"deploy target {where} cannot be read ({exc.strerror}): nothing "
                            "in it can be checked, so nothing is replaced") from None
    if foreign and not is_regular(where / DEPLOY_MARKER):
        raise DeployRefused(not_ours(str(where)))


def _depth(folder: tuple[Path, str]) -> int:
    return len(folder[0].parts)


def not_ours(where: str) -> str:
    return (f"deploy target {where} is not empty and was not made by a newsdigest deploy (no "
            f"{DEPLOY_MARKER} file in it): a deploy replaces the whole folder; choose an empty "
            f"one, or add {DEPLOY_MARKER} to it if everything in it may go")


def is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def check_destination(target: Target, protected: Mapping[str, Path]) -> None:
    """The checks that need no connection, before anything is built: a local folder target."""
    if target.kind == "directory":
        check_folder(directory_path(target), protected)
    elif target.kind == "rsync" and (local := rsync_local_path(target.destination)):
        check_folder(local, protected)


def directory_path(target: Target) -> Path:
    return Path(target.destination).expanduser().resolve()


def rsync_local_path(destination: str) -> Path | None:
    """The folder of a local rsync destination; None for a remote one. As rsync reads it: a
    colon before the first slash names a host (host:path, host::module), so does rsync://."""
    if destination.startswith("rsync://") or ":" in destination.split("/", 1)[0]:
        return None
    return Path(destination).resolve()


def site_files(output_dir: Path, manifest: Manifest | None = None) -> list[str]:
    """The files of the built site to deploy, relative to the output folder.

    Only regular files, found without following a symbolic link. Where the build's manifest
    describes the output as it is (every file it lists with the size and mtime it was written
    with), only those files and the search index: anything else was put there by someone
    else. A manifest that does not (a build --no-cache since) says nothing about the output.
    """
    found = regular_files(output_dir)
    if manifest is not None and _describes(manifest, found):
        return sorted(rel for rel in found if rel in manifest or rel.startswith(SEARCH_FOLDERS))
    return sorted(found)


def _describes(manifest: Manifest, found: dict[str, tuple[int, int]]) -> bool:
    try:
        return all(found.get(path) == (size, mtime_ns)
                   for path, (_, size, mtime_ns) in manifest.items())
    except (TypeError, ValueError):  # a manifest of another shape: not this output's record
        return False


def regular_files(root: Path, bookkeeping: bool = False) -> dict[str, tuple[int, int]]:
    """Every regular file under `root` (relative posix path -> size, mtime), by lstat: a
    symbolic link, to a file or to a folder, is neither listed nor entered. Markers and
    temporary files (EXCLUDED, TEMP_PREFIX) only with `bookkeeping`."""
    found: dict[str, tuple[int, int]] = {}
    pending = [("", str(root))]
    while pending:
        prefix, folder = pending.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append((f"{prefix}{entry.name}/", entry.path))
                    elif entry.is_file(follow_symlinks=False) and (
                            bookkeeping or (entry.name not in EXCLUDED
                                            and not entry.name.startswith(TEMP_PREFIX))):
                        info = entry.stat(follow_symlinks=False)
                        found[prefix + entry.name] = (info.st_size, info.st_mtime_ns)
        except FileNotFoundError:
            if folder != str(root):
                raise DeployError(f"{folder} vanished while listing {root}: is a build "
                                  "running? Deploy again once it is done") from None
        except OSError as exc:
            raise DeployError(f"cannot list {folder}: {exc.strerror}") from None
    return found


def file_hash(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


def plan_directory(output_dir: Path, files: list[str], target: Path) -> Plan:
    plan = Plan()
    present = set(regular_files(target))
    for rel in files:
        if rel not in present:
            plan.added.append(rel)
        else:
            src, dst = output_dir / rel, target / rel
            if src.stat().st_size != dst.stat().st_size or file_hash(src) != file_hash(dst):
                plan.changed.append(rel)
    plan.deleted = sorted(present - set(files))
    return plan


def copy_files(output_dir: Path, files: list[str], into: Path) -> None:
    made: set[str] = set()
    source, into_text = str(output_dir), str(into)
    for rel in files:
        destination = os.path.join(into_text, rel)
        folder = os.path.dirname(destination)
        if folder not in made:  # once per folder, not once per file
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        shutil.copy2(os.path.join(source, rel), destination, follow_symlinks=False)
