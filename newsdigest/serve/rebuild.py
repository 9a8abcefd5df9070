"""Preview builds for `serve`: route each batch of changes to the smallest rebuild that is exact.

- site.toml or a template changed: the incremental build (fingerprints decide what to render).
- only static files changed (none deleted): copy them; nothing is rendered.
- only item files changed, each in place (it keeps its URL, date, topics, ranking and status):
  its own page is rendered and written first, from the last build's index, so the page being
  edited updates in milliseconds; then the incremental build updates its lists, feeds and
  neighbours. That build re-derives everything from the files, so a quick page that ever
  differed from what the full pipeline makes is corrected (and the browser reloaded) at once.
- anything else (files added or removed, an item moved or broken): the incremental build.

A failed build writes nothing: the last good site stays served and the errors are reported.
"""

from __future__ import annotations

import re
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from newsdigest.build import output
from newsdigest.build.gather import WarmState
from newsdigest.build.pipeline import (
    BuildOptions,
    BuildReport,
    build_site,
)
from newsdigest.build.plan import page_outputs, static_outputs
from newsdigest.config.site import SiteConfig
from newsdigest.content.files import ITEM_SUFFIXES, SourceFile
from newsdigest.content.item import Item
from newsdigest.content.loading import LoadSettings, load_one
from newsdigest.errors import SECRET_FIELDS, ContentInvalid, NewsdigestError
from newsdigest.render import default_theme_dir
from newsdigest.render.pages import item_page
from newsdigest.render.theme import Theme
from newsdigest.serve.watcher import Changes, Sources
from newsdigest.stories.grouping import SiteIndex, Story, make_story

SERVE_OUTPUT = "serve-public"  # inside the cache folder: public/ keeps the deployable build
CONTEXT_BYTES = 256 * 1024  # enough for any line an error points at; never a whole huge file
QUICK_LIMIT = 20  # more edited items than this at once go straight to the incremental build

# Item fields that decide where a story appears (URL, order, topics, top stories, selection,
# duplicates). An edit that changes none of them leaves every list in place.
_PLACEMENT_FIELDS = ("source", "slug", "published_at", "url", "topics", "quality", "heat",
                     "published", "removed")
# A line that starts a secret field (`secured:`), as a key of a block mapping (or a list entry's
# mapping) or of a flow mapping: found in the text, since the YAML may be what failed to parse.
_SECRET_NAMES = "|".join(re.escape(name) for name in sorted(SECRET_FIELDS))
_SECRET_KEY = re.compile(rf"""(?:^\s*(?:-\s+)*|[{{,]\s*)(["']?)(?:{_SECRET_NAMES})\1\s*:""")
_BOUNDARY_LINE = re.compile(r"^-{3,}\s*$")  # as content.py splits front matter from the body
_KEY_LINE = re.compile(r"""^\s*(?:"[^"]*"|'[^']*'|[^\s#'"-][^:#]*?)\s*:(?:\s|$)""")
HIDDEN = "[not shown]"


@dataclass(frozen=True)
class ErrorEntry:
    """One build error as the browser overlay shows it."""

    file: str
    line: int | None
    message: str
    context: tuple[tuple[int, str], ...] = ()  # (line number, text) around the line


@dataclass(frozen=True)
class Rebuild:
    """What one rebuild did: the output files it changed, or why it failed."""

    kind: str  # 'build', 'pages' (quick item pages) or 'static'
    seconds: float
    changed: tuple[str, ...] | None = ()  # output paths; None = possibly everything (full build)
    report: BuildReport | None = None
    error: BaseException | None = None  # a NewsdigestError, or a bug (reported, never fatal)
    errors: tuple[ErrorEntry, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None


class Preview:
    """The site as served: its settings, the last good build's index, and a warm theme."""

    def __init__(self, make_config: Callable[[], SiteConfig], options: BuildOptions):
        self._make_config = make_config
        self.options = options
        self.config = make_config()
        self._index: SiteIndex | None = None  # of the last successful build, None after a failure
        self._by_source: dict[str, Story] = {}
        self._theme: Theme | None = None
        self._config_failed = False  # site.toml is broken: keep trying it before each build
        self._warm = WarmState()

    @property
    def output_dir(self) -> Path:
        return self.config.output_dir

    def sources(self, config_file: Path | None) -> Sources:
        theme = default_theme_dir()
        return Sources(
            content=self.config.content_dir,
            templates=_unique((self.config.templates_dir, theme / "templates")),
            static=_unique((self.config.static_dir, theme / "static")),
            config=config_file,
        )

    def build(self) -> Rebuild:
        """The incremental build of the whole site."""
        started = time.perf_counter()
        try:
            report = build_site(self.config, self.options, warm=self._warm)
        except Exception as exc:  # noqa: BLE001 - the server outlives any failure, bugs included
            self._index, self._by_source = None, {}
            return _failure("build", started, exc, self.config)
        self._index = report.index
        self._by_source = {s.item.source: s for s in report.index.stories} if report.index else {}
        self._warm_theme()
        changed = None if report.write.full else tuple(report.write.changed)
        return Rebuild("build", time.perf_counter() - started, changed, report)

    def rebuild(self, changes: Changes, publish: Callable[[Rebuild], None]) -> None:
        """Bring the served site up to date with a batch of changes, publishing each step."""
        reload_config = changes.config or self._config_failed
        if reload_config:
            started = time.perf_counter()
            try:
                self.config = self._make_config()
                self._config_failed = False
            except Exception as exc:  # noqa: BLE001 - shown in the browser; serving goes on
                self._config_failed, self._index = True, None
                publish(_failure("build", started, exc, self.config))
                return
        if reload_config or changes.templates:
            self._theme = None
        only_static = not (changes.content or changes.templates or reload_config)
        if only_static and all(path.exists() for path in changes.static):
            publish(self.copy_static())
            return
        if not (changes.static or changes.templates or reload_config):
            quick = self.quick_pages(changes.content)
            if quick is not None:
                publish(quick)
        publish(self.build())

    def close(self) -> None:
        """Leave the item cache on disk for the next build or preview."""
        try:
            self._warm.save(self.config)
        except OSError:
            pass  # only a cache: the next build validates what it cannot find

    def _warm_theme(self) -> None:
        """Compile the item page's templates now, so the next quick page does not wait for it."""
        if self._theme is None:
            try:
                self._theme = Theme(self.config)
                self._theme.preload(["item.html", "_card.html"])
            except NewsdigestError:
                self._theme = None  # the build that needs it will report the error

    def copy_static(self) -> Rebuild:
        """Copy the static files whose bytes changed; render nothing."""
        started = time.perf_counter()
        try:
            _, report = output.write_incremental(static_outputs(self.config), {},
                                                 self.output_dir, workers=1)
        except Exception as exc:  # noqa: BLE001
            return _failure("static", started, exc, self.config)
        return Rebuild("static", time.perf_counter() - started, tuple(report.changed))

    def quick_pages(self, paths: Iterable[Path]) -> Rebuild | None:
        """The pages of items edited in place, from the last index; None if any edit is not."""
        started = time.perf_counter()
        if self._index is None:
            return None
        paths = sorted(paths)
        if len(paths) > QUICK_LIMIT:
            return None
        settings = LoadSettings.of(self.config)
        specs = []
        for path in paths:
            if not path.name.lower().endswith(ITEM_SUFFIXES) or not path.is_file():
                return None
            rel = path.relative_to(self.config.content_dir).as_posix()
            old = self._by_source.get(rel)
            result = load_one(SourceFile(str(path), rel), settings).result
            if old is None or result.item is None or result.problems:
                return None
            if _placement(result.item) != _placement(old.item):
                return None
            if (result.item.images, result.item.provider.logo) != (old.item.images,
                                                                  old.item.provider.logo):
                return None  # a new picture to choose: the image stage decides
            story = replace(make_story(result.item, old.path, old.local_date, old.topics,
                                       old.also),
                            picture=old.picture, logo=old.logo)
            specs.append(item_page(story, self._index.more.get(old.path, ()), self.config))
        try:
            if self._theme is None:
                self._theme = Theme(self.config)
            outputs = page_outputs(specs, self._theme, self.config)
            _, report = output.write_incremental(outputs, {}, self.output_dir, workers=1)
        except NewsdigestError:
            return None  # the incremental build that follows reports it
        return Rebuild("pages", time.perf_counter() - started, tuple(report.changed))


def serve_config(config: SiteConfig, base_url: str) -> SiteConfig:
    """The settings of a preview: local links, and an output folder of its own in the cache."""
    return replace(config.with_overrides(base_url=base_url),
                   output_dir=config.cache_dir / SERVE_OUTPUT)


def _placement(item: Item) -> tuple[object, ...]:
    return tuple(getattr(item, name) for name in _PLACEMENT_FIELDS)


def _unique(paths: tuple[Path, ...]) -> tuple[Path, ...]:
    return tuple(dict.fromkeys(paths))


def _failure(kind: str, started: float, exc: BaseException, config: SiteConfig) -> Rebuild:
    return Rebuild(kind, time.perf_counter() - started, (), error=exc,
                   errors=tuple(error_entries(exc, config)))


def error_entries(exc: BaseException, config: SiteConfig) -> list[ErrorEntry]:
    """The errors of a failed build, each with its file and line where known."""
    if isinstance(exc, NewsdigestError):
        # Content problems name files of the content folder; the others, files as they are.
        base = config.content_dir if isinstance(exc, ContentInvalid) else Path()
        return [
            _entry(base / p.path, p.line, str(replace(p, path="", line=None)))
            if p.path else ErrorEntry("", None, str(p))
            for p in exc.problems
        ] or [ErrorEntry("", None, str(exc))]
    frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = (frame[0].filename, frame[0].lineno) if frame else ("", None)
    return [ErrorEntry(_shown_file(Path(where[0])) if where[0] else "", where[1],
                       f"internal error: {type(exc).__name__}: {exc} (details in the terminal)")]


def _entry(path: Path, line: int | None, message: str) -> ErrorEntry:
    return ErrorEntry(_shown_file(path), line, message, _context(path, line))


def _context(path: Path, line: int | None, before: int = 2, after: int = 1,
             width: int = 160) -> tuple[tuple[int, str], ...]:
    """The lines around a located error, as the overlay shows them under the message."""
    if line is None:
        return ()
    try:
        with path.open("rb") as handle:
            text = handle.read(CONTEXT_BYTES).decode("utf-8", "replace")
    except OSError:
        return ()
    lines = text.splitlines()
    first = max(1, line - before)
    hidden = secret_lines(lines)
    return tuple((number, hidden.get(number - 1, lines[number - 1])[:width])
                 for number in range(first, min(len(lines), line + after) + 1))


def secret_lines(lines: list[str]) -> dict[int, str]:
    """The lines (by 0-based index) that hold a secret field's value, each as it may be shown:
    the key kept, the value replaced. A value goes on up to the next line that starts another
    field no deeper than its key (past a block scalar, a folded or broken plain one, list
    entries) and, when it opens a quote, to the line that closes it. When in doubt a line is
    hidden: this only decides what an error shows, and a broken value is what errors point at."""
    hidden: dict[int, str] = {}
    index = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    if index == len(lines) or not _BOUNDARY_LINE.match(lines[index]):
        return hidden  # no front matter
    index += 1
    while index < len(lines) and not _BOUNDARY_LINE.match(lines[index]):
        key = _SECRET_KEY.search(lines[index])
        if key is None:
            index += 1
            continue
        line = lines[index]
        hidden[index] = f"{line[:key.end()]} {HIDDEN}"
        indent = len(line) - len(line.lstrip())
        value = line[key.end():].strip()
        quote = value[:1] if value[:1] in ("'", '"') else ""
        open_quote = bool(quote) and quote not in value[1:]
        index += 1
        while index < len(lines) and not _BOUNDARY_LINE.match(lines[index]):
            following = lines[index]
            deeper = len(following) - len(following.lstrip()) > indent
            if not (deeper or open_quote or not _KEY_LINE.match(following)):
                break
            if following.strip():  # a blank line shows nothing of the value
                hidden[index] = following[: len(following) - len(following.lstrip())] + HIDDEN
            open_quote = open_quote and quote not in following
            index += 1
    return hidden


def _shown_file(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)
