"""What a build plans to write: one Output per file of the site, each path claimed once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from newsdigest.errors import NewsdigestError

PHASE_ASSETS = 0  # write order: assets first, then item pages, lists, feeds and sitemaps


@dataclass(frozen=True)
class Output:
    """One file of the site: where it goes, what it was made from, and how to make it."""

    path: str  # relative to the output folder, posix
    phase: int  # write order: assets, item pages, lists, feeds and sitemaps
    fingerprint: str
    produce: Callable[[], bytes] | None = None
    copy_from: Path | None = None  # assets are copied, not produced
    values: str = ""  # pages: the fingerprint of their values alone, without the templates
    templates: tuple[str, ...] = ()  # pages: the templates they are rendered with


class PathClaimedTwice(NewsdigestError):
    """Two outputs of one build would write the same file: one would silently replace the
    other (a static file over a page, a picture over a feed), so the build stops instead."""


def check_one_claim_per_path(outputs: Sequence[Output]) -> None:
    """PathClaimedTwice naming every path that more than one output would write."""
    claims: dict[str, list[Output]] = {}
    for made in outputs:
        claims.setdefault(made.path, []).append(made)
    clashes = [f"{path}: {' and '.join(_claimant(o) for o in claimed)}"
               for path, claimed in claims.items() if len(claimed) > 1]
    if clashes:
        raise PathClaimedTwice(
            "two outputs would write the same file; rename one of them:\n  "
            + "\n  ".join(clashes))


def _claimant(made: Output) -> str:
    if made.copy_from is not None:
        return f"the file {made.copy_from}"
    if made.templates:
        return f"a page made with {made.templates[0]}"
    return "a generated file"
