"""newsdigest: a fast static site generator for a curated AI news digest."""

__version__ = "0.1.0"
