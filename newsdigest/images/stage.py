"""Image stage, between grouping and page planning: a thumbnail for every story, or a fallback.

For each story a chain of candidates is tried in order: its images (skipping generic ones, a
picture shown by many items such as a site's default share image), the provider's logo, the
topic's image. Remote images are downloaded once into a persistent cache; thumbnails are made
once per source content and settings. A rebuild with a warm cache neither downloads nor
encodes. Nothing here fails the build: an image that cannot be had falls back to its remote URL
(when it may load later in the reader's browser) or to the next candidate, and in the end to
the theme's placeholder tile.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import cache, cached_property, partial
from pathlib import Path
from typing import NamedTuple

from newsdigest.config.images import ImageSettings
from newsdigest.config.site import SiteConfig
from newsdigest.content.item import Image
from newsdigest.images.thumbnails import (
    NotAnImage,
    Thumbnails,
    Variant,
    check_image,
    make_thumbnails,
)
from newsdigest.outputs import PHASE_ASSETS, Output
from newsdigest.store import save_atomic
from newsdigest.stories.grouping import SiteIndex, Story
from newsdigest.stories.picture import Picture

THUMB_VERSION = 1  # bump when thumbnails are made differently: every key changes
INDEX_VERSION = 1
OUTPUT_FOLDER = "img"
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


@dataclass
class ImageStage:
    """What the image stage made; the stories of the index it was given now carry pictures."""

    outputs: list[Output]
    report: ImageReport
    generic: set[str] = field(default_factory=set)  # image URLs skipped as generic_images


def prepare(index: SiteIndex, config: SiteConfig, assets: dict[str, Path], offline: bool,
            workers: int, now: float, progress: Progress | None = None,
            generic: set[str] | None = None) -> ImageStage:
    """Pick, fetch and thumbnail every story's picture and logo, and set them on the stories.

    `generic`: the generic images of the whole site, when `index` holds only some of its
    stories (sitestate.py patches edited ones); by default, found among the index's stories.
    """
    settings = config.images
    cache = ImageCache.open(image_cache_dir(config))
    report = ImageReport()
    if generic is None:
        generic = generic_images(index.stories, settings.generic_threshold)
    report.generic = len(generic)
    by_provider: dict[tuple[str, int | None, int | None, str] | None, Source | None] = {}
    logos = {}
    for story in index.stories:
        provider = story.item.provider
        logo_image = provider.logo
        key = (logo_image.url, logo_image.width, logo_image.height, provider.name) \
            if logo_image else None
        if key not in by_provider:
            by_provider[key] = _logo_source(story, assets)
        logos[story.path] = by_provider[key]
    # Each local main image is checked and re-encoded even when another candidate is shown:
    # feeds and metadata point at its published copy.
    local_images = {story.path: source for story in index.stories
                    if story.image is not None and story.image.local
                    and (source := _item_source(story.image, "", assets)) is not None}
    states: dict[tuple[str, bool], Thumbnails | Failed] = {}
    resolver = _Resolver(cache, settings, offline, workers, now, report, progress)
    needed = {c.key: c for c in [*logos.values(), *local_images.values()] if c is not None}
    # Each round resolves the next candidate of every story still undecided (the one before
    # it could not be had), all together: downloads and encoding run concurrently.
    chosen: dict[str, Source | None] = {}
    undecided = [(s.path, candidates(s, generic, assets, config, logos[s.path]))
                 for s in index.stories]
    while undecided:
        waiting = []
        for path, chain in undecided:
            source, wanted = choose(chain, states)
            if wanted is None:
                chosen[path] = source
            else:
                needed[wanted.key] = wanted
                waiting.append((path, chain))
        if needed:
            states.update(resolver.resolve(list(needed.values())))
            needed = {}
        undecided = waiting
    cache.save()
    pictures: dict[str, tuple[Picture | None, Picture | None, str]] = {}
    used: dict[str, Variant] = {}
    logo_pictures: dict[tuple[str, bool], Picture | None] = {}  # one per provider logo
    for story in index.stories:
        source = chosen[story.path]
        picture = _picture(source, states, config, used) if source else None
        logo_source = logos[story.path]
        logo = None
        if logo_source is not None:
            if logo_source.key not in logo_pictures:
                made = _picture(logo_source, states, config, used)
                logo_pictures[logo_source.key] = replace(made, alt="") if made else None
            logo = logo_pictures[logo_source.key]
        local = local_images.get(story.path)
        pictures[story.path] = (picture, logo,
                                _published_copy(states[local.key], used) if local else "")
    for ref_key, state in states.items():
        if isinstance(state, Failed):
            report.fallbacks.setdefault(state.reason, []).append(ref_key[0])
    outputs = [Output(output_path(v), PHASE_ASSETS, v.name, copy_from=cache.file(v.name))
               for v in used.values()]
    set_pictures(index.stories, pictures)
    return ImageStage(outputs, report, generic)


def supported_formats(settings: ImageSettings) -> tuple[str, ...]:
    """The modern formats asked for that this Pillow can encode."""
    return tuple(f for f in settings.formats if _can_encode(f))


@cache
def _can_encode(fmt: str) -> bool:
    from PIL import features

    return bool(features.check(fmt))


def thumbnails_key(digest: str, logo: bool, settings: ImageSettings) -> str:
    """Names the thumbnails of a source's content made with the settings that shape them."""
    shape = ("logo", settings.logo_size) if logo else ("photo", settings.widths)
    profile = (shape, supported_formats(settings), settings.quality, THUMB_VERSION)
    return hashlib.blake2b(repr((digest, profile)).encode(), digest_size=16).hexdigest()


def image_cache_dir(config: SiteConfig) -> Path:
    return config.images.cache or config.cache_dir / "images"


def output_path(variant: Variant) -> str:
    return f"{OUTPUT_FOLDER}/{variant.name[:2]}/{variant.name}"


# --- choosing ------------------------------------------------------------------------------------


# Whole words of the file name only: YouTube's "maxresdefault.jpg" is a real video still.
_GENERIC_NAME = re.compile(
    r"(?:^|[-_.])(?:placeholder|default|generic|fallback|no[-_]?image|logo)(?:[-_.]|$)", re.I)


def generic_images(stories: Iterable[Story], threshold: int) -> set[str]:
    """Image URLs that say nothing about the story: shown by `threshold` items or more (a
    site's default picture), named as a placeholder or logo, or the provider's own logo."""
    counts: Counter[str] = Counter()
    generic = set()
    for story in stories:
        logo = story.item.provider.logo
        for url in {i.url for i in story.item.images}:
            counts[url] += 1
            if (logo is not None and url == logo.url) or \
                    _GENERIC_NAME.search(url.rsplit("/", 1)[-1].partition("?")[0]):
                generic.add(url)
    return generic | {url for url, count in counts.items() if count >= threshold}


def candidates(story: Story, generic: set[str], assets: dict[str, Path],
               config: SiteConfig, logo: Source | None) -> list[Source]:
    """What may stand for the story, best first: its own images, its provider's logo (`logo`,
    the story's _logo_source), its topic's image."""
    item = story.item
    chain = [s for s in (_item_source(i, item.title, assets) for i in item.images
                         if i.url not in generic) if s is not None]
    if logo is not None:
        chain.append(Source(logo.ref, logo.remote, logo.width, logo.height, item.title,
                            logo=True))
    for topic in story.topics:
        meta = config.topic_settings(topic.name)
        if meta and meta.image:
            topic_source = _topic_source(meta.image, item.title, config)
            if topic_source is not None:
                chain.append(topic_source)
                break
    return chain


def choose(chain: list[Source], states: dict[tuple[str, bool], Thumbnails | Failed]
           ) -> tuple[Source | None, Source | None]:
    """(the candidate to show, None) once known, or (None, the candidate to resolve next)."""
    for source in chain:
        state = states.get(source.key)
        if state is None:
            return None, source
        if isinstance(state, Failed) and (state.lasting or not source.remote):
            continue
        return source, None
    return None, None


def _item_source(image: Image, title: str, assets: dict[str, Path]) -> Source | None:
    alt = image.title or title
    if not image.local:
        return Source(image.url, True, image.width, image.height, alt)
    path = assets.get(image.url)
    return Source(str(path), False, image.width, image.height, alt) if path else None


def _logo_source(story: Story, assets: dict[str, Path]) -> Source | None:
    logo = story.item.provider.logo
    if logo is None:
        return None
    if not logo.local:
        return Source(logo.url, True, logo.width, logo.height, story.item.provider.name,
                      logo=True)
    path = assets.get(logo.url)
    return Source(str(path), False, logo.width, logo.height, story.item.provider.name,
                  logo=True) if path else None


def _topic_source(image: str, title: str, config: SiteConfig) -> Source | None:
    """A topic's image of site.toml: an http(s) URL, or a file in the static folder."""
    if image.startswith(("https://", "http://")):
        return Source(image, True, None, None, title)
    static = config.static_dir.resolve()
    path = (static / image).resolve()
    if not path.is_relative_to(static) or not path.is_file():
        return None
    return Source(str(path), False, None, None, title)


def _picture(source: Source, states: dict[tuple[str, bool], Thumbnails | Failed],
             config: SiteConfig, used: dict[str, Variant]) -> Picture | None:
    state = states[source.key]
    kind = "logo" if source.logo else "photo"
    if isinstance(state, Failed):
        if not source.remote or state.lasting:
            return None
        # It may load in the reader's browser: the URL as given, with its declared size.
        return Picture(source.ref, source.width, source.height, source.alt, kind=kind)
    for variant in state.variants:
        used[variant.name] = variant
    by_format: dict[str, list[Variant]] = {}
    for variant in state.variants:
        by_format.setdefault(variant.format, []).append(variant)

    def srcset(variants: list[Variant]) -> str:
        return ", ".join(f"{config.url(output_path(v))} {v.width}w" for v in variants)

    fallback = by_format.pop(state.fallback)
    src = next((v for v in fallback if v.width >= 640), fallback[-1])
    return Picture(
        src=config.url(output_path(src)),
        width=state.width,
        height=state.height,
        alt=source.alt,
        srcset=srcset(fallback),
        sources=tuple((variants[0].mime, srcset(variants)) for variants in by_format.values()),
        kind=kind,
    )


def set_pictures(stories: Iterable[Story],
                 pictures: dict[str, tuple[Picture | None, Picture | None, str]]) -> None:
    """Give every story its picture, logo and local image's published copy, in place: the
    index keeps listing the same stories (about a tenth of a rebuild to copy them all at
    10,000 items).

    A story's fingerprint names its page and card: it changes exactly when a picture does.
    """
    for story in stories:
        picture, logo, image_file = pictures.get(story.path, (None, None, ""))
        story.fingerprint = hashlib.blake2b(
            repr((story.fingerprint, picture, logo, image_file)).encode(),
            digest_size=12).hexdigest()
        story.picture, story.logo, story.image_file = picture, logo, image_file


def _published_copy(state: Thumbnails | Failed, used: dict[str, Variant]) -> str:
    """The site path of a local image's largest thumbnail in its fallback format (JPEG or
    PNG, as every reader takes), published among the thumbnails; '' if it is no image."""
    if isinstance(state, Failed):
        return ""
    largest = max((v for v in state.variants if v.format == state.fallback),
                  key=lambda v: v.width)
    used[largest.name] = largest
    return output_path(largest)


# --- fetching and encoding -----------------------------------------------------------------------


class _Resolver:
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


# --- the persistent cache ------------------------------------------------------------------------


@dataclass
class ImageCache:
    """`index.json` (what each URL and file gave), `sources/` (downloads, by content digest)
    and `files/` (thumbnails, by their content-hashed names)."""

    root: Path
    remote: dict[str, dict] = field(default_factory=dict)  # URL -> {sha} or {failed, lasting, at}
    local: dict[str, list] = field(default_factory=dict)  # path -> [size, mtime_ns, sha]
    thumbs: dict[str, Thumbnails] = field(default_factory=dict)  # thumbnail key -> result
    dirty: bool = False

    @classmethod
    def open(cls, root: Path) -> ImageCache:
        try:
            data = json.loads((root / "index.json").read_text(encoding="utf-8"))
            if data.get("version") != INDEX_VERSION:
                return cls(root)
            thumbs = {key: _thumbnails_from_json(value) for key, value in data["thumbs"].items()}
            return cls(root, data["remote"], data["local"], thumbs)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return cls(root)  # unreadable: start afresh, the files are remade as needed

    def save(self) -> None:
        if not self.dirty:
            return
        data = {"version": INDEX_VERSION, "remote": self.remote, "local": self.local,
                "thumbs": {key: _thumbnails_to_json(t) for key, t in self.thumbs.items()}}
        save_atomic(self.root / "index.json",
                           json.dumps(data, sort_keys=True, separators=(",", ":")).encode())
        self.dirty = False

    def source(self, digest: str) -> Path:
        return self.root / "sources" / digest[:2] / digest

    def file(self, name: str) -> Path:
        return self.root / "files" / name[:2] / name

    def has_files(self, thumbs: Thumbnails) -> bool:
        return all(self.file(v.name).is_file() for v in thumbs.variants)


def _thumbnails_to_json(thumbs: Thumbnails) -> dict:
    return {"width": thumbs.width, "height": thumbs.height, "fallback": thumbs.fallback,
            "variants": [[v.format, v.width, v.height, v.name] for v in thumbs.variants]}


def _thumbnails_from_json(data: dict) -> Thumbnails:
    return Thumbnails(int(data["width"]), int(data["height"]),
                      tuple(Variant(str(f), int(w), int(h), str(n))
                            for f, w, h, n in data["variants"]),
                      str(data["fallback"]))


# --- pruning -------------------------------------------------------------------------------------


@dataclass
class PruneReport:
    entries: int = 0  # index entries dropped
    files: int = 0  # files deleted
    bytes: int = 0


def prune(index: SiteIndex, config: SiteConfig, assets: dict[str, Path]) -> PruneReport:
    """Delete what no current story can use: downloads, failures, thumbnails and their files."""
    cache = ImageCache.open(image_cache_dir(config))
    sources: list[Source] = []
    for story in index.stories:  # every candidate, the provider's logo among them
        sources += candidates(story, set(), assets, config, _logo_source(story, assets))
    urls = {s.ref for s in sources if s.remote}
    paths = {s.ref for s in sources if not s.remote}
    report = PruneReport()
    for table, wanted in ((cache.remote, urls), (cache.local, paths)):
        for ref in list(table):
            if ref not in wanted:
                del table[ref]
                report.entries += 1
    keep_digests = {e["sha"] for e in cache.remote.values() if "sha" in e}
    keep_digests |= {e[2] for e in cache.local.values()}
    keep_keys = {thumbnails_key(d, logo, config.images) for d in keep_digests
                 for logo in (False, True)}
    for key in list(cache.thumbs):
        if key not in keep_keys:
            del cache.thumbs[key]
            report.entries += 1
    keep_files = {v.name for t in cache.thumbs.values() for v in t.variants}
    for folder, keep in ((cache.root / "sources", keep_digests),
                         (cache.root / "files", keep_files)):
        for path in folder.glob("*/*") if folder.is_dir() else ():
            if path.name not in keep:
                report.files += 1
                report.bytes += path.stat().st_size
                path.unlink()
                _remove_if_empty(path.parent)
    cache.dirty = True
    cache.save()
    return report


def _remove_if_empty(folder: Path) -> None:
    try:
        os.rmdir(folder)
    except OSError:
        pass
