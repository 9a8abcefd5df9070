"""Thumbnailing speed: images per second in a clean build, and what cached thumbnails cost.

    python bench/images.py [--photos 200] [--size 2000x1500] [--runs 3] [--out bench/RESULTS.md]

Generates N photo-like JPEGs with Pillow (gradients, shapes and noise, so encoders have real
work), one item beside each, and times whole `newsdigest build --offline` processes:

- cold: no image cache, every thumbnail made (3 widths x WebP and JPEG);
- warm: output and page cache removed, image cache kept: every page rendered again, no image
  encoded;
- baseline: the same items without their images, to see what the warm thumbnails add;
- no-change: a rebuild with nothing changed.

The section "Images" of the results file is replaced (the rest is left as it is).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from run import WORK, empty_trash, machine, newsdigest, settle, timed  # noqa: E402

SECTION = "## Images"


def photo(path: Path, size: tuple[int, int], rng: random.Random) -> None:
    width, height = size
    sky = Image.linear_gradient("L").resize(size)
    image = Image.merge("RGB", (sky, sky.point(lambda v: v // 2 + rng.randint(0, 100)),
                                sky.transpose(Image.Transpose.FLIP_TOP_BOTTOM)))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randint(20, width // 6)
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(3))
    grain = Image.effect_noise(size, 18).convert("RGB")
    Image.blend(image, grain, 0.12).save(path, "JPEG", quality=90)


def corpus(root: Path, count: int, size: tuple[int, int], with_images: bool) -> None:
    content = root / "content"
    if content.exists():
        shutil.rmtree(content)
    content.mkdir(parents=True)
    photos = WORK / f"photos-{count}-{size[0]}x{size[1]}"
    if not photos.exists():
        tmp = photos.with_name(photos.name + ".tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        rng = random.Random(7)
        for n in range(count):
            photo(tmp / f"photo-{n:04d}.jpg", size, rng)
        tmp.rename(photos)
    for n in range(count):
        image = ""
        if with_images:
            os.link(photos / f"photo-{n:04d}.jpg", content / f"photo-{n:04d}.jpg")
            image = (f'images:\n  - url: "photo-{n:04d}.jpg"\n    width: {size[0]}\n'
                     f"    height: {size[1]}\n")
        (content / f"2026-10-{n % 28 + 1:02d}-item-{n:04d}.md").write_text(
            f'---\ntitle: "Photo story {n}"\npublishedDateTime: 2026-10-{n % 28 + 1:02d}T'
            f'{n % 24:02d}:00:00Z\nwebUrl: "https://example.com/{n}"\nprovider:\n'
            f'  name: Example\n  domain: example.com\ntopics: ["AI"]\n{image}---\n')
    (root / "site.toml").write_text('[site]\ntitle = "Photos"\nbase_url = "https://x.example/"\n')


def main() -> None:
    parser = argparse.ArgumentParser(description="thumbnailing speed of newsdigest")
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--size", default="2000x1500")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=BENCH / "RESULTS.md")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    root = WORK / "images-site"
    public, cache = root / "public", root / ".cache"
    build = [*newsdigest(), "build", "-q", "--offline", "--no-search",
             "--config", str(root / "site.toml")]

    def runs(prepare, count: int = args.runs) -> float:  # noqa: ANN001
        walls = []
        for _ in range(count):
            prepare()
            walls.append(timed(build).wall)
        return statistics.median(walls)

    edits = iter(range(10_000))

    def edit() -> None:  # one item changed: the whole image stage runs, on a warm cache
        target = root / "content" / "2026-10-01-item-0000.md"
        target.write_text(target.read_text().replace("Photo story", f"Edited {next(edits)}", 1))

    corpus(root, args.photos, size, with_images=False)
    baseline = runs(lambda: settle(public, cache))
    baseline_edit = runs(edit)
    corpus(root, args.photos, size, with_images=True)
    cold = runs(lambda: settle(public, cache))
    def keep_images_only() -> None:
        for record in cache.glob("manifest-*"):  # the page cache: every page is made again
            record.unlink()
        settle(public, cache / "items")

    warm = runs(keep_images_only)
    edited = runs(edit)
    unchanged = runs(lambda: None)
    thumbnails = args.photos / max(cold - baseline, 1e-9)
    lines = [
        SECTION, "",
        f"`python bench/images.py`: {args.photos} generated JPEG photos of {size[0]}x{size[1]}, "
        "one item beside each, thumbnails at 320, 640 and 1280 px in WebP and JPEG "
        f"(6 files a photo); whole `newsdigest build --offline` processes, medians of "
        f"{args.runs}.", "",
        *machine(), "",
        "| case | wall s | note |", "|---|---:|---|",
        f"| same items, no images | {baseline:.2f} | baseline |",
        f"| clean build, empty image cache | {cold:.2f} | {thumbnails:.1f} photos/s "
        f"({args.photos / cold:.1f}/s for the whole build) |",
        f"| clean build, every thumbnail cached | {warm:.2f} | "
        f"{warm - baseline:+.2f} s against the baseline: no decode, no encode; copying "
        f"{args.photos * 7} image files into the new output |",
        f"| one item edited, no images | {baseline_edit:.2f} | baseline |",
        f"| one item edited, every thumbnail cached | {edited:.2f} | "
        f"{edited - baseline_edit:+.2f} s: the image stage finds everything made |",
        f"| rebuild, nothing changed | {unchanged:.2f} | |", "",
    ]
    text = "\n".join(lines)
    print(text)
    old = args.out.read_text() if args.out.exists() else "# Benchmark results\n"
    head, _, rest = old.partition(SECTION)
    tail = rest[rest.find("\n## "):] if "\n## " in rest else ""
    args.out.write_text(head.rstrip("\n") + "\n\n" + text + tail)
    print(f"\nwritten to {args.out}")
    empty_trash()


if __name__ == "__main__":
    main()
