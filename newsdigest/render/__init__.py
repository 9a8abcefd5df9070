"""Pages, feeds, sitemaps, JSON and email made from the stories, with the theme.

Nothing is imported here: a build with no input changed reads `default_theme_dir` alone.
"""

from __future__ import annotations

from pathlib import Path


def default_theme_dir() -> Path:
    """The theme shipped in the wheel, or the repository's own folders in a development install."""
    package = Path(__file__).parent.parent
    packaged = package / "theme"
    return packaged if (packaged / "templates").is_dir() else package.parent
