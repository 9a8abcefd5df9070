"""The site as the last build left it (stories grouped and pictured, editions chosen), kept so
that a rebuild after edits that move no story patches it instead of remaking it.

Reading, grouping, picturing and choosing editions for 10,000 items is most of a rebuild's
fixed cost (over half a second), while the usual edit, a title, excerpt, body or update date
corrected, changes none of it but the edited story's own text. Such a rebuild loads the kept
state, re-reads only the changed files and patches their stories in place; everything after
(pages, fingerprints, what to write) runs as in any build, so the output is the same as a full
build's. An edit to anything else that shapes the site (a date, topics, a source URL, images,
scores, publication), an added or removed file, or a title that now matches another story's
makes the build do it all again.
"""

from __future__ import annotations

import os
import pickle
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, tzinfo
from functools import partial
from pathlib import Path

from newsdigest import parallel, store
from newsdigest.build.gather import GatheredSite
from newsdigest.content.dedupe import title_key
from newsdigest.content.files import Discovery, SourceFile
from newsdigest.content.item import Item
from newsdigest.content.loading import CacheEntry, LoadSettings, cached_entries, load_one
from newsdigest.stories.clusters import ClusterInputs, NearMiss
from newsdigest.stories.grouping import SiteIndex, make_story, with_cluster_scores

MOST_PATCHED = 200  # past this many changed files, doing it all again costs about the same


def save_in_background(file: Path, key: str, front: GatheredSite) -> Callable[[], None]:
    """Write the kept state from a forked process while the build goes on (pickling 10,000
    stories takes a third of a second); returns the function that waits for it."""
    try:
        pid = os.fork()
    except (AttributeError, OSError):  # no fork here: write it now
        _save(file, key, front)
        return lambda: None
    if pid == 0:  # the child: the parent's memory as it is now, copied on write
        code = 1
        try:
            _save(file, key, front)
            code = 0
        finally:
            os._exit(code)

    def wait() -> None:
        os.waitpid(pid, 0)

    return wait


def _save(file: Path, key: str, front: GatheredSite) -> None:
    # A header first, with what decides whether the kept state can be patched: a build reads
    # the rest only when it can. Then the clusters' inputs, with their length: a patching
    # build checks them in a child process (_ClusterCheck) while it reads the rest.
    header = (key, front.valid_until, front.records, _patchable(front.index), front.title_keys)
    clusters = pickle.dumps(front.clusters, pickle.HIGHEST_PROTOCOL)
    body = replace(front, records={}, title_keys=Counter(), patched=None, clusters=None)
    store.save_atomic(file, pickle.dumps(header, pickle.HIGHEST_PROTOCOL)
                       + len(clusters).to_bytes(8, "little") + clusters
                       + pickle.dumps(body, pickle.HIGHEST_PROTOCOL))


def patched(file: Path, key: str, discovery: Discovery, settings: LoadSettings,
            items_cache: Path, tz: tzinfo, repicture: Callable[[SiteIndex, set[str]], object],
            now: datetime) -> GatheredSite | None:
    """The kept state with the changed files' stories patched in, or None when the build must
    do it all again: no kept state for this key, time has changed it (a future item is due),
    or an edit moves a story.

    The edited items are compared with their previous version in the item cache
    (`items_cache`), so a build that cannot patch finds out before it reads the kept state.
    `repicture` sets the pictures of an index's stories given the site's generic images
    (image_stage.prepare on an index of the patched stories).
    """
    try:
        with file.open("rb") as handle:
            kept_key, valid_until, records, patchable, title_keys = pickle.load(handle)
            if kept_key != key or (valid_until is not None and now >= valid_until):
                return None
            changed = _changed(discovery, records)
            if changed is None:
                return None
            edits = _edits(changed, records, patchable, title_keys, settings,
                           lambda rels: cached_entries(items_cache, settings, rels), tz)
            if edits is None:
                return None
            clusters_size = int.from_bytes(handle.read(8), "little")
            check = _ClusterCheck(file, handle.tell(), clusters_size, edits)
            handle.seek(clusters_size, os.SEEK_CUR)
            front = pickle.load(handle)
        scores = check.result()
    except (*store.UNREADABLE, ValueError):  # ValueError: a header of an older version
        return None
    if scores is False or not isinstance(front, GatheredSite):
        return None
    front.records, front.title_keys = records, title_keys
    if scores is not None:
        front.index = with_cluster_scores(front.index, *scores)
    return _apply(front, edits, len(changed), repicture)


# What checking the clusters against edits found: False, an edit changes a cluster (the
# state cannot be patched); None, nothing the site shows changed; else the similarities and
# near misses the curation report shows now.
ClusterScores = bool | tuple[dict[str, tuple[str, float | None]], tuple[NearMiss, ...]] | None


class _ClusterCheck:
    """The kept clusters checked against the edits (a third of a patching build at 30,000
    items) in a child process, while this one reads the rest of the kept state."""

    def __init__(self, file: Path, at: int, size: int,
                 edits: list[tuple[str, CacheEntry]]) -> None:
        self._task = partial(_check_clusters, file, at, size, edits)
        self._child = parallel.InChild(self._task) if edits else None

    def result(self) -> ClusterScores:
        if self._child is None:
            return None  # files touched, none changed
        try:
            return self._child.result()
        except parallel.ChildFailed:
            return self._task()


def _check_clusters(file: Path, at: int, size: int,
                    edits: list[tuple[str, CacheEntry]]) -> ClusterScores:
    with file.open("rb") as handle:
        handle.seek(at)
        kept = pickle.loads(handle.read(size))
    clusters = _clusters_kept(kept, edits)
    if clusters is False:
        return False
    if clusters is None or kept is None or (clusters.result, clusters.names) == (
            kept.result, kept.names):
        return None
    return clusters.scores(), clusters.near_misses


def patched_in_memory(front: GatheredSite, discovery: Discovery, settings: LoadSettings,
                      items: dict[str, CacheEntry], tz: tzinfo,
                      repicture: Callable[[SiteIndex, set[str]], object],
                      now: datetime) -> GatheredSite | None:
    """`patched` for a state kept in memory between builds (the preview server), with the
    warm item cache (`items`) as the previous versions; it learns the edited files' new ones.

    The state is patched in place, partly so when it returns None: the caller keeps it only
    if it returns it.
    """
    if front.valid_until is not None and now >= front.valid_until:
        return None
    changed = _changed(discovery, front.records)
    if changed is None:
        return None
    edits = _edits(changed, front.records, _patchable(front.index), front.title_keys, settings,
                   lambda rels: {rel: items[rel] for rel in rels if rel in items}, tz)
    if edits is None:
        return None
    clusters = _clusters_kept(front.clusters, edits)
    if clusters is False:
        return None
    _keep_clusters(front, front.clusters, clusters)
    patched_front = _apply(front, edits, len(changed), repicture)
    if patched_front is not None:
        items.update(edits)
    return patched_front


def _apply(front: GatheredSite, edits: list[tuple[str, CacheEntry]], changed: int,
           repicture: Callable[[SiteIndex, set[str]], object]) -> GatheredSite | None:
    """The edited items' stories updated in place, and pictured again."""
    edited = {rel for rel, _ in edits}  # a few of the site's stories: no index of them all
    stories = {story.item.source: story for story in front.index.stories
               if story.item.source in edited} if edits else {}
    for rel, entry in edits:
        story = stories.get(rel)
        item = entry.result.item
        if story is None or item is None:
            return None  # the kept state and its header disagree: do it all again
        fresh = make_story(item, story.path, story.local_date, story.topics, story.also)
        story.item, story.image = fresh.item, fresh.image
        story.fingerprint, story.modified = fresh.fingerprint, fresh.modified
        if entry.result.warnings:
            front.item_warnings[rel] = entry.result.warnings
        else:
            front.item_warnings.pop(rel, None)
    if edits:
        repicture(replace(front.index, stories=tuple(stories[rel] for rel, _ in edits)),
                  front.pictures.generic)
    front.parsed = changed
    front.patched = [rel for rel, _ in edits]
    return front


def _clusters_kept(clusters: ClusterInputs | None, edits: list[tuple[str, CacheEntry]]
                   ) -> ClusterInputs | None | bool:
    """The story clusters' inputs with the edits' new words, or False if the edits change a
    cluster (or a similarity the report shows): an edited title or excerpt may make its item
    another's story, and shifts how rare each of its words is for every item."""
    if clusters is None:
        return None
    patched_clusters = clusters.patched(
        {rel: entry.result.item for rel, entry in edits if entry.result.item is not None})
    return False if patched_clusters is None else patched_clusters


def _keep_clusters(front: GatheredSite, kept: ClusterInputs | None,
                   clusters: ClusterInputs | None) -> None:
    """The patched clusters' inputs kept, and their similarities in the index."""
    if clusters is not None and kept is not None and (clusters.result, clusters.names) != (
            kept.result, kept.names):
        front.index = with_cluster_scores(front.index, clusters.scores(), clusters.near_misses)
    front.clusters = clusters


def _patchable(index: SiteIndex) -> frozenset[str]:
    """The content files whose story is theirs alone (not merged with another's)."""
    return frozenset(story.item.source for story in index.stories
                     if not story.also and story.item.source not in index.merged)


def _edits(changed: list[SourceFile], records: dict[str, tuple[int, int, str]],
           patchable: frozenset[str], title_keys: Counter[str], settings: LoadSettings,
           previous_versions: Callable[[list[str]], dict[str, CacheEntry]], tz: tzinfo
           ) -> list[tuple[str, CacheEntry]] | None:
    """The changed files validated, if each edit leaves its story where it was; None if not.

    `records` learn the files' new sizes, times and digests, and `title_keys` the new titles,
    so that two titles edited alike in one go are seen to meet. `previous_versions` gives the
    validated items the kept state was made from, by content file.
    """
    edits = []
    previous = None
    for source in changed:
        entry = load_one(source, settings)
        known_digest = records[source.rel][2]
        records[source.rel] = (entry.size, entry.mtime_ns, entry.content_hash)
        if entry.content_hash == known_digest:
            continue  # touched, not changed
        item = entry.result.item
        if source.rel not in patchable or item is None or entry.result.problems:
            return None  # not a story of its own, or no longer valid: a full build says why
        if previous is None:
            previous = previous_versions([s.rel for s in changed])
        old = previous.get(source.rel)
        if old is None or old.content_hash != known_digest or old.result.item is None:
            return None  # the item cache does not hold the version the kept state shows
        if not _keeps_its_place(old.result.item, item, title_keys, tz):
            return None
        edits.append((source.rel, entry))
    return edits


def _changed(discovery: Discovery, records: dict[str, tuple[int, int, str]]
             ) -> list[SourceFile] | None:
    """The content files changed since the kept state; None if any was added or removed, or
    so many changed that patching would not pay."""
    if len(records) != len(discovery.items):
        return None
    changed = []
    for source in discovery.items:
        known = records.get(source.rel)
        if known is None:
            return None  # a file added (and another removed)
        if (source.size, source.mtime_ns) != known[:2]:
            changed.append(source)
            if len(changed) > MOST_PATCHED:
                return None
    return changed


def _keeps_its_place(old: Item, new: Item, title_keys: Counter[str], tz: tzinfo) -> bool:
    """Whether the edited item leaves the site's shape as it was: the same fields but for its
    own text and update date, and a title that makes it no other story's duplicate."""
    if _shape(old) != _shape(new):
        return False
    old_key, new_key = title_key(old, tz), title_key(new, tz)
    if new_key != old_key:
        if new_key and title_keys[new_key] > 0:
            return False  # now the same story as another item
        if old_key:
            title_keys[old_key] -= 1
        if new_key:
            title_keys[new_key] += 1
    return True


def _shape(item: Item) -> Item:
    """The item without what only its own story shows, which no other part of the site reads:
    the fields that place it (date, topics, source, images, provider, scores...)."""
    # `why`, `discussion` and `readingMinutes` are the story's own text too; `kind` is not
    # (a sponsor leaves top stories, feeds and editions).
    return replace(item, content_hash="", title="", excerpt="", body_html="", updated_at=None,
                   why="", discussion=(), reading_minutes=None,
                   # its words are checked against the story clusters (_clusters_kept)
                   story_keys=replace(item.story_keys, title="", title_words=(),
                                      excerpt_words=()))
