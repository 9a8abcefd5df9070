"""The image pipeline against real images served from 127.0.0.1: thumbnails, markup, the cache,
fallbacks and the address checks."""

from __future__ import annotations

import io
import ipaddress
import random
import shutil
import struct
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import lxml.html
import pytest
from conftest import Site, item
from PIL import Image, features

from newsdigest.build.pipeline import BuildOptions, BuildReport, build_site
from newsdigest.cli import main
from newsdigest.config.site import load_config
from newsdigest.errors import ConfigError
from newsdigest.images.fetch import FetchFailed, FetchLimits, fetch, refusal
from newsdigest.images.thumbnails import NotAnImage, check_image, make_thumbnails

NOW = datetime(2026, 11, 20, tzinfo=UTC)


def photo(width: int, height: int, fmt: str, mode: str = "RGB", **save: object) -> bytes:
    """A photo-like image: a colour gradient under noise, so encoders have real work."""
    noise = Image.effect_noise((width, height), 12).convert("L")
    gradient = Image.linear_gradient("L").resize((width, height))
    mirrored = gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    image = Image.merge("RGB", (gradient, noise, mirrored))
    if mode == "RGBA":
        image.putalpha(Image.linear_gradient("L").resize((width, height)))
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def rotated_jpeg() -> bytes:
    """Stored 800x400 with EXIF orientation 6 (shown 400x800), and a camera name to strip."""
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Secret Camera Co"
    return photo(800, 400, "JPEG", exif=exif.tobytes())


def huge_png() -> bytes:
    """A valid PNG header claiming 30,000 x 30,000 pixels: a decompression bomb's first bytes."""
    out = io.BytesIO()
    Image.new("1", (1, 1)).save(out, "PNG")
    data = bytearray(out.getvalue())
    data[16:24] = struct.pack(">II", 30_000, 30_000)  # IHDR width and height
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


IMAGES = {
    "/photo.jpg": ("image/jpeg", photo(1600, 1000, "JPEG", quality=95)),
    "/alpha.png": ("image/png", photo(900, 600, "PNG", mode="RGBA")),
    "/photo.webp": ("image/webp", photo(1000, 500, "WEBP", quality=95)),
    "/small.gif": ("image/gif", photo(200, 150, "GIF")),
    "/rotated.jpg": ("image/jpeg", rotated_jpeg()),
    "/huge.png": ("image/png", huge_png()),
    "/page.jpg": ("image/jpeg", b"<!doctype html><title>Not an image</title><p>Hello</p>"),
    "/shared.jpg": ("image/jpeg", photo(1200, 630, "JPEG")),
    "/logo.png": ("image/png", photo(128, 128, "PNG")),
}
IMAGES["/own.webp"] = IMAGES["/photo.webp"]
# The local picture of the corpus: one file for the module (photo() adds random noise), so its
# thumbnails in the warm image cache are the ones every build of the corpus asks for.
BESIDE = photo(1600, 1000, "JPEG", quality=95)


class Handler(BaseHTTPRequestHandler):
    requests: Counter = Counter()

    def do_GET(self) -> None:  # noqa: N802
        Handler.requests[self.path] += 1
        try:
            self._answer()
        except (BrokenPipeError, ConnectionResetError):
            pass  # a client that stopped reading: what the downloader does with errors

    def _answer(self) -> None:
        if self.path == "/slow.jpg":
            time.sleep(4)
        if self.path == "/loop.jpg":
            self.send_response(302)
            self.send_header("Location", "/loop.jpg")
            self.end_headers()
            return
        if self.path == "/redirect.jpg":
            self.send_response(302)
            self.send_header("Location", "/photo.webp")
            self.end_headers()
            return
        found = IMAGES.get(self.path.split("?")[0])
        if found is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", found[0])
        self.send_header("Content-Length", str(len(found[1])))
        self.end_headers()
        self.wfile.write(found[1])

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


SETTINGS = """\
[site]
title = "Image Digest"
base_url = "https://news.example/"

[images]
allow_loopback = true
timeout = 2
generic_threshold = 3
"""


def images_yaml(*images: tuple[str, int, int, str]) -> str:
    lines = ["\n  - url: \"{}\"\n    width: {}\n    height: {}\n    title: \"{}\"".format(*i)
             for i in images]
    return "".join(lines)


def logo_item(title: str, url: str, images: str, logo: str) -> str:
    text = item(title, url=url, images=images)
    return text.replace("  domain: example.com\n",
                        f"  domain: example.com\n  images:\n    - url: \"{logo}\"\n"
                        "      width: 128\n      height: 128\n")


def corpus(base: str) -> dict[str, str | bytes]:
    def one(name: str, path: str, w: int = 1200, h: int = 675) -> str:
        return item(f"Story {name}", url=f"https://example.com/{name}",
                    images=images_yaml((base + path, w, h, f"Picture of {name}")))

    files: dict[str, str | bytes] = {
        "content/jpeg.md": one("jpeg", "/photo.jpg", 1600, 1000),
        "content/alpha.md": one("alpha", "/alpha.png"),
        "content/webp.md": one("webp", "/photo.webp"),
        "content/gif.md": one("gif", "/small.gif"),
        "content/rotated.md": one("rotated", "/rotated.jpg"),
        "content/huge.md": one("huge", "/huge.png"),
        "content/html.md": one("html", "/page.jpg"),
        "content/missing.md": logo_item("Story missing", "https://example.com/missing",
                                        images_yaml((base + "/missing.jpg", 1200, 675, "")),
                                        base + "/logo.png"),
        "content/redirect.md": one("redirect", "/redirect.jpg"),
        "content/local.md": item("Story local", url="https://example.com/local",
                                 images=images_yaml(("beside.jpg", 1600, 1000, "Local"))),
        "content/beside.jpg": BESIDE,
    }
    for n in range(3):  # a site's default picture, then the story's own
        files[f"content/generic-{n}.md"] = item(
            f"Story generic {n}", url=f"https://example.com/generic-{n}",
            images=images_yaml((base + "/shared.jpg", 1200, 630, "Default share image"),
                               (base + f"/own.webp?n={n}", 1000, 500, "Own picture")))
    return files


def build(site, **options: object) -> BuildReport:
    config = load_config(site.root / "site.toml")
    return build_site(config, BuildOptions(now=NOW, workers=2, search=False, **options))


def page(site, slug: str) -> lxml.html.HtmlElement:
    return site.html(f"news/2026/10/01/{slug}/")


def hero(site, slug: str) -> lxml.html.HtmlElement:
    return page(site, slug).xpath("//figure[contains(@class, 'story-media')]//img")[0]


def files_of(site, srcset: str) -> list[tuple[Path, int]]:
    entries = [part.strip().rsplit(" ", 1) for part in srcset.split(",")]
    return [(site.public / url.removeprefix("/"), int(w.removesuffix("w")))
            for url, w in entries]


@pytest.fixture
def site(make_site, server, monkeypatch):
    monkeypatch.delenv("NEWSDIGEST_OFFLINE")
    Handler.requests.clear()
    return make_site(corpus(server), SETTINGS)


@pytest.fixture(scope="module")
def warm_image_cache(server, tmp_path_factory) -> Path:
    """The image cache after one build of the corpus: every download and thumbnail made once.

    Module-scoped, as the server is: cache entries are keyed by URL, and so by the server's
    port. Tests about what a build downloads, encodes, refuses or remembers keep the `site`
    fixture's empty cache; the tests marked `@warm` start from a copy of this one.
    """
    root = tmp_path_factory.mktemp("warm-images")
    corpus_site = Site(root)
    corpus_site.write("site.toml", SETTINGS)
    for rel, data in corpus(server).items():
        corpus_site.write(rel, data)
    with pytest.MonkeyPatch.context() as env:
        env.delenv("NEWSDIGEST_OFFLINE", raising=False)
        report = build(corpus_site)
    assert report.images.generated >= 7
    Handler.requests.clear()
    return root / ".cache" / "images"


@pytest.fixture
def warm_cache_copy(site, warm_image_cache) -> None:
    """A copy of the warm image cache in the `site` fixture's default place: a copy, not the
    folder itself, so a test that prunes or adds thumbnails changes no other test."""
    shutil.copytree(warm_image_cache, site.root / ".cache" / "images")


# For tests that assert what a site shows, not what its build downloads or encodes.
warm = pytest.mark.usefixtures("warm_cache_copy")


def test_thumbnails_are_made_in_every_width_and_format(site):
    report = build(site)
    img = hero(site, "jpeg")
    (picture,) = img.xpath("ancestor::picture")  # libxml2 nests <img> in the void <source>
    (source,) = picture.xpath(".//source")
    assert source.get("type") == "image/webp"
    assert (img.get("width"), img.get("height")) == ("1280", "800")
    assert img.get("alt") == "Picture of jpeg"
    assert img.get("loading") == "eager" and img.get("sizes")
    source_size = len(Handler_image("/photo.jpg"))
    for srcset, fmt in ((img.get("srcset"), "JPEG"), (source.get("srcset"), "WEBP")):
        found = files_of(site, srcset)
        assert [w for _, w in found] == [320, 640, 1280]
        for path, width in found:
            assert path.relative_to(site.public).parts[0] == "img"
            with Image.open(path) as thumb:
                assert thumb.format == fmt
                assert thumb.size == (width, round(1000 * width / 1600))
                assert not thumb.getexif()
            assert path.stat().st_size < source_size
    assert img.get("src") in img.get("srcset")
    assert report.images.generated >= 7 and report.images.fetched >= 7


def Handler_image(path: str) -> bytes:  # noqa: N802
    return IMAGES[path][1]


@warm
def test_transparency_orientation_small_sources_and_redirects(site):
    build(site)
    alpha = hero(site, "alpha")
    for path, _ in files_of(site, alpha.get("srcset")):
        with Image.open(path) as thumb:
            assert thumb.format == "PNG" and thumb.mode == "RGBA"
    rotated = hero(site, "rotated")  # EXIF orientation applied: shown upright
    assert (rotated.get("width"), rotated.get("height")) == ("400", "800")
    for path, width in files_of(site, rotated.get("srcset")):
        with Image.open(path) as thumb:
            assert thumb.size == (width, width * 2) and 0x010F not in thumb.getexif()
    gif = hero(site, "gif")  # never upscaled
    assert [w for _, w in files_of(site, gif.get("srcset"))] == [200]
    redirected = hero(site, "redirect")
    assert (redirected.get("width"), redirected.get("height")) == ("1000", "500")
    local = hero(site, "local")
    assert local.get("alt") == "Local" and local.get("width") == "1280"


def test_broken_images_fall_back_along_the_chain(site, server, capsys):
    # Slow to answer: only here, as the wait is the timeout (the others keep their seconds).
    site.write("content/slow.md", item(
        "Story slow", url="https://example.com/slow",
        images=images_yaml((server + "/slow.jpg", 1200, 675, "Slow"))))
    assert main(["build", "--config", str(site.root / "site.toml")]) == 0
    out = capsys.readouterr().out
    assert "images: " in out and " fetched, " in out and " fallbacks" in out
    assert out.count("HTTP 404") == 1  # each fallback once, as a line, no traceback
    assert "Traceback" not in out
    home = site.html("")
    # A page posing as an image, and a decompression bomb: no picture, the placeholder tile.
    for slug in ("html", "huge"):
        card = home.xpath(f'//article[.//a[@href="/news/2026/10/01/{slug}/"]]')[0]
        assert card.xpath(".//span[starts-with(@class, 'placeholder ')]")
        assert not card.xpath(".//picture")
    assert "pixels" in out and "not an image" in out
    # A 404 with a provider logo: the logo stands in, small, on the tile.
    missing = home.xpath('//article[.//a[@href="/news/2026/10/01/missing/"]]')[0]
    tile = missing.xpath(".//span[contains(@class, 'placeholder-logo')]//img")[0]
    assert tile.get("width") == "40" and "/img/" in tile.get("src")
    byline = missing.xpath(".//img[@class='provider-logo']")[0]  # 40 px, shown at 20
    assert byline.get("width") == "20" and byline.get("src") == tile.get("src")
    with Image.open(site.public / byline.get("src").removeprefix("/")) as logo:
        assert logo.size == (40, 40)
    # A server too slow to answer may answer the reader: its URL, with the declared size.
    slow = hero(site, "slow")
    assert slow.get("src").endswith("/slow.jpg")
    assert (slow.get("width"), slow.get("height")) == ("1200", "675")
    assert "timed out" in out


@warm
def test_a_generic_image_gives_way_to_the_story_own(site):
    report = build(site)
    assert report.images.generic == 1
    for n in range(3):
        img = hero(site, f"generic-{n}")
        assert img.get("alt") == "Own picture"
        assert (img.get("width"), img.get("height")) == ("1000", "500")
    assert Handler.requests["/shared.jpg"] == 0


def test_a_second_build_downloads_and_encodes_nothing(site):
    first = build(site)
    assert first.images.fetched and first.images.generated
    requests = sum(Handler.requests.values())
    again = build(site)
    assert (again.images.fetched, again.images.generated) == (0, 0)
    assert again.write.rendered == 0
    # An item edited elsewhere: the image stage runs, and finds everything in its cache.
    note = site.root / "content" / "note.md"
    note.write_text(item("A note", url="https://example.com/note"))
    third = build(site)
    assert (third.images.fetched, third.images.generated) == (0, 0)
    assert third.images.cached >= first.images.generated - 1
    assert sum(Handler.requests.values()) == requests  # failures are remembered too
    assert not any(p.startswith("img/") for p in third.write.changed)


def test_offline_builds_point_at_remote_urls_and_still_thumbnail_local_files(site):
    report = build(site, offline=True)
    assert sum(Handler.requests.values()) == 0
    assert report.images.fetched == 0 and "offline" in report.images.fallbacks
    img = hero(site, "jpeg")
    assert img.get("src").endswith("/photo.jpg") and img.get("width") == "1600"
    assert "/img/" in hero(site, "local").get("src")
    online = build(site)  # going online later fetches what was missing
    assert online.images.fetched and "/img/" in hero(site, "jpeg").get("src")


def test_loopback_is_refused_unless_allowed(site):
    settings = site.root / "site.toml"
    settings.write_text(settings.read_text().replace("allow_loopback = true\n", ""))
    report = build(site)
    assert sum(Handler.requests.values()) == 0
    assert any("loopback" in reason for reason in report.images.fallbacks)
    card = site.html("").xpath('//article[.//a[@href="/news/2026/10/01/jpeg/"]]')[0]
    assert not card.xpath(".//img[contains(@src, '127.0.0.1')]")  # nor shown


@warm
def test_prune_keeps_what_items_use(site, capsys):
    build(site)
    files = site.root / ".cache" / "images" / "files"
    before = set(files.rglob("*.*"))
    (site.root / "content" / "jpeg.md").unlink()
    assert main(["images", "--prune", "--config", str(site.root / "site.toml")]) == 0
    assert "pruned" in capsys.readouterr().out
    after = set(files.rglob("*.*"))
    assert len(after) == len(before) - 6  # 3 widths, WebP and JPEG
    used = {Path(p).name for p, _ in files_of(site, hero(site, "webp").get("srcset"))}
    assert used <= {p.name for p in after}


@pytest.mark.parametrize("address, allowed", [
    ("93.184.216.34", ""), ("2606:4700::1111", ""), ("127.0.0.1", "loopback"),
    ("::1", "loopback"), ("10.0.0.5", "private"), ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"), ("fe80::1", "link-local"), ("224.0.0.1", "reserved"),
    ("0.0.0.0", "reserved"), ("::ffff:127.0.0.1", "loopback"), ("100.64.0.1", "private"),
])
def test_address_rules(address, allowed):
    assert refusal(ipaddress.ip_address(address), FetchLimits(1, 1000)) == allowed


@pytest.mark.parametrize("url", ["file:///etc/passwd", "data:image/png;base64,AAAA",
                                 "javascript:alert(1)", "ftp://example.com/x.jpg"])
def test_other_schemes_are_never_fetched(url):
    with pytest.raises(FetchFailed) as caught:
        fetch(url, FetchLimits(1, 1000))
    assert caught.value.lasting and "http(s)" in caught.value.reason


def test_bad_image_settings_are_reported_together(tmp_path):
    (tmp_path / "site.toml").write_text(
        '[images]\nwidths = [0, "x"]\nformats = ["gif"]\nquality = 101\ntimeout = -1\n'
        'allow_loopback = "yes"\ncolour = 1\n')
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "site.toml")
    message = str(caught.value)
    for key in ("images.widths", "images.formats", "images.quality", "images.timeout",
                "images.allow_loopback", "images.colour: unknown setting"):
        assert key in message


@warm
def test_only_the_first_visible_card_loads_eagerly(site):
    build(site)
    images = site.html("").xpath("//a[contains(@class, 'card-media')]//img")
    assert images[0].get("loading") == "eager" and images[0].get("fetchpriority") == "high"
    for img in images[1:]:
        assert img.get("loading") == "lazy" and img.get("decoding") == "async"
    thumbs = [i for i in images if i.get("srcset")]
    assert thumbs and all(i.get("sizes") and i.get("width") and i.get("height") for i in thumbs)


@warm
def test_a_changed_picture_rewrites_exactly_the_pages_that_show_it(site):
    build(site)
    old = hero(site, "local").get("src")
    pages = {p.relative_to(site.public).as_posix(): p.read_bytes() for p in site.pages()}
    elsewhere = {rel for rel, data in pages.items() if old.encode() not in data}
    (site.root / "content" / "beside.jpg").write_bytes(photo(1200, 900, "JPEG"))
    report = build(site)
    new = hero(site, "local")
    assert new.get("src") != old and (new.get("width"), new.get("height")) == ("1200", "900")
    assert not (site.public / old.removeprefix("/")).exists()  # the old thumbnails are gone
    changed = {p for p in report.write.changed if p.endswith(".html")}
    assert "news/2026/10/01/local/index.html" in changed
    assert elsewhere and not changed & elsewhere  # pages without that picture are untouched
    assert report.images.generated == 1 and report.images.fetched == 0


@warm
def test_new_widths_in_site_toml_remake_the_thumbnails(site):
    build(site)
    settings = site.root / "site.toml"
    settings.write_text(settings.read_text() + "widths = [400, 800]\n")
    report = build(site)
    assert report.images.generated and report.images.fetched == 0
    assert [w for _, w in files_of(site, hero(site, "jpeg").get("srcset"))] == [400, 800]


@pytest.mark.skipif(not features.check("avif"), reason="this Pillow cannot encode AVIF")
def test_avif_when_asked_for(make_site):
    site = make_site({
        "content/a.md": item("Story a", images=images_yaml(("a.jpg", 900, 600, "A"))),
        "content/a.jpg": photo(900, 600, "JPEG"),
    }, SETTINGS + 'formats = ["avif", "webp"]\n')
    build(site)
    (picture,) = hero(site, "a").xpath("ancestor::picture")
    types = [source.get("type") for source in picture.xpath(".//source")]
    assert types == ["image/avif", "image/webp"]  # the browser takes the first it supports
    path, _ = files_of(site, picture.xpath(".//source")[0].get("srcset"))[-1]
    with Image.open(path) as thumb:
        assert thumb.format == "AVIF" and thumb.size == (900, 600)


def test_downloads_are_capped_in_size_and_redirects(server):
    limits = FetchLimits(2, 100_000, allow_loopback=True)
    assert fetch(server + "/logo.png", limits) == IMAGES["/logo.png"][1]
    with pytest.raises(FetchFailed, match="larger than 97 KB"):
        fetch(server + "/photo.jpg", limits)
    with pytest.raises(FetchFailed, match="more than 4 redirects"):
        fetch(server + "/loop.jpg", limits)
    with pytest.raises(FetchFailed, match="refused loopback address"):
        fetch(server + "/logo.png", FetchLimits(2, 100_000))


def test_a_topic_image_stands_in_for_items_without_one(make_site):
    site = make_site({
        "content/plain.md": item("Story plain"),
        "static/images/ai.png": photo(800, 450, "PNG"),
    }, SETTINGS + '\n[topics."AI"]\nimage = "images/ai.png"\n')
    build(site)
    img = hero(site, "plain")
    assert img.get("alt") == "Story plain" and (img.get("width"), img.get("height")) == (
        "800", "450")
    assert (site.public / img.get("src").removeprefix("/")).is_file()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_damaged_images_are_refused_never_raised(fmt):
    """Truncated and bit-flipped files: a thumbnail or NotAnImage, never another error."""
    original = photo(160, 120, fmt)
    rng = random.Random(fmt)
    for _ in range(40):
        data = bytearray(original)
        for _ in range(rng.randint(1, 12)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.4:
            data = data[: rng.randrange(8, len(data))]
        for check in (lambda d: check_image(d, 10**6),
                      lambda d: make_thumbnails(d, (64, 128), ("webp",), 80, 10**6)):
            try:
                check(bytes(data))
            except NotAnImage:
                pass


def test_generic_pictures_are_one_rule_for_pages_and_the_curation_report(make_site, capsys):
    # Shared by many items, named as a placeholder, or the provider's own logo: each says
    # nothing about its story, so the page shows the next picture and the report names it.
    logo = "https://cdn.example/brand-mark.png"
    shared = "https://cdn.example/share.jpg"
    pictures = {
        "named": images_yaml(("https://cdn.example/default-share.png", 1200, 630, "")),
        "logo": images_yaml((logo, 64, 64, "")),
        "shared-1": images_yaml((shared, 1200, 630, "")),
        "shared-2": images_yaml((shared, 1200, 630, "")),
        "own": images_yaml(("https://cdn.example/maxresdefault.jpg", 1280, 720, "")),
    }
    files = {f"content/{name}.md": logo_item(f"Story {name}", f"https://example.com/{name}",
                                             images, logo)
             for name, images in pictures.items()}
    site = make_site(files, '[site]\ntitle = "T"\nbase_url = "https://t.example/"\n'
                            "[images]\ngeneric_threshold = 2\n")
    assert site.build("--no-search", "--offline") == 0
    assert "digest:" in capsys.readouterr().out
    assert main(["report", "--config", str(site.root / "site.toml")]) == 0
    report = capsys.readouterr().out
    assert "Items with a generic image (4)" in report
    assert "own.md" not in report.split("Items with a generic image")[1].split("\n\n")[0]
    for name in ("named", "logo", "shared-1"):
        page = site.html(f"news/2026/10/01/{name}/")
        assert not page.xpath("//figure[contains(@class,'story-media')]//img"), name
    own = site.html("news/2026/10/01/own/").xpath("//figure[contains(@class,'story-media')]//img")
    assert own and own[0].get("src") == "https://cdn.example/maxresdefault.jpg"


def test_every_listing_shows_the_stories_the_image_stage_gave_pictures(site):
    # The image stage sets pictures on the stories in place: every list (topics, months,
    # "more", top stories, moved pages) must hold those same stories, not copies without them.
    from newsdigest.content.files import discover
    from newsdigest.content.loading import LoadSettings, load_items
    from newsdigest.images.stage import prepare
    from newsdigest.stories.grouping import group

    config = load_config(site.root / "site.toml")
    discovery = discover(config.content_dir)
    loaded = load_items(discovery.items, LoadSettings.of(config), None, 1)
    index = group(loaded.items, config, NOW).index
    before = {s.path: s.fingerprint for s in index.stories}
    prepare(index, config, {a.rel: a.path for a in discovery.assets}, True, 1, NOW.timestamp())
    stories = {id(s) for s in index.stories}
    listed = [*index.top_stories, *index.moved.values(),
              *(s for t in index.topics for s in t.stories),
              *(s for y in index.years for m in y.months for s in m.stories),
              *(s for more in index.more.values() for s in more)]
    assert listed and all(id(s) in stories for s in listed)
    with_picture = [s for s in index.stories if s.picture is not None]
    assert with_picture and all(s.fingerprint != before[s.path] for s in with_picture)
    assert {s.path for s in index.stories} == set(before)
