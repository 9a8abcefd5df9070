"""Untrusted markup made safe: Markdown through nh3, video embeds rebuilt from an allowlist."""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import nh3

from newsdigest.config.rules import DEFAULT_EMBED_HOSTS, VIMEO_HOSTS, YOUTUBE_HOSTS

_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "details", "div", "dl",
    "dt", "em", "figcaption", "figure", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins",
    "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "small", "span", "strong", "sub", "summary",
    "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "td": {"align", "colspan", "rowspan"},
    "th": {"align", "colspan", "rowspan", "scope"},
    "ol": {"start"},
    "code": {"class"},
}


class RenderTimeout(Exception):
    """A body took longer than its budget to render (Markdown has super-linear inputs)."""


@dataclass(frozen=True)
class Embed:
    """A video the page can embed: only the id is taken from content, the markup is ours."""

    host: str  # "youtube" or "vimeo"
    video_id: str

    @property
    def src(self) -> str:
        if self.host == "youtube":
            return f"https://www.youtube-nocookie.com/embed/{self.video_id}"
        return f"https://player.vimeo.com/video/{self.video_id}"

    @property
    def watch_url(self) -> str:
        if self.host == "youtube":
            return f"https://www.youtube.com/watch?v={self.video_id}"
        return f"https://vimeo.com/{self.video_id}"

    @property
    def poster_url(self) -> str:
        if self.host != "youtube":
            return ""
        return f"https://i.ytimg.com/vi/{self.video_id}/hqdefault.jpg"


class _Renderer:
    """One Markdown converter per process: building one costs more than converting a body."""

    def __init__(self) -> None:
        # Only builds that parse a changed file need it (a tenth of start-up).
        import markdown
        from markdown.extensions.abbr import AbbrExtension
        from markdown.extensions.attr_list import AttrListExtension
        from markdown.extensions.def_list import DefListExtension
        from markdown.extensions.fenced_code import FencedCodeExtension
        from markdown.extensions.footnotes import FootnoteExtension
        from markdown.extensions.md_in_html import MarkdownInHtmlExtension
        from markdown.extensions.sane_lists import SaneListExtension
        from markdown.extensions.tables import TableExtension

        # "extra" then "sane_lists", as instances: Markdown looks an extension given by name
        # up among every installed package's entry points (40 ms, once per process, which a
        # one-edit rebuild pays in full). The order is extra's own (extensions/extra.py).
        self._md = markdown.Markdown(extensions=[
            FencedCodeExtension(), FootnoteExtension(), AttrListExtension(), DefListExtension(),
            TableExtension(), AbbrExtension(), MarkdownInHtmlExtension(), SaneListExtension(),
        ], output_format="html")

    def convert(self, text: str) -> str:
        self._md.reset()
        return self._md.convert(text)


_renderers = threading.local()


def render_body(text: str, budget_seconds: float = 10.0, nofollow: bool = False) -> str:
    """Markdown to sanitized HTML; raises RenderTimeout past the budget, or what Markdown
    raised (RecursionError on deep nesting). A failed render leaves no trace in the next one."""
    if not text.strip():
        return ""
    renderer = getattr(_renderers, "renderer", None)
    if renderer is None:
        renderer = _renderers.renderer = _Renderer()
    try:
        with _time_limit(budget_seconds):
            html = renderer.convert(text)
    except BaseException:
        # A conversion cut short (RecursionError, the time limit, a bug on odd input) leaves
        # the shared converter half-way through its state: later bodies lost their <p> and
        # crashed on attribute lists. reset() does not undo it; a new converter does.
        _renderers.renderer = None
        raise
    return sanitize(outline_headings(html), nofollow)


_HEADING_TAG = re.compile(r"<(/?)h([1-6])\b")


def outline_headings(html: str) -> str:
    """A body's headings renumbered below the page's own h1: its top level becomes h2 and no
    level is skipped (`####` then `######` become h2 then h3), as the HTML outline requires."""
    levels = sorted({int(level) for _, level in _HEADING_TAG.findall(html)})
    if not levels:
        return html
    renumbered = {level: str(min(6, 2 + rank)) for rank, level in enumerate(levels)}
    return _HEADING_TAG.sub(lambda m: f"<{m.group(1)}h{renumbered[int(m.group(2))]}", html)


def sanitize(html: str, nofollow: bool = False) -> str:
    """Only harmless tags and http(s)/mailto links survive; links get rel=noopener noreferrer."""
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer" if nofollow else "noopener noreferrer",
        strip_comments=True,
    )


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    # SIGALRM can only be used from the main thread; elsewhere the size cap is the only guard.
    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise RenderTimeout(f"render exceeded {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


_YOUTUBE_ID = re.compile(r"[A-Za-z0-9_-]{11}")
_VIMEO_ID = re.compile(r"[0-9]{1,12}")


class _IframeFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.iframes: list[dict[str, str | None]] = []
        self.other_tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "iframe":
            self.iframes.append(dict(attrs))
        else:
            self.other_tags.add(tag)


def parse_embed(html: str,
                hosts: tuple[str, ...] = DEFAULT_EMBED_HOSTS) -> tuple[Embed | None, str]:
    """The video in a featuredContent iframe, or None and the reason it was refused."""
    finder = _IframeFinder()
    finder.feed(html)
    finder.close()
    if len(finder.iframes) != 1:
        return None, f"expected one <iframe>, found {len(finder.iframes)}"
    if finder.other_tags:
        return None, f"unexpected <{sorted(finder.other_tags)[0]}> beside the <iframe>"
    src = (finder.iframes[0].get("src") or "").strip()
    try:
        parts = urlsplit("https:" + src if src.startswith("//") else src)
        host = (parts.hostname or "").lower()
    except ValueError:
        return None, "iframe src is not a URL"
    if parts.scheme not in ("http", "https") or parts.username or parts.password or parts.port:
        return None, "host not allowed"
    if host not in hosts:
        return None, f"host not allowed ({host or 'none'})"
    if host in YOUTUBE_HOSTS:
        match = re.fullmatch(r"/embed/([^/]+)/?", parts.path)
        video_id = match.group(1) if match else (parse_qs(parts.query).get("v") or [""])[0]
        if _YOUTUBE_ID.fullmatch(video_id):
            return Embed("youtube", video_id), ""
        return None, "no valid YouTube video id in the iframe src"
    if host in VIMEO_HOSTS:
        match = re.fullmatch(r"/video/([^/]+)/?", parts.path)
        if match and _VIMEO_ID.fullmatch(match.group(1)):
            return Embed("vimeo", match.group(1)), ""
        return None, "no valid Vimeo video id in the iframe src"
    return None, f"host not allowed ({host or 'none'})"
