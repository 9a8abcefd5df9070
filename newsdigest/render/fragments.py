"""Rendered pieces of pages (a story's card, its JSON) kept between builds.

Adding an item shifts every paginated list: each card moves to another page, but is made of
the same inputs. A piece is filed under its story's fingerprint, in a store whose `context`
names everything else it is made from (the code, the template, the settings): a kept piece is
exactly what rendering it again would give, and a store made in another context is ignored.

The store is sharded by fingerprint so that a rebuild after one edit rewrites a shard or
two, and a shard is read only when one of its pieces is asked for.
"""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from newsdigest.store import load_pickle, save_atomic

# A list page shows twenty cards from as many shards: small ones, so that a rebuild of a few
# pages reads a few megabytes, not every card of the site.
SHARDS = 256
Key = tuple[str, object]  # (story fingerprint, variant such as the card's `eager`)


class Fragments:
    """Pieces by (story fingerprint, variant), read lazily from `folder` (None: memory only),
    in shards by fingerprint, or by variant (`by_variant`: where the pieces one page shows
    share a variant, such as the rows of a month's archive)."""

    def __init__(self, folder: Path | None, context: str, by_variant: bool = False):
        self.folder = folder
        self.context = context
        self._shard_of = _shard_by_variant if by_variant else _shard_of
        self._shards: dict[int, dict[Key, str]] = {}
        # Made by this process and not saved yet; a worker process hands them to the parent
        # (take_new), which saves them with its own (add).
        self._new: dict[Key, str] = {}

    def get(self, key: Key) -> str | None:
        return self._shard(self._shard_of(key)).get(key)

    def made(self, key: Key, make: Callable[[], str]) -> str:
        """The piece at `key`, made (and kept) when it is not there yet."""
        text = self.get(key)
        if text is None:
            text = make()
            self.put(key, text)
        return text

    def put(self, key: Key, text: str) -> None:
        self._shard(self._shard_of(key))[key] = text
        if self.folder is not None:  # a store kept in memory only saves nothing
            self._new[key] = text

    def take_new(self) -> dict[Key, str]:
        """In a worker process: the pieces it made since the last call, for the parent."""
        new, self._new = self._new, {}
        return new

    def add(self, pieces: dict[Key, str]) -> None:
        """In the parent: pieces a worker made, to save with the parent's own."""
        self._new.update(pieces)

    def save(self, current: set[str]) -> None:
        """Write the shards that gained pieces, keeping only the stories still in the site."""
        if self.folder is None or not self._new:
            return
        touched: dict[int, dict[Key, str]] = {}
        for key, text in self._new.items():
            touched.setdefault(self._shard_of(key), {})[key] = text
        for number, made in touched.items():
            kept = {k: v for k, v in self._read(number).items() if k[0] in current}
            kept.update((k, v) for k, v in made.items() if k[0] in current)
            save_atomic(self._file(number),
                        pickle.dumps((self.context, kept), pickle.HIGHEST_PROTOCOL))
        self._new = {}

    def _shard(self, number: int) -> dict[Key, str]:
        shard = self._shards.get(number)
        if shard is None:
            shard = self._shards[number] = self._read(number)
        return shard

    def _read(self, number: int) -> dict[Key, str]:
        if self.folder is None:
            return {}
        match load_pickle(self._file(number)):
            case (context, dict() as pieces) if context == self.context:
                return pieces
            case _:
                return {}

    def _file(self, number: int) -> Path:
        assert self.folder is not None
        return self.folder / f"{number:03d}.pickle"


def _shard_of(key: Key) -> int:
    return zlib.crc32(key[0].encode()) % SHARDS


def _shard_by_variant(key: Key) -> int:
    return zlib.crc32(str(key[1]).encode()) % SHARDS


def month_of(story: Any) -> str:
    """The variant of a story's pieces kept with its month's (a month's archive page and
    sitemap file show them together): its year and month in the site's time."""
    local = story.local_date
    return f"{local.year:04d}-{local.month:02d}"
