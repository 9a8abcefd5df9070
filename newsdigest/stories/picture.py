"""What a page shows for an image: plain values the templates print, computed in images.py."""

from __future__ import annotations

from dataclasses import dataclass


# No slots: frozen slotted dataclasses unpickle through a Python __setstate__, and the kept
# site state (sitestate.py) holds one or two per story: an eighth of loading it.
@dataclass(frozen=True, repr=False)
class Picture:
    """A responsive image, or a remote URL when no thumbnail could be made.

    Every URL is final (site-absolute, or the remote image's own), so templates print them as
    they are. Its repr names every file it points at: a story's fingerprint includes it.
    """

    src: str  # <img src>: the fallback thumbnail, or the remote URL
    width: int | None  # intrinsic size of the largest thumbnail: no layout shift
    height: int | None
    alt: str
    srcset: str = ""  # the fallback format (JPEG or PNG) at every width
    sources: tuple[tuple[str, str], ...] = ()  # (MIME type, srcset) of the modern formats
    kind: str = "photo"  # photo, or logo (a provider logo standing in, shown on a tile)

    def __repr__(self) -> str:
        # Exact like the generated one, without its recursion guard: every story's
        # fingerprint takes the repr of its picture and logo, on every build.
        return (f"Picture({self.src!r}, {self.width!r}, {self.height!r}, {self.alt!r}, "
                f"{self.srcset!r}, {self.sources!r}, {self.kind!r})")
