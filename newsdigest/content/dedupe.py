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
    # What story clusters compare (stories/clusters.py): the words of the title and of the
    # excerpt, normalised by story_words, each once, in a stable order.
    title_words: tuple[str, ...] = ()
    excerpt_words: tuple[str, ...] = ()


def story_keys(title: str, url: str, amp_url: str, related: Iterable[Related],
               excerpt: str = "") -> StoryKeys:
    urls = (normalise_url(url),) + ((normalise_url(amp_url),) if amp_url else ())
    title_words = story_words(_without_provider(title))
    return StoryKeys(urls, normalise_title(title),
                     tuple(dict.fromkeys(normalise_url(r.url) for r in related)),
                     title_words, tuple(w for w in story_words(excerpt) if w not in title_words))


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
    text = _plain(_without_provider(title))
    words = [w for w in _WORD.findall(text) if w not in _ARTICLES]
    return " ".join(words) if len(words) >= MIN_TITLE_WORDS else ""


def _without_provider(title: str) -> str:
    """The title without a trailing ' - Provider'."""
    for separator in _TITLE_SEPARATORS:
        head, found, tail = title.rpartition(separator)
        if found and 2 <= len(tail) <= 40 and head:
            return head
    return title


def _without_outlet(title: str, outlet: str) -> str:
    """A headline without a trailing ' - Outlet' naming its outlet, which a credit shows
    beside it anyway."""
    for separator in _TITLE_SEPARATORS:
        head, found, tail = title.rpartition(separator)
        if found and head and tail.strip().casefold() == outlet.casefold():
            return head
    return title


def _plain(text: str) -> str:
    """Case-folded, without accents: "Café" and "Cafe" are one word."""
    text = text.casefold()
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text)
                       if not unicodedata.combining(c))
    return text


# Story words: what two headlines of one story share however they are written. Numbers are
# values ("$2B", "2 billion", "2bn" and "2,000 million" are all n2e9), stop words are out, and
# a light stemmer and a few news verbs' synonyms make "acquires", "acquired by" and "buys" one
# word, so that "Nvidia buys X for $2B" and "X acquired by Nvidia in $2 billion deal" share
# nvidia, x, acquire and n2e9.
_NUMBER = re.compile(
    r"(?<![a-z0-9])(\d+(?:,\d{3})*(?:\.\d+)?)\s*"
    r"(%|percent\b|per cent\b|k\b|thousand\b|m\b|mn\b|million\b|b\b|bn\b|billion\b|t\b|tn\b"
    r"|trillion\b)?")
_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "b": 1e9, "bn": 1e9,
          "billion": 1e9, "t": 1e12, "tn": 1e12, "trillion": 1e12}
# A version glued to a name of three letters or more is a word of its own: "GPT5", "GPT-5"
# and "GPT 5" are all gpt n5 ("H100" and "o3" stay whole).
_VERSION = re.compile(r"(?<=[a-z]{3})(?=\d)")
_STORY_WORD = re.compile(r"[a-z0-9_%]+")
STOP_WORDS = frozenset("""
a about above after again against all also am an and any are as at be been before being
below between both but by can could did do does doing down during each few for from further
had has have having he her here hers him his how i if in into is it its itself just me more
most my no nor not now of off on once only or other our out over own same she should so some
such than that the their them then there these they this those through to too under until up
very was we were what when where which while who whom why will with would you your yet via
amid new says said say report reports reported according now today week weeks day days year
years month months first latest could may might one two us its it's per vs
""".split())
# News verbs and nouns that headlines use for one another (keys stemmed below).
_SYNONYM_WORDS = {
    **dict.fromkeys(("buy", "bought", "acquire", "acquisition", "purchase", "takeover",
                     "snap", "snapped", "acquir"), "acquire"),
    **dict.fromkeys(("launch", "unveil", "release", "debut", "introduce", "roll", "rolled",
                     "ship", "shipped", "announce", "reveal", "unveiled", "unveil"), "launch"),
    **dict.fromkeys(("raise", "raised", "funding", "fund", "secure", "round", "bag", "land",
                     "landed"), "fund"),
    **dict.fromkeys(("sue", "sued", "lawsuit", "suit", "litigation"), "sue"),
    **dict.fromkeys(("probe", "investigate", "investigation", "inquiry", "scrutiny"), "probe"),
    **dict.fromkeys(("layoff", "cut", "slash", "axe", "axed", "job"), "layoff"),
    **dict.fromkeys(("valuation", "value", "valued", "worth"), "valuation"),
    **dict.fromkeys(("fine", "fined", "penalty", "penalize"), "fine"),
    **dict.fromkeys(("ban", "banned", "prohibit", "outlaw", "block", "blocked"), "ban"),
    **dict.fromkeys(("partner", "partnership", "team", "teamed", "tie", "alliance"),
                    "partner"),
    **dict.fromkeys(("ceo", "boss"), "ceo"),
    **dict.fromkeys(("bot", "crawler", "scraper", "spider"), "bot"),
    **dict.fromkeys(("dev", "developer", "programmer", "engineer", "coder"), "developer"),
    **dict.fromkeys(("plus",), "plus"),
    **dict.fromkeys(("capex", "infrastructure"), "capex"),
    **dict.fromkeys(("revenue", "sales", "arr"), "revenue"),
    **dict.fromkeys(("quit", "resign", "depart", "leave", "exit", "step", "oust", "ousted",
                     "fired"), "depart"),
    **dict.fromkeys(("startup", "upstart"), "startup"),
    **dict.fromkeys(("chip", "chipmaker", "semiconductor", "processor", "gpu"), "chip"),
    **dict.fromkeys(("model", "llm"), "model"),
    **dict.fromkeys(("eu", "european", "europe", "brussels"), "eu"),
    **dict.fromkeys(("american", "america", "washington"), "usa"),
    **dict.fromkeys(("uk", "britain", "british"), "uk"),
    **dict.fromkeys(("china", "chinese", "beijing"), "china"),
}


# Phrases headlines write out or abbreviate, as one word; number words as numbers.
_PHRASES = {
    "annual recurring revenue": "arr", "annualized revenue": "arr", "new york city": "nyc",
    "chief executive officer": "ceo", "chief executive": "ceo", "capital spending": "capex",
    "capital expenditure": "capex", "generative ai": "genai", "gen ai": "genai",
    "artificial intelligence": "ai", "large language model": "llm", "language model": "llm",
    "initial public offering": "ipo", "half a billion": "500 million", "united states": "usa",
    "u.s.": "usa", "open source": "opensource", "open weight": "openweight",
    "self driving": "selfdriving", "driverless": "selfdriving", "autonomous car": "selfdriving",
    "a dozen": "12", "one million": "1 million", "a million": "1 million",
}
_PHRASE = re.compile(r"\b(" + "|".join(re.escape(p) for p in sorted(_PHRASES, key=len,
                                                                    reverse=True)) + r")\b")
_NUMBER_WORDS = {word: str(n) for n, word in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}
_NUMBER_WORDS |= {word: str(n + 1) for n, word in enumerate(
    "first second third fourth fifth sixth seventh eighth ninth tenth".split()) if n}
_NUMBER_WORD = re.compile(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b(?=[ -](?:[a-z]|\d))")


@lru_cache(maxsize=65536)
def story_words(text: str) -> tuple[str, ...]:
    """The words of a headline or excerpt that tell its story, normalised, each once."""
    text = _plain(text).replace("\u2019", "'").replace("'s ", " ").replace("+", " plus")
    text = _PHRASE.sub(lambda m: _PHRASES[m.group(1)], text.replace("-", " "))
    text = _NUMBER_WORD.sub(lambda m: _NUMBER_WORDS[m.group(1)], text)
    text = re.sub(r"(?<=\d)(?:st|nd|rd|th)\b", "", text)  # "7th" is 7
    text = _NUMBER.sub(_number_word, _VERSION.sub(" ", text))
    words: dict[str, None] = {}
    for word in _STORY_WORD.findall(text):
        if word in STOP_WORDS or len(word) < 2:
            continue
        if word[0] != "n" or not word[1:2].isdigit():  # numbers are values already
            word = _stem(word)
            word = _SYNONYMS.get(word, word)
        words[word] = None
    return tuple(words)


def _number_word(match: re.Match[str]) -> str:
    """A number as its value: '$2B', '2 billion' and '2,000 million' are all ' n2e09 '."""
    digits, unit = match.group(1).replace(",", ""), (match.group(2) or "").strip()
    if unit in ("%", "percent", "per cent"):
        value = f"{float(digits):g}%"
    else:
        value = f"{float(digits) * _SCALE.get(unit, 1):g}"
    return " n" + value.replace(".", "_").replace("+", "") + " "


_DOUBLED = re.compile(r"([bdgkmnprt])\1$")


def _stem(word: str) -> str:
    """A light stemmer, the same for every form of a word: 'releases', 'released' and
    'release' are all 'releas'; 'shipped' and 'ships' are 'ship'."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) >= 5:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes")) and len(word) >= 5:
        word = word[:-2]
    elif word.endswith("ing") and len(word) >= 6:
        word = _DOUBLED.sub(r"\1", word[:-3])
    elif word.endswith("ed") and len(word) >= 5:
        word = _DOUBLED.sub(r"\1", word[:-2])
    elif word.endswith("s") and len(word) >= 4 and not word.endswith(("ss", "us", "sis")):
        word = word[:-1]
    if word.endswith("e") and len(word) >= 5:
        word = word[:-1]
    return word


_SYNONYMS = {_stem(word): meaning for word, meaning in _SYNONYM_WORDS.items()}


def same_story_groups(items: list[Item], tz: tzinfo) -> list[list[int]]:
    """Indexes of the items that are one story, in groups of two or more (union-find).
    An item of `story: alone` is grouped only with copies of its own source URL."""
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

    from newsdigest.content.item import STORY_ALONE  # item.py imports this module

    first: dict[tuple[str, str], int] = {}
    for index, item in enumerate(items):
        keys = item.story_keys
        for url in keys.urls:
            other = first.setdefault(("url", url), index)
            if other != index:
                join(index, other)
        # `story: alone`: only a copy of its very source is the same story
        title = title_key(item, tz) if item.story != STORY_ALONE else ""
        if title:
            other = first.setdefault(("title", title), index)
            if other != index:
                join(index, other)
    for index, item in enumerate(items):
        if item.story == STORY_ALONE:
            continue
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
    return merge_groups(items, same_story_groups(items, tz))


def merge_groups(items: list[Item], groups: list[list[int]]) -> Merge:
    """Each group of `items` (indexes) shown once, by its lead (merge_score), crediting each
    other outlet's coverage once; the order of `items` kept. Per lead, the files merged into
    it, oldest first."""
    credits: dict[str, tuple[Credit, ...]] = {}
    merged: dict[str, tuple[str, ...]] = {}
    dropped: set[int] = set()
    for group in groups:
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
                story_credits.append(Credit(name, _without_outlet(other.title, name), other.url))
        credits[lead.source] = tuple(story_credits)
        merged[lead.source] = tuple(o.source for o in others)
        dropped.update(ordered[1:])
    kept = [item for index, item in enumerate(items) if index not in dropped]
    return kept, credits, merged
