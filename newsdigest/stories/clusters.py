"""Story clusters: the items of different outlets about one story shown as one.

On top of the exact duplicates content/dedupe.py finds (the same source URL, a `related` link,
the same title on the same day), items published within `[stories] window_hours` of each other
by different outlets are one story when their words are alike, however their titles are
written ("Nvidia buys chip startup X for $2B" / "X acquired by Nvidia in $2 billion deal").

Similarity is the cosine of the two items' story words (dedupe.story_words: numbers as values,
stop words out, stemmed), each weighted by how rare it is in the site (inverse document
frequency) and one and a half times in the title, less the share of each title the other
item lacks altogether ("AI tutor for math" / "AI tutor for language learning"). Not every
pair is compared: an item is compared only with the items near it in time that share one of
its rarest words (blocking), at most NEIGHBOURS of them per word, so the cost grows linearly
with the number of items.

The editor decides when the machine is wrong: front matter `story: KEY` puts the items with
that key in one cluster whatever their similarity (and keeps two different keys apart);
`story: alone` (and a sponsored item, `kind: sponsor`) keeps an item out of every cluster
(only a copy of its very source URL is still merged into it, or it into that copy).

Clusters are made by joining the most similar pairs first (single link), refusing a join that
would put two items of one outlet in a cluster, stretch it over more than the window, or join
two different keys. The result depends only on the items, never on the order of the files.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import tzinfo
from itertools import chain

from newsdigest.config.stories import StorySettings
from newsdigest.content.dedupe import Credit, merge_groups, same_story_groups
from newsdigest.content.item import STORY_ALONE, Item

TITLE_WEIGHT = 1.5  # a title word counts one and a half times an excerpt word
MISSING_WEIGHT = 0.75  # what a title's words missing from the other item take off
BLOCKING_TITLE_WORDS = 4  # an item meets the others through its rarest title words...
BLOCKING_EXCERPT_WORDS = 2  # ...and excerpt words
NEIGHBOURS = 24  # per blocking word, the items nearest in time on each side that are compared
# A word in more items than this share of the site (and at least COMMON_FLOOR) says too
# little to bring two items together (it may still count in their similarity).
COMMON_SHARE = 0.02
COMMON_FLOOR = 40
# Inverse document frequency as if the site had at least this many items: on a small site
# every word counts about the same, rather than the words two items share the least.
IDF_FLOOR = 500

DUPLICATE = "duplicate"  # the same source URL, a related link, the same title that day
STORY_KEY = "story key"  # the editor's `story:` key
SIMILAR = "similar"  # alike words
# Why two alike items are not one story (the curation report's near misses).
BELOW = "below the similarity"
REFUSED_OUTLET = "one outlet twice"
REFUSED_KEYS = "two story keys"
REFUSED_WINDOW = "longer than the window"
NEAR_MISSES = 20  # the most alike pairs not joined, at most this many...
NEAR_SHARE = 0.5  # ...and at least this share of the similarity needed


@dataclass(frozen=True, slots=True)
class Joined:
    """How one member came into its cluster: the curation report lists it, so that the
    editor can tune `similarity`."""

    source: str  # its content file
    provider: str
    title: str
    how: str  # DUPLICATE, STORY_KEY or SIMILAR
    score: float | None  # its best similarity to another member (None: never compared)

    @property
    def line(self) -> str:
        score = f" {self.score:.2f}" if self.score is not None else ""
        return f"{self.how}{score}: {self.source} ({self.provider}: {self.title})"


@dataclass(frozen=True, slots=True)
class Cluster:
    lead: str  # the content file of the item shown
    provider: str
    title: str
    members: tuple[Joined, ...]  # the others, oldest first

    @property
    def line(self) -> str:
        return f"{self.lead} ({self.provider}: {self.title})"


@dataclass(frozen=True, slots=True)
class NearMiss:
    """Two alike items that are not one story: the report shows the closest, so that the
    editor sees what a lower `similarity` would join (or a `story:` key should)."""

    score: float
    first: str  # "file (Outlet: headline)"
    second: str
    why: str  # BELOW, or why the join was refused

    @property
    def line(self) -> str:
        return f"{self.score:.2f} {self.why}: {self.first} / {self.second}"


def _named(item: Item) -> str:
    return f"{item.source} ({item.provider.name or item.provider.domain}: {item.title})"


@dataclass(frozen=True)
class Merged:
    """The items with each story once, what was merged, and the clusters as the report
    shows them."""

    kept: list[Item]
    credits: dict[str, tuple[Credit, ...]]  # kept file -> the other outlets' coverage
    merged: dict[str, tuple[str, ...]]  # kept file -> the files merged into it
    clusters: tuple[Cluster, ...]  # by lead
    inputs: ClusterInputs
    near_misses: tuple[NearMiss, ...] = ()


@dataclass(frozen=True, slots=True)
class Words:
    """What clustering reads of an item (a kept site state holds these for every item)."""

    provider: str
    when: float  # publication time, seconds
    key: str  # front matter `story`
    title: tuple[str, ...]
    excerpt: tuple[str, ...]

    @classmethod
    def of(cls, item: Item) -> Words:
        # A sponsored item is no outlet's coverage: never joined by similarity (a sponsor
        # leading a story would take it out of feeds and editions).
        key = item.story or (STORY_ALONE if item.sponsored else "")
        return cls((item.provider.name or item.provider.domain).casefold(),
                   item.published_at.timestamp(), key,
                   item.story_keys.title_words, item.story_keys.excerpt_words)


# The words of many items: every distinct word once, then per item its provider, time and
# key, and its title's and excerpt's words as numbers into that list.
PackedWords = tuple[tuple[str, ...], tuple[str, ...], bytes, tuple[str, ...], bytes, bytes]


def _packed(words: Sequence[Words]) -> PackedWords:
    every = [word for w in words for part in (w.title, w.excerpt) for word in part]
    number = {word: n for n, word in enumerate(dict.fromkeys(every))}
    lengths = array("I", [n for w in words for n in (len(w.title), len(w.excerpt))])
    return (tuple(number), tuple(w.provider for w in words),
            array("d", [w.when for w in words]).tobytes(), tuple(w.key for w in words),
            lengths.tobytes(), array("I", map(number.__getitem__, every)).tobytes())


def _unpacked(packed: PackedWords) -> tuple[Words, ...]:
    distinct, providers, when_bytes, keys, length_bytes, number_bytes = packed
    whens, lengths, numbers = array("d"), array("I"), array("I")
    whens.frombytes(when_bytes)
    lengths.frombytes(length_bytes)
    numbers.frombytes(number_bytes)
    every = list(map(distinct.__getitem__, numbers))
    words = []
    at = 0
    for index, (provider, when, key) in enumerate(zip(providers, whens, keys, strict=True)):
        title_end = at + lengths[2 * index]
        excerpt_end = title_end + lengths[2 * index + 1]
        words.append(Words(provider, when, key, tuple(every[at:title_end]),
                           tuple(every[title_end:excerpt_end])))
        at = excerpt_end
    if at != len(every):
        raise ValueError("cluster inputs: the words do not add up")
    return tuple(words)


def _inputs_unpacked(sources: tuple[str, ...], packed: PackedWords,
                     exact: tuple[tuple[int, ...], ...], settings: StorySettings,
                     result: Result, names: tuple[str, ...]) -> ClusterInputs:
    return ClusterInputs(sources, _unpacked(packed), exact, settings, result, names)


def merge_stories(items: list[Item], tz: tzinfo, settings: StorySettings) -> Merged:
    """The items (newest first) with each story once; order kept."""
    inputs = ClusterInputs.of(items, tz, settings)
    groups, joins, near = inputs.result
    kept, credits, merged = merge_groups(items, [list(g) for g in groups])
    return Merged(kept, credits, merged, _report(merged, items, dict(joins)), inputs,
                  inputs.near_misses)


# The groups (indexes), how each grouped item joined, and the near misses.
Result = tuple[tuple[tuple[int, ...], ...], tuple[tuple[int, tuple[str, float | None]], ...],
               tuple[tuple[float, int, int, str], ...]]


@dataclass(frozen=True)
class ClusterInputs:
    """What the clusters were made from, and what they came to: a kept site state
    (build/kept_state.py) checks with it that an edit of an item's words changes no cluster
    before it patches the edit in (similarities may change: the report is made from them)."""

    sources: tuple[str, ...]
    words: tuple[Words, ...]
    exact: tuple[tuple[int, ...], ...]  # the duplicates (dedupe.same_story_groups)
    settings: StorySettings
    result: Result  # cluster_groups(words, exact, settings)
    names: tuple[str, ...] = ()  # per item, "file (Outlet: headline)" for the near misses

    @property
    def near_misses(self) -> tuple[NearMiss, ...]:
        return tuple(NearMiss(score, self.names[i], self.names[j], why)
                     for score, i, j, why in self.result[2])

    def scores(self) -> dict[str, tuple[str, float | None]]:
        """How each grouped item joined and its best similarity, by content file."""
        return {self.sources[index]: joined for index, joined in self.result[1]}

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # Kept with the site state, and read back by every rebuild that patches it: the
        # words as numbers into one list of them (_packed) pickle and unpickle in half the
        # time of a string each.
        return _inputs_unpacked, (self.sources, _packed(self.words), self.exact,
                                  self.settings, self.result, self.names)

    @classmethod
    def of(cls, items: list[Item], tz: tzinfo, settings: StorySettings) -> ClusterInputs:
        words = tuple(Words.of(i) for i in items)
        exact = tuple(tuple(g) for g in same_story_groups(items, tz))
        return cls(tuple(i.source for i in items), words, exact, settings,
                   cluster_groups(words, exact, settings), tuple(_named(i) for i in items))

    def patched(self, edited: dict[str, Item]) -> ClusterInputs | None:
        """These inputs with the edited items' new words, if every cluster stays as it was
        (its members, and how each joined); None if not. The similarities, which only the
        curation report shows, are those of the new words."""
        at = {source: index for index, source in enumerate(self.sources)}
        words, names = list(self.words), list(self.names)
        for source, item in edited.items():
            if source not in at:
                return None
            words[at[source]] = Words.of(item)
            names[at[source]] = _named(item)
        if any(new.key != old.key for new, old in zip(words, self.words, strict=True)):
            return None
        result = self.result
        if words != list(self.words) and self.settings.cluster:
            result = cluster_groups(words, self.exact, self.settings)
            hows = [(index, how) for index, (how, _) in result[1]]
            if result[0] != self.result[0] or hows != [(i, h) for i, (h, _) in self.result[1]]:
                return None
        return replace(self, words=tuple(words), names=tuple(names), result=result)

    def added(self, new: Sequence[Item]) -> ClusterInputs | None:
        """These inputs with new items, each in its place (newest first, then by file), if
        every cluster stays as it was and none of them joins one; None if not. The caller
        has checked that none is another's duplicate or names a story key."""
        entries = [(-w.when, source, w, name)
                   for source, w, name in zip(self.sources, self.words, self.names, strict=True)]
        entries += [(-w.when, item.source, w, _named(item))
                    for item, w in ((item, Words.of(item)) for item in new)]
        entries.sort(key=lambda e: (e[0], e[1]))
        at = {source: index for index, (_, source, _, _) in enumerate(entries)}
        moved = [at[source] for source in self.sources]  # old index -> new index
        words = tuple(e[2] for e in entries)
        exact = tuple(tuple(moved[i] for i in group) for group in self.exact)
        result = cluster_groups(words, exact, self.settings)
        if _by_source(result, [e[1] for e in entries]) != _by_source(self.result,
                                                                    list(self.sources)):
            return None
        return replace(self, sources=tuple(e[1] for e in entries), words=words, exact=exact,
                       result=result, names=tuple(e[3] for e in entries))


def _by_source(result: Result, sources: list[str]) -> tuple[frozenset, frozenset]:
    """The clusters of a result and how each member joined, by content file."""
    groups = frozenset(frozenset(sources[i] for i in group) for group in result[0])
    hows = frozenset((sources[index], how) for index, (how, _) in result[1])
    return groups, hows


def cluster_groups(words: Sequence[Words], exact: Sequence[Sequence[int]],
                   settings: StorySettings) -> Result:
    """The groups of two or more items that are one story (indexes into `words`), and per
    grouped item how it joined; `exact` are the groups of duplicates."""
    joins = _Joins(words, settings.window_hours * 3600.0)
    how: dict[int, str] = {}
    for group in exact:
        for index in group[1:]:
            joins.force(group[0], index)
        how.update(dict.fromkeys(group, DUPLICATE))
    by_key: dict[str, list[int]] = defaultdict(list)
    for index, w in enumerate(words):
        if w.key and w.key != STORY_ALONE:
            by_key[w.key.casefold()].append(index)
    for members in by_key.values():
        for index in members[1:]:
            joins.force(members[0], index)
        if len(members) > 1:
            how.update(dict.fromkeys(members, STORY_KEY))
    best: dict[int, float] = {}
    refused: dict[tuple[int, int], str] = {}
    near: list[tuple[float, int, int, str]] = []
    if settings.cluster:
        pairs = similar_pairs(words, settings.window_hours * 3600.0)
        for score, i, j in pairs:
            if score < settings.similarity:
                break
            why_not = joins.join(i, j)
            if why_not:
                refused[i, j] = why_not
            else:
                how.setdefault(i, SIMILAR)
                how.setdefault(j, SIMILAR)
        for score, i, j in pairs:  # each member's best match in its cluster
            if joins.together(i, j):
                best.setdefault(i, score)
                best.setdefault(j, score)
            elif len(near) < NEAR_MISSES and score >= settings.similarity * NEAR_SHARE:
                near.append((score, i, j, refused.get((i, j), BELOW)))
    groups = joins.groups()
    return (tuple(tuple(g) for g in groups),
            tuple((index, (how.get(index, SIMILAR), best.get(index)))
                  for group in groups for index in group),
            tuple(near))


class _Joins:
    """Union-find over the items, each set knowing its outlets, key and time span, so that a
    join by similarity can be refused."""

    def __init__(self, words: Sequence[Words], window: float):
        self.parent = list(range(len(words)))
        self.providers = [{w.provider} for w in words]
        self.keys = [w.key.casefold() if w.key != STORY_ALONE else "" for w in words]
        self.span = [(w.when, w.when) for w in words]
        self.window = window

    def root(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def together(self, i: int, j: int) -> bool:
        return self.root(i) == self.root(j)

    def join(self, i: int, j: int) -> str:
        """Join by similarity, unless the cluster would then hold an outlet twice, two keys
        or items further apart than the window: '' when they are together now, else why not."""
        a, b = self.root(i), self.root(j)
        if a == b:
            return ""
        if self.providers[a] & self.providers[b]:
            return REFUSED_OUTLET
        if self.keys[a] and self.keys[b] and self.keys[a] != self.keys[b]:
            return REFUSED_KEYS
        start = min(self.span[a][0], self.span[b][0])
        end = max(self.span[a][1], self.span[b][1])
        if end - start > self.window:
            return REFUSED_WINDOW
        self._union(a, b)
        return ""

    def force(self, i: int, j: int) -> None:
        """Join whatever the outlets and times: duplicates and the editor's keys."""
        a, b = self.root(i), self.root(j)
        if a != b:
            self._union(a, b)

    def _union(self, a: int, b: int) -> None:
        keep, gone = min(a, b), max(a, b)
        self.parent[gone] = keep
        self.providers[keep] = self.providers[keep] | self.providers[gone]
        self.keys[keep] = self.keys[keep] or self.keys[gone]
        self.span[keep] = (min(self.span[keep][0], self.span[gone][0]),
                           max(self.span[keep][1], self.span[gone][1]))

    def groups(self) -> list[list[int]]:
        found: dict[int, list[int]] = {}
        for index in range(len(self.parent)):
            found.setdefault(self.root(index), []).append(index)
        return [members for members in found.values() if len(members) > 1]


def similar_pairs(words: Sequence[Words], window: float) -> list[tuple[float, int, int]]:
    """(similarity, i, j) of the pairs of items worth comparing, most similar first: of
    different outlets, neither alone, within `window` seconds, sharing one of their rarest
    words. Two items that each name a number in the title the other lacks ("GPT-4" /
    "GPT-5") are no pair."""
    count = len(words)
    # counted in one pass over every word (a plain dict to look them up in: a Counter's
    # lookups go through its subclass)
    frequency = dict(Counter(chain.from_iterable(
        part for w in words for part in (w.title, w.excerpt))))
    size = max(count, IDF_FLOOR)
    idf = {word: math.log(1 + size / n) for word, n in frequency.items()}
    common = max(COMMON_FLOOR, int(count * COMMON_SHARE))
    # Items in time order (equal times in index order: the sort is stable), and per blocking
    # word the items (as time ranks) that have it.
    whens = [w.when for w in words]
    order = sorted(range(count), key=whens.__getitem__)
    times = [whens[i] for i in order]
    postings: dict[str, list[int]] = defaultdict(list)
    blocking: list[list[str]] = [[] for _ in range(count)]
    rarity = frequency.__getitem__  # ties keep the words' order: the result is stable
    for rank, index in enumerate(order):
        w = words[index]
        if w.key == STORY_ALONE:
            continue
        title = [word for word in w.title if frequency[word] <= common]
        excerpt = [word for word in w.excerpt if frequency[word] <= common]
        for word in title:
            postings[word].append(rank)
        for word in excerpt:
            postings[word].append(rank)
        blocking[index] = (sorted(title, key=rarity)[:BLOCKING_TITLE_WORDS]
                           + sorted(excerpt, key=rarity)[:BLOCKING_EXCERPT_WORDS])
    candidates: set[int] = set()  # rank * count + other rank, the earlier first
    for rank, index in enumerate(order):
        if not blocking[index]:
            continue
        # The items with one of its rarest words within the window, at most NEIGHBOURS on
        # each side per word.
        low = bisect_left(times, times[rank] - window)
        high = bisect_right(times, times[rank] + window)
        for word in blocking[index]:
            ranks = postings[word]
            if len(ranks) == 1:
                continue  # its own word alone (the rarest words often are)
            at = bisect_left(ranks, rank)
            first = max(bisect_left(ranks, low, 0, at), at - NEIGHBOURS)
            last = min(bisect_left(ranks, high, at), at + NEIGHBOURS + 1)
            candidates.update(other * count + rank for other in ranks[first:at])
            candidates.update(rank * count + other for other in ranks[at + 1:last])
    vectors: dict[int, tuple[dict[str, float], float, float, frozenset[str]]] = {}

    def vector(index: int) -> tuple[dict[str, float], float, float, frozenset[str]]:
        found = vectors.get(index)
        if found is None:
            w = words[index]
            weights = {word: idf[word] * TITLE_WEIGHT for word in w.title}
            for word in w.excerpt:
                weights[word] = weights.get(word, 0.0) + idf[word]
            norm = math.sqrt(sum(v * v for v in weights.values())) or 1.0
            title_weight = sum(idf[word] for word in w.title) or 1.0
            found = vectors[index] = (weights, norm, title_weight, _numbers(w))
        return found

    pairs = []
    for pair in candidates:
        rank_a, rank_b = divmod(pair, count)
        i, j = order[rank_a], order[rank_b]
        if words[i].provider == words[j].provider:
            continue
        a, norm_a, title_a, numbers_a = vector(i)
        b, norm_b, title_b, numbers_b = vector(j)
        if numbers_a - b.keys() and numbers_b - a.keys():
            continue  # each tells a number the other does not: "beta 3" / "beta 4"
        small, large = (a, b) if len(a) < len(b) else (b, a)
        score = sum(weight * large[word] for word, weight in small.items() if word in large)
        score /= norm_a * norm_b
        # Titles alike but for what each is about ("AI tutor for math" / "AI tutor for
        # language learning") are two stories: the share of each title the other item does
        # not have at all counts against them.
        missing_a = sum(idf[word] for word in words[i].title if word not in b) / title_a
        missing_b = sum(idf[word] for word in words[j].title if word not in a) / title_b
        score = round(score - MISSING_WEIGHT * min(missing_a, missing_b), 4)
        if score > 0:
            pairs.append((score, min(i, j), max(i, j)))
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    return pairs


def _numbers(w: Words) -> frozenset[str]:
    """The numbers of an item's title but years: two items that each tell a number the other
    does not are two stories ("Story 3" / "Story 4", "GPT-4" / "GPT-5")."""
    return frozenset(word for word in w.title if word[0] == "n" and word[1:2].isdigit()
                     and not (len(word) == 5 and word[1:3] in ("19", "20")))


def _report(merged: dict[str, tuple[str, ...]], items: list[Item],
            joins: dict[int, tuple[str, float | None]]) -> tuple[Cluster, ...]:
    index_of = {item.source: index for index, item in enumerate(items)}

    def named(source: str) -> tuple[str, str]:
        item = items[index_of[source]]
        return item.provider.name or item.provider.domain, item.title

    return tuple(
        Cluster(lead, *named(lead), tuple(
            Joined(source, *named(source), *joins.get(index_of[source], (DUPLICATE, None)))
            for source in sources))
        for lead, sources in sorted(merged.items()))
