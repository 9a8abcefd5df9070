"""Write stage: put outputs on disk so that no reader ever sees a half-built site.

A first or uncached build renders into a staging folder beside the output and swaps it in.
An incremental build renders only outputs whose fingerprint changed, replaces each file
atomically in place (new pages first, then the lists that link to them), and deletes last.
Files whose bytes did not change are never rewritten, so their mtimes stay.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from stat import S_ISDIR

from newsdigest import urls
from newsdigest.errors import OutputRefused
from newsdigest.outputs import Output
from newsdigest.parallel import ChildFailed, InChild, forked_workers
from newsdigest.store import TEMP_PREFIX, UNREADABLE, load_pickle, save_atomic

MARKER = ".newsdigest"
WRITING = ".newsdigest-writing"  # present while an incremental build replaces files
_UMASK = os.umask(0o022)  # read once, at import (there is no way to read it without setting it)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK  # what open() gives a new file: pages must be as readable
FOLDER_MODE = 0o777 & ~_UMASK  # what mkdir() gives a new folder
MARKER_TEXT = "made by newsdigest: this folder is replaced by each build\n"
BASE_URL_LINE = "base_url: "  # the marker's second line (record_base_url)
PARALLEL_THRESHOLD = 400  # below this, forking workers costs more than it saves


@dataclass(frozen=True)
class Written:
    path: str
    size: int
    mtime_ns: int
    changed: bool


@dataclass
class WriteReport:
    rendered: int = 0  # outputs produced (fingerprint changed or unknown)
    written: int = 0  # files whose bytes changed
    deleted: int = 0
    unchanged: int = 0  # skipped by fingerprint
    full: bool = False
    search_indexed: bool = False
    changed: list[str] = field(default_factory=list)  # paths written or deleted (incremental)


Manifest = dict[str, tuple[str, int, int]]  # path -> (fingerprint, size, mtime_ns)
# A manifest is kept as a whole file and, beside it, a journal of the entries changed since
# (None for a file gone): a rebuild after one edit changes a dozen of the 35,000 entries of a
# 30,000-item site, and pickling and writing them all again took a twentieth of it. Past this
# many changes, the whole file is written again and the journal dropped.
MOST_JOURNALED = 2_000
Journal = dict[str, tuple[str, int, int] | None]  # a manifest's changes; None: file gone


@dataclass(frozen=True)
class Harvest:
    """What worker processes make besides files (rendered fragments), handed to the parent:
    `take` runs in a worker after each chunk, `give` in the parent with what it returned."""

    take: Callable[[], object]
    give: Callable[[object], None]


def check_output_dir(output_dir: Path, content_dir: Path, protected: Sequence[Path] = ()) -> None:
    """Refuse an output folder whose replacement would destroy something of the user's."""
    out = output_dir.resolve()
    content = content_dir.resolve()
    if out == Path(out.anchor) or out == Path.home().resolve():
        raise OutputRefused(f"refusing to use {out} as the output folder")
    for folder in (content, *[p.resolve() for p in protected]):
        if out == folder or out.is_relative_to(folder) or folder.is_relative_to(out):
            raise OutputRefused(
                f"output folder {out} overlaps {folder}; choose a folder outside it"
            )
    if out.exists() and not out.is_dir():
        raise OutputRefused(f"output path {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise OutputRefused(
            f"output folder {out} is not empty and was not made by newsdigest "
            f"(no {MARKER} file); remove it or choose another folder"
        )


def not_as_written(manifest: Manifest, output_dir: Path) -> set[str]:
    """The manifest's files that are missing, or whose size or mtime is no longer what the last
    build wrote; a file an earlier version left private is made readable on the way."""
    changed = set()
    root = str(output_dir)
    for path, (_, size, mtime_ns) in manifest.items():
        file = os.path.join(root, path)
        try:
            stat = os.stat(file)
        except OSError:
            changed.add(path)
            continue
        if (stat.st_size, stat.st_mtime_ns) != (size, mtime_ns):
            changed.add(path)
        elif stat.st_mode & 0o777 == 0o600:
            repair_mode(file, stat)
    return changed


class DiskCheck:
    """Every file the last build's manifest lists checked on disk (not_as_written) in a forked
    process, while this one discovers the content and loads the kept state.

    Both are mostly stat calls: on two cores they overlap, where one after the other they
    cost a rebuild twice (about 0.2 s each at 30,000 items). A thread would not do: the two
    would queue for the GIL after every call. `result()` waits for the answer.
    """

    def __init__(self, manifest_file: Path | None, output_dir: Path) -> None:
        self._answer: set[str] | None = None
        self._check = None if manifest_file is None else InChild(
            partial(_check_disk, manifest_file, output_dir))
        self.listed = 0  # files the manifest lists, once result() is known

    def result(self) -> set[str] | None:
        """The manifest's files not as written; None when that is not known (no manifest, no
        fork, a child that failed): then stale_outputs looks at each file itself."""
        if self._check is not None:
            check, self._check = self._check, None
            with contextlib.suppress(ChildFailed):
                match check.result():
                    case (int(listed), set(changed)):
                        self.listed, self._answer = listed, changed
        return self._answer


def _check_disk(manifest_file: Path, output_dir: Path) -> tuple[int, set[str]] | None:
    manifest = load_manifest(manifest_file)
    return None if manifest is None else (len(manifest), not_as_written(manifest, output_dir))


def stale_outputs(outputs: Sequence[Output], manifest: Manifest, output_dir: Path,
                  changed_on_disk: set[str] | None = None) -> list[Output]:
    """Outputs whose inputs changed, or whose file is not the one we wrote last time.

    `changed_on_disk`: the manifest's files already found not as written (DiskCheck), when
    they were checked before; else each output's file is looked at here."""
    stale = []
    root = str(output_dir)
    for output in outputs:
        known = manifest.get(output.path)
        if known is None or known[0] != output.fingerprint:
            stale.append(output)
            continue
        if changed_on_disk is not None:
            if output.path in changed_on_disk:
                stale.append(output)
            continue
        try:
            stat = os.stat(os.path.join(root, output.path))
        except OSError:
            stale.append(output)
            continue
        if (stat.st_size, stat.st_mtime_ns) != known[1:]:
            stale.append(output)
        elif stat.st_mode & 0o777 == 0o600:
            repair_mode(os.path.join(root, output.path), stat)
    return stale


def repair_mode(path: str | Path, stat: os.stat_result | None = None) -> None:
    """Make a file or folder an earlier newsdigest left private as readable as a new one (a
    web server reads the site as another user): pages it rewrote through a temporary file
    were 0600, folders it swapped in from mkdtemp 0700. `stat`: the path's, when known."""
    try:
        mode = (stat or os.stat(path)).st_mode
        private, usual = (0o700, FOLDER_MODE) if S_ISDIR(mode) else (0o600, FILE_MODE)
        if mode & 0o777 == private != usual:
            os.chmod(path, usual)
    except OSError:
        pass  # gone or not ours: nothing to repair


def make_staging(beside: Path, purpose: str) -> Path:
    """A new empty folder next to `beside`, to fill and then swap with it.

    mkdtemp makes it private (0700); once swapped in it is the site, which a web server reads
    as another user, so it gets a new folder's usual mode (0755 under umask 022).
    """
    staging = Path(tempfile.mkdtemp(prefix=f".{beside.name}.{purpose}-", dir=beside.parent))
    os.chmod(staging, FOLDER_MODE)
    return staging


def write_full(outputs: Sequence[Output], output_dir: Path, workers: int,
               progress: Callable[[int], None] | None = None,
               harvest: Harvest | None = None) -> tuple[Manifest, WriteReport]:
    """Render everything into a staging folder, then swap it with the output folder."""
    output_dir.parent.mkdir(parents=True, exist_ok=True)  # output_dir = "build/site" on a clone
    staging = make_staging(output_dir, "staging")
    try:
        _write_marker(staging, output_dir)
        by_phase = sorted(outputs, key=lambda o: o.phase)
        [results] = _produce_all([by_phase], staging, output_dir, workers, progress, harvest)
        _swap_in(staging, output_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    manifest = {o.path: (o.fingerprint, r.size, r.mtime_ns) for o, r in zip(by_phase, results,
                                                                             strict=True)}
    report = WriteReport(rendered=len(outputs), written=sum(r.changed for r in results), full=True)
    return manifest, report


def _write_marker(staging: Path, output_dir: Path) -> None:
    """The marker says the folder is ours to replace; an unchanged one keeps its mtime."""
    old = output_dir / MARKER
    try:
        if old.read_text().startswith(MARKER_TEXT):  # record_base_url adds to it
            os.link(old, staging / MARKER)
            return
    except OSError:
        pass
    (staging / MARKER).write_text(MARKER_TEXT)


def record_base_url(output_dir: Path, base_url: str) -> None:
    """Note in the marker the base URL the site was built with, for `check`; a marker that
    says so already is left as it is."""
    text = f"{MARKER_TEXT}{BASE_URL_LINE}{base_url}\n"
    marker = output_dir / MARKER
    with contextlib.suppress(OSError, UnicodeDecodeError):
        if marker.read_text() == text:
            return
    save_atomic(marker, text.encode())
    os.chmod(marker, FILE_MODE)  # as the folder's other files, not mkstemp's 0600


def recorded_base_url(output_dir: Path) -> str | None:
    """The base URL record_base_url noted, if any."""
    try:
        lines = (output_dir / MARKER).read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    return next((line.removeprefix(BASE_URL_LINE) for line in lines
                 if line.startswith(BASE_URL_LINE)), None)


def write_incremental(outputs: Sequence[Output], manifest: Manifest, output_dir: Path,
                      workers: int, progress: Callable[[int], None] | None = None,
                      harvest: Harvest | None = None,
                      changed_on_disk: set[str] | None = None,
                      kept: Collection[str] = ()) -> tuple[Journal, WriteReport]:
    """Replace only what changed, then delete files of pages that are gone (neither in
    `outputs` nor `kept`: files of the site left as the last build wrote them, unplanned);
    returns the manifest's changes (save_manifest) with the report.

    The order keeps every internal link working at every moment, so a build killed midway
    leaves a browsable site: files that did not exist come first (nothing links to them yet,
    so they may link to each other), then changed files phase by phase (item pages before the
    lists, feeds and sitemaps that point at them), and deletions last (nothing links to them
    any more).
    """
    in_progress = output_dir / WRITING
    if in_progress.exists():
        _sweep_temporary_files(output_dir)  # a killed build may have left some
    stale = stale_outputs(outputs, manifest, output_dir, changed_on_disk)
    wanted = {o.path for o in outputs}.union(kept)
    gone = manifest.keys() - wanted
    if stale or gone:
        in_progress.touch()
    changes: Journal = dict.fromkeys(gone)
    report = WriteReport(rendered=len(stale), unchanged=len(wanted) - len(stale))
    root = str(output_dir)
    fresh = [o for o in stale if not os.path.exists(os.path.join(root, o.path))]
    fresh_paths = {o.path for o in fresh}
    batches = [fresh] + [
        [o for o in stale if o.phase == phase and o.path not in fresh_paths]
        for phase in sorted({o.phase for o in stale})
    ]
    produced = _produce_all(batches, output_dir, output_dir, workers, progress, harvest)
    for batch, results in zip(batches, produced, strict=True):
        for output, result in zip(batch, results, strict=True):
            changes[output.path] = (output.fingerprint, result.size, result.mtime_ns)
            if result.changed:
                report.written += 1
                report.changed.append(output.path)
    for path in sorted(gone, reverse=True):
        target = output_dir / path
        if urls.is_safe_relative(path) and target.is_file():
            target.unlink()
            report.deleted += 1
            report.changed.append(path)
            _remove_empty_parents(target.parent, output_dir)
    in_progress.unlink(missing_ok=True)
    return changes, report


def _sweep_temporary_files(output_dir: Path) -> None:
    for root, _, files in os.walk(output_dir):
        for name in files:
            if name.startswith(TEMP_PREFIX):
                os.unlink(os.path.join(root, name))


def load_manifest(path: Path) -> Manifest | None:
    """The record of the last build's files: the whole file, its journal's changes made."""
    try:
        with path.open("rb") as handle:
            manifest = pickle.load(handle)
            whole = _identity(os.fstat(handle.fileno()))
    except UNREADABLE:
        return None
    if not isinstance(manifest, dict):
        return None
    return _with_changes(manifest, _journal(path, whole))


def save_manifest(path: Path, last: Manifest | None, changes: Journal) -> None:
    """Keep the manifest this build leaves: `last`, the one it read (load_manifest; None: a
    build that wrote every file), with `changes` made. As a journal of the changes since the
    whole file, until they are too many."""
    if last is None:
        manifest = {file: entry for file, entry in changes.items() if entry is not None}
    else:
        try:
            whole = _identity(path.stat())
        except OSError:
            whole = None
        if whole is not None:
            journal = _journal(path, whole)
            journal.update(changes)
            if len(journal) <= MOST_JOURNALED:
                save_atomic(journal_path(path),
                            pickle.dumps((whole, journal), pickle.HIGHEST_PROTOCOL))
                return
        manifest = _with_changes(dict(last), changes)  # `last` stays as read: Reuse holds it
    save_atomic(path, pickle.dumps(manifest, pickle.HIGHEST_PROTOCOL))
    journal_path(path).unlink(missing_ok=True)  # of the whole file replaced: never read again


def _with_changes(manifest: Manifest, changes: Journal) -> Manifest:
    for file, entry in changes.items():
        if entry is None:
            manifest.pop(file, None)
        else:
            manifest[file] = entry
    return manifest


def journal_path(manifest_file: Path) -> Path:
    return manifest_file.with_suffix(".journal")


def _identity(stat: os.stat_result) -> tuple[int, int, int, int]:
    # A whole file written again is a new file (save_atomic), its journal of the old one.
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


def _journal(manifest_file: Path, whole: tuple[int, int, int, int]) -> Journal:
    """The changes since the whole manifest file `whole`; none if the journal is of another."""
    match load_pickle(journal_path(manifest_file)):
        case (tuple() as of, dict() as changes) if of == whole:
            return changes
    return {}


def clean_stale_staging(output_dir: Path) -> None:
    """A build killed before a swap leaves its folder beside the output; the next one removes it."""
    for pattern in (f".{output_dir.name}.staging-*", f".{output_dir.name}.pagefind-*"):
        for stale in output_dir.parent.glob(pattern):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)


# --- producing files, in parallel when it pays -------------------------------------------------

_jobs: tuple[Sequence[Output], Path, Path, Harvest | None] | None = None  # for forked workers


def _produce_all(batches: Sequence[Sequence[Output]], dest: Path, previous: Path, workers: int,
                 progress: Callable[[int], None] | None,
                 harvest: Harvest | None = None) -> list[list[Written]]:
    """Render and write the outputs, batch after batch, in worker processes when there are
    enough of them (one set of workers for every batch).

    The outputs of one batch may be written in any order (callers order the batches), so each
    worker writes what it renders: the pages' bytes never cross a pipe, and the kernel's work
    of creating files is shared between cores like the rendering.
    """
    global _jobs
    every = [output for batch in batches for output in batch]
    if workers <= 1 or len(every) < PARALLEL_THRESHOLD:
        made_folders: set[str] = set()
        done: list[list[Written]] = []
        for batch in batches:
            results = []
            for output in batch:
                results.append(_write(output, _data(output), dest, previous, made_folders))
                if progress and len(results) % 200 == 0:
                    progress(200)
            if progress and len(results) % 200:
                progress(len(results) % 200)
            done.append(results)
        return done
    # Forked workers inherit the outputs (and their closures) instead of pickling them.
    _jobs = (every, dest, previous, harvest)
    chunk = max(25, min(200, len(every) // (workers * 8)))
    done = []
    try:
        with forked_workers(workers) as pool:
            start = 0
            for batch in batches:
                end = start + len(batch)
                ranges = [(at, min(at + chunk, end)) for at in range(start, end, chunk)]
                results: list[Written] = []
                for written, made in pool.map(_produce_range, ranges):  # the whole batch
                    results.extend(written)
                    if harvest is not None:
                        harvest.give(made)
                    if progress:
                        progress(len(written))
                done.append(results)
                start = end
    finally:
        _jobs = None
    return done


_worker_folders: set[str] = set()  # folders this worker process made or saw


def _produce_range(bounds: tuple[int, int]) -> tuple[list[Written], object]:
    assert _jobs is not None
    outputs, dest, previous, harvest = _jobs
    # Everything rendered, then everything written: each kind of work stays warm in the
    # processor's caches, rather than alternating between Jinja and the file system.
    chosen = outputs[bounds[0]:bounds[1]]
    data = [_data(output) for output in chosen]
    written = [_write(output, made, dest, previous, _worker_folders)
               for output, made in zip(chosen, data, strict=True)]
    return written, harvest.take() if harvest is not None else None


def _data(output: Output) -> bytes:
    if output.copy_from is not None:
        return output.copy_from.read_bytes()
    assert output.produce is not None
    return output.produce()


def _write(output: Output, data: bytes | None, dest: Path, previous: Path,
           made_folders: set[str]) -> Written:
    """Write one output unless the file already holds the same bytes (then keep its mtime)."""
    if data is None:
        data = _data(output)
    target = os.path.join(dest, output.path)
    old = os.path.join(previous, output.path)
    try:
        old_stat = os.stat(old)
        same = old_stat.st_size == len(data) and _read(old) == data
    except OSError:
        same = False
    in_staging = dest != previous
    folder = os.path.dirname(target)
    if folder not in made_folders:
        _make_folder(folder, made_folders)
    if same and in_staging:
        os.link(old, target)  # staging keeps the old inode: same bytes, same mtime
        repair_mode(target, old_stat)
    elif in_staging:
        # Nobody reads the staging folder before the swap: no temporary file needed.
        with open(target, "wb") as handle:
            handle.write(data)
            handle.flush()
            stat = os.fstat(handle.fileno())
        return Written(output.path, stat.st_size, stat.st_mtime_ns, True)
    elif not same:
        stat = _replace(target, data)
        return Written(output.path, stat.st_size, stat.st_mtime_ns, True)
    stat = os.stat(target)
    return Written(output.path, stat.st_size, stat.st_mtime_ns, not same)


def _replace(target: str, data: bytes) -> os.stat_result:
    """Write a page through a temporary file renamed over it: readers see the old file or the
    new one, never part of one. Unlike save_atomic (for the cache), the file gets the usual
    permissions (0644 under the usual umask), as the web server reading it needs."""
    folder, name = os.path.split(target)
    temporary = os.path.join(folder, f"{TEMP_PREFIX}{name}.{os.getpid()}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(temporary, flags, 0o666)
    except FileExistsError:  # left by a build killed midway
        os.unlink(temporary)
        fd = os.open(temporary, flags, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            stat = os.fstat(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return stat


def _make_folder(folder: str, made_folders: set[str]) -> None:
    """makedirs, minus its checks for parents this build already made (one per page)."""
    parent = os.path.dirname(folder)
    if parent in made_folders:
        try:
            os.mkdir(folder)
        except FileExistsError:
            pass
    else:
        os.makedirs(folder, exist_ok=True)
    made_folders.add(folder)


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _remove_empty_parents(folder: Path, root: Path) -> None:
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _swap_in(staging: Path, output_dir: Path) -> None:
    """Exchange the two folders in one step where Linux allows it, else rename twice."""
    if not output_dir.exists():
        os.rename(staging, output_dir)
        staging.mkdir()  # so the caller's clean-up has something to remove
        return
    if rename_exchange(staging, output_dir):
        return
    old = staging.with_name(staging.name + "-old")
    os.rename(output_dir, old)
    os.rename(staging, output_dir)
    os.rename(old, staging)


def rename_exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2); False where that is not possible."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return result == 0
