"""Feed and page markup made into the plain text and links an item file holds."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from newsdigest.content.markup import sanitize
from newsdigest.content.model import MAX_READING_MINUTES

MAX_DIMENSION = 20000  # as the item format accepts (content/model.py)
_SPACE = re.compile(r"\s+")
_BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote",
           "section", "article", "figure", "figcaption", "ul", "ol", "pre", "hr"}
_INVISIBLE = {"script", "style", "template", "noscript", "head", "title", "iframe", "object"}
_YOUTUBE_ID = re.compile(r"[A-Za-z0-9_-]{11}")
_VIMEO_ID = re.compile(r"[0-9]{1,12}")


class _Text(HTMLParser):
    """Text of the markup (entities decoded, no script or style) and its first image."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.first_image: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _INVISIBLE:
            self.hidden += 1
        elif tag in _BLOCKS:
            self.parts.append(" ")
        if tag == "img" and not self.first_image:
            self.first_image = {k: v or "" for k, v in attrs}

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _INVISIBLE:
            return  # <script/> opens nothing
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _INVISIBLE:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def _parsed(markup: str) -> _Text:
    parser = _Text()
    parser.feed(markup)
    parser.close()
    return parser


# Reading time: words of the main text at an adult's silent reading pace. Fewer words than
# MIN_READING_WORDS is no article text (a paywall, a page drawn by JavaScript, a feed's
# teaser): then no reading time is given rather than a wrong one.
WORDS_PER_MINUTE = 230
MIN_READING_WORDS = 100
_WORD = re.compile(r"\w+")
# Around the text, not of it: menus, headers and footers, sidebars, forms' controls. Not
# <form> itself: ASP.NET WebForms pages wrap the whole page, article and all, in one.
_CHROME = {"nav", "header", "footer", "aside", "button", "select", "svg", "menu", "dialog"}
_CONTAINERS = ("article", "main")
# What a <head> holds: any other start tag ends it, as in a browser (</head> is optional).
_HEAD_CONTENT = {"meta", "link", "title", "style", "script", "noscript", "base", "template"}


class _MainText(HTMLParser):
    """Words of the page outside its chrome: in all, in <main>, and in each <article>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.skipped: list[str] = []  # open elements whose text is not the article's
        self.open: list[list[int]] = []  # word counts of the open containers, by kind
        self.kinds: list[str] = []
        self.total = 0
        self.found: dict[str, list[int]] = {"article": [], "main": []}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skipped[-1:] == ["head"] and tag not in _HEAD_CONTENT:
            self.skipped.pop()  # <body> or text's first tag: the head ended without </head>
        if tag in _INVISIBLE or tag in _CHROME:
            self.skipped.append(tag)
        elif tag in _CONTAINERS and not self.skipped:
            self.open.append([0])
            self.kinds.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass  # <nav/>, <article/>: nothing inside

    def handle_endtag(self, tag: str) -> None:
        if self.skipped:
            if tag in self.skipped:
                while self.skipped.pop() != tag:
                    pass
            return
        if tag in _CONTAINERS and tag in self.kinds:
            while self.kinds:
                kind, count = self.kinds.pop(), self.open.pop()
                self.found[kind].append(count[0])
                if kind == tag:
                    break

    def handle_data(self, data: str) -> None:
        if self.skipped:
            return
        words = len(_WORD.findall(data))
        self.total += words
        for count in self.open:
            count[0] += words

    def close(self) -> None:
        super().close()
        while self.kinds:  # containers never closed end with the page
            self.found[self.kinds.pop()].append(self.open.pop()[0])


def main_text_words(markup: str) -> int:
    """How many words the page's main text has: its longest <article>, else its <main>,
    else all its text but menus, headers, footers, sidebars and forms."""
    parser = _MainText()
    parser.feed(markup)
    parser.close()
    for kind in _CONTAINERS:
        longest = max(parser.found[kind], default=0)
        if longest >= MIN_READING_WORDS:
            return longest
    return parser.total


def reading_minutes(words: int) -> int | None:
    """Whole minutes to read `words` (at least 1); None when too few to be an article's text,
    or more than the item format takes."""
    if words < MIN_READING_WORDS:
        return None
    minutes = max(1, round(words / WORDS_PER_MINUTE))
    return minutes if minutes <= MAX_READING_MINUTES else None


def plain_text(markup: str) -> str:
    """Markup as one line of text: tags dropped, entities decoded, spaces squashed."""
    if "<" not in markup and "&" not in markup:
        return _SPACE.sub(" ", markup).strip()
    return _SPACE.sub(" ", "".join(_parsed(markup).parts)).strip()


def first_image(markup: str, base: str) -> tuple[str, int | None, int | None] | None:
    """The first <img> of the markup: its absolute http(s) URL and declared size."""
    if "<img" not in markup.lower():
        return None
    found = _parsed(markup).first_image
    url = absolute(found.get("src", ""), base)
    if not url:
        return None
    return url, dimension(found.get("width")), dimension(found.get("height"))


def cut_at_word(text: str, limit: int) -> str:
    """At most `limit` characters, cut at the last word that fits, with an ellipsis."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    if " " in head[limit // 2:]:
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(" ,;:.-–—") + "…"


def absolute(url: str, base: str) -> str:
    """`url` made absolute against `base`; '' unless it is http(s)."""
    url = (url or "").strip()
    if not url:
        return ""
    try:
        joined = urljoin(base, url) if base else url
        parts = urlsplit(joined)
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    return joined


def without_campaign(url: str) -> str:
    """The link without the utm_* parameters feeds add to say where a click came from: they
    are not part of the story's address."""
    parts = urlsplit(url)
    if "utm_" not in parts.query:
        return url
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not k.lower().startswith("utm_")]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def dimension(value: object) -> int | None:
    """A width or height as the item format takes it (1..20000), else None."""
    try:
        number = int(str(value).strip().removesuffix("px"))
    except (TypeError, ValueError):
        return None
    return number if 1 <= number <= MAX_DIMENSION else None


def clean_body(markup: str) -> str:
    """A feed's full text as the build would show it: sanitized, as an HTML block."""
    return sanitize(markup).strip()


def video_embed(url: str, video_id: str = "") -> str:
    """The featuredContent iframe of a YouTube or Vimeo link ('' for any other link): built
    from the video id alone, in the form the build's embed check accepts."""
    if video_id and _YOUTUBE_ID.fullmatch(video_id):
        return f'<iframe src="https://www.youtube.com/embed/{video_id}"></iframe>'
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    host = (parts.hostname or "").lower().removeprefix("www.").removeprefix("m.")
    found = ""
    if host == "youtube.com":
        if parts.path == "/watch":
            found = (parse_qs(parts.query).get("v") or [""])[0]
        elif parts.path.startswith(("/shorts/", "/embed/", "/live/")):
            found = parts.path.split("/")[2]
        if _YOUTUBE_ID.fullmatch(found):
            return f'<iframe src="https://www.youtube.com/embed/{found}"></iframe>'
    elif host == "youtu.be":
        found = parts.path.strip("/")
        if _YOUTUBE_ID.fullmatch(found):
            return f'<iframe src="https://www.youtube.com/embed/{found}"></iframe>'
    elif host in ("vimeo.com", "player.vimeo.com"):
        found = parts.path.strip("/").removeprefix("video/")
        if _VIMEO_ID.fullmatch(found):
            return f'<iframe src="https://player.vimeo.com/video/{found}"></iframe>'
    return ""


def domain_of(url: str) -> str:
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
    return host.removeprefix("www.")
