"""The image cache: downloaded sources and their thumbnails, kept between builds, keyed on
the content and the settings that shape them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from newsdigest.config.images import ImageSettings
from newsdigest.config.site import SiteConfig
from newsdigest.images.thumbnails import (
    Thumbnails,
    Variant,
)
from newsdigest.store import save_atomic

THUMB_VERSION = 1  # bump when thumbnails are made differently: every key changes


INDEX_VERSION = 1


def supported_formats(settings: ImageSettings) -> tuple[str, ...]:
    """The modern formats asked for that this Pillow can encode."""
    return tuple(f for f in settings.formats if _can_encode(f))


@cache
def _can_encode(fmt: str) -> bool:
    from PIL import features

    return bool(features.check(fmt))


def thumbnails_key(digest: str, logo: bool, settings: ImageSettings) -> str:
    """Names the thumbnails of a source's content made with the settings that shape them."""
    shape = ("logo", settings.logo_size) if logo else ("photo", settings.widths)
    profile = (shape, supported_formats(settings), settings.quality, THUMB_VERSION)
    return hashlib.blake2b(repr((digest, profile)).encode(), digest_size=16).hexdigest()


def image_cache_dir(config: SiteConfig) -> Path:
    return config.images.cache or config.cache_dir / "images"


@dataclass
class ImageCache:
    """`index.json` (what each URL and file gave), `sources/` (downloads, by content digest)
    and `files/` (thumbnails, by their content-hashed names)."""

    root: Path
    remote: dict[str, dict] = field(default_factory=dict)  # URL -> {sha} or {failed, lasting, at}
    local: dict[str, list] = field(default_factory=dict)  # path -> [size, mtime_ns, sha]
    thumbs: dict[str, Thumbnails] = field(default_factory=dict)  # thumbnail key -> result
    dirty: bool = False

    @classmethod
    def open(cls, root: Path) -> ImageCache:
        try:
            data = json.loads((root / "index.json").read_text(encoding="utf-8"))
            if data.get("version") != INDEX_VERSION:
                return cls(root)
            thumbs = {key: _thumbnails_from_json(value) for key, value in data["thumbs"].items()}
            return cls(root, data["remote"], data["local"], thumbs)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return cls(root)  # unreadable: start afresh, the files are remade as needed

    def save(self) -> None:
        if not self.dirty:
            return
        data = {"version": INDEX_VERSION, "remote": self.remote, "local": self.local,
                "thumbs": {key: _thumbnails_to_json(t) for key, t in self.thumbs.items()}}
        save_atomic(self.root / "index.json",
                           json.dumps(data, sort_keys=True, separators=(",", ":")).encode())
        self.dirty = False

    def source(self, digest: str) -> Path:
        return self.root / "sources" / digest[:2] / digest

    def file(self, name: str) -> Path:
        return self.root / "files" / name[:2] / name

    def has_files(self, thumbs: Thumbnails) -> bool:
        return all(self.file(v.name).is_file() for v in thumbs.variants)


def _thumbnails_to_json(thumbs: Thumbnails) -> dict:
    return {"width": thumbs.width, "height": thumbs.height, "fallback": thumbs.fallback,
            "variants": [[v.format, v.width, v.height, v.name] for v in thumbs.variants]}


def _thumbnails_from_json(data: dict) -> Thumbnails:
    return Thumbnails(int(data["width"]), int(data["height"]),
                      tuple(Variant(str(f), int(w), int(h), str(n))
                            for f, w, h, n in data["variants"]),
                      str(data["fallback"]))
