"""Pages and the feed of digest editions: /digest/, /digest/<kind>/<key>/, digest/feed.xml."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from newsdigest.config.site import SiteConfig
from newsdigest.fingerprint import fingerprint, plain_repr
from newsdigest.render.feeds import Feed, FeedEntry
from newsdigest.render.pages import (
    Crumb,
    PageMeta,
    PageSpec,
    page_title,
    paginate,
    pagination,
    shorten,
)
from newsdigest.stories.editions import WEEKLY, Edition, EditionLink

FOLDER = "digest/"
HEADLINES_SHOWN = 3


def archive_path(page: int = 1) -> str:
    return FOLDER + (f"page/{page}/" if page > 1 else "")


@plain_repr
@dataclass(frozen=True)
class EditionSummary:
    """An edition as the archive lists it: no story objects, only what the list shows."""

    kind: str
    title: str
    label: str
    path: str
    count: int
    headlines: tuple[str, ...]
    has_note: bool


def summary(edition: Edition) -> EditionSummary:
    return EditionSummary(
        edition.period.kind, edition.title, edition.period.label, edition.path, edition.count,
        tuple(s.item.title for s in edition.stories[:HEADLINES_SHOWN]), bool(edition.note_html),
    )


def kind_label(kind: str) -> str:
    return "Weekly digest" if kind == WEEKLY else "Daily digest"


def digest_pages(editions: list[Edition], config: SiteConfig) -> list[PageSpec]:
    """The archive of editions (newest first, paginated) and one page per edition."""
    home, archive = Crumb("Home", ""), Crumb("Digest", FOLDER)
    pages = []
    summaries = tuple(summary(e) for e in editions)
    chunks = paginate(summaries, config.page_size)
    for number, chunk in enumerate(chunks, start=1):
        path = archive_path(number)
        heading = "Digest editions" + (f", page {number}" if number > 1 else "")
        meta = PageMeta("digest", path, heading, page_title("Digest", number, config),
                        f"The day and the week in AI: every digest edition of {config.title}, "
                        "newest first.", (home,))
        pages.append(PageSpec(path, "digest_archive.html", {
            "page": meta, "editions": chunk,
            "pagination": pagination(number, len(chunks), archive_path),
        }, uses_cards=False))
    for edition in editions:
        lead = edition.lead.item
        meta = PageMeta(
            "digest", edition.path, edition.title, f"{edition.title} · {config.title}",
            shorten(f"{edition.count} stories, led by: {lead.title}", 300), (home, archive),
        )
        pages.append(PageSpec(edition.path, "digest.html", {
            "page": meta, "edition": edition, "kind_label": kind_label(edition.period.kind),
        }, inputs=edition))
    return pages


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
        key=fingerprint(edition), link=link, source_url=link, title=edition.title,
        summary=shorten("; ".join(s.item.title for s in edition.stories), 600),
        body_html=edition.note_html + f"<ul>{headlines}</ul>",
        published=edition.published_at, updated=edition.published_at, author=config.title,
        author_url=f"https://{config.origin.split('://', 1)[-1]}/",
        image=config.absolute_link(lead.image_url) if lead.image_url else "")


def editions_feed(editions: list[Edition], config: SiteConfig) -> Feed:
    return Feed(FOLDER, f"Digest · {config.title}",
                f"The day and the week in AI from {config.title}.", FOLDER,
                tuple(edition_entry(e, config) for e in editions[: config.feed_items]))
