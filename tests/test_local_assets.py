"""Files beside an item are never published as they are: a local image reaches the site only
as the image stage re-encodes it, and no two outputs may claim one path."""

from __future__ import annotations

import io
import json

import feedparser
import pytest
from conftest import item
from PIL import Image

SETTINGS = """\
[site]
title = "Local Files"
base_url = "https://news.example/digest/"
"""

SCRIPTED_SVG = (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert("svg")</script>'
                b'<rect width="10" height="10"/></svg>')
HTML_PAGE = b"<!doctype html><title>x</title><script>alert('html')</script>"


def jpeg_with_exif() -> bytes:
    picture = Image.new("RGB", (900, 600), (200, 40, 40))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make: metadata a re-encoded copy leaves out
    out = io.BytesIO()
    picture.save(out, "JPEG", exif=exif)
    return out.getvalue()


def images_yaml(*names: str) -> str:
    return "\n" + "\n".join(f'  - url: "{name}"\n    width: 900\n    height: 600'
                            for name in names)


def published_files(site) -> dict[str, bytes]:
    return {p.relative_to(site.public).as_posix(): p.read_bytes()
            for p in site.public.rglob("*") if p.is_file()}


def test_only_re_encoded_raster_images_are_published(make_site):
    site = make_site({
        "content/2026-10-01-good.md": item("Good picture", url="https://e.com/good",
                                           images=images_yaml("photo.jpg")),
        "content/photo.jpg": jpeg_with_exif(),
        "content/2026-10-02-svg.md": item("Scripted drawing", "2026-10-02T10:00:00Z",
                                          url="https://e.com/svg",
                                          images=images_yaml("drawing.svg")),
        "content/drawing.svg": SCRIPTED_SVG,
        "content/2026-10-03-html.md": item("A page for a picture", "2026-10-03T10:00:00Z",
                                           url="https://e.com/html",
                                           images=images_yaml("page.html", "fake.jpg")),
        "content/page.html": HTML_PAGE,
        "content/fake.jpg": HTML_PAGE,
    }, SETTINGS)
    assert site.build("--offline") == 0
    files = published_files(site)
    assert not [path for path, data in files.items() if b"alert(" in data]
    assert not [path for path in files
                if path.rsplit("/", 1)[-1] in ("photo.jpg", "drawing.svg", "page.html",
                                               "fake.jpg")]
    # The good picture is published as a re-encoded copy: the feed and the page's metadata
    # point at it, it is a JPEG, and the camera's metadata is gone.
    feed = feedparser.parse(files["feed.xml"])
    good = next(e for e in feed.entries if e.title == "Good picture")
    image_url = next(link.href for link in good.enclosures) if good.enclosures else \
        good.media_content[0]["url"]
    assert image_url.startswith("https://news.example/digest/img/")
    copy = files[image_url.removeprefix("https://news.example/digest/")]
    with Image.open(io.BytesIO(copy)) as opened:
        assert opened.format == "JPEG"
        assert 0x010F not in opened.getexif()
    page = site.html("news/2026/10/01/good/")
    assert page.xpath("//meta[@property='og:image']/@content") == [image_url]
    # The refused files leave no link behind.
    for path in ("news/2026/10/02/svg/", "news/2026/10/03/html/"):
        assert not site.html(path).xpath("//meta[@property='og:image']")


def test_a_local_file_named_like_a_page_cannot_replace_it(make_site):
    site = make_site({
        "content/2026-10-01-story.md": item("The story", url="https://e.com/s",
                                            images=images_yaml("index.html")),
        "content/index.html": HTML_PAGE,
    }, SETTINGS)
    assert site.build("--offline") == 0
    (site.root / "content" / "index.html").write_bytes(HTML_PAGE + b"<!-- edited -->")
    assert site.build("--offline") == 0  # the incremental build that once copied it over
    page = site.html("news/2026/10/01/story/")
    assert page.xpath("//h1/text()") == ["The story"]
    assert b"alert(" not in (site.public / "news/2026/10/01/story/index.html").read_bytes()


@pytest.mark.parametrize("name", ["robots.txt", "feed.xml", "index.html"])
def test_two_outputs_on_one_path_stop_the_build_naming_both(make_site, capsys, name):
    site = make_site({
        "content/2026-10-01-story.md": item("The story", url="https://e.com/s"),
        f"static/{name}": "mine\n",
    }, SETTINGS)
    before = site.build("--offline")
    err = capsys.readouterr().err
    assert before == 1
    assert f"{name}: the file " in err and "static" in err
    assert "Traceback" not in err
    assert not (site.public / name).exists() or (site.public / name).read_text() != "mine\n"


def test_a_local_logo_is_named_by_its_published_thumbnail_in_metadata(make_site):
    logo = io.BytesIO()
    Image.new("RGB", (64, 64), (20, 90, 200)).save(logo, "PNG")
    story = item("With a logo", url="https://e.com/logo").replace(
        "  domain: example.com\n",
        '  domain: example.com\n  images:\n    - url: "logos/example.png"\n'
        "      width: 64\n      height: 64\n")
    site = make_site({"content/2026-10-01-logo.md": story,
                      "content/logos/example.png": logo.getvalue()}, SETTINGS)
    assert site.build("--offline") == 0
    page = site.html("news/2026/10/01/logo/")
    data = json.loads(page.xpath("//script[@type='application/ld+json']/text()")[0])
    url = data["publisher"]["logo"]["url"]
    assert url.startswith("https://news.example/digest/img/")
    assert (site.public / url.removeprefix("https://news.example/digest/")).is_file()
    api = json.loads((site.public / "api/news/index.json").read_bytes())
    assert [s["provider"]["logo"] for s in api["items"]] == [url]
    assert not (site.public / "logos").exists()
