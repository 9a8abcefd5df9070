"""An edition as an email: HTML for mail clients (inlined CSS), a plain-text part, a .eml file.

Mail clients ignore or strip <style> blocks, external stylesheets, scripts and relative links,
so the HTML is made of 600 px tables whose CSS is inlined by css-inline, every URL absolute and
every image sized. The values are computed here; the templates (email.html, email.txt) only
lay them out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr
from html.parser import HTMLParser
from urllib.parse import urljoin

import css_inline

from newsdigest.config.site import SiteConfig
from newsdigest.content.dedupe import Credit
from newsdigest.content.item import DiscussionLink
from newsdigest.render.edition_pages import edition_kind_label
from newsdigest.render.pages import shorten
from newsdigest.render.theme import Theme
from newsdigest.stories.editions import Edition
from newsdigest.stories.grouping import Story

WIDTH = 600  # the email's width: every client shows it whole
LEAD_IMAGE_WIDTH = WIDTH - 2 * 24  # inside the content padding
THUMB_WIDTH = 112
_URL_ATTR = re.compile(r'\b(href|src)="([^"]*)"')
_UNSIZED_IMG = re.compile(r"<img\b(?![^>]*\bwidth=)(?![^>]*\bheight=)[^>]*>")


@dataclass(frozen=True)
class EmailImage:
    url: str
    width: int
    height: int


@dataclass(frozen=True)
class EmailEntry:
    title: str
    url: str  # the story's page on the site
    source_url: str
    provider: str
    date: str
    excerpt: str
    credits: tuple[Credit, ...]
    image: EmailImage | None
    kind_label: str = ""  # "Paper", "Sponsored"...; '' for plain news
    why: str = ""
    reading_minutes: int | None = None
    discussion: tuple[DiscussionLink, ...] = ()
    source_rel: str = "noopener noreferrer"


@dataclass(frozen=True)
class EmailSection:
    label: str
    entries: tuple[EmailEntry, ...]


@dataclass(frozen=True)
class EmailEdition:
    subject: str
    preheader: str
    kind_label: str
    label: str
    web_url: str
    archive_url: str
    site_title: str
    site_url: str
    note_html: str
    note_text: str
    lead: EmailEntry
    sections: tuple[EmailSection, ...]
    unsubscribe: str
    count: int


@dataclass(frozen=True)
class EmailFiles:
    html: str
    text: str
    subject: str


def sized(url: str, width: int | None, height: int | None, box: int) -> EmailImage | None:
    """The image scaled to `box` pixels wide (never up); None when its size is unknown."""
    if not url or not width or not height:
        return None
    shown = min(box, width)
    return EmailImage(url, shown, max(1, round(height * shown / width)))


def email_image(story: Story, config: SiteConfig, box: int) -> EmailImage | None:
    """The site's own thumbnail where one was made (its JPEG or PNG: every mail client shows
    those), else the item's image as given."""
    picture = story.picture
    if picture is not None and picture.kind == "photo" and picture.srcset:
        return sized(config.origin + picture.src, picture.width, picture.height, box)
    image = story.image
    if image is None:
        return None
    return sized(config.absolute_link(story.image_url), image.width, image.height, box)


def entry(story: Story, config: SiteConfig, box: int) -> EmailEntry:
    item = story.item
    return EmailEntry(
        title=shorten(item.title, config.max_title_chars),
        url=config.absolute_url(story.path),
        source_url=item.url,
        provider=item.provider.name,
        date=f"{story.local_date:%a} {story.local_date.day} {story.local_date:%b}",
        excerpt=shorten(item.excerpt, 260),
        credits=story.also,
        image=email_image(story, config, box),
        kind_label=item.kind_label,
        why=item.why,
        reading_minutes=item.reading_minutes,
        discussion=item.discussion_links,
        source_rel=item.source_rel(config.rules.nofollow),
    )


def absolute_html(html: str, base: str) -> str:
    """Every link and source made absolute; images of unknown size left out (clients need it)."""
    html = _UNSIZED_IMG.sub("", html)
    return _URL_ATTR.sub(lambda m: f'{m[1]}="{urljoin(base, m[2])}"', html)


class _Text(HTMLParser):
    """Sanitised HTML as plain text: paragraphs apart, list items as dashes, links kept."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.href = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("p", "ul", "ol", "blockquote", "h2", "h3", "h4", "pre"):
            self.parts.append("\n\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "a":
            self.href = dict(attrs).get("href") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.href:
            self.parts.append(f" <{self.href}>")
            self.href = ""

    def handle_data(self, data: str) -> None:
        self.parts.append(" ".join(data.split("\n")))


def html_to_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    return "\n\n".join(" ".join(p.split(" ")).strip() for p in re.split(r"\n{2,}", text)
                       if p.strip())


def email_edition(edition: Edition, config: SiteConfig) -> EmailEdition:
    lead = entry(edition.lead, config, LEAD_IMAGE_WIDTH)
    sections = tuple(
        EmailSection(s.label, tuple(entry(story, config, THUMB_WIDTH) for story in s.stories))
        for s in edition.sections
    )
    others = [e.title for s in sections for e in s.entries]
    preheader = shorten(f"{lead.title}" + (f" · Also: {'; '.join(others)}" if others else ""),
                        140)
    note_html = absolute_html(edition.note_html, config.base_url)
    return EmailEdition(
        subject=edition.title,
        preheader=preheader,
        kind_label=edition_kind_label(edition),
        label=edition.period.label,
        web_url=config.absolute_url(edition.path),
        archive_url=config.absolute_url(edition.archive),  # the digest's, or its topic's
        site_title=config.title,
        site_url=config.absolute_url(""),
        note_html=note_html,
        note_text=html_to_text(note_html),
        lead=lead,
        sections=sections,
        unsubscribe=config.digest.unsubscribe,
        count=edition.count,
    )


def render_email(edition: Edition, config: SiteConfig, theme: Theme) -> EmailFiles:
    """The HTML part with its CSS inlined, and the plain-text part."""
    mail = email_edition(edition, config)
    context = {"mail": mail, "site": config, "width": WIDTH}
    inliner = css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False,
                                    keep_link_tags=False)
    html = inliner.inline(theme.render("email.html", context))
    text = theme.render("email.txt", context)
    return EmailFiles(html, text, mail.subject)


def default_sender(config: SiteConfig) -> str:
    host = config.origin.split("://", 1)[-1].split(":")[0]
    return formataddr((config.title, f"digest@{host}"))


def eml(edition: Edition, files: EmailFiles, config: SiteConfig) -> bytes:
    """A multipart/alternative message (text, then HTML) for mailing tools that import .eml."""
    message = EmailMessage()
    host = config.origin.split("://", 1)[-1].split(":")[0]
    message["Subject"] = files.subject
    message["From"] = config.digest.from_address or default_sender(config)
    message["To"] = "undisclosed-recipients:;"
    message["Date"] = format_datetime(edition.published_at)
    # a topic's edition is another message than the site's of the same week
    topic = f"-{edition.topic.slug}" if edition.topic is not None else ""
    message["Message-ID"] = f"<{edition.period.kind}-{edition.period.key}{topic}@{host}>"
    unsubscribe = config.digest.unsubscribe
    if unsubscribe.startswith(("https://", "http://", "mailto:")):
        message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message.set_content(files.text, subtype="plain", charset="utf-8")
    message.add_alternative(files.html, subtype="html", charset="utf-8")
    return message.as_bytes(policy=SMTP)
