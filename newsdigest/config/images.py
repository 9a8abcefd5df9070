"""The [images] section of site.toml: thumbnail sizes and formats, download limits, the cache."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

MODERN_FORMATS = ("webp", "avif")  # served in <source>; JPEG or PNG is always the fallback


@dataclass(frozen=True)
class ImageSettings:
    widths: tuple[int, ...] = (320, 640, 1280)  # thumbnail widths; never wider than the source
    formats: tuple[str, ...] = ("webp",)  # modern formats besides the JPEG/PNG fallback
    quality: int = 80
    logo_size: int = 40  # provider logos: shown at 20 px, made at twice that for sharp screens
    cache: Path | None = None  # default: <build.cache>/images
    timeout: float = 4.0  # seconds to connect, and between two reads
    max_kb: int = 10 * 1024  # a larger download is refused
    max_megapixels: float = 40.0  # decompression-bomb guard, checked before decoding
    concurrency: int = 8  # downloads at once
    retry_hours: float = 24.0  # a failed download is not retried before this
    generic_threshold: int = 4  # an image shown by this many items or more says nothing
    allow_private: bool = False  # fetch from private and link-local addresses
    allow_loopback: bool = False  # fetch from 127.0.0.1 and ::1 (tests serve their images)

    @property
    def max_bytes(self) -> int:
        return self.max_kb * 1024

    @property
    def max_pixels(self) -> int:
        return int(self.max_megapixels * 1_000_000)


def parse_image_settings(data: Any, problems: list[str]) -> ImageSettings:
    """[images] into settings; each bad value is added to `problems` and left at its default."""
    if not isinstance(data, dict):
        problems.append("[images]: expected a table")
        return ImageSettings()
    known = {f.name for f in fields(ImageSettings)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            problems.append(f"images.{key}: unknown setting")
            continue
        checked = _CHECKS[key](value)
        if isinstance(checked, str):
            problems.append(f"images.{key}: {checked}, got {value!r}")
        else:
            values[key] = checked[0]
    return replace(ImageSettings(), **values)


def _positive_int(value: Any) -> tuple[int] | str:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return "expected a positive integer"
    return (value,)


def _positive_number(value: Any) -> tuple[float] | str:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        return "expected a positive number"
    return (float(value),)


def _flag(value: Any) -> tuple[bool] | str:
    return (value,) if isinstance(value, bool) else "expected true or false"


def _widths(value: Any) -> tuple[tuple[int, ...]] | str:
    if (not isinstance(value, list) or not value
            or not all(isinstance(w, int) and not isinstance(w, bool) and 16 <= w <= 4096
                       for w in value)):
        return "expected a list of widths in pixels (16 to 4096)"
    return (tuple(sorted(set(value))),)


def _formats(value: Any) -> tuple[tuple[str, ...]] | str:
    if not isinstance(value, list) or not all(f in MODERN_FORMATS for f in value):
        return f"expected a list of {', '.join(MODERN_FORMATS)} (JPEG/PNG is always made)"
    return (tuple(dict.fromkeys(value)),)


def _quality(value: Any) -> tuple[int] | str:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
        return "expected an integer from 1 to 100"
    return (value,)


def _folder(value: Any) -> tuple[Path] | str:
    return (Path(value),) if isinstance(value, str) and value else "expected a folder path"


_CHECKS = {
    "widths": _widths,
    "formats": _formats,
    "quality": _quality,
    "logo_size": _positive_int,
    "cache": _folder,
    "timeout": _positive_number,
    "max_kb": _positive_int,
    "max_megapixels": _positive_number,
    "concurrency": _positive_int,
    "retry_hours": _positive_number,
    "generic_threshold": _positive_int,
    "allow_private": _flag,
    "allow_loopback": _flag,
}
