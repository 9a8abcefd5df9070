"""The site as the last build left it (stories grouped and pictured, editions chosen), kept so
that a rebuild after edits that move no story, or additions that are stories of their own,
patches it instead of remaking it.

Reading, grouping, picturing and choosing editions for 10,000 items is most of a rebuild's
fixed cost (over half a second), while the usual edit, a title, excerpt, body or update date
corrected, changes none of it but the edited story's own text, and the usual new item is one
more story in lists it joins. Such a rebuild loads the kept state, re-reads only the changed
and added files, patches their stories in place and puts the new ones in their places, made
as a full build makes them (grouping.with_stories_added); everything after (pages,
fingerprints, what to write) runs as in any build, so the output is the same as a full build's.
An edit to anything else that shapes the site (a date, topics, a source URL, images, scores,
publication), a removed file, an added item that is not a story of its own, or a title that
now matches another story's makes the build do it all again.
"""

from __future__ import annotations

import contextlib
import copyreg
import fcntl
import io
import mmap
import os
import pickle
import threading
import zlib
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import fields, replace
from datetime import datetime, tzinfo
from functools import partial
from itertools import compress
from operator import ne, or_
from pathlib import Path
from typing import Literal, NamedTuple

from newsdigest import parallel, store, urls
from newsdigest.build.discover import Sources
from newsdigest.build.gather import (
    GatheredSite,
    choose_editions,
    item_facets,
    local_images,
    new_stamp,
    topic_spellings,
    until_retry,
)
from newsdigest.config.site import SiteConfig
from newsdigest.content.dedupe import StoryKeys, title_key
from newsdigest.content.files import Columns, Discovery, SourceFile
from newsdigest.content.item import Item
from newsdigest.content.loading import (
    CacheEntry,
    LoadSettings,
    cached_entries,
    load_one,
    update_cache,
)
from newsdigest.images import stage as image_stage
from newsdigest.stories.clusters import ClusterInputs, NearMiss
from newsdigest.stories.grouping import (
    FUTURE_TOLERANCE,
    SiteIndex,
    Story,
    make_story,
    with_cluster_scores,
    with_stories_added,
)

# Pictures for an index's stories, given the site's generic images (gather.repicture_stories)
Repicture = Callable[[SiteIndex, set[str]], image_stage.ImageStage]

MOST_PATCHED = 200  # past this many changed files, doing it all again costs about the same


def save_in_background(file: Path, key: str, front: GatheredSite, items_cache: Path,
                       settings: LoadSettings, checking: ClusterChecking | None = None,
                       detach: bool = False) -> Callable[[], None]:
    """Write the kept state from a forked process while the build goes on (pickling 30,000
    stories takes a third of a second, writing them a tenth); returns the function that
    waits for it (and writes the state then, when no child could).

    Or, `detach`ed (a build whose process ends right after it: the command line's), lets
    it finish on its own: it holds the state's lock until it is done, and the next build
    that reads the state, or writes one, waits for it there (_locked).

    A patched state's files go into the item cache first (`items_cache`): the next build
    compares its edits with the versions the state was made from. A state patched with
    additions keeps the clusters' new inputs that their check makes (`checking`: Patch's).
    """
    def save() -> None:
        if front.patched_entries:
            update_cache(items_cache, settings, front.patched_entries)
        _save(file, key, front, checking.inputs if checking is not None else None)

    def save_apart() -> None:
        # not holding the build's output open once the build has ended: a command that
        # reads it (`newsdigest build | tee`) ends with the build
        with open(os.devnull, "wb") as nowhere:
            os.dup2(nowhere.fileno(), 1)
            os.dup2(nowhere.fileno(), 2)
        save()

    _reap_finished()
    lock = _lock_to_hand_on(file) if detach else -1
    try:
        saving = parallel.InChild(save_apart)
    finally:
        if lock >= 0:
            os.close(lock)  # the forked process holds it now, until it is done
    if checking is not None and saving.forked:
        checking.hand_over()
    if saving.forked and lock >= 0:
        return partial(_saving.append, (saving, checking))

    def wait() -> None:
        try:
            saving.result()
        except parallel.ChildFailed:
            # a cache: one that cannot be written (a full disk) only makes the next build
            # regroup every item
            with contextlib.suppress(OSError, parallel.ChildFailed):
                save()
        finally:
            if checking is not None:
                checking.reap()

    return wait


# The processes writing a kept state, with the clusters' check each reads from: reaped by a
# later build of this process, if any (the command line's ends first).
_saving: list[tuple[parallel.InChild[None], ClusterChecking | None]] = []


def _reap_finished() -> None:
    for saving, checking in list(_saving):
        if saving.done():
            _saving.remove((saving, checking))
            with contextlib.suppress(parallel.ChildFailed):
                saving.result()
            if checking is not None:
                checking.reap()


def wait_for_saving(cache_dir: Path) -> None:
    """Until no process of an earlier build is still writing a kept state in `cache_dir`
    (before it is removed: one would make it again)."""
    for lock_file in cache_dir.glob("*.lock"):
        with contextlib.suppress(OSError):
            os.close(_locked(lock_file, fcntl.LOCK_EX))


def _lock_to_hand_on(file: Path) -> int:
    """The kept state's lock, taken for the process about to be forked to write it; -1 when
    it cannot be (then the build waits for that process)."""
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        return _locked(file, fcntl.LOCK_EX)
    except OSError:
        return -1


def _locked(file: Path, kind: int) -> int:
    """A descriptor of the kept state's lock file, locked as `kind` (shared to read the
    state, exclusive to write it): waits for a process still writing it."""
    lock = os.open(file.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock, kind)
    except OSError:
        os.close(lock)
        raise
    return lock


def _save(file: Path, key: str, front: GatheredSite,
          clusters_made: Callable[[], bytes] | None = None) -> None:
    # A header first, with what decides whether the kept state can be patched: a build reads
    # the rest only when it can. Then the source and related URLs, which only additions are
    # checked against, then the clusters' inputs: a patching build checks them in a child
    # process (ClusterChecking) while it reads the rest. Each after its length.
    header = (key, front.valid_until, front.records, _patchable(front.index), front.title_keys,
              _listed(front.records))
    urls = (front.source_urls, front.related_urls)
    # its pictures as a build that patches it reports them: made already, none fetched
    pictures = replace(front.pictures, report=front.pictures.report.as_cached())
    body = replace(front, records={}, title_keys=Counter(), patched=None, added=0,
                   added_to="", reached=frozenset(),
                   patched_entries={}, clusters=None,
                   source_urls=frozenset(), related_urls=frozenset(), pictures=pictures)
    rest = _pickled_lazily(body)
    # after the rest: a patched state's are still being made when it is pickled
    clusters = clusters_made() if clusters_made is not None else pickle.dumps(
        front.clusters, pickle.HIGHEST_PROTOCOL)
    pieces = []
    for part in (pickle.dumps(header, pickle.HIGHEST_PROTOCOL),
                 pickle.dumps(urls, pickle.HIGHEST_PROTOCOL), clusters):
        pieces += [len(part).to_bytes(8, "little"), part]
    pieces += rest
    # Last, the checksum of all that: a damaged state (a flipped bit) may still unpickle, as
    # other titles, topics or keys than the site's, or raise what unpickling never does.
    # Written piece by piece: joined, the items' pickles were copied twice more (a hundred
    # megabytes at 30,000 items).
    checksum = 0
    for piece in pieces:
        checksum = zlib.crc32(piece, checksum)
    store.save_atomic(file, [*pieces, checksum.to_bytes(4, "little")])


class KeptStory(Story):
    """A story of a kept state, whose item is unpickled when first read, and its image,
    picture, logo and image file likewise (its looks): a rebuild after an edit reads a few
    hundred of the site's items and looks, and unpickling all of them took most of the time
    it took to read the state back (an item is some forty objects, its looks four)."""

    __slots__ = ("_item_pickled", "_looks_pickled", "source")

    @property  # type: ignore[override]
    def item(self) -> Item:
        try:
            return _ITEM_SLOT.__get__(self)
        except AttributeError:
            item = pickle.loads(self._item_pickled)
            _ITEM_SLOT.__set__(self, item)
            self._item_pickled = b""
            return item

    @item.setter
    def item(self, value: Item) -> None:
        _ITEM_SLOT.__set__(self, value)
        self._item_pickled = b""

    def item_pickled(self) -> bytes | memoryview:
        """Its item pickled as a kept state holds it, as read if it was never unpickled (a
        view of the kept state's bytes)."""
        try:
            return _item_pickled(_ITEM_SLOT.__get__(self))
        except AttributeError:
            return self._item_pickled

    def looks_pickled(self) -> bytes:
        """Its looks pickled as a kept state holds them, as read if they were never read."""
        return getattr(self, "_looks_pickled", b"") or _looks_pickled(self)

    def unpack_looks(self) -> None:
        """Its looks read from their pickle, if they were not yet (before any is set)."""
        pickled = getattr(self, "_looks_pickled", b"")
        if pickled:
            self._looks_pickled = b""
            for set_slot, value in zip(_SET_LOOKS, pickle.loads(pickled), strict=True):
                set_slot(self, value)


def _looks_pickled(story: Story) -> bytes:
    return pickle.dumps(tuple(getattr(story, name) for name in _LOOKS), pickle.HIGHEST_PROTOCOL)


def _read_when_asked(name: str) -> property:
    """A KeptStory's look `name`, read from its pickle with the others when first asked."""
    slot = getattr(Story, name)

    def read(story: KeptStory) -> object:
        try:
            return slot.__get__(story)
        except AttributeError:
            story.unpack_looks()
            return slot.__get__(story)

    def write(story: KeptStory, value: object) -> None:
        story.unpack_looks()
        slot.__set__(story, value)

    return property(read, write)


_ITEM_SLOT = Story.item  # the slot under KeptStory's property
# What a card, an item page or a sitemap shows of a story, and neither planning nor the
# curation report reads (it has the image facts it needs: GatheredSite.image_facts).
_LOOKS = ("image", "picture", "logo", "image_file")
_SET_LOOKS = tuple(getattr(Story, name).__set__ for name in _LOOKS)
for _look in _LOOKS:
    setattr(KeptStory, _look, _read_when_asked(_look))
del _look


def _kept_story(item_pickled: bytes | memoryview, source: str, looks_pickled: bytes,
                *values: object) -> KeptStory:
    story = KeptStory.__new__(KeptStory)
    story._item_pickled, story.source, story._looks_pickled = item_pickled, source, looks_pickled
    for set_slot, value in zip(_SET_SLOTS, values, strict=True):
        set_slot(story, value)
    return story


_STORY_FIELDS = tuple(f.name for f in fields(Story) if f.name != "item" and f.name not in _LOOKS)
# Each field's slot set directly (a frozen story refuses setattr): once per story of a kept
# state, and a third faster than object.__setattr__ by name.
_SET_SLOTS = tuple(getattr(Story, name).__set__ for name in _STORY_FIELDS)


def _item_pickled(item: Item) -> bytes:
    # Without its same-story keys (a quarter of the time it takes to read it back): only
    # grouping reads them, and a kept state is patched, never grouped again (the clusters'
    # inputs and the title keys it checks edits with are kept apart).
    return pickle.dumps(replace(item, story_keys=_NO_KEYS), pickle.HIGHEST_PROTOCOL)


_NO_KEYS = StoryKeys()


def _story_reduced(story: Story) -> tuple[Callable[..., KeptStory], tuple[object, ...]]:
    if isinstance(story, KeptStory):
        pickled, looks = story.item_pickled(), story.looks_pickled()
    else:
        pickled, looks = _item_pickled(story.item), _looks_pickled(story)
    return _kept_story, (pickle.PickleBuffer(pickled), source_of(story), looks,
                         *(getattr(story, name) for name in _STORY_FIELDS))


def source_of(story: Story) -> str:
    """The content file of a story's item, without reading a kept story's item."""
    return story.source if isinstance(story, KeptStory) else story.item.source


def _pickled_lazily(value: object) -> list[bytes | memoryview]:
    """`value` pickled with each story's item apart, read back as KeptStory
    (_unpickled_lazily): the items' pickles go after the rest, out of band, so that reading
    it back leaves them where they are in the kept state's bytes (a view of them each) rather
    than copying them into as many objects.

    In pieces, to be written one after the other: [size of the rest][the rest][number of
    items][their sizes][the items]"""
    items: list[pickle.PickleBuffer] = []
    with io.BytesIO() as buffer:
        pickler = pickle.Pickler(buffer, 5, buffer_callback=items.append)
        pickler.dispatch_table = {**copyreg.dispatch_table, Story: _story_reduced,
                                  KeptStory: _story_reduced}
        pickler.dump(value)
        rest = buffer.getvalue()
    raws = [item.raw() for item in items]
    sizes = array("Q", map(len, raws))
    return [len(rest).to_bytes(8, "little"), rest, len(sizes).to_bytes(8, "little"),
            sizes.tobytes(), *raws]


def _unpickled_lazily(data: memoryview) -> object:
    """What _pickled_lazily pickled, each story's item left in `data`."""
    size = int.from_bytes(data[:8], "little")
    at = 8 + size
    count = int.from_bytes(data[at:at + 8], "little")
    at += 8
    sizes = array("Q")
    sizes.frombytes(data[at:at + sizes.itemsize * count])
    at += sizes.itemsize * count
    views = []
    for item_size in sizes:
        views.append(data[at:at + item_size])
        at += item_size
    if at != len(data):
        raise ValueError("kept state: its items do not add up")
    return pickle.loads(data[8:8 + size], buffers=views)


class Patch:
    """A kept state patched with a build's changes, whose story clusters may still be being
    checked against its edits in a child process (`settled` waits for the answer): a
    build with edits alone plans its pages meanwhile, since only the curation report shows
    the clusters. After additions, the same child (`checking`) then makes the clusters' new
    inputs, which the process that keeps the state reads."""

    def __init__(self, front: GatheredSite, checking: ClusterChecking | None = None) -> None:
        self.front, self.checking = front, checking
        self._answered = checking is None

    def settled(self) -> bool:
        """Whether the clusters stayed as they were; the report's similarities set if so."""
        if self._answered or self.checking is None:
            return True
        self._answered = True
        checked = self.checking.result()
        if checked is False:
            return False
        if checked is not None:
            self.front.index = with_cluster_scores(self.front.index, *checked)
        return True


def patched(file: Path, key: str, sources: Sources, config: SiteConfig, items_cache: Path,
            repicture: Repicture, now: datetime) -> Patch | None:
    """The kept state with the changed files' stories patched in and the added files' added,
    or None when the build must do it all again: no kept state for this key, time has
    changed it (a future item is due), a file was removed, an edit moves a story or an added
    item is not a story of its own under the site's topics. With edits alone, whether they
    change a story cluster is known once the patch has `settled`.

    The edited items are compared with their previous version in the item cache
    (`items_cache`), so a build that cannot patch finds out before it reads the kept state.
    `repicture` sets the pictures of an index's stories given the site's generic images
    (image_stage.prepare on an index of the patched stories).
    """
    settings = LoadSettings.of(config)
    check: ClusterChecking | None = None
    try:
        os.close(_locked(file, fcntl.LOCK_SH))  # no process is writing it now
        data = _mapped(file)
        intact = _checked_meanwhile(data)
        view = memoryview(data)
        try:
            # Read before the checksum is known: what a damaged state makes this raise or
            # return is thrown away below.
            found = _changes(view, key, sources, settings, config.tz, items_cache, now)
        except Exception:
            if not intact():
                return None  # damaged: what it raised says nothing
            raise
        if not intact() or found is None:
            return None  # damaged, or the build must do it all again
        records, title_keys, known_urls, changed, edits, additions, at = found
        clusters, at = _piece(view, at)
        check = ClusterChecking(clusters, edits, additions)
        front = _unpickled_lazily(view[at:-4])
    except (*store.UNREADABLE, ValueError):  # ValueError: a header of an older version
        if check is not None:
            check.stop()
        return None
    if not isinstance(front, GatheredSite):
        check.stop()
        return None
    front.records, front.title_keys = records, title_keys
    front.source_urls, front.related_urls = known_urls
    patch = Patch(front, check)
    patched_front = _apply(front, edits, len(changed), repicture)
    if patched_front is not None and additions:
        # Added while the clusters are checked (the similarities they set are those of the
        # clusters alone, which an added story never joins), and settled then: a state with
        # additions is kept again, its clusters' new inputs with it (ClusterChecking.inputs).
        patched_front = _add(patched_front, additions, config, sources, repicture)
    if patched_front is None:
        check.stop()
        return None
    if not additions or patch.settled():
        return patch
    check.stop()
    return None


class _Changes(NamedTuple):
    """What `_changes` found: the kept state's header, learnt from the changed files."""

    records: dict[str, tuple[int, int, str]]
    title_keys: Counter[str]
    known_urls: list[frozenset[str]]  # source and related-coverage URLs
    changed: list[SourceFile]
    edits: list[tuple[str, CacheEntry]]
    additions: list[tuple[str, CacheEntry]]
    at: int  # where the rest of the kept state begins


def _changes(view: memoryview, key: str, sources: Sources, settings: LoadSettings, tz: tzinfo,
             items_cache: Path, now: datetime) -> _Changes | None:
    """The kept state's header, and the content files changed and added since, validated;
    None if they cannot be patched in (`patched`)."""
    # unpickled where it lies: read through the mapping as a file, it took half again
    header, at = _piece(view, 0)
    kept_key, valid_until, records, patchable, title_keys, listed = pickle.loads(header)
    if kept_key != key or (valid_until is not None and now >= valid_until):
        return None
    found = _changed(sources.discovery, records, listed)
    if found is None:
        return None
    changed, added = found
    edits = _edits(changed, records, patchable, title_keys, settings,
                   lambda rels: cached_entries(items_cache, settings, rels), tz)
    urls, at = _piece(view, at)
    # Read for additions alone: a state patched with edits alone is not kept again
    # (steps._gather_or_patch), and these are a third of the header's time to read.
    known_urls = list(pickle.loads(urls)) if added else [frozenset(), frozenset()]
    additions = _additions(added, records, title_keys, known_urls, settings, tz, now)
    if edits is None or additions is None:
        return None
    return _Changes(records, title_keys, known_urls, changed, edits, additions, at)


# What checking the clusters against edits and additions found: False, one changes a
# cluster (the state cannot be patched); else the similarities and near misses the curation
# report shows now (None: as they were). The clusters' new inputs follow when items were
# added (a state with additions is kept again; with edits only, the next build patches
# the kept one again).
Scores = tuple[dict[str, tuple[str, float | None]], tuple[NearMiss, ...]]
ClusterCheck = Literal[False] | Scores | None


class ClusterChecking:
    """The kept clusters checked against the edits and additions (a third of a patching
    build at 30,000 items) in a child process, while this one reads the rest of the kept
    state. After additions, the child then pickles the clusters' new inputs, which took
    as long again: this process goes on with its answer meanwhile."""

    def __init__(self, kept: memoryview, edits: list[tuple[str, CacheEntry]],
                 additions: list[tuple[str, CacheEntry]]) -> None:
        self._task = partial(_check_clusters, kept, edits, additions)
        self._additions = bool(additions)
        self._child = parallel.InChildFollowed(self._task) if edits or additions else None
        self._here: parallel.Followed[ClusterCheck] | None = None  # when no child could

    def result(self) -> ClusterCheck:
        if self._child is None:
            return None  # files touched, none changed
        try:
            answer = self._child.answer()
            if not self._additions:
                self._child.reap()  # nothing follows
            return answer
        except parallel.ChildFailed:
            self._child.reap()
            self._child = None
            self._here = self._task()
            return self._here.answer

    def inputs(self) -> bytes:
        """The clusters' new inputs, pickled (after additions that leave them as they were)."""
        if self._here is not None:
            assert self._here.then is not None
            return self._here.then()
        if self._child is None:
            raise parallel.ChildFailed
        return self._child.following()

    def hand_over(self) -> None:
        if self._child is not None:
            self._child.hand_over()

    def reap(self) -> None:
        if self._child is not None:
            self._child.reap()

    def stop(self) -> None:
        """The child ended without its answer: no longer wanted."""
        if self._child is not None:
            self._child.stop()


def _check_clusters(pickled: memoryview, edits: list[tuple[str, CacheEntry]],
                    additions: list[tuple[str, CacheEntry]]
                    ) -> parallel.Followed[ClusterCheck]:
    kept = pickle.loads(pickled)
    clusters = _clusters_kept(kept, edits, additions)
    if clusters is False:
        return parallel.Followed(False)
    # as the kept state holds them: the process that keeps it has no use for them as objects
    then = partial(pickle.dumps, clusters, pickle.HIGHEST_PROTOCOL) if additions else None
    if clusters is None or kept is None or (clusters.result, clusters.names) == (
            kept.result, kept.names):
        return parallel.Followed(None, then)
    return parallel.Followed((clusters.scores(), clusters.near_misses), then)


def _mapped(file: Path) -> mmap.mmap:
    """The kept state's bytes mapped, not read: reading them into memory of this process
    took as long as checking and unpickling them (a story's item is then read where it
    lies, _unpickled_lazily). A kept state is only ever replaced whole (store.save_atomic),
    never rewritten in place, so the mapping stays as it was read."""
    with file.open("rb") as handle:
        return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)


def _checked_meanwhile(data: mmap.mmap) -> Callable[[], bool]:
    """Whether the kept state's bytes are those saved (its checksum, last, matches), found
    in a thread while this one reads its header: zlib lets go of the interpreter while it
    sums (a thirtieth of a second at 30,000 items)."""
    found: list[bool] = []

    def check() -> None:
        found.append(len(data) > 4 and zlib.crc32(memoryview(data)[:-4]) == int.from_bytes(
            data[-4:], "little"))

    thread = threading.Thread(target=check, name="kept-state-checksum", daemon=True)
    thread.start()

    def intact() -> bool:
        thread.join()
        return found == [True]

    return intact


def _piece(data: memoryview, at: int) -> tuple[memoryview, int]:
    """The piece of the kept state at `at`, after its length, and where the next begins."""
    size = int.from_bytes(data[at:at + 8], "little")
    end = at + 8 + size
    if len(data) < end:
        raise ValueError("kept state: cut short")
    return data[at + 8:end], end


def patched_in_memory(front: GatheredSite, sources: Sources, config: SiteConfig,
                      items: dict[str, CacheEntry], repicture: Repicture,
                      now: datetime) -> GatheredSite | None:
    """`patched` for a state kept in memory between builds (the preview server), with the
    warm item cache (`items`) as the previous versions; it learns the edited files' new ones.

    The state is patched in place, partly so when it returns None: the caller keeps it only
    if it returns it.
    """
    settings, tz = LoadSettings.of(config), config.tz
    if front.valid_until is not None and now >= front.valid_until:
        return None
    found = _changed(sources.discovery, front.records)
    if found is None:
        return None
    changed, added = found
    edits = _edits(changed, front.records, _patchable(front.index), front.title_keys, settings,
                   lambda rels: {rel: items[rel] for rel in rels if rel in items}, tz)
    known_urls = [front.source_urls, front.related_urls]
    additions = _additions(added, front.records, front.title_keys, known_urls, settings, tz,
                           now)
    if edits is None or additions is None:
        return None
    clusters = _clusters_kept(front.clusters, edits, additions)
    if clusters is False:
        return None
    front.source_urls, front.related_urls = known_urls
    _keep_clusters(front, front.clusters, clusters)
    patched_front = _apply(front, edits, len(changed), repicture)
    if patched_front is not None and additions:
        patched_front = _add(patched_front, additions, config, sources, repicture)
    if patched_front is not None:
        items.update(edits)
        items.update(additions)
    return patched_front


def _apply(front: GatheredSite, edits: list[tuple[str, CacheEntry]], changed: int,
           repicture: Repicture) -> GatheredSite | None:
    """The edited items' stories updated in place, and pictured again."""
    edited = {rel for rel, _ in edits}  # a few of the site's stories: no index of them all
    stories = {source_of(story): story for story in front.index.stories
               if source_of(story) in edited} if edits else {}
    dates_kept = True
    for rel, entry in edits:
        story = stories.get(rel)
        item = entry.result.item
        if story is None or item is None:
            return None  # the kept state and its header disagree: do it all again
        fresh = make_story(item, story.path, story.local_date, story.topics, story.also)
        dates_kept = dates_kept and fresh.modified == story.modified
        story.item, story.image = fresh.item, fresh.image
        story.fingerprint, story.modified = fresh.fingerprint, fresh.modified
        if entry.result.warnings:
            front.item_warnings[rel] = entry.result.warnings
        else:
            front.item_warnings.pop(rel, None)
    if edits:
        repicture(replace(front.index, stories=tuple(stories[rel] for rel, _ in edits)),
                  front.pictures.generic)
    front.parsed, front.added = changed, 0
    front.edited = frozenset(stories[rel].path for rel, _ in edits)
    front.dates_kept = dates_kept
    front.patched = [rel for rel, _ in edits]
    front.patched_entries = dict(edits)
    return front


def _add(front: GatheredSite, additions: list[tuple[str, CacheEntry]], config: SiteConfig,
         sources: Sources, repicture: Repicture) -> GatheredSite | None:
    """The added items' stories put in their places, pictured, and the editions chosen
    again; None when one of them is not a story of its own under topics the site has, takes
    a page's URL or changes which images are generic."""
    index, tz = front.index, config.tz
    taken = {story.path for story in index.stories} | set(index.moved)
    refs = front.topic_spellings
    added = []
    for _, entry in additions:
        item = entry.result.item
        assert item is not None  # _additions took valid items only
        keys = [name.casefold() for name in item.topics]
        if len(set(keys)) != len(keys):
            return None  # one topic twice, in two spellings: listed twice as grouping does
        topics = []
        for name, key in zip(item.topics, keys, strict=True):
            ref, meta = refs.get(key), config.topic_settings(key)
            # a new topic, or a spelling that might become the topic's name: group again
            if ref is None or (name != ref.name and not (meta and meta.display_name)):
                return None
            topics.append(ref)
        local_date = item.published_at.astimezone(tz)
        path = urls.item_path(local_date, item.slug)
        if path in taken:
            return None  # the same URL as another page: grouping says which
        taken.add(path)
        added.append(make_story(item, path, local_date, tuple(topics)))
    uses = front.pictures.uses
    uses = uses.with_stories(added) if uses is not None else image_stage.image_uses(
        [*index.stories, *added])
    if uses.generic(config.images.generic_threshold) != front.pictures.generic:
        return None  # an image now shown by enough items to be generic: picture all again
    front.index = with_stories_added(index, added, config)
    reached = _more_changed(index.more, front.index.more)
    front.local_images = {**front.local_images, **local_images(added)}
    front.facets = front.facets | item_facets(added)
    front.topic_spellings = {**refs, **topic_spellings(added)}
    front.image_facts = front.image_facts.with_stories(added, front.pictures.generic)
    pictured = repicture(replace(front.index, stories=tuple(added)), front.pictures.generic)
    front.pictures = replace(_with_pictures(front.pictures, pictured), uses=uses)
    front.editions, front.topic_series, edition_warnings = choose_editions(
        config, sources, front.index, front, added)
    front.later_warnings = front.grouping_warnings + edition_warnings
    front.valid_until = until_retry(front.valid_until, pictured.report)
    for rel, entry in additions:
        if entry.result.warnings:
            front.item_warnings[rel] = entry.result.warnings
    front.parsed += len(additions)
    front.added = len(additions)
    # The lists changed: a new site (its edits in it), whose item pages the additions and
    # edits did not reach are as they were in the one they were added to.
    front.added_to, front.stamp, front.reached = front.stamp, new_stamp(), reached
    front.patched_entries.update(additions)
    front.patched = [*(front.patched or []), *(rel for rel, _ in additions)]
    return front


def _more_changed(before: dict[str, tuple[Story, ...]], after: dict[str, tuple[Story, ...]]
                  ) -> frozenset[str]:
    """The stories whose "more" stories are others after stories were added (by path), the
    added ones with them: grouping.with_stories_added keeps the tuples of the others."""
    return frozenset(
        path for path, more in after.items() if more is not before.get(path) and (
            path not in before or [s.path for s in more] != [s.path for s in before[path]]))


def _with_pictures(stage: image_stage.ImageStage, more: image_stage.ImageStage
                   ) -> image_stage.ImageStage:
    """The image stage of the site with the pictures of added stories."""
    paths = {output.path for output in stage.outputs}
    report = replace(stage.report, fetched=stage.report.fetched + more.report.fetched,
                     cached=stage.report.cached + more.report.cached,
                     generated=stage.report.generated + more.report.generated,
                     fallbacks={reason: list(refs) for reason, refs
                                in stage.report.fallbacks.items()},
                     retry_at=min(filter(None, (stage.report.retry_at, more.report.retry_at)),
                                  default=None))
    for reason, refs in more.report.fallbacks.items():
        known = report.fallbacks.setdefault(reason, [])
        known.extend(ref for ref in refs if ref not in known)
    return replace(stage, outputs=[*stage.outputs,
                                   *(o for o in more.outputs if o.path not in paths)],
                   report=report)


def _additions(added: list[SourceFile], records: dict[str, tuple[int, int, str]],
               title_keys: Counter[str], known_urls: list[frozenset[str]],
               settings: LoadSettings,
               tz: tzinfo, now: datetime) -> list[tuple[str, CacheEntry]] | None:
    """The added files validated, if each is a published story of its own: no other item's
    duplicate (by URL, related coverage or title) and no story key; None if not.

    `records`, `title_keys` and `known_urls` (source and related-coverage URLs) learn the
    added items, so that two added alike in one go are seen to meet.
    """
    source_urls, related_urls = set(known_urls[0]), set(known_urls[1])
    additions = []
    for source in added:
        entry = load_one(source, settings)
        records[source.rel] = (entry.size, entry.mtime_ns, entry.content_hash)
        item = entry.result.item
        if item is None or entry.result.problems or not item.published or item.removed \
                or item.published_at > now + FUTURE_TOLERANCE or item.story:
            return None  # invalid, left out of the site or a story key: grouping says
        keys = item.story_keys
        title = title_key(item, tz)
        if (source_urls.intersection(keys.urls) or source_urls.intersection(keys.related)
                or related_urls.intersection(keys.urls) or (title and title_keys[title])):
            return None  # another item's duplicate: merged with it by grouping
        source_urls.update(keys.urls)
        related_urls.update(keys.related)
        if title:
            title_keys[title] += 1
        additions.append((source.rel, entry))
    known_urls[:] = [frozenset(source_urls), frozenset(related_urls)]
    return additions


def _clusters_kept(clusters: ClusterInputs | None, edits: list[tuple[str, CacheEntry]],
                   additions: list[tuple[str, CacheEntry]] = ()
                   ) -> ClusterInputs | None | bool:
    """The story clusters' inputs with the edits' new words and the added items, or False if
    they change a cluster: an edited title or excerpt, or an added item, may make an item
    another's story, and shifts how rare each of its words is for every item."""
    if clusters is None:
        return None
    patched_clusters = clusters.patched(
        {rel: entry.result.item for rel, entry in edits if entry.result.item is not None})
    if patched_clusters is not None and additions:
        patched_clusters = patched_clusters.added(
            [entry.result.item for _, entry in additions if entry.result.item is not None])
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
    sources = (source_of(story) for story in index.stories if not story.also)
    return frozenset(source for source in sources if source not in index.merged)


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
    # read first: a file whose front matter alone changed takes its rendered body from them
    previous = previous_versions([s.rel for s in changed]) if changed else {}
    for source in changed:
        old = previous.get(source.rel)
        entry = load_one(source, settings, old)
        known_digest = records[source.rel][2]
        records[source.rel] = (entry.size, entry.mtime_ns, entry.content_hash)
        if entry.content_hash == known_digest:
            continue  # touched, not changed
        item = entry.result.item
        if source.rel not in patchable or item is None or entry.result.problems:
            return None  # not a story of its own, or no longer valid: a full build says why
        if old is None or old.content_hash != known_digest or old.result.item is None:
            return None  # the item cache does not hold the version the kept state shows
        if not _keeps_its_place(old.result.item, item, title_keys, tz):
            return None
        edits.append((source.rel, entry))
    return edits


def _changed(discovery: Discovery, records: dict[str, tuple[int, int, str]],
             listed: Columns | None = None
             ) -> tuple[list[SourceFile], list[SourceFile]] | None:
    """The content files changed since the kept state, and those added; None if any was
    removed, or so many changed that patching would not pay. `listed`: the records' files
    as discovery lists them (_listed), compared with its columns whole when no file was
    added or removed."""
    found = discovery.columns
    if listed is not None and found.names == listed.names:
        if found.sizes == listed.sizes and found.mtimes == listed.mtimes:
            return [], []
        differ = map(or_, map(ne, found.sizes, listed.sizes), map(ne, found.mtimes, listed.mtimes))
        changed = list(compress(discovery.items, differ))
        return (changed, []) if len(changed) <= MOST_PATCHED else None
    changed: list[SourceFile] = []
    added: list[SourceFile] = []
    for source in discovery.items:
        known = records.get(source.rel)
        if known is None:
            added.append(source)
        elif (source.size, source.mtime_ns) != known[:2]:
            changed.append(source)
        else:
            continue
        if len(changed) + len(added) > MOST_PATCHED:
            return None
    if len(discovery.items) - len(added) != len(records):
        return None  # a file removed
    return changed, added


def _listed(records: dict[str, tuple[int, int, str]]) -> Columns:
    """The records' files in the order discovery lists them, as its columns."""
    names = tuple(sorted(records))
    return Columns(names, array("q", [records[name][0] for name in names]),
                   array("q", [records[name][1] for name in names]))


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
