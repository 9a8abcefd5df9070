"""Syndication feeds: RSS 2.0, Atom 1.0 and JSON Feed 1.1, for the site and for each topic."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

from newsdigest.config.site import SiteConfig
from newsdigest.fingerprint import plain_repr
from newsdigest.render.structured import inert_json
from newsdigest.stories.grouping import SiteIndex, Story

# Characters XML 1.0 forbids; content copied from the web sometimes carries them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
KINDS = {"feed.xml": "application/rss+xml", "atom.xml": "application/atom+xml",
         "feed.json": "application/feed+json"}


@plain_repr
@dataclass(frozen=True)
class Feed:
    """One channel: the whole site, or one topic."""

    folder: str  # '' for the site, 'topics/ai/' for a topic
    title: str
    description: str
    page: str  # the HTML page the feed follows
    stories: tuple[Story, ...]

    def path(self, name: str) -> str:
        return self.folder + name


def site_feeds(index: SiteIndex, config: SiteConfig) -> list[Feed]:
    feeds = [Feed("", config.title, config.description, "", index.stories[: config.feed_items])]
    for topic in index.topics:
        feeds.append(Feed(topic.path, f"{topic.name} · {config.title}",
                          topic.description or f"The latest news about {topic.name}.",
                          topic.path, topic.stories[: config.feed_items]))
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


def _image_url(story: Story, config: SiteConfig) -> str:
    return config.absolute_link(story.image_url) if story.image_url else ""


def rss(feed: Feed, config: SiteConfig) -> bytes:
    from email.utils import format_datetime  # a rebuild that writes no RSS does not need it

    channel_link = config.absolute_url(feed.page)
    last = max((s.modified for s in feed.stories), default=None)
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
    for story in feed.stories:
        item = story.item
        link = config.absolute_url(story.path)
        out += ["<item>", f"<title>{_rss_title(item.title)}</title>",
                f"<link>{_x(link)}</link>",
                f'<guid isPermaLink="true">{_x(link)}</guid>',
                f"<pubDate>{format_datetime(item.published_at)}</pubDate>",
                f"<dc:creator>{_x(item.provider.name)}</dc:creator>",
                f"<description>{_as_html(item.excerpt or item.title)}</description>"]
        if item.body_html:
            out.append(f"<content:encoded>{_x(item.body_html)}</content:encoded>")
        out += [f"<category>{_x(t.name)}</category>" for t in story.topics]
        image = _image_url(story, config)
        if image:
            out.append(f'<enclosure url="{_x(image)}" type="{_image_type(image)}" length="0"/>')
        out.append(f'<source url="{_x(item.url)}">{_x(item.provider.name)}</source>')
        out.append("</item>")
    out += ["</channel>", "</rss>"]
    return ("\n".join(out) + "\n").encode()


def atom(feed: Feed, config: SiteConfig) -> bytes:
    last = max((s.modified for s in feed.stories), default=None)
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
    for story in feed.stories:
        item = story.item
        link = config.absolute_url(story.path)
        out += ["<entry>", f'<title type="html">{_as_html(item.title)}</title>',
                f'<link rel="alternate" type="text/html" href="{_x(link)}"/>',
                f'<link rel="related" href="{_x(item.url)}"/>',
                f"<id>{_x(link)}</id>",
                f"<published>{item.published_at.isoformat()}</published>",
                f"<updated>{story.modified.isoformat()}</updated>",
                f"<author><name>{_x(item.provider.name)}</name><uri>{_x(item.url)}</uri></author>",
                f'<summary type="html">{_as_html(item.excerpt or item.title)}</summary>']
        if item.body_html:
            out.append(f'<content type="html">{_x(item.body_html)}</content>')
        out += [f'<category term="{_x(t.slug)}" label="{_x(t.name)}"/>' for t in story.topics]
        image = _image_url(story, config)
        if image:
            out.append(f'<link rel="enclosure" type="{_image_type(image)}" href="{_x(image)}"/>')
        out.append("</entry>")
    out.append("</feed>")
    return ("\n".join(out) + "\n").encode()


def json_feed(feed: Feed, config: SiteConfig) -> bytes:
    items = []
    for story in feed.stories:
        item = story.item
        link = config.absolute_url(story.path)
        entry: dict[str, object] = {
            "id": link,
            "url": link,
            "external_url": item.url,
            "title": item.title,
            "summary": item.excerpt or item.title,
            "date_published": item.published_at.isoformat(),
            "date_modified": story.modified.isoformat(),
            "authors": [{"name": item.provider.name,
                         "url": f"https://{item.provider.domain}/" if item.provider.domain
                         else item.url}],
            "tags": [t.name for t in story.topics],
        }
        if item.body_html:
            entry["content_html"] = item.body_html
        else:
            entry["content_text"] = item.excerpt or item.title
        image = _image_url(story, config)
        if image:
            entry["image"] = image
        items.append(entry)
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
