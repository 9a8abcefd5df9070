"""Every slug and output path rule in one place: URLs are part of the product."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime
from pathlib import PurePosixPath

MAX_SLUG = 80
REPORT_FOLDER = "_report/"  # the curation report, for the editors: linked from no page
_SYMBOLS = {"+": " plus ", "#": " sharp ", "&": " and ", "@": " at ", "%": " percent "}
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_LEADING_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}[-_]?")
# A DNS host name, lower case, with a top-level domain of letters (as urlsplit gives it).
DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


def slugify(text: str, fallback_prefix: str = "t") -> str:
    """Lowercase ASCII words joined by '-', at most 80 characters.

    Symbols that tell names apart become words ('C++' -> 'c-plus-plus', 'C#' -> 'c-sharp'); a name
    with nothing left (emoji, '..', another script) gets a stable hash instead of an empty slug.
    """
    normal = unicodedata.normalize("NFKC", text).lower()
    for symbol, word in _SYMBOLS.items():
        normal = normal.replace(symbol, word)
    ascii_text = unicodedata.normalize("NFKD", normal).encode("ascii", "ignore").decode()
    slug = _NOT_SLUG.sub("-", ascii_text).strip("-")
    if len(slug) > MAX_SLUG:
        slug = slug[:MAX_SLUG].rsplit("-", 1)[0] if "-" in slug[:MAX_SLUG] else slug[:MAX_SLUG]
    if not slug:
        digest = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        slug = f"{fallback_prefix}-{digest}"
    return slug


def item_slug(source: str, front_matter_slug: str) -> str:
    """Front matter `slug`, else the file name without a leading date, made URL-safe."""
    if front_matter_slug:
        return slugify(front_matter_slug, "item")
    stem = PurePosixPath(source).name
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    return slugify(_LEADING_DATE.sub("", stem) or stem, "item")


def item_path(local_date: datetime, slug: str) -> str:
    # Not strftime: ten thousand calls a build.
    return f"news/{local_date.year:04d}/{local_date.month:02d}/{local_date.day:02d}/{slug}/"


# Archive pages of a list are numbered from its oldest stories (render/pages.py `cut`): page 1
# is the oldest, and page 0 is the list's front page at its short URL.
def topic_path(slug: str, page: int = 0) -> str:
    return f"topics/{slug}/" + (f"page/{page}/" if page else "")


def home_path(page: int = 0) -> str:
    return f"page/{page}/" if page else ""


def archive_path(year: int | None = None, month: int | None = None) -> str:
    if year is None:
        return "archive/"
    return f"archive/{year}/" + (f"{month:02d}/" if month else "")


def file_for(page_path: str) -> str:
    """The output file of a page path: 'topics/ai/' -> 'topics/ai/index.html'."""
    return page_path + "index.html" if page_path == "" or page_path.endswith("/") else page_path


def is_safe_relative(path: str) -> bool:
    """True for a relative path that cannot climb out of the folder it is joined to."""
    pure = PurePosixPath(path)
    return bool(path) and not pure.is_absolute() and ".." not in pure.parts and "\\" not in path
