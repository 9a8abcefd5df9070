"""Pages and the feed of digest editions: /digest/, /digest/<kind>/<key>/, digest/feed.xml."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from html import escape
from typing import Any

from newsdigest.config.site import SiteConfig
from newsdigest.fingerprint import plain_repr
from newsdigest.render.feeds import Feed, FeedEntry
from newsdigest.render.pages import (
    Crumb,
    PageMeta,
    PageSpec,
    page_title,
    paginate,
    shorten,
)
from newsdigest.stories.editions import (
    WEEKLY,
    Edition,
    EditionLink,
    TopicSeries,
    topic_archive_path,
)
from newsdigest.stories.grouping import Story

FOLDER = "digest/"
HEADLINES_SHOWN = 3


def archive_path(page: int = 0) -> str:
    """The digest's list of editions (0: its front page; archive pages count from the oldest
    edition, as every list of the site does: render/pages.py `cut`)."""
    return FOLDER + (f"page/{page}/" if page else "")


def _topic_list_path(slug: str, page: int = 0) -> str:
    return topic_archive_path(slug) + (f"page/{page}/" if page else "")


@plain_repr
@dataclass(frozen=True)
class EditionSummary:
    """An edition as the archive lists it: no story objects, only what the list shows."""

    kind: str
    title: str
    label: str
    path: str
    count: int
    # Its first stories, whose repr is their fingerprint: their titles are read only when
    # the archive page is rendered (a kept state's items are read as they are needed).
    leads: tuple[Story, ...]
    has_note: bool

    @property
    def headlines(self) -> tuple[str, ...]:
        return tuple(story.item.title for story in self.leads)


def summary(edition: Edition) -> EditionSummary:
    return EditionSummary(
        edition.period.kind, edition.title, edition.period.label, edition.path, edition.count,
        edition.stories[:HEADLINES_SHOWN], bool(edition.note_html),
    )


def kind_label(kind: str) -> str:
    return "Weekly digest" if kind == WEEKLY else "Daily digest"


def edition_kind_label(edition: Edition) -> str:
    """'Weekly digest', 'Daily digest', or 'Robotics weekly' for a topic's own edition."""
    if edition.topic is not None:
        return f"{edition.topic.name} weekly"
    return kind_label(edition.period.kind)


@plain_repr
@dataclass(frozen=True)
class ArchiveLink:
    """A topic's list of editions, as the digest's own list links it."""

    name: str
    path: str


def digest_pages(editions: list[Edition], config: SiteConfig,
                 series: Sequence[TopicSeries] = ()) -> list[PageSpec]:
    """The archive of editions (newest first, paginated) and one page per edition; then the
    same for each topic's own weekly editions."""
    home, archive = Crumb("Home", ""), Crumb("Digest", FOLDER)
    topics = tuple(ArchiveLink(s.topic.name, s.path) for s in series)
    pages = _archive_pages(
        editions, config, archive_path, "Digest editions", "Digest",
        f"The day and the week in AI: every digest edition of {config.title}, newest first.",
        (home,), {"feed_folder": FOLDER, "feed_title": "Digest editions",
                  "topic_archives": topics,
                  "lede": "The week's and the day's most notable AI stories, one entry per "
                          "story."})
    pages += _edition_pages(editions, config, (home, archive))
    for one in series:
        name = one.topic.name
        pages += _archive_pages(
            list(one.editions), config,
            partial(_topic_list_path, one.topic.slug),
            f"{name} weekly", f"{name} weekly",
            f"The week in {name}: every weekly edition of {config.title} about {name}, "
            "newest first.", (home, archive),
            {"feed_folder": one.path, "feed_title": f"{name} weekly", "topic_archives": (),
             "topic": one.topic,
             "lede": f"The week's most notable stories about {name}, one entry per story."})
        pages += _edition_pages(list(one.editions), config,
                                (home, archive, Crumb(f"{name} weekly", one.path)))
    return pages


def _archive_pages(editions: list[Edition], config: SiteConfig, path_of: Any, heading: str,
                   title: str, description: str, crumbs: tuple[Crumb, ...],
                   context: dict[str, Any]) -> list[PageSpec]:
    # Cut like every list (newest edition on the front page, archive pages numbered from the
    # oldest): a new day's edition changes the front page and the newest archive page only.
    pages = []
    for page in paginate(tuple(summary(e) for e in editions), config.page_size, path_of):
        number, path = page.number, path_of(page.number)
        meta = PageMeta("digest", path, heading + (f", page {number}" if number else ""),
                        page_title(title, number, config), description, crumbs)
        pages.append(PageSpec(path, "digest_archive.html", {
            "page": meta, "editions": page.items, "pagination": page.pagination, **context,
        }, uses_cards=False, shows=tuple(lead for e in page.items for lead in e.leads)))
    return pages


def _edition_pages(editions: list[Edition], config: SiteConfig,
                   crumbs: tuple[Crumb, ...]) -> list[PageSpec]:
    # made when the page is rendered: its description reads the lead story's item
    return [PageSpec(edition.path, "digest.html",
                     partial(_edition_context, edition, config, crumbs), inputs=edition,
                     shows=edition.stories)
            for edition in editions]


def _edition_context(edition: Edition, config: SiteConfig, crumbs: tuple[Crumb, ...]
                     ) -> dict[str, Any]:
    meta = PageMeta(
        "digest", edition.path, edition.title, f"{edition.title} · {config.title}",
        shorten(f"{edition.count} stories, led by: {edition.lead.item.title}", 300), crumbs,
    )
    return {
        "page": meta, "edition": edition, "kind_label": edition_kind_label(edition),
        "feed_folder": edition.archive,
        "feed_title": f"{edition.topic.name} weekly" if edition.topic else "Digest editions",
    }


def latest_link(editions: list[Edition]) -> EditionLink | None:
    """The newest edition, for the home page (a weekly one on a tie: it is the fuller read)."""
    return editions[0].link if editions else None


def edition_entry(edition: Edition, config: SiteConfig) -> FeedEntry:
    """An edition as a feed entry: its headlines, each with its sources, after the editor's
    note; the lead story's picture illustrates it."""
    headlines = "".join(
        f'<li><a href="{escape(config.absolute_url(s.path))}">{escape(s.item.title)}</a>'
        f" ({escape(', '.join([s.item.provider.name, *(c.provider for c in s.also)]))})</li>"
        for s in edition.stories
    )
    link = config.absolute_url(edition.path)
    lead = edition.lead
    return FeedEntry(
        link=link, source_url=link, title=edition.title,
        summary=shorten("; ".join(s.item.title for s in edition.stories), 600),
        body_html=edition.note_html + f"<ul>{headlines}</ul>",
        published=edition.published_at, updated=edition.published_at, author=config.title,
        author_url=f"https://{config.origin.split('://', 1)[-1]}/",
        image=config.absolute_link(lead.image_url) if lead.image_url else "")


def editions_feed(editions: list[Edition], config: SiteConfig) -> Feed:
    return Feed(FOLDER, f"Digest · {config.title}",
                f"The day and the week in AI from {config.title}.", FOLDER,
                tuple(editions[: config.feed_items]), partial(edition_entry, config=config))


def topic_editions_feed(series: TopicSeries, config: SiteConfig) -> Feed:
    """A topic's weekly editions, one entry each, like the digest's own feed."""
    name = series.topic.name
    return Feed(series.path, f"{name} weekly · {config.title}",
                f"The week in {name} from {config.title}.", series.path,
                tuple(series.editions[: config.feed_items]),
                partial(edition_entry, config=config))
