"""What the build accepts from content files: limits, embed hosts, files that are not items.

Settings of `[build]` and `[site]` in site.toml; the content stage applies them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

DEFAULT_IGNORE = ("README*", "_*")  # glob patterns of files in content/ that are not items
YOUTUBE_HOSTS = {"www.youtube.com", "youtube.com", "m.youtube.com", "www.youtube-nocookie.com",
                  "youtube-nocookie.com"}
VIMEO_HOSTS = {"player.vimeo.com"}
KNOWN_EMBED_HOSTS = YOUTUBE_HOSTS | VIMEO_HOSTS  # the hosts whose video ids we can read
DEFAULT_EMBED_HOSTS = tuple(sorted(KNOWN_EMBED_HOSTS))


@dataclass(frozen=True)
class ContentRules:
    """Limits and policies for untrusted content, from site.toml (defaults are safe)."""

    max_body_bytes: int = 256 * 1024  # a longer body is cut, with a warning
    max_front_matter_bytes: int = 64 * 1024  # a larger block makes the file invalid
    max_topics: int = 12
    render_seconds: float = 10.0  # per body: Markdown has super-linear inputs
    embed_hosts: tuple[str, ...] = DEFAULT_EMBED_HOSTS
    nofollow: bool = False  # add rel="nofollow" to links in bodies
    strict: bool = False  # every warning about an item makes it invalid
    declared_topics: tuple[str, ...] = ()  # site.toml [topics]: near misses are warned about

    @cached_property
    def near_topics(self) -> NearNames:
        # Built once per process, on first use: hashing the rules for a cache would cost a walk
        # of every declared topic per item.
        return NearNames(self.declared_topics)


def closest_name(name: str, names: Iterable[str]) -> str:
    """The one of `names` (as written there) most like `name`, letter case aside, if it is
    at least 60% alike (difflib's ratio); else ''. For the "did you mean" of a misspelt
    field, kind or topic."""
    import difflib  # only a mistake needs it

    by_case = {known.casefold(): known for known in sorted(names)}
    match = difflib.get_close_matches(name.casefold(), by_case, n=1, cutoff=0.6)
    return by_case[match[0]] if match else ""


class NearNames:
    """Declared names, to find the one a name misses by one edit (a letter left out, added,
    changed, or two swapped), for any number of names at a few lookups each."""

    MIN_LENGTH = 4  # shorter names one edit apart are usually different words (AI, AR, VR)

    def __init__(self, names: tuple[str, ...]):
        self.exact: dict[str, str] = {}
        for name in names:
            self.exact.setdefault(" ".join(name.split()).casefold(), name)
        # Each declared name with one letter left out: a misspelling meets its name here.
        self.shortened: dict[str, list[str]] = {}
        for key in self.exact:
            for cut in {key[:i] + key[i + 1:] for i in range(len(key))}:
                self.shortened.setdefault(cut, []).append(key)

    def near(self, key: str) -> str | None:
        """The declared name (as declared) one edit from `key`, a casefolded name; None when
        `key` is declared itself, or near none."""
        if key in self.exact or len(key) < self.MIN_LENGTH or not self.exact:
            return None
        cuts = {key[:i] + key[i + 1:] for i in range(len(key))}
        candidates = set(self.shortened.get(key, ()))  # a letter left out of `key`
        for cut in cuts:
            if cut in self.exact:  # a letter added to `key`
                candidates.add(cut)
            candidates.update(self.shortened.get(cut, ()))  # changed, or two swapped
        found = sorted(c for c in candidates if _one_edit(key, c))
        return self.exact[found[0]] if found else None


def _one_edit(a: str, b: str) -> bool:
    """One letter apart (left out, added or changed), or two neighbours swapped."""
    if len(a) > len(b):
        a, b = b, a
    if len(b) - len(a) > 1 or a == b:
        return False
    start = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), len(a))
    if len(a) != len(b):
        return a[start:] == b[start + 1:]
    return (a[start + 1:] == b[start + 1:]
            or (a[start:start + 2] == b[start:start + 2][::-1] and a[start + 2:] == b[start + 2:]))
