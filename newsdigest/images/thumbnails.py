"""Turn untrusted image bytes into thumbnails with Pillow: safe to open, small to serve."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

# Only what news images are: other decoders (PSD, TGA, EPS...) are attack surface for nothing.
ACCEPTED = ("JPEG", "PNG", "WEBP", "GIF", "AVIF")
_ENCODE = {  # format -> (Pillow name, file extension, MIME type)
    "webp": ("WEBP", "webp", "image/webp"),
    "avif": ("AVIF", "avif", "image/avif"),
    "jpeg": ("JPEG", "jpg", "image/jpeg"),
    "png": ("PNG", "png", "image/png"),
}


@cache
def _pillow() -> ModuleType:
    """PIL.Image, imported by the first build that makes a thumbnail (not by every rebuild)."""
    from PIL import Image

    # Pillow warns between 89 and 179 megapixels and refuses above; our own limit
    # (max_megapixels, checked right after opening) is lower and refuses those images anyway,
    # so the warning only adds noise. Set once: warnings.catch_warnings() is not thread-safe.
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    return Image


class NotAnImage(Exception):
    pass


@dataclass(frozen=True)
class Variant:
    """One thumbnail file: its content-hashed name is where it is kept and served."""

    format: str  # webp, avif, jpeg or png
    width: int
    height: int
    name: str  # '<hash>-<width>.<ext>'

    @property
    def mime(self) -> str:
        return _ENCODE[self.format][2]


@dataclass(frozen=True)
class Thumbnails:
    width: int  # of the largest variant: the <img> width and height
    height: int
    variants: tuple[Variant, ...]  # modern formats first, then the fallback, small to large
    fallback: str  # jpeg or png (when the source has transparency)


def check_image(data: bytes, max_pixels: int) -> tuple[int, int]:
    """The size of an image Pillow can safely decode; NotAnImage otherwise."""
    with _open(data, max_pixels) as image:
        try:
            image.verify()  # checksums and structure, without decoding the pixels
        except Exception as exc:  # noqa: BLE001 - hostile bytes reach decoder corners
            raise NotAnImage(f"damaged image: {_short(exc)}") from None
        return image.size


def make_thumbnails(data: bytes, widths: tuple[int, ...], formats: tuple[str, ...],
                    quality: int, max_pixels: int,
                    box: int | None = None) -> tuple[Thumbnails, dict[str, bytes]]:
    """Thumbnails at `widths` (never upscaled), or fitted into a `box` square (logos).

    EXIF orientation is applied and no metadata is kept. Returns the description and the bytes
    of each file by name.
    """
    try:
        return _make(data, widths, formats, quality, max_pixels, box)
    except NotAnImage:
        raise
    except Exception as exc:  # noqa: BLE001 - hostile bytes reach decoder corners
        raise NotAnImage(f"cannot decode: {_short(exc)}") from None


def _make(data: bytes, widths: tuple[int, ...], formats: tuple[str, ...], quality: int,
          max_pixels: int, box: int | None) -> tuple[Thumbnails, dict[str, bytes]]:
    with _open(data, max_pixels) as image:
        if image.format == "JPEG":
            image.draft("RGB", _draft_size(image, box or max(widths)))
        from PIL import ImageOps

        image = ImageOps.exif_transpose(image)
        alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        image = image.convert("RGBA" if alpha else "RGB")
    fallback = "png" if alpha else "jpeg"
    sizes = [_fit_box(image.size, box)] if box else _sizes(image.size, widths)
    files: dict[str, bytes] = {}
    variants: list[Variant] = []
    scaled = image
    by_size: list[tuple[int, int, Image.Image]] = []
    for width, height in reversed(sizes):  # each from the next larger one: a third of the work
        if (width, height) != scaled.size:
            scaled = scaled.resize((width, height), _pillow().Resampling.LANCZOS,
                                   reducing_gap=3.0)
        by_size.insert(0, (width, height, scaled))
    for fmt in (*formats, fallback):
        for width, height, scaled in by_size:
            encoded = _encode(scaled, fmt, quality)
            digest = hashlib.blake2b(encoded, digest_size=8).hexdigest()
            name = f"{digest}-{width}.{_ENCODE[fmt][1]}"
            files[name] = encoded
            variants.append(Variant(fmt, width, height, name))
    width, height = sizes[-1]
    return Thumbnails(width, height, tuple(variants), fallback), files


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Open without decoding, refusing other formats and images too large to decode safely."""
    pillow = _pillow()
    try:
        image = pillow.open(io.BytesIO(data), formats=ACCEPTED)
    except (pillow.UnidentifiedImageError, pillow.DecompressionBombWarning,
            pillow.DecompressionBombError) as exc:
        raise NotAnImage(_reason(exc)) from None
    except Exception as exc:  # noqa: BLE001 - hostile bytes reach decoder corners
        raise NotAnImage(f"cannot read: {_short(exc)}") from None
    width, height = image.size
    if width < 1 or height < 1 or width * height > max_pixels:
        image.close()
        raise NotAnImage(f"{width}x{height} pixels is more than the limit "
                         f"({max_pixels / 1e6:g} megapixels)")
    return image


def _draft_size(image: Image.Image, target: int) -> tuple[int, int]:
    """The smallest size a JPEG may be decoded at (1/2, 1/4, 1/8 are much faster) so that the
    largest thumbnail still comes from enough pixels, once EXIF orientation is applied."""
    width, height = image.size
    if image.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # stored sideways
        return max(1, target * width // height), target
    return target, max(1, target * height // width)


def _short(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__)[:100]


def _reason(exc: Exception) -> str:
    if isinstance(exc, _pillow().UnidentifiedImageError):
        return "not an image (or not JPEG, PNG, WebP, GIF or AVIF)"
    return "too many pixels (decompression bomb guard)"


def _sizes(size: tuple[int, int], widths: tuple[int, ...]) -> list[tuple[int, int]]:
    """The configured widths below the source's, plus the source's own when it is smaller
    than the largest: a thumbnail is never wider than what it is made from."""
    width, height = size
    chosen = [w for w in widths if w < width]
    if not chosen or (chosen[-1] < max(widths) and width not in chosen):
        chosen.append(min(width, max(widths)))
    return [(w, max(1, round(height * w / width))) for w in chosen]


def _fit_box(size: tuple[int, int], box: int) -> tuple[int, int]:
    width, height = size
    scale = min(1.0, box / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _encode(image: Image.Image, fmt: str, quality: int) -> bytes:
    out = io.BytesIO()
    name = _ENCODE[fmt][0]
    if fmt == "jpeg":
        image.save(out, name, quality=quality, optimize=True, progressive=True)
    elif fmt == "png":
        image.save(out, name, compress_level=6)  # optimize=True costs seconds for little
    elif fmt == "avif":
        image.save(out, name, quality=quality, speed=8)
    else:
        image.save(out, name, quality=quality, method=4)
    return out.getvalue()
