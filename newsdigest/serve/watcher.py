"""Watch the site's sources and hand changes over in batches: one batch per burst of saves.

watchdog gives native file events (inotify, FSEvents, ReadDirectoryChangesW), so nothing polls
the content folder. A burst (an editor's write-rename-chmod, a `git checkout` of many files) is
collected until the folders have been quiet for QUIET seconds, then handed over as one batch.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from watchdog import events
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from newsdigest.content.files import is_junk
from newsdigest.errors import NewsdigestError

QUIET = 0.06  # seconds without events that end a burst
MAX_WAIT = 2.0  # a burst that never goes quiet is still built after this long

# Events that can change what a build reads. Opening, reading and chmod-ing files cannot.
_EVENTS: list[type[events.FileSystemEvent]] = [
    events.FileCreatedEvent, events.FileModifiedEvent, events.FileDeletedEvent,
    events.FileMovedEvent, events.FileClosedEvent,
    events.DirCreatedEvent, events.DirDeletedEvent, events.DirMovedEvent,
]


@dataclass(frozen=True)
class Sources:
    """What a preview build reads from disk, so what the watcher watches."""

    content: Path
    templates: tuple[Path, ...]  # site templates first, then the default theme's
    static: tuple[Path, ...]
    config: Path | None  # site.toml, if there is one

    def kind(self, path: Path) -> str | None:
        """'config', 'content', 'templates' or 'static' for a changed path; None to ignore it."""
        if self.config is not None and path == self.config:
            return "config"
        if path.is_relative_to(self.content):
            return "content"
        if any(path.is_relative_to(folder) for folder in self.templates):
            return "templates"
        if any(path.is_relative_to(folder) for folder in self.static):
            return "static"
        return None


@dataclass(frozen=True)
class Changes:
    """One batch of changed paths, by kind."""

    content: frozenset[Path] = frozenset()
    templates: frozenset[Path] = frozenset()
    static: frozenset[Path] = frozenset()
    config: bool = False

    def __bool__(self) -> bool:
        return bool(self.content or self.templates or self.static or self.config)

    def describe(self, root: Path) -> str:
        """A short list of what changed, for the terminal."""
        paths = sorted(self.content | self.templates | self.static)
        names = [_shown(p, root) for p in paths[:3]] + (["site settings"] if self.config else [])
        more = len(paths) - 3
        return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def _shown(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


class Watcher:
    """Native file events for the sources, collected under a lock until a batch is asked for."""

    def __init__(self, sources: Sources):
        self._cond = threading.Condition()
        self._pending: dict[str, set[Path]] = {}
        self._last_event = 0.0
        self._closed = False
        self._observer: BaseObserver = Observer()
        self._watches: dict[tuple[str, bool], ObservedWatch] = {}
        self._handler = _Handler(self)
        self.sources = sources

    def start(self) -> None:
        """Begin watching; a folder that cannot be watched is an error here, not a silent gap."""
        self._observer.start()  # then each schedule() starts its watch here, raising here
        self.watch(self.sources, strict=True)

    def watch(self, sources: Sources, strict: bool = False) -> None:
        """Watch these sources (again): folders recursively, site.toml through its folder.

        A folder that does not exist yet is watched through its nearest parent, so creating it
        is noticed; call watch() after each batch to follow such changes.
        """
        self.sources = sources
        wanted: set[tuple[str, bool]] = set()
        for folder in (sources.content, *sources.templates, *sources.static):
            if folder.is_dir():
                wanted.add((str(folder), True))
            else:
                wanted.add((str(_existing_parent(folder)), False))
        if sources.config is not None:
            wanted.add((str(_existing_parent(sources.config.parent)), False))
        # A watch on a folder that was deleted is dead even if the folder comes back: renew it.
        gone = {key for key in self._watches if not Path(key[0]).is_dir()}
        for key in (set(self._watches) - wanted) | gone:
            self._observer.unschedule(self._watches.pop(key))
        for path, recursive in sorted(wanted - set(self._watches)):
            try:
                self._watches[(path, recursive)] = self._observer.schedule(
                    self._handler, path, recursive=recursive, event_filter=_EVENTS
                )
            except OSError as exc:
                if strict:
                    raise NewsdigestError(_cannot_watch(path, exc)) from None
                continue  # vanished meanwhile; the next batch tries again

    def next_batch(self) -> Changes | None:
        """Wait for a change, then for the burst to end; None once the watcher is closed."""
        with self._cond:
            while not self._pending and not self._closed:
                self._cond.wait()
            started = time.monotonic()
            while not self._closed:
                quiet_left = self._last_event + QUIET - time.monotonic()
                if quiet_left <= 0 or time.monotonic() - started >= MAX_WAIT:
                    break
                self._cond.wait(quiet_left)
            if self._closed:
                return None
            batch, self._pending = self._pending, {}
        return Changes(
            content=frozenset(batch.get("content", ())),
            templates=frozenset(batch.get("templates", ())),
            static=frozenset(batch.get("static", ())),
            config="config" in batch,
        )

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._observer.is_alive():
            self._observer.stop()
            self._observer.join(timeout=5)

    def _record(self, raw_path: str | bytes) -> None:
        path = Path(os.fsdecode(raw_path))
        if is_junk(path.name):
            return  # editor swap and backup files; the save itself renames onto the real name
        kind = self.sources.kind(path)
        if kind is None:
            return
        with self._cond:
            self._pending.setdefault(kind, set()).add(path)
            self._last_event = time.monotonic()
            self._cond.notify_all()


class _Handler(events.FileSystemEventHandler):
    def __init__(self, watcher: Watcher):
        self._watcher = watcher

    def on_any_event(self, event: events.FileSystemEvent) -> None:
        self._watcher._record(event.src_path)
        dest = getattr(event, "dest_path", "")
        if dest:
            self._watcher._record(dest)


def _cannot_watch(path: str, exc: OSError) -> str:
    hint = ""
    if exc.errno in (errno.ENOSPC, errno.EMFILE):
        hint = ("; the system's limit on watched folders is reached: raise it, e.g. "
                "`sysctl fs.inotify.max_user_watches=524288`")
    return f"cannot watch {path} for changes: {exc.strerror or exc}{hint}"


def _existing_parent(path: Path) -> Path:
    while not path.is_dir() and path != path.parent:
        path = path.parent
    return path
