"""Full-text search for static hosting: a Pagefind index of the item pages in /pagefind/.

The index is fed one record per item page from what the build already holds (title, why,
excerpt, body text, source, topics) through Pagefind's Python API, with the filters the
search page offers (topic, kind, provider): no page is read back from disk or parsed again.
It is made in shards (SHARD_CHARS of content each, two at a time), each a Pagefind index of
its own that the search page merges: Pagefind keeps everything it indexes in memory, and one
index of 10,000 item pages took it 450 to 850 MiB; a shard stays near 150 MiB at any size.

A rebuild indexes only the records that changed since the whole index was made: they go into
a second, small index (/pagefind-recent/) with the list of pages whose entries in the whole
index are out of date (edited or gone), which the search page leaves out. Past MOST_RECENT
changed records the whole index is made again and the small one emptied. Each index is made
in a folder beside the output and swapped in whole: readers never see half an index.
"""

from __future__ import annotations

import base64
import html
import json
import os
import pickle
import re
import shutil
import threading
from collections.abc import Callable, Collection, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from newsdigest.build.output import make_staging, rename_exchange
from newsdigest.errors import NewsdigestError, OutputRefused
from newsdigest.fingerprint import CODE, fingerprint
from newsdigest.outputs import Output
from newsdigest.parallel import ChildFailed, InChild
from newsdigest.store import load_pickle, save_atomic

if TYPE_CHECKING:
    import asyncio

    from newsdigest.stories.grouping import Story, Topic, TopicRef

T = TypeVar("T")

FOLDER = "pagefind"  # every item page, as of the last time the whole index was made
RECENT = "pagefind-recent"  # the item pages changed since, and the ones it replaces
REPLACED = "replaced.json"  # in RECENT: page paths whose entries in FOLDER are out of date
FACETS = "facets.json"  # in RECENT: every kind and provider on the site now, for the filters
SHARDS = "shards.json"  # in FOLDER: its shards, each a Pagefind index in a folder of its own
# Pagefind holds 70 to 90 bytes per character of content while it writes an index: a shard
# this size stays near 200 MiB however large the site.
SHARD_CHARS = 2_000_000
PARALLEL = 2  # shards indexed at once (each a process of its own): the two cores of a laptop
MOST_BODY = 20_000  # characters of an item's body that are searched: one huge body stays small
# Past this many changed records the whole index is made again (seconds): otherwise the
# search page passes over more and more out-of-date entries, and the small index keeps growing.
MOST_RECENT = 300
# Records in flight to the Pagefind service at once: enough to keep it busy, few enough that
# neither process holds more than a screenful of them.
BATCH = 200
# Pagefind's ready-made interfaces (the search page has its own): not written, in any shard.
UNUSED = ("pagefind-ui", "pagefind-component-ui", "pagefind-modular-ui", "pagefind-highlight")
# An item's own kind, else what it is taken as on the search page's kind filter.
DEFAULT_KIND = "news"


@dataclass(frozen=True)
class Record:
    """What the search index knows of one item page."""

    url: str  # site path with a leading slash; the search page adds the base path
    content: str  # the item's words: why, excerpt and body (else its title)
    meta: dict[str, str]  # title, source and topics (searched too), image
    filters: dict[str, list[str]]  # topic (with its parents), kind, provider


@dataclass(frozen=True)
class Records:
    """Each item page's record, keyed by what it is made from, made only when indexed."""

    keys: dict[str, str]  # page file ('news/.../index.html') -> key of its record's inputs
    shown: dict[str, tuple[Story, tuple[str, ...]]] = field(repr=False)  # its story, topics
    facets: dict[str, list[str]]  # kind and provider: every value on the site, sorted

    def make(self, path: str) -> Record:
        return record(*self.shown[path])


def records(stories: Sequence[Story], topics: Sequence[Topic], kinds: Iterable[str],
            providers: Iterable[str], only: Collection[str] | None = None) -> Records:
    """The records of the item pages (one per story), or of the stories whose paths are in
    `only`: keys now, content only for those that are indexed; `kinds` and `providers`:
    those of every item on the site, for the filters ("" for none)."""
    parents = {topic.name: [ref.name for ref in topic.ancestors] for topic in topics}
    names_of: dict[tuple[TopicRef, ...], tuple[tuple[str, ...], str]] = {}
    keys: dict[str, str] = {}
    shown: dict[str, tuple[Story, tuple[str, ...]]] = {}
    for story in stories:
        if not story.path.startswith("news/") or (only is not None and story.path not in only):
            continue
        named = names_of.get(story.topics)
        if named is None:
            names = _topic_names(story.topics, parents)
            named = names_of[story.topics] = (names, "|".join(names))
        path = story.path + "index.html"
        # The story's fingerprint covers the item, its path, topics and picture; its topics'
        # parents come from the settings, and the record's form from the code (the epoch).
        keys[path] = story.fingerprint + "|" + named[1]
        shown[path] = (story, named[0])
    return Records(keys, shown, {"kind": sorted({kind or DEFAULT_KIND for kind in kinds}),
                                 "provider": sorted(set(providers) - {""})})


@dataclass(frozen=True)
class Basis:
    """Which gathering of the site a build's stories are (GatheredSite.stamp), and which of
    them it edited in place since (their paths): of one gathering, a story that neither of
    two builds edited is the same in both."""

    stamp: str
    edited: frozenset[str]


@dataclass(frozen=True)
class Since:
    """What the index record knew of the site it was made for (`basis`): the item pages
    changed since the whole index was made, and the pages of the whole index gone since."""

    basis: Basis
    changed: tuple[str, ...]
    gone: tuple[str, ...]


def _topic_names(refs: tuple[TopicRef, ...], parents: dict[str, list[str]]) -> tuple[str, ...]:
    """A story's topics and their parents: a topic's filter finds what its page lists."""
    names: list[str] = []
    for ref in refs:
        for name in (*parents.get(ref.name, ()), ref.name):
            if name not in names:
                names.append(name)
    return tuple(names)


_BLOCK = re.compile(r"</?(?:p|div|li|ul|ol|h[1-6]|br|hr|tr|td|th|table|blockquote|pre|figure|"
                    r"figcaption|dd|dt|dl|section|aside)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def plain_text(markup: str) -> str:
    """The words of sanitized HTML: blocks apart, inline tags gone (as a browser reads it)."""
    return _SPACE.sub(" ", html.unescape(_TAG.sub("", _BLOCK.sub(" ", markup)))).strip()


def record(story: Story, topic_names: tuple[str, ...]) -> Record:
    item = story.item
    kind = item.kind or DEFAULT_KIND
    body = plain_text(item.body_html)[:MOST_BODY]
    # The content is what a result's excerpt is cut from: the item's own words. Pagefind
    # searches the meta fields too (the title first of all), so the title, source and topics
    # are found there without standing in every excerpt; it also keeps each meta word in
    # memory, so nothing else goes there: the date is in the URL, the kind in the filters.
    content = "\n".join(p for p in (item.why, item.excerpt, body) if p) or item.title
    meta = {name: value for name, value in (
        ("title", item.title), ("source", item.provider.name), ("topics", ", ".join(topic_names)),
    ) if value}
    if story.picture is not None and story.picture.kind == "photo":
        meta["image"] = story.picture.src
    filters = {"topic": list(topic_names), "kind": [kind]}
    if item.provider.name:
        filters["provider"] = [item.provider.name]
    return Record(url="/" + story.path, content=content, meta=meta, filters=filters)


def epoch(language: str) -> str:
    """What every record's form depends on besides its own inputs: the code, the Pagefind
    binary that indexes (its files and their format), named by its path, size and time as
    Pagefind's client finds it (PAGEFIND_BINARY_PATH first), and the language the words are
    split as. Not the package's version: importing importlib.metadata to read it was a
    fifth of the indexing after one edit, and it missed a binary named by that variable."""
    from pagefind.service import get_executable  # not on the way of a build that changed nothing

    binary = get_executable()
    try:
        found = binary.stat() if binary is not None else None
    except OSError:
        found = None
    return fingerprint(CODE, str(binary), found and (found.st_size, found.st_mtime_ns),
                       language)


def refuse_clashes(outputs: Iterable[Output], static_name: str) -> None:
    """A site file where the indexes go is refused: their folders are swapped in whole, so it
    was thrown away each time an index was made and put back by the next build."""
    for out in outputs:
        if out.path.startswith((FOLDER + "/", RECENT + "/")) or out.path in (FOLDER, RECENT):
            where = f"{static_name}/{out.path}" if out.copy_from is not None else out.path
            raise OutputRefused(f"{where}: the search index is written there ({FOLDER}/ and "
                                f"{RECENT}/); move the file, or build with --no-search")


def index_exists(output_dir: Path) -> bool:
    """Both indexes are on disk, every shard too: a build with no input changed makes them
    again when one was deleted behind its back (the search page would miss it, or show the
    whole index's out-of-date entries without the recent one)."""
    try:
        shards = json.loads((output_dir / FOLDER / SHARDS).read_bytes())
    except (OSError, ValueError):
        return False
    if not isinstance(shards, list):
        return False
    return all((output_dir / FOLDER / str(shard) / "pagefind.js").exists() for shard in shards) \
        and (output_dir / RECENT / REPLACED).exists() \
        and (output_dir / RECENT / "pagefind.js").exists()


class IndexUpdate:
    """The search index brought up to date with the item pages (`records`).

    A forked process, started (`start`) before the build plans its pages, decides what to
    index again (the records and the last index's record compared) and makes the new indexes
    in folders beside the output: the build's own process only forks it, then goes on with
    its pages. Pagefind's start-up alone is a tenth of a rebuild after one edit, and the
    Python side (importing asyncio and Pagefind's client, making and comparing the records,
    naming the binary that indexes) would hold the build's GIL while it writes. The indexes
    are swapped in by `finish`, once the pages are written: a build that fails before
    (`abandon`) leaves the old index with the old pages.
    """

    def __init__(self, output_dir: Path, record_file: Path | None,
                 found: Callable[[Collection[str] | None], Records], language: str = "en",
                 basis: Basis | None = None) -> None:
        """`found`: the records of the stories whose paths it is given (of all, given None);
        `basis`: the stories' (None: not known, as in the preview server, whose in-place
        edits are not counted from the site's gathering)."""
        self.output_dir, self.record_file = output_dir, record_file
        self.found, self.language, self.basis = found, language, basis
        self._fresh: dict[str, Path] = {}  # FOLDER and RECENT -> the folder each is made in
        self._whole = False
        self._started = False
        self._maker: InChild[tuple[str, ...] | BaseException] | None = None

    def start(self, whole: bool = False) -> None:
        """Start bringing the index up to date; everything (`whole`) when the output folder
        is being made anew, whatever indexes the old one holds."""
        if self._started:
            return
        self._started = True
        self._whole = whole
        self._fresh = {name: make_staging(self.output_dir, "pagefind")
                       for name in (FOLDER, RECENT)}  # beside the output, never in it
        self._maker = InChild(self._make)

    def finish(self) -> bool:
        """Swap the new indexes in; True if anything was indexed."""
        self.start()
        try:
            made = self._wait()
            if isinstance(made, BaseException):
                raise _index_error(made) from None
            if not made:
                return False
            _forget_record(self.record_file)
            for name in made:
                target, fresh = self.output_dir / name, self._fresh[name]
                if not (target.is_dir() and rename_exchange(fresh, target)):
                    if target.exists():
                        shutil.rmtree(target)
                    os.rename(fresh, target)
                    fresh.mkdir()
            _keep_record(self.record_file)
            return True
        finally:
            self.abandon()

    def abandon(self, tidy: bool = True) -> None:
        """Stop the indexing process, and remove what it made that was not swapped in (a
        failed build's index is not wanted: its pages are not); untidily on Ctrl-C (it was
        stopped too), its folders left to the next build (clean_stale_staging). Pagefind's
        own processes end when their input closes with it."""
        if not tidy:
            self._fresh, self._maker = {}, None
            return
        if self._maker is not None:
            self._maker.stop()
            self._maker = None
        for fresh in self._fresh.values():
            shutil.rmtree(fresh, ignore_errors=True)
        self._fresh = {}
        if self.record_file is not None:
            _next_record(self.record_file).unlink(missing_ok=True)

    def _wait(self) -> tuple[str, ...] | BaseException:
        """The indexes made (FOLDER, RECENT), or what making them failed with, once done;
        made here when no process could be forked, or it died without saying (its folders
        emptied first)."""
        maker, self._maker = self._maker, None
        if maker is not None:
            try:
                return maker.result()
            except ChildFailed:
                pass
        for fresh in self._fresh.values():
            shutil.rmtree(fresh, ignore_errors=True)
            fresh.mkdir()
        return self._make()

    def _make(self) -> tuple[str, ...] | BaseException:
        try:
            planned, record = self._plan()
            recording = None
            if planned and self.record_file is not None:  # kept by finish()
                # written while Pagefind indexes: this process only waits on it meanwhile
                recording = _in_thread(partial(_write_record, _next_record(self.record_file),
                                               record))
            try:
                for name, write in planned:
                    write(self._fresh[name])
            finally:
                if recording is not None:
                    recording()
            return tuple(name for name, _ in planned)
        except BaseException as exc:  # handed to the build's process, raised by finish()
            return exc

    def _plan(self) -> tuple[list[tuple[str, Callable[[Path], None]]], IndexRecord]:
        """The indexes to make (FOLDER, RECENT), each with how; the record of them."""
        language, output_dir, basis = self.language, self.output_dir, self.basis
        now_epoch = epoch(language)
        last = _read_record(self.record_file) \
            if self.record_file is not None and not self._whole else None
        every: Records | None = None  # every story's, once made
        if last is not None and last.made_with == now_epoch and index_exists(output_dir):
            indexed, since = last.indexed, last.since
            if basis is not None and since is not None and since.basis.stamp == basis.stamp:
                # The same gathering of the site as the record's: only the stories edited
                # since, then or now, and the pages changed then can differ from it.
                found = self.found(basis.edited | since.basis.edited | {
                    page.removesuffix("index.html") for page in since.changed})
                gone = list(since.gone)
            else:
                found = every = self.found(None)
                gone = [page for page in indexed if page not in found.keys]
            keys = found.keys
            changed = sorted(page for page, key in keys.items() if indexed.get(page) != key)
            replaced = sorted({page for page in changed if page in indexed}.union(gone))
            if len(changed) + len(replaced) <= MOST_RECENT:
                now = fingerprint([(page, keys[page]) for page in changed], replaced,
                                  found.facets)
                if now == last.recent and (output_dir / RECENT / REPLACED).exists():
                    return [], last
                record = IndexRecord(now_epoch, indexed, now, basis and Since(
                    basis, tuple(changed), tuple(sorted(gone))))
                return [(RECENT, partial(_write_recent, [
                    partial(found.make, page) for page in changed], language, replaced,
                    found.facets))], record
        found = every or self.found(None)
        return [(FOLDER, partial(_write_whole, [
                    partial(found.make, page) for page in sorted(found.keys)], language)),
                (RECENT, partial(_write_recent, [], language, [], found.facets))], \
            IndexRecord(now_epoch, dict(found.keys), fingerprint([], [], found.facets),
                        basis and Since(basis, (), ()))


def _index_error(exc: BaseException) -> BaseException:
    if isinstance(exc, FileNotFoundError):
        return NewsdigestError(f"search index: cannot run pagefind ({exc})")
    if isinstance(exc, NewsdigestError) or not isinstance(exc, Exception):
        return exc
    # the service's own errors come as plain Exceptions
    return NewsdigestError(f"search index: pagefind failed: {str(exc).strip()[-500:]}"
                           " (build with --no-search to skip the search index)")


def _write_whole(makers: Sequence[Callable[[], Record]], language: str, folder: Path) -> None:
    """Every record, in shards of at most SHARD_CHARS characters of content, each a Pagefind
    index of its own (0/, 1/, ...) listed in shards.json: the search page loads the first
    and merges the others into it. One index of 10,000 items took Pagefind 450 to 850 MiB;
    a shard's memory does not grow with the site, and two are made at once."""
    names = _run_apart(_index_shards(folder, makers, language))
    (folder / SHARDS).write_text(json.dumps([f"{name}/" for name in names]))


def _write_recent(makers: Sequence[Callable[[], Record]], language: str, replaced: list[str],
                  facets: dict[str, list[str]], folder: Path) -> None:
    """The records changed since the whole index was made (at most MOST_RECENT: one index),
    the pages whose entries in it they replace, and every kind and provider on the site."""
    if makers:
        _run_apart(_index(folder, [make() for make in makers], language))
    else:
        (folder / "pagefind.js").write_text("export {};\n")  # nothing to find, nothing new
    # as the search page sees them: the page's folder, without index.html
    (folder / REPLACED).write_text(json.dumps([path.removesuffix("index.html")
                                               for path in replaced]))
    (folder / FACETS).write_text(json.dumps(facets, ensure_ascii=False))


def _run_apart(work: Coroutine[Any, Any, T]) -> T:
    """Run the indexing in an event loop of its own thread: the caller's thread may be
    running one already (a browser driven from a test, an embedding application)."""

    def run() -> T:
        import asyncio  # only a build that indexes needs it: 12 ms of a no-change build

        return asyncio.run(asyncio.wait_for(work, timeout=900))

    return _in_thread(run, "pagefind")()


def _in_thread(task: Callable[[], T], name: str = "") -> Callable[[], T]:
    """`task` started in a thread of its own; returns the function that waits for its
    result, and raises what it raised."""
    done: list[T] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            done.append(task())
        except BaseException as exc:  # handed to the waiting thread, raised there
            failed.append(exc)

    worker = threading.Thread(target=run, name=name or None)
    worker.start()

    def wait() -> T:
        worker.join()
        if failed:
            raise failed[0]
        return done[0]

    return wait


async def _index_shards(folder: Path, makers: Sequence[Callable[[], Record]],
                        language: str) -> list[str]:
    """Make the records a shard at a time, PARALLEL shards being indexed at once."""
    import asyncio

    running: set[asyncio.Task[None]] = set()
    names: list[str] = []

    async def wait(until: int) -> None:
        nonlocal running
        while len(running) > until:
            finished, running = await asyncio.wait(running,
                                                   return_when=asyncio.FIRST_COMPLETED)
            for task in finished:
                task.result()  # its error, if any

    def start(batch: list[Record]) -> None:
        names.append(str(len(names)))
        running.add(asyncio.create_task(_index(folder / names[-1], batch, language)))

    try:
        batch: list[Record] = []
        size = 0
        for make in makers:
            made = make()
            batch.append(made)
            size += len(made.content)
            if size >= SHARD_CHARS:
                await wait(PARALLEL - 1)
                start(batch)
                batch, size = [], 0
        if batch:
            await wait(PARALLEL - 1)
            start(batch)
        await wait(0)
    finally:
        for task in running:
            task.cancel()
    return names


async def _index(folder: Path, made: Sequence[Record], language: str) -> None:
    """Feed the records to a Pagefind service a batch at a time, then write its files."""
    import asyncio

    from pagefind.service import PagefindService  # only a build with search needs it

    service = await _service_class(PagefindService)().launch()
    try:
        index = await service.create_index({"force_language": language})
        for start in range(0, len(made), BATCH):
            await asyncio.gather(*(index.add_custom_record(
                url=one.url, content=one.content, language=language, meta=one.meta,
                filters=one.filters) for one in made[start:start + BATCH]))
        # Its files come back through the pipe and are written here: Pagefind 1.5.2 answers
        # a WriteFiles request before its last writes reach the disk, and closing the
        # service then cut files short (an empty pagefind-entry.json, now and then).
        made_files = await index.get_files()
    finally:
        await service.close()
    for made_file in made_files:
        if made_file["path"].startswith(UNUSED):
            continue
        target = folder / made_file["path"]
        if not target.resolve().is_relative_to(folder.resolve()):
            raise NewsdigestError(f"search index: pagefind named a file outside its folder:"
                                  f" {made_file['path']!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(made_file["content"])
    if not (folder / "pagefind.js").exists():
        raise NewsdigestError("search index: pagefind wrote no index"
                              " (build with --no-search to skip the search index)")


def _service_class(base: type) -> type:
    """Pagefind's service with a reader that takes each answer as it comes.

    The one it ships waits a tenth of a second before reading each answer (Pagefind issue
    976): 10,000 records took 1,000 s. This reads the same messages (base64 JSON, each ended
    by a comma) without the wait, and fails every pending request if the service dies,
    instead of leaving them waiting for ever.
    """

    class Service(base):  # type: ignore[misc, valid-type]
        async def _wait_for_responses(self) -> None:
            # Read in pieces and split on commas here: the shipped reader's readuntil stops
            # at 2 MiB, and the index's files come back as one message (get_files).
            pending = bytearray()
            scanned = 0
            try:
                while True:
                    piece = await self._backend.stdout.read(1 << 16)
                    if not piece:
                        raise ConnectionError("it closed its output")
                    pending += piece
                    while (end := pending.find(b",", scanned)) >= 0:
                        self._answer(bytes(pending[:end]))
                        del pending[:end + 1]
                        scanned = 0
                    scanned = len(pending)
            except (ConnectionError, ValueError) as exc:
                _fail_all(self._responses, f"the pagefind service stopped ({exc})")

        def _answer(self, message: bytes) -> None:
            answer = json.loads(base64.b64decode(message))
            if not answer:
                return
            # (popped: the shipped reader keeps every answer until the end)
            waiting = self._responses.pop(answer.get("message_id"), None)
            payload = answer.get("payload") or {}
            if waiting is None or waiting.done():
                if payload.get("type") == "Error":  # a message it could not read
                    _fail_all(self._responses, payload.get("message", "error"))
                return
            if payload.get("type") == "Error":
                waiting.set_exception(Exception(payload.get("message", "error")))
            else:
                waiting.set_result(payload)

    return Service


def _fail_all(waiting: dict[int, asyncio.Future[Any]], why: str) -> None:
    for future in waiting.values():
        if not future.done():
            future.set_exception(Exception(why))


class IndexRecord(NamedTuple):
    """What the indexes on disk hold: made with what (epoch), the key of each page in the
    whole index, the print of the recent index, and what was known of the site then."""

    made_with: str
    indexed: dict[str, str]
    recent: str
    since: Since | None


def _read_record(record_file: Path) -> IndexRecord | None:
    match load_pickle(record_file):
        case (str() as made_with, dict() as indexed, str() as recent,
              Since() | None as since):
            return IndexRecord(made_with, indexed, recent, since)
        case _:
            return None


def _forget_record(record_file: Path | None) -> None:
    """Before an index is swapped in: the record names what the indexes on disk hold, and a
    build stopped before it writes the new one must leave the next build none to trust (else
    it indexes again what the new whole index has, or keeps a recent index made for an edit
    since undone); with none, the next build makes the whole index."""
    if record_file is not None:
        record_file.unlink(missing_ok=True)


def _next_record(record_file: Path) -> Path:
    """Where the indexing process leaves the record of what it made, until it is swapped in."""
    return record_file.with_name(record_file.name + ".next")


def _write_record(path: Path, record: IndexRecord) -> None:
    save_atomic(path, pickle.dumps(tuple(record), pickle.HIGHEST_PROTOCOL))


def _keep_record(record_file: Path | None) -> None:
    """Once the indexes it names are swapped in, the record the indexing process made."""
    if record_file is not None:
        os.replace(_next_record(record_file), record_file)

