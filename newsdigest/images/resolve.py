"""Fetching and encoding: each candidate image downloaded (bounded, concurrent), checked and
thumbnailed into the cache, or the reason it could not be."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property, partial
from pathlib import Path
from typing import NamedTuple

from newsdigest.config.images import ImageSettings
from newsdigest.images.cache import ImageCache, supported_formats, thumbnails_key
from newsdigest.images.thumbnails import (
    NotAnImage,
    Thumbnails,
    check_image,
    make_thumbnails,
)
from newsdigest.store import save_atomic

Progress = Callable[[str, int, int], None]  # stage, done so far, total


class Source(NamedTuple):
    """One candidate image: a remote URL or a local file, and what the page may say of it.

    A named tuple: every story makes a few per build, and tuples are made fastest.
    """

    ref: str  # the URL, or the file's absolute path
    remote: bool
    width: int | None  # as declared by the item (remote fallbacks use it)
    height: int | None
    alt: str
    logo: bool = False  # a provider logo: made small, shown on a tile

    @property
    def key(self) -> tuple[str, bool]:
        return self.ref, self.logo


@dataclass(frozen=True)
class Failed:
    reason: str
    lasting: bool  # will fail again (404, not an image): try the next candidate
    remember: bool = True  # False: says nothing of the source (the stage's time ran out)


@dataclass
class ImageReport:
    fetched: int = 0  # downloads made by this build
    cached: int = 0  # images whose thumbnails were already made
    generated: int = 0  # images encoded by this build
    fallbacks: dict[str, list[str]] = field(default_factory=dict)  # reason -> URLs or files
    generic: int = 0  # images left out as generic
    retry_at: float | None = None  # when the first remembered failure may be retried

    @property
    def fallback_count(self) -> int:
        return sum(len(refs) for refs in self.fallbacks.values())

    def as_cached(self) -> ImageReport:
        """The same result, as a rebuild that finds everything made already reports it."""
        return replace(self, fetched=0, generated=0,
                       cached=self.cached + self.generated)


class Resolver:
    """Makes thumbnails for sources: downloads (bounded, concurrent), then encodes (threads)."""

    def __init__(self, cache: ImageCache, settings: ImageSettings, offline: bool, workers: int,
                 now: float, report: ImageReport, progress: Progress | None):
        self.cache = cache
        self.settings = settings
        self.offline = offline
        self.workers = max(1, workers)
        self.now = now
        self.report = report
        self.progress = progress

    @cached_property
    def formats(self) -> tuple[str, ...]:
        # Asks Pillow, which a rebuild that encodes nothing need not import.
        return supported_formats(self.settings)

    @cached_property
    def _fetcher(self) -> Callable[[str], bytes]:
        # Imported when a download is due: a rebuild with every image cached needs no network
        # code (http.client and ssl are a tenth of start-up).
        from newsdigest.images.fetch import FetchLimits, Lookups, fetch

        limits = FetchLimits(self.settings.timeout, self.settings.max_bytes,
                             self.settings.allow_private, self.settings.allow_loopback)
        return partial(fetch, limits=limits, lookups=Lookups(self.settings.timeout))

    def resolve(self, sources: list[Source]) -> dict[tuple[str, bool], Thumbnails | Failed]:
        states: dict[tuple[str, bool], Thumbnails | Failed] = {}
        digests: dict[str, str | Failed] = self._download([s.ref for s in sources if s.remote])
        for source in sources:
            if not source.remote:
                digests[source.ref] = self._local_digest(Path(source.ref))
        todo: list[tuple[Source, str]] = []
        for source in sources:
            digest = digests[source.ref]
            if isinstance(digest, Failed):
                states[source.key] = digest
                continue
            known = self.cache.thumbs.get(self._key(digest, source.logo))
            if known is None or not self.cache.has_files(known):
                todo.append((source, digest))
            else:
                states[source.key] = known
                self.report.cached += 1
        states.update(self._encode(todo))
        return states

    def _key(self, digest: str, logo: bool) -> str:
        return thumbnails_key(digest, logo, self.settings)

    def _local_digest(self, path: Path) -> str | Failed:
        try:
            stat = path.stat()
            known = self.cache.local.get(str(path))
            if known and known[:2] == [stat.st_size, stat.st_mtime_ns]:
                return known[2]
            digest = hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
        except OSError as exc:
            return Failed(f"cannot read: {exc.strerror}", lasting=True)
        self.cache.local[str(path)] = [stat.st_size, stat.st_mtime_ns, digest]
        self.cache.dirty = True
        return digest

    def _download(self, urls: list[str]) -> dict[str, str | Failed]:
        """Each URL's content digest, from the cache or the network, or why there is none."""
        found: dict[str, str | Failed] = {}
        todo = []
        for url in dict.fromkeys(urls):
            entry = self.cache.remote.get(url)
            if entry and "sha" in entry and self.cache.source(entry["sha"]).is_file():
                found[url] = entry["sha"]
            elif entry and "failed" in entry and self.now < entry["at"] + self._retry_after:
                found[url] = Failed(entry["failed"], entry["lasting"])
                retry = entry["at"] + self._retry_after
                self.report.retry_at = min(self.report.retry_at or retry, retry)
            elif self.offline:
                found[url] = Failed("offline", lasting=False)
            else:
                todo.append(url)
        if not todo:
            return found
        done = 0
        _ = self._fetcher  # made here, once, before the worker threads share it
        from concurrent.futures import ThreadPoolExecutor  # only downloads and encoding need it

        with ThreadPoolExecutor(min(self.settings.concurrency, len(todo))) as pool:
            for url, result in zip(todo, pool.map(self._fetch_one, todo), strict=True):
                found[url] = self._record(url, result)
                done += 1
                if self.progress:
                    self.progress("fetching", done, len(todo))
        return found

    @property
    def _retry_after(self) -> float:
        return self.settings.retry_hours * 3600

    def _fetch_one(self, url: str) -> str | Failed:
        """In a worker thread: download, check and keep one image; its digest, or why not."""
        from newsdigest.images.fetch import FetchFailed

        try:
            data = self._fetcher(url)
            check_image(data, self.settings.max_pixels)
        except FetchFailed as exc:
            return Failed(exc.reason, exc.lasting, exc.remember)
        except NotAnImage as exc:
            return Failed(str(exc), lasting=True)
        digest = hashlib.blake2b(data, digest_size=16).hexdigest()
        save_atomic(self.cache.source(digest), data)
        return digest

    def _record(self, url: str, result: str | Failed) -> str | Failed:
        """In the calling thread: the cache index and the report learn what a download gave."""
        self.cache.dirty = True
        if isinstance(result, str):
            self.cache.remote[url] = {"sha": result}
            self.report.fetched += 1
            return result
        if not result.remember:  # the next build asks again: this one's result expires now
            self.report.retry_at = min(self.report.retry_at or self.now, self.now)
            return result
        self.cache.remote[url] = {"failed": result.reason, "lasting": result.lasting,
                                  "at": self.now}
        retry = self.now + self._retry_after
        self.report.retry_at = min(self.report.retry_at or retry, retry)
        return result

    def _encode(self, todo: list[tuple[Source, str]]
                ) -> dict[tuple[str, bool], Thumbnails | Failed]:
        states: dict[tuple[str, bool], Thumbnails | Failed] = {}
        if not todo:
            return states
        done = 0
        _ = self.formats  # asked once, before the threads share it
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(self.workers, len(todo))) as pool:
            for (source, digest), result in zip(todo, pool.map(self._encode_one, todo),
                                                strict=True):
                states[source.key] = result
                if isinstance(result, Thumbnails):
                    self.cache.thumbs[self._key(digest, source.logo)] = result
                    self.cache.dirty = True
                    self.report.generated += 1
                done += 1
                if self.progress:
                    self.progress("encoding", done, len(todo))
        return states

    def _encode_one(self, job: tuple[Source, str]) -> Thumbnails | Failed:
        source, digest = job
        s = self.settings
        try:
            data = (self.cache.source(digest) if source.remote else Path(source.ref)).read_bytes()
            thumbs, files = make_thumbnails(data, s.widths, self.formats, s.quality,
                                            s.max_pixels, s.logo_size if source.logo else None)
        except NotAnImage as exc:
            return Failed(str(exc), lasting=True)
        except OSError as exc:
            return Failed(f"cannot read: {exc.strerror}", lasting=True)
        for name, encoded in files.items():
            target = self.cache.file(name)
            if not target.is_file():
                save_atomic(target, encoded)
        return thumbs
