"""Syndication feeds: RSS 2.0, Atom 1.0 and JSON Feed 1.1, for the site and for each topic."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, partial
from html import escape
from itertools import islice
from typing import Any

from newsdigest.config.site import SiteConfig
from newsdigest.fingerprint import plain_repr
from newsdigest.render.pages import Crumb, PageMeta, PageSpec
from newsdigest.render.structured import inert_json
from newsdigest.stories.grouping import SiteIndex, Story

# Characters XML 1.0 forbids; content copied from the web sometimes carries them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
KINDS = {"feed.xml": "application/rss+xml", "atom.xml": "application/atom+xml",
         "feed.json": "application/feed+json"}


@dataclass(frozen=True)
class FeedEntry:
    """One entry, as every feed format writes it: a story maps to one (story_entry), and so
    does a digest edition (edition_pages.edition_entry). Made only when its feed is written:
    a feed's fingerprint covers what it shows (Feed.shows), not its entries."""

    link: str  # absolute URL of its page on the site
    source_url: str  # the original story (an edition: its own page)
    title: str
    summary: str  # plain text
    body_html: str  # sanitized HTML, or ''
    published: datetime
    updated: datetime
    author: str
    author_url: str
    topics: tuple[tuple[str, str], ...] = ()  # (slug, name)
    image: str = ""  # absolute URL, or ''


def story_entry(story: Story, config: SiteConfig) -> FeedEntry:
    item = story.item
    provider = item.provider
    # A sponsored entry (only with [digest] sponsors = true) says so where every reader
    # shows it, in its title, and as a category.
    label = f"{item.kind_label}: " if item.sponsored else ""
    return FeedEntry(
        link=config.absolute_url(story.path), source_url=item.url,
        title=label + item.title, summary=item.excerpt or item.title, body_html=item.body_html,
        published=item.published_at, updated=story.modified, author=provider.name,
        author_url=f"https://{provider.domain}/" if provider.domain else item.url,
        topics=tuple((t.slug, t.name) for t in story.topics)
        + ((("sponsored", item.kind_label),) if item.sponsored else ()),
        image=config.absolute_link(story.image_url) if story.image_url else "")


@plain_repr
@dataclass(frozen=True)
class Feed:
    """One channel: the whole site, one topic, or the digest editions."""

    folder: str  # '' for the site, 'topics/ai/' for a topic
    title: str
    description: str
    page: str  # the HTML page the feed follows
    # What its entries are made from (`entry`, with the settings): stories or digest
    # editions, newest first. A story's repr is its fingerprint and an edition's names its
    # stories, so the feed's repr covers its entries without making them: they read every
    # story's item, and a rebuild writes few of the feeds it plans.
    shows: tuple[object, ...]
    entry: Callable[[Any], FeedEntry] = field(repr=False, compare=False)

    @cached_property
    def entries(self) -> tuple[FeedEntry, ...]:
        return tuple(map(self.entry, self.shows))

    def path(self, name: str) -> str:
        return self.folder + name


def site_feeds(index: SiteIndex, config: SiteConfig, sponsored: frozenset[str]) -> list[Feed]:
    """The site's feed and each topic's; `sponsored`: the paths of the sponsored stories."""
    sponsors = config.digest.sponsors

    entry = partial(story_entry, config=config)

    def shown(stories: tuple[Story, ...]) -> tuple[Story, ...]:
        # Sponsored items stay out of every feed unless [digest] sponsors = true.
        listed = stories if sponsors else (s for s in stories if s.path not in sponsored)
        return tuple(islice(listed, config.feed_items))

    feeds = [Feed("", config.title, config.description, "", shown(index.stories), entry)]
    for topic in index.topics:
        feeds.append(Feed(topic.path, f"{topic.name} · {config.title}",
                          topic.description or f"The latest news about {topic.name}.",
                          topic.path, shown(topic.stories), entry))
    return feeds


def _x(text: str) -> str:
    """Text as XML character data: what a reader that takes the element as text shows."""
    return escape(_NOT_XML.sub("", text), quote=True)


def _as_html(text: str) -> str:
    """Text for an element that readers take as HTML (RSS <description>, Atom type="html"):
    escaped as HTML, then as XML, so `<img>` arrives as the four characters, never an element."""
    return _x(escape(text, quote=False))


# What makes an RSS reader that guesses (feedparser and the many modelled on it) take a title
# as HTML, and what a reader that always does so would turn into an element or a character:
# a tag of an HTML element, a comment or declaration, or a character reference.
_MARKUP = re.compile(r"</?([A-Za-z][A-Za-z0-9]*)|<[!?]|&(?:#[0-9]+|#[xX][0-9A-Fa-f]+|"
                     r"[A-Za-z][A-Za-z0-9]*);")
_HTML_ELEMENTS = frozenset("""
    a abbr acronym address applet area article aside audio b base basefont bdi bdo bgsound big
    blink blockquote body br button canvas caption center cite code col colgroup data datalist dd
    del details dfn dialog dir div dl dt em embed fieldset figcaption figure font footer form
    frame frameset h1 h2 h3 h4 h5 h6 head header hgroup hr html i iframe image img input ins
    isindex kbd keygen label legend li link listing main map mark marquee math menu menuitem meta
    meter nav nobr noembed noframes noscript object ol optgroup option output p param picture
    plaintext portal pre progress q rb rp rt rtc ruby s samp script search section select slot
    small source span strike strong style sub summary sup svg table tbody td template textarea
    tfoot th thead time title tr track tt u ul var video wbr xmp
""".split())


def _reads_as_markup(text: str) -> bool:
    for found in _MARKUP.finditer(text):
        name = found.group(1)  # None for a comment or a character reference
        if name is None or name.lower() in _HTML_ELEMENTS:
            return True
    return False


def _rss_title(text: str) -> str:
    """An RSS title: RSS gives no type, so readers guess. Plain text reads the same either way
    unless it holds markup; then it is sent as escaped HTML, which every reader shows as the
    literal text (a guessing one sees the entities and takes it as HTML)."""
    return _as_html(text) if _reads_as_markup(text) else _x(text)


def _image_type(url: str) -> str:
    lower = url.lower().split("?")[0]
    for suffix, kind in ((".png", "image/png"), (".webp", "image/webp"), (".gif", "image/gif"),
                         (".avif", "image/avif")):
        if lower.endswith(suffix):
            return kind
    return "image/jpeg"


def rss(feed: Feed, config: SiteConfig) -> bytes:
    from email.utils import format_datetime  # a rebuild that writes no RSS does not need it

    channel_link = config.absolute_url(feed.page)
    last = max((e.updated for e in feed.entries), default=None)
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/">',
        "<channel>",
        f"<title>{_rss_title(feed.title)}</title>",
        f"<link>{_x(channel_link)}</link>",
        f"<description>{_as_html(feed.description)}</description>",
        f"<language>{_x(config.language)}</language>",
        f'<atom:link href="{_x(config.absolute_url(feed.path("feed.xml")))}" rel="self" '
        'type="application/rss+xml"/>',
    ]
    if last:
        out.append(f"<lastBuildDate>{format_datetime(last)}</lastBuildDate>")
    for entry in feed.entries:
        out += ["<item>", f"<title>{_rss_title(entry.title)}</title>",
                f"<link>{_x(entry.link)}</link>",
                f'<guid isPermaLink="true">{_x(entry.link)}</guid>',
                f"<pubDate>{format_datetime(entry.published)}</pubDate>",
                f"<dc:creator>{_x(entry.author)}</dc:creator>",
                f"<description>{_as_html(entry.summary)}</description>"]
        if entry.body_html:
            out.append(f"<content:encoded>{_x(entry.body_html)}</content:encoded>")
        out += [f"<category>{_x(name)}</category>" for _, name in entry.topics]
        if entry.image:
            out.append(f'<enclosure url="{_x(entry.image)}" type="{_image_type(entry.image)}" '
                       'length="0"/>')
        out.append(f'<source url="{_x(entry.source_url)}">{_x(entry.author)}</source>')
        out.append("</item>")
    out += ["</channel>", "</rss>"]
    return ("\n".join(out) + "\n").encode()


def atom(feed: Feed, config: SiteConfig) -> bytes:
    last = max((e.updated for e in feed.entries), default=None)
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{_x(config.language)}">',
        f'<title type="html">{_as_html(feed.title)}</title>',
        f'<subtitle type="html">{_as_html(feed.description)}</subtitle>',
        f"<id>{_x(config.absolute_url(feed.path('atom.xml')))}</id>",
        f'<link rel="self" type="application/atom+xml" '
        f'href="{_x(config.absolute_url(feed.path("atom.xml")))}"/>',
        f'<link rel="alternate" type="text/html" href="{_x(config.absolute_url(feed.page))}"/>',
        f"<updated>{(last.isoformat() if last else '1970-01-01T00:00:00+00:00')}</updated>",
        f"<author><name>{_x(config.title)}</name></author>",
    ]
    for entry in feed.entries:
        out += ["<entry>", f'<title type="html">{_as_html(entry.title)}</title>',
                f'<link rel="alternate" type="text/html" href="{_x(entry.link)}"/>',
                f'<link rel="related" href="{_x(entry.source_url)}"/>',
                f"<id>{_x(entry.link)}</id>",
                f"<published>{entry.published.isoformat()}</published>",
                f"<updated>{entry.updated.isoformat()}</updated>",
                f"<author><name>{_x(entry.author)}</name><uri>{_x(entry.source_url)}</uri>"
                "</author>",
                f'<summary type="html">{_as_html(entry.summary)}</summary>']
        if entry.body_html:
            out.append(f'<content type="html">{_x(entry.body_html)}</content>')
        out += [f'<category term="{_x(slug)}" label="{_x(name)}"/>' for slug, name in entry.topics]
        if entry.image:
            out.append(f'<link rel="enclosure" type="{_image_type(entry.image)}" '
                       f'href="{_x(entry.image)}"/>')
        out.append("</entry>")
    out.append("</feed>")
    return ("\n".join(out) + "\n").encode()


def json_feed(feed: Feed, config: SiteConfig) -> bytes:
    items = []
    for entry in feed.entries:
        item: dict[str, object] = {
            "id": entry.link,
            "url": entry.link,
            "external_url": entry.source_url,
            "title": entry.title,
            "summary": entry.summary,
            "date_published": entry.published.isoformat(),
            "date_modified": entry.updated.isoformat(),
            "authors": [{"name": entry.author, "url": entry.author_url}],
            "tags": [name for _, name in entry.topics],
        }
        if entry.body_html:
            item["content_html"] = entry.body_html
        else:
            item["content_text"] = entry.summary
        if entry.image:
            item["image"] = entry.image
        items.append(item)
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": feed.title,
        "home_page_url": config.absolute_url(feed.page),
        "feed_url": config.absolute_url(feed.path("feed.json")),
        "description": feed.description,
        "language": config.language,
        "items": items,
    }
    return (inert_json(document) + "\n").encode()


WRITERS = {"feed.xml": rss, "atom.xml": atom, "feed.json": json_feed}
FEEDS_PAGE = "feeds/"
OPML_FILE = "feeds.opml"


@plain_repr
@dataclass(frozen=True)
class FeedLink:
    """A feed as the feeds page and the OPML list name it."""

    title: str  # the feed's own (readers show it)
    label: str  # on the feeds page, under a heading that says what kind it is
    folder: str  # where its three files are
    page: str  # the HTML page it follows
    kind: str  # site, editions, topic-editions or topic


def feed_links(site: list[Feed], editions: Feed, config: SiteConfig,
               topic_editions: Sequence[Feed] = ()) -> tuple[FeedLink, ...]:
    """The site's feed, the editions', each topic's own weekly editions' ([digest]
    topic_editions) and each topic's (the site's feeds come first)."""
    whole, *topics = site

    def link(feed: Feed, kind: str) -> FeedLink:
        return FeedLink(feed.title, feed.title.removesuffix(f" · {config.title}"), feed.folder,
                        feed.page, kind)

    return (link(whole, "site"), link(editions, "editions"),
            *(link(feed, "topic-editions") for feed in topic_editions),
            *(link(feed, "topic") for feed in topics))


def feeds_page(links: tuple[FeedLink, ...], config: SiteConfig) -> PageSpec:
    """/feeds/: every feed of the site in its three formats, and the OPML list of them."""
    meta = PageMeta("feeds", FEEDS_PAGE, "Feeds", f"Feeds · {config.title}",
                    f"Every feed of {config.title}: the whole digest, its editions and each "
                    "topic, in RSS, Atom and JSON Feed, and all of them as one OPML list.",
                    (Crumb("Home", ""),))
    return PageSpec(FEEDS_PAGE, "feeds.html", {"page": meta, "feeds": links, "opml": OPML_FILE},
                    uses_cards=False, shows=())


def opml(links: tuple[FeedLink, ...], config: SiteConfig) -> bytes:
    """Every feed (RSS) in one OPML 2.0 list, for readers to import in one step."""
    out = ['<?xml version="1.0" encoding="utf-8"?>', '<opml version="2.0">',
           f"<head><title>{_x(config.title)}: every feed</title></head>", "<body>"]
    for link in links:
        out.append(f'<outline type="rss" text="{_x(link.title)}" title="{_x(link.title)}" '
                   f'xmlUrl="{_x(config.absolute_url(link.folder + "feed.xml"))}" '
                   f'htmlUrl="{_x(config.absolute_url(link.page))}"/>')
    out += ["</body>", "</opml>"]
    return ("\n".join(out) + "\n").encode()
