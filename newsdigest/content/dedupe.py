"""One story, one entry: items that report the same story are merged, crediting every source.

Items are the same story when their source URLs are the same once normalised (scheme, `www.`,
tracking parameters, trailing slash, AMP variants), when one lists the other in `related`, or
when their titles are the same once normalised and they were published on the same local day.
Every rule is a hash-map lookup, so merging 10,000 items costs milliseconds, not all pairs.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlencode

if TYPE_CHECKING:
    from newsdigest.content.item import Item, Related

_TRACKING = {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "ref",
             "ref_src", "ref_url", "cmpid", "ncid", "ocid", "amp", "outputtype", "output",
             "src", "share", "s_cid", "__twitter_impression", "guccounter", "spm"}
_AMP_CACHE = ".cdn.ampproject.org"
_AMP_PATH = re.compile(r"(?:/amp/?|\.amp(?:\.html?)?|/amp\.html?)$")
_WORD = re.compile(r"[^\W_]+")
_TITLE_SEPARATORS = (" - ", " | ", " – ", " — ")  # before a provider: " - The Verge"
_ARTICLES = {"a", "an", "the"}  # "ships a new chip" and "ships new chip" are one headline
MIN_TITLE_WORDS = 4  # shorter titles ("AI news", "Weekly roundup") recur without being one story


@dataclass(frozen=True, slots=True)
class Credit:
    """Another source of a merged story: shown as 'also covered by'."""

    provider: str
    title: str
    url: str


@dataclass(frozen=True)
class StoryKeys:
    """An item's identity as a story, computed once when the item is validated."""

    urls: tuple[str, ...] = ()  # its source (and AMP) URLs, normalised
    title: str = ""  # normalised title, '' when too short to tell stories apart
    related: tuple[str, ...] = ()  # the URLs of its `related` coverage, normalised


def story_keys(title: str, url: str, amp_url: str, related: Iterable[Related]) -> StoryKeys:
    urls = (normalise_url(url),) + ((normalise_url(amp_url),) if amp_url else ())
    return StoryKeys(urls, normalise_title(title),
                     tuple(dict.fromkeys(normalise_url(r.url) for r in related)))


@lru_cache(maxsize=65536)
def normalise_url(url: str) -> str:
    """The identity of a page behind its variants: host without www./m./amp., path without a
    trailing slash or AMP suffix, query without tracking parameters, no scheme or fragment.

    Plain string operations rather than urlsplit: this runs on every URL of every rebuild.
    """
    base, _, query = url.strip().partition("#")[0].partition("?")
    _, separator, rest = base.partition("://")
    if not separator:
        return url
    host, slash, path = rest.partition("/")
    host = host.rpartition("@")[2].partition(":")[0].lower()
    path = unquote("/" + path) if slash else ""
    if host.endswith(_AMP_CACHE):
        # https://example-com.cdn.ampproject.org/c/s/example.com/story -> example.com/story
        segments = path.split("/")
        if len(segments) > 3 and segments[1] in ("c", "v"):
            rest_segments = segments[3:] if segments[2] == "s" else segments[2:]
            host, path = rest_segments[0].lower(), "/" + "/".join(rest_segments[1:])
    for prefix in ("www.", "m.", "amp."):
        host = host.removeprefix(prefix)
    if path.startswith("/amp/"):
        path = path[4:]
    if "amp" in path:
        path = _AMP_PATH.sub("", path)
    path = path.rstrip("/")
    if query:
        kept = sorted(
            (k, v) for k, v in parse_qsl(query, keep_blank_values=True)
            if not k.lower().startswith("utm_") and k.lower() not in _TRACKING
        )
        query = urlencode(kept)
    return host + path + ("?" + query if query else "")


@lru_cache(maxsize=65536)
def normalise_title(title: str) -> str:
    """Words only, case-folded, without accents, articles and a trailing ' - Provider';
    '' if too short to tell a story apart."""
    text = title
    for separator in _TITLE_SEPARATORS:
        head, found, tail = text.rpartition(separator)
        if found and 2 <= len(tail) <= 40 and head:
            text = head
            break
    text = text.casefold()
    if not text.isascii():  # accents off: "Café" and "Cafe" are one title
        text = "".join(c for c in unicodedata.normalize("NFKD", text)
                       if not unicodedata.combining(c))
    words = [w for w in _WORD.findall(text) if w not in _ARTICLES]
    return " ".join(words) if len(words) >= MIN_TITLE_WORDS else ""


def same_story_groups(items: list[Item], tz: tzinfo) -> list[list[int]]:
    """Indexes of the items that are one story, in groups of two or more (union-find)."""
    parent = list(range(len(items)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(i: int, j: int) -> None:
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)

    first: dict[tuple[str, str], int] = {}
    for index, item in enumerate(items):
        keys = item.story_keys
        for url in keys.urls:
            other = first.setdefault(("url", url), index)
            if other != index:
                join(index, other)
        title = title_key(item, tz)
        if title:
            other = first.setdefault(("title", title), index)
            if other != index:
                join(index, other)
    for index, item in enumerate(items):
        for url in item.story_keys.related:
            other = first.get(("url", url))
            if other is not None and other != index:
                join(index, other)
    groups: dict[int, list[int]] = {}
    for index in range(len(items)):
        groups.setdefault(root(index), []).append(index)
    return [members for members in groups.values() if len(members) > 1]


def title_key(item: Item, tz: tzinfo) -> str:
    """The local day and normalised title: items that share one are the same story; '' for a
    title too short to tell."""
    title = item.story_keys.title
    return f"{item.published_at.astimezone(tz).date().isoformat()} {title}" if title else ""


def merge_score(item: Item) -> tuple:
    """The item that stands for a merged story: best quality and heat, then the first
    published (the scoop), then the file path for a stable choice."""
    return (-item.score, item.published_at, item.source)


Merge = tuple[list["Item"], dict[str, tuple[Credit, ...]], dict[str, tuple[str, ...]]]


def merge_duplicates(items: list[Item], tz: tzinfo) -> Merge:
    """The items with each story once; per kept item, its credits and the files merged into it."""
    credits: dict[str, tuple[Credit, ...]] = {}
    merged: dict[str, tuple[str, ...]] = {}
    dropped: set[int] = set()
    for group in same_story_groups(items, tz):
        ordered = sorted(group, key=lambda i: merge_score(items[i]))
        lead, others = items[ordered[0]], [items[i] for i in ordered[1:]]
        others.sort(key=lambda i: (i.published_at, i.source))
        # A URL variant from the lead's own provider is the same source: credited once.
        seen = {lead.provider.name.casefold()}
        story_credits = []
        for other in others:
            name = other.provider.name or other.provider.domain
            if name.casefold() not in seen:
                seen.add(name.casefold())
                story_credits.append(Credit(name, other.title, other.url))
        credits[lead.source] = tuple(story_credits)
        merged[lead.source] = tuple(o.source for o in others)
        dropped.update(ordered[1:])
    kept = [item for index, item in enumerate(items) if index not in dropped]
    return kept, credits, merged
