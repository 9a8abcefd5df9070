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
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from newsdigest.config.site import SiteConfig
from newsdigest.content.item import Image
from newsdigest.images.cache import (
    ImageCache,
    image_cache_dir,
    thumbnails_key,
)
from newsdigest.images.resolve import Failed, ImageReport, Progress, Resolver, Source
from newsdigest.images.thumbnails import (
    Thumbnails,
    Variant,
)
from newsdigest.outputs import PHASE_ASSETS, Output
from newsdigest.stories.grouping import SiteIndex, Story
from newsdigest.stories.picture import Picture

OUTPUT_FOLDER = "img"


@dataclass
class ImageStage:
    """What the image stage made; the stories of the index it was given now carry pictures."""

    outputs: list[Output]
    report: ImageReport
    generic: set[str] = field(default_factory=set)  # image URLs skipped as generic (ImageUses)
    # what `generic` was found from, for the whole site (None: for some of its stories)
    uses: ImageUses | None = None


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
    uses = None
    if generic is None:
        uses = image_uses(index.stories)
        generic = uses.generic(settings.generic_threshold)
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
    resolver = Resolver(cache, settings, offline, workers, now, report, progress)
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
    return ImageStage(outputs, report, generic, uses)


def output_path(variant: Variant) -> str:
    return f"{OUTPUT_FOLDER}/{variant.name[:2]}/{variant.name}"


# Whole words of the file name only: YouTube's "maxresdefault.jpg" is a real video still.
_GENERIC_NAME = re.compile(
    r"(?:^|[-_.])(?:placeholder|default|generic|fallback|no[-_]?image|logo)(?:[-_.]|$)", re.I)


@dataclass(frozen=True)
class ImageUses:
    """How many items show each image URL, and the URLs named as no picture of their story:
    what decides which images are generic (`generic`)."""

    counts: Counter[str]
    named: frozenset[str]  # named as a placeholder or logo, or their provider's own logo

    def generic(self, threshold: int) -> set[str]:
        """Shown by `threshold` items or more (a site's default picture), or named."""
        return self.named | {url for url, count in self.counts.items() if count >= threshold}

    def with_stories(self, stories: Iterable[Story]) -> ImageUses:
        more = image_uses(stories)
        return ImageUses(self.counts + more.counts, self.named | more.named)


def image_uses(stories: Iterable[Story]) -> ImageUses:
    counts: Counter[str] = Counter()
    named = set()
    for story in stories:
        logo = story.item.provider.logo
        for url in {i.url for i in story.item.images}:
            counts[url] += 1
            if (logo is not None and url == logo.url) or \
                    _GENERIC_NAME.search(url.rsplit("/", 1)[-1].partition("?")[0]):
                named.add(url)
    return ImageUses(counts, frozenset(named))


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
