"""Plan every HTML page: which template, with which values, at which path.

Planning is cheap and pure; rendering happens later and only for pages whose fingerprint
(template files + settings + the values below) changed since the last build.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any, Generic, NamedTuple, TypeVar

from newsdigest import urls
from newsdigest.config.site import SiteConfig
from newsdigest.content.item import KINDS
from newsdigest.fingerprint import plain_repr
from newsdigest.stories.grouping import Month, SiteIndex, Story, Topic, TopicRef

T = TypeVar("T")
PHASE_ITEMS = 1
PHASE_LISTS = 2


# Crumbs, links and navigation are named tuples, not frozen dataclasses: planning makes
# several for every list page of the site (over twenty thousand at 30,000 items) in about
# half the time, and their repr, which fingerprints take, reads the same.
class Crumb(NamedTuple):
    label: str
    path: str


@plain_repr
@dataclass(frozen=True)
class PageMeta:
    """What every page says about itself: <title>, h1, description, canonical path."""

    kind: str
    path: str
    heading: str
    title: str
    description: str
    breadcrumbs: tuple[Crumb, ...] = ()


FRONT = 0  # the number of a list's front page, the one at its short URL


class PageLink(NamedTuple):
    label: str  # 'Latest' (the front page) or the page's number
    path: str | None  # None: a gap in the numbers
    current: bool = False
    front: bool = False  # the link to the front page
    # A number two from the current page with a gap beside it: a narrow screen leaves it out
    # and the gap still says that numbers are missing there.
    far: bool = False


class Pagination(NamedTuple):
    """The navigation of one page of a list (see `paginate`): made from the page's number and
    the list's top page number alone, and from the latter only for the top three pages."""

    page: int  # FRONT, or 1 (the oldest) to m
    newer: str | None  # rel=prev
    older: str | None  # rel=next
    links: tuple[PageLink, ...]  # empty for a list of one page


class Navigation:
    """The navigation of one page of a list, made when first read, as `navigation` makes it.
    A rebuild after one edit renders a few of the site's list pages: made for every one,
    their navigation was a third of planning them.

    Its repr, which fingerprints take, names what it is made from instead: the page's number
    and, while its links depend on it, the list's top page number (`navigation`: page k's
    links are the same for every top from k + 3 up). A page's fingerprint covers its path,
    which names the list; making every navigation to take its repr was half of
    fingerprinting every list page after an addition."""

    __slots__ = ("page", "_top", "_path_of", "_made")

    def __init__(self, page: int, top: int, path_of: Callable[[int], str]) -> None:
        self.page, self._top, self._path_of = page, top, path_of
        self._made: Pagination | None = None

    def made(self) -> Pagination:
        if self._made is None:
            self._made = navigation(self.page, self._top, self._path_of)
        return self._made

    @property
    def newer(self) -> str | None:
        return self.made().newer

    @property
    def older(self) -> str | None:
        return self.made().older

    @property
    def links(self) -> tuple[PageLink, ...]:
        return self.made().links

    def __repr__(self) -> str:
        depends = self.page == FRONT or self.page + 3 > self._top
        return f"Navigation({self.page}, {self._top if depends else 'any'})"


@dataclass(frozen=True)
class ListPage(Generic[T]):
    number: int  # FRONT, or 1 (the oldest) to m
    items: tuple[T, ...]  # newest first
    pagination: Navigation


@plain_repr
@dataclass(frozen=True)
class TopicSummary:
    ref: TopicRef
    count: int | None  # None on a topic's archive pages
    description: str
    depth: int
    latest: Story | None


@plain_repr
@dataclass(frozen=True)
class MonthSummary:
    label: str
    path: str
    count: int


@plain_repr
@dataclass(frozen=True)
class YearSummary:
    year: int
    path: str
    count: int
    months: tuple[MonthSummary, ...]


@dataclass(frozen=True)
class PageSpec:
    path: str  # page path: 'topics/ai/' (its file is path + 'index.html')
    template: str
    # The template's values, or a function making them: an item page's are made only if it
    # is rendered (a rebuild after one edit renders a few dozen of 8,000 item pages), a list
    # page's only if it is fingerprinted or rendered (most keep the last build's fingerprint).
    values: dict[str, Any] | Callable[[], dict[str, Any]]
    phase: int = PHASE_LISTS
    uses_cards: bool = True
    # What the values are computed from, when that is smaller than the values themselves (it
    # is what the page's fingerprint covers); None means the values.
    inputs: Any = None
    listed: bool = True  # in the sitemaps (a page that only sends readers elsewhere is not)
    story: Story | None = None  # the story an item page shows
    # Every story whose values the page's values hold (its fingerprint covers no other):
    # after edits to other stories alone it is as the last build made it. None: not known.
    shows: tuple[Story, ...] | None = None
    # The stories of the list it is a page of, whose newest change is the page's last change
    # in the sitemaps (sitemaps.SitemapFile.changes); none for a page of no such list.
    listing: tuple[Story, ...] = ()

    @cached_property
    def context(self) -> dict[str, Any]:
        return self.values() if callable(self.values) else self.values


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    cut = cut.rsplit(" ", 1)[0] if " " in cut[limit // 2 :] else cut
    return cut.rstrip(" ,;:.-–—") + "…"


def plan_pages(index: SiteIndex, config: SiteConfig, latest_edition: Any = None,
               topic_editions: dict[str, str] | None = None,
               kept: Collection[str] = ()) -> list[PageSpec]:
    """Every page but the digest's (digestpages.py) and the item pages at the `kept` paths
    (made by the last build as they would be now); `latest_edition` is linked from home,
    and each topic's own weekly editions (`topic_editions`: slug -> path) from its pages."""
    pages: list[PageSpec] = []
    pages.extend(_item_pages(index, config, kept))
    pages.extend(_home_pages(index, config, latest_edition))
    pages.extend(_topic_pages(index, config, topic_editions or {}))
    pages.extend(_archive_pages(index, config))
    pages.extend(_moved_pages(index, config))
    pages.append(PageSpec("search/", "search.html", {"page": PageMeta(
        "search", "search/", "Search", f"Search · {config.title}",
        f"Search every news item of {config.title}.", (Crumb("Home", ""),),
    ), "topics": tuple(topic.ref for topic in index.topics), "kinds": KINDS},
        uses_cards=False, shows=()))
    pages.append(PageSpec("404.html", "404.html", {"page": PageMeta(
        "404", "404.html", "Page not found", f"Page not found · {config.title}",
        "The page you asked for is not here.",
    )}, uses_cards=False, shows=()))
    return pages


def cut(items: tuple[T, ...], size: int) -> tuple[tuple[T, ...], tuple[tuple[T, ...], ...]]:
    """A list (newest first) as its front page and its archive pages, each newest first.

    The front holds the newest `size` items; the older ones are cut from the OLDEST into
    pages of exactly `size`, numbered 1 (the oldest) up to m, and the newest remainder joins
    page m (which holds `size` to 2 * `size` - 1 items, or all if fewer than `size` are left).
    An added newest item then changes the front page and page m only, and every `size` adds
    page m splits into m and m + 1: a full archive page keeps its URL and items forever.
    The second value is the archive pages in order of their number: page k is at [k - 1].
    """
    front, rest = items[:size], items[size:]
    if not rest:
        return front, ()
    top = max(1, len(rest) // size)  # m
    end = len(rest)  # rest[start:end] is page k, from the oldest end of the list
    pages = []
    for _ in range(top - 1):
        pages.append(rest[end - size : end])
        end -= size
    pages.append(rest[:end])
    return front, tuple(pages)


def navigation(page: int, top: int, path_of: Callable[[int], str]) -> Pagination:
    """The links of page `page` (FRONT or 1 to `top`, the newest archive page m): newer and
    older, then 'Latest' (the front page), the pages within two of this one, and page 1,
    with a gap wherever numbers are left out. No count of pages or items: page k's
    navigation stays the same as the list grows, once m is three past it."""
    if top == 0:
        return Pagination(page, None, None, ())
    newer, older = neighbours(page, top, path_of)
    if page == FRONT:
        high, low = top, max(1, top - 2)
    else:
        high, low = min(top, page + 2), max(1, page - 2)
    links = [PageLink("Latest", path_of(FRONT), page == FRONT, front=True)]
    if page != FRONT and high < top:
        links.append(PageLink("…", None))
    far = {top - 2} if page == FRONT else {page + 2 if page + 2 < top else 0, page - 2}
    links += [PageLink(str(n), path_of(n), n == page, far=n in far and n > 2)
              for n in range(high, low - 1, -1)]
    if low > 2:
        links.append(PageLink("…", None))
    if low > 1:
        links.append(PageLink("1", path_of(1), page == 1))
    return Pagination(page, newer, older, tuple(links))


def neighbours(page: int, top: int, path_of: Callable[[int], str]
               ) -> tuple[str | None, str | None]:
    """The paths of the pages newer and older than page `page` (FRONT or 1 to `top`) of a
    list with `top` archive pages (None: there is none)."""
    if top == 0:
        return None, None
    if page == FRONT:
        return None, path_of(top)
    return path_of(page + 1 if page < top else FRONT), path_of(page - 1) if page > 1 else None


def paginate(items: tuple[T, ...], size: int, path_of: Callable[[int], str]
             ) -> list[ListPage[T]]:
    """Every page of a list with its navigation: the front page, then m down to 1 (`cut`).
    `path_of(n)` is the path of page n (FRONT: the list's own short path)."""
    front, archive = cut(items, size)
    top = len(archive)
    pages = [ListPage(FRONT, front, Navigation(FRONT, top, path_of))]
    for number in range(top, 0, -1):
        pages.append(ListPage(number, archive[number - 1], Navigation(number, top, path_of)))
    return pages


def day_range(stories: tuple[Story, ...]) -> str:
    """'March 3 to 9, 2026' from the oldest to the newest of a page's stories (newest
    first): what an archive page says about itself, fixed once the page is full."""
    if not stories:
        return ""
    first, last = stories[-1].local_date, stories[0].local_date
    if first.date() == last.date():
        return f"{first:%B} {first.day}, {first.year}"
    if first.year != last.year:
        return f"{first:%B} {first.day}, {first.year} to {last:%B} {last.day}, {last.year}"
    if first.month != last.month:
        return f"{first:%B} {first.day} to {last:%B} {last.day}, {last.year}"
    return f"{first:%B} {first.day} to {last.day}, {last.year}"


def page_title(base: str, page: int, config: SiteConfig) -> str:
    """The <title> of page `page` of a paginated list (FRONT: its front page)."""
    return f"{base} · page {page} · {config.title}" if page else f"{base} · {config.title}"


def _item_pages(index: SiteIndex, config: SiteConfig, kept: Collection[str]) -> list[PageSpec]:
    return [item_page(story, index.more.get(story.path, ()), config) for story in index.stories
            if story.path not in kept]


def item_page(story: Story, more: tuple[Story, ...], config: SiteConfig) -> PageSpec:
    """The page of one story, with the stories shown below it as 'more from its topics'."""
    return PageSpec(
        story.path, "item.html", partial(_item_context, story, more, config), phase=PHASE_ITEMS,
        # The page meta is made from the story and settings alone; a story's fingerprint
        # is its repr, joined here because 8,000 reprs of tuples were a tenth of a rebuild.
        inputs=" ".join([story.fingerprint, *(m.fingerprint for m in more)]),
        story=story,
    )


def _item_context(story: Story, more: tuple[Story, ...], config: SiteConfig) -> dict[str, Any]:
    item = story.item
    crumbs = (Crumb("Home", ""),)
    if story.topics:
        crumbs += (Crumb(story.topics[0].name, story.topics[0].path),)
    heading = shorten(item.title, config.max_title_chars)
    meta = PageMeta(
        kind="item",
        path=story.path,
        heading=heading,
        title=f"{heading} · {config.title}",
        description=shorten(item.excerpt or item.title, 300),
        breadcrumbs=crumbs,
    )
    names = [topic.name for topic in story.topics]
    more_on = ", ".join(names) if len(names) < 3 else "these topics"
    return {"page": meta, "story": story, "more": more, "more_on": more_on}


def _home_pages(index: SiteIndex, config: SiteConfig,
                latest_edition: Any = None) -> list[PageSpec]:
    top_paths = {s.path for s in index.top_stories}
    return [PageSpec(urls.home_path(page.number), "index.html",
                     partial(_home_values, page, index, config, latest_edition, top_paths),
                     shows=page.items + (index.top_stories if page.number == FRONT else ()),
                     listing=_home_listing(page, top_paths))
            for page in paginate(index.stories, config.page_size, urls.home_path)]


def _home_listing(page: ListPage[Story], top_paths: set[str]) -> tuple[Story, ...]:
    """The stories of a page of the home list: on the front page, those below the top
    stories (all, when every one is a top story)."""
    if page.number != FRONT:
        return page.items
    return tuple(s for s in page.items if s.path not in top_paths) or page.items


# A list page's values are made when first read (PageSpec.context): a rebuild after one edit
# takes most list pages' fingerprints from the last build, and making the values of every one
# (their dates, titles and descriptions) was a fifth of planning at 30,000 items.
def _home_values(page: ListPage[Story], index: SiteIndex, config: SiteConfig,
                 latest_edition: Any, top_paths: set[str]) -> dict[str, Any]:
    number, chunk = page.number, page.items
    path = urls.home_path(number)
    dates = ""
    if number == FRONT:
        heading, title = "Latest AI news", f"{config.title} · {config.description}"
        description = config.description
        chunk = _home_listing(page, top_paths)
    else:
        heading, title = f"Latest AI news, page {number}", page_title("Latest", number, config)
        dates = day_range(chunk)
        description = f"{heading}: stories from {dates}."
    return {
        "page": PageMeta("home", path, heading, title, description),
        "stories": chunk,
        "top_stories": index.top_stories if number == FRONT else (),
        "pagination": page.pagination,
        "dates": dates,
        "latest_edition": latest_edition if number == FRONT else None,
    }


def _topic_pages(index: SiteIndex, config: SiteConfig,
                 topic_editions: dict[str, str]) -> list[PageSpec]:
    by_slug = {t.slug: t for t in index.topics}
    summaries = tuple(_topic_tree(index.topics, by_slug))
    pages = [PageSpec("topics/", "topics.html", {
        "page": PageMeta("topics", "topics/", "Topics", f"Topics · {config.title}",
                         f"All {len(index.topics)} topics of {config.title}.",
                         (Crumb("Home", ""),)),
        "topics": summaries,
    }, uses_cards=False, shows=tuple(s.latest for s in summaries if s.latest is not None))]
    for topic in index.topics:
        crumbs = (Crumb("Home", ""), Crumb("Topics", "topics/")) + tuple(
            Crumb(a.name, a.path) for a in topic.ancestors
        )
        header = _topic_header(topic, by_slug)
        # An archive page shows no count (of the topic's items, or its subtopics'): it would
        # change with every item added, and so would every page of the topic.
        archive_header = _topic_header(topic, by_slug, counted=False)
        editions = topic_editions.get(topic.slug, "")
        pages += [PageSpec(urls.topic_path(topic.slug, page.number), "topic.html",
                           partial(_topic_values, page, topic, crumbs,
                                   header if page.number == FRONT else archive_header,
                                   editions, config),
                           shows=page.items, listing=page.items)
                  for page in paginate(topic.stories, config.page_size,
                                       partial(urls.topic_path, topic.slug))]
    return pages


def _topic_values(page: ListPage[Story], topic: Topic, crumbs: tuple[Crumb, ...],
                  header: TopicHeader, editions: str, config: SiteConfig) -> dict[str, Any]:
    number, chunk = page.number, page.items
    path = urls.topic_path(topic.slug, number)
    dates = ""
    if number == FRONT:
        heading = topic.name
        description = topic.description or (
            f"{len(topic.stories)} news items about {topic.name}, newest first."
        )
    else:
        heading = f"{topic.name}, page {number}"
        dates = day_range(chunk)
        description = f"News about {topic.name}, page {number}: stories from {dates}."
    return {
        "page": PageMeta("topic", path, heading, page_title(topic.name, number, config),
                         description, crumbs),
        "topic": header,
        "editions": editions,
        "stories": chunk,
        "pagination": page.pagination,
        "dates": dates,
    }


@plain_repr
@dataclass(frozen=True)
class TopicHeader:
    """A topic as its pages show it: no story list, so an edit elsewhere leaves pages alone."""

    ref: TopicRef
    description: str
    image: str
    count: int | None  # None on archive pages: it changes with every item added
    parent: TopicRef | None
    children: tuple[TopicSummary, ...]


def _topic_header(topic: Topic, by_slug: dict[str, Topic], counted: bool = True
                  ) -> TopicHeader:
    """The topic's header; `counted=False` leaves the counts out (None), for archive pages."""
    children = tuple(
        TopicSummary(c, len(by_slug[c.slug].stories) if counted else None,
                     by_slug[c.slug].description, 1, None)
        for c in topic.children
    )
    return TopicHeader(topic.ref, topic.description, topic.image,
                       len(topic.stories) if counted else None, topic.parent, children)


def _topic_tree(topics: tuple[Topic, ...], by_slug: dict[str, Topic]) -> list[TopicSummary]:
    """Roots by name, each followed by its subtopics, depth-first."""
    ordered: list[TopicSummary] = []

    def visit(topic: Topic, depth: int) -> None:
        latest = topic.stories[0] if topic.stories else None
        count = len(topic.stories)
        ordered.append(TopicSummary(topic.ref, count, topic.description, depth, latest))
        for child in topic.children:
            visit(by_slug[child.slug], depth + 1)

    for topic in topics:
        if topic.parent is None:
            visit(topic, 0)
    return ordered


def _archive_pages(index: SiteIndex, config: SiteConfig) -> list[PageSpec]:
    years = tuple(
        YearSummary(y.year, y.path, y.count,
                    tuple(MonthSummary(m.label, m.path, len(m.stories)) for m in y.months))
        for y in index.years
    )
    home = Crumb("Home", "")
    archive = Crumb("Archive", "archive/")
    pages = [PageSpec("archive/", "archive.html", {
        "page": PageMeta("archive", "archive/", "Archive", f"Archive · {config.title}",
                         f"Every news item of {config.title}, by month.", (home,)),
        "years": years,
    }, uses_cards=False, shows=())]
    for year, summary in zip(index.years, years, strict=True):
        pages.append(PageSpec(year.path, "archive_year.html", {
            "page": PageMeta("archive", year.path, str(year.year),
                             f"{year.year} · Archive · {config.title}",
                             f"{year.count} news items from {year.year}.", (home, archive)),
            "year": summary,
        }, uses_cards=False, shows=()))
        for month in year.months:
            pages.append(PageSpec(
                month.path, "archive_month.html",
                partial(_month_values, month, (home, archive, Crumb(str(year.year), year.path)),
                        config),
                uses_cards=False, inputs=(month.path, month.label, month.stories),
                shows=month.stories, listing=month.stories))
    return pages


def _month_values(month: Month, crumbs: tuple[Crumb, ...], config: SiteConfig
                  ) -> dict[str, Any]:
    return {
        "page": PageMeta("archive", month.path, month.label,
                         f"{month.label} · Archive · {config.title}",
                         f"{len(month.stories)} news items from {month.label}.", crumbs),
        "stories": month.stories,
        "days": _by_day(month.stories),
    }


def _moved_pages(index: SiteIndex, config: SiteConfig) -> list[PageSpec]:
    """A page at the URL of each item merged into another story, sending readers to it."""
    pages = []
    for path, story in index.moved.items():
        heading = shorten(story.item.title, config.max_title_chars)
        # The page speaks for the story: canonical URL, title and description are the story's.
        meta = PageMeta("moved", story.path, heading, f"{heading} · {config.title}",
                        shorten(story.item.excerpt or story.item.title, 300))
        pages.append(PageSpec(path, "moved.html", {"page": meta, "story": story},
                              uses_cards=False, listed=False, shows=(story,)))
    return pages


@plain_repr
@dataclass(frozen=True)
class Day:
    label: str
    iso: str
    stories: tuple[Story, ...]


def _by_day(stories: tuple[Story, ...]) -> tuple[Day, ...]:
    days: dict[str, list[Story]] = {}
    for story in stories:
        days.setdefault(story.local_date.date().isoformat(), []).append(story)
    return tuple(
        Day(f"{s[0].local_date:%A} {s[0].local_date.day} {s[0].local_date:%B}", iso, tuple(s))
        for iso, s in days.items()
    )

