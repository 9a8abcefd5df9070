"""Invariants of a whole generated site, built at a root base URL and at a sub-path one.

One site of about sixty items (several topics with a parent, duplicates, a video, local images,
editor's notes) is built once per base URL for the module; each test then states one property
every built site must have: links and images resolve inside the output, pages are in the
sitemap unless deliberately not, feeds and JSON parse, `check` is clean, and an incremental
build after an unrelated change equals a clean build byte for byte.
"""

from __future__ import annotations

import io
import json
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import feedparser
import lxml.etree
import lxml.html
import pytest
from PIL import Image

from newsdigest.build.pipeline import BuildOptions, BuildReport, build_site
from newsdigest.cli import main
from newsdigest.config.site import load_config

BASE_URLS = ("https://news.example/", "https://news.example/digest/")
TOPICS = ("AI", "Robotics", "Policy", "Chips", "Open Source")
EMBED = '"<iframe src=\\"https://www.youtube.com/embed/dQ8x1vKkZ2A\\"></iframe>"'
SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NOW = datetime(2026, 11, 20, tzinfo=UTC)  # SOURCE_DATE_EPOCH of the command-line builds


def news_item(n: int, **overrides: str) -> str:
    """Item number n: dates over five weeks, topics in rotation, scores that differ."""
    day, hour = 15 + n // 3, 6 + (n % 3) * 5
    date = f"2026-{10 + day // 32:02d}-{(day - 1) % 31 + 1:02d}T{hour:02d}:{n % 60:02d}:00Z"
    topics = [TOPICS[n % 5]] + ([TOPICS[(n + 2) % 5]] if n % 4 == 0 else [])
    fields = {
        "title": f'"Story number {n} about {topics[0]}"',
        "excerpt": f'"What happened in story {n}, in a sentence."',
        "publishedDateTime": date,
        "webUrl": f'"https://source{n % 7}.example.com/news/{n}"',
        "type": "article",
        "quality": str(20 + (n * 37) % 80),
        "heat": str((n * 53) % 400),
        "provider": f"{{name: Source {n % 7}, domain: source{n % 7}.example.com}}",
        "topics": "[" + ", ".join(f'"{t}"' for t in topics) + "]",
        **overrides,
    }
    return "---\n" + "".join(f"{k}: {v}\n" for k, v in fields.items()) + \
        f"---\nThe body of story {n}, with **Markdown** and [a link](https://example.org/{n}).\n"


def local_image(colour: tuple[int, int, int], fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (800, 450), colour).save(out, fmt)
    return out.getvalue()


def site_files() -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {f"content/2026/item-{n:02d}.md": news_item(n)
                                     for n in range(56)}
    # Duplicates: the same source URL again, and the same story under another URL and title
    # spelling; both merge into the first and leave pages that send readers there.
    files["content/2026/copy-of-03.md"] = news_item(3, title='"A copy of story three"')
    files["content/2026/again-10.md"] = news_item(
        10, webUrl='"https://elsewhere.example.net/10"', title='"Story Number 10 About AI!"')
    files["content/2026/video.md"] = news_item(
        56, type="video", featuredContent=EMBED, length='"PT4M20S"')
    images = "\n".join(f'  - {{url: "{name}", width: 800, height: 450}}'
                       for name in ("pictures/red.jpg",))
    files["content/2026/with-picture.md"] = news_item(57, images="\n" + images)
    files["content/2026/with-png.md"] = news_item(
        58, images='\n  - {url: "../pictures/blue.png", width: 800, height: 450}')
    files["content/2026/pictures/red.jpg"] = local_image((200, 30, 30), "JPEG")
    files["content/pictures/blue.png"] = local_image((30, 30, 200), "PNG")
    files["content/2026/draft.md"] = news_item(59, published="false")
    # One story from two outlets in other words: a story cluster (stories/clusters.py).
    files["content/2026/lumora-wire.md"] = news_item(
        61, title='"Nvidia buys chip startup Lumora for $2B"',
        excerpt='"The photonics startup moves data between GPUs with light."',
        provider="{name: Wire One, domain: wireone.example}")
    files["content/2026/lumora-daily.md"] = news_item(
        62, title='"Lumora acquired by Nvidia in $2 billion deal"',
        excerpt='"Nvidia pays $2 billion for the photonics startup Lumora."',
        provider="{name: Daily Two, domain: dailytwo.example}")
    files["content/digests/2026-W44.md"] = "The week's **picks**, chosen by the editors.\n"
    files["content/digests/2026-10-29.md"] = "A busy Thursday.\n"
    return files


def settings(base_url: str) -> str:
    return textwrap.dedent(f"""\
        [site]
        title = "Invariant Digest"
        base_url = "{base_url}"
        page_size = 8

        [topics."Robotics"]
        parent = "AI"
        description = "Machines that move."
        """)


@dataclass
class Built:
    base_url: str
    root: Path
    clean: Path  # a build with no cache
    warm: Path  # a build on the cache of a build of other content
    incremental: BuildReport | None = None  # what that last build did

    @property
    def base_path(self) -> str:
        return urlsplit(self.base_url).path

    def files(self, output: Path | None = None) -> dict[str, bytes]:
        top = output or self.clean
        return {p.relative_to(top).as_posix(): p.read_bytes()
                for p in sorted(top.rglob("*")) if p.is_file()}

    def build(self, output: Path, *args: str) -> None:
        assert main(["build", "--config", str(self.root / "site.toml"), "--output", str(output),
                     "--quiet", "--no-search", *args]) == 0


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")


@pytest.fixture(scope="module", params=BASE_URLS, ids=("root", "sub-path"))
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Built]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SOURCE_DATE_EPOCH", "1795132800")  # 2026-11-20T00:00:00Z
        env.setenv("NEWSDIGEST_OFFLINE", "1")
        root = tmp_path_factory.mktemp("invariants")
        files = site_files()
        write(root, {"site.toml": settings(request.param), **files})
        site = Built(request.param, root, root / "clean", root / "warm")
        site.build(site.clean, "--no-cache")
        # The warm build: first a build of other content (an item edited, one added, one gone,
        # a note changed) fills the cache and the output; then the real content is built on it.
        other = dict(files)
        other["content/2026/item-07.md"] = news_item(7, title='"Edited title"', quality="99")
        other["content/2026/extra.md"] = news_item(70)
        # not yet one story with lumora-wire.md: the real content clusters them
        other["content/2026/lumora-daily.md"] = news_item(
            62, title='"Quarterly results of a memory maker"',
            provider="{name: Daily Two, domain: dailytwo.example}")
        del other["content/2026/item-20.md"]
        other["content/digests/2026-W44.md"] = "Other words.\n"
        (root / "content" / "2026" / "item-20.md").unlink()
        write(root, other)
        site.build(site.warm)
        (root / "content" / "2026" / "extra.md").unlink()
        write(root, files)
        config = load_config(root / "site.toml").with_overrides(output_dir=str(site.warm))
        site.incremental = build_site(config, BuildOptions(now=NOW, search=False))
        yield site


# Every attribute that names a file the browser fetches or the reader follows.
LINK_XPATH = ("//a/@href | //link/@href | //script/@src | //img/@src | //source/@src"
              " | //video/@poster | //iframe/@src | //form/@action"
              " | //meta[@property='og:image' or @name='twitter:image']/@content")


def page_targets(tree: lxml.html.HtmlElement) -> list[str]:
    targets = [str(t) for t in tree.xpath(LINK_XPATH)]
    for srcset in tree.xpath("//img/@srcset | //source/@srcset"):
        targets += [part.split()[0] for part in srcset.split(",") if part.strip()]
    for refresh in tree.xpath("//meta[@http-equiv='refresh']/@content"):
        targets.append(refresh.partition("url=")[2])
    return targets


def output_file(site: Built, page: str, target: str, files: set[str]) -> str | None:
    """The output file a link of `page` reaches, '' if it is internal and reaches none, or
    None for a link that leaves the site."""
    page_url = site.base_url + (page.removesuffix("index.html"))
    absolute = urljoin(page_url, target.strip())
    parts = urlsplit(absolute)
    if parts.scheme not in ("http", "https") or \
            f"{parts.scheme}://{parts.netloc}" != "https://news.example":
        return None
    path = unquote(parts.path)
    if not path.startswith(site.base_path):
        return ""  # on the site's host but outside its base path: never a file of the output
    rel = path[len(site.base_path):]
    for candidate in (rel, rel + "index.html", rel.rstrip("/") + "/index.html"):
        if candidate.lstrip("/") in files:
            return candidate.lstrip("/")
    return ""


def html_pages(site: Built) -> list[str]:
    return sorted(p.relative_to(site.clean).as_posix() for p in site.clean.rglob("*.html"))


def test_the_site_has_what_the_module_promises(built: Built) -> None:
    pages = html_pages(built)
    assert sum(p.startswith("news/") for p in pages) >= 55
    assert len([p for p in pages if p.startswith("topics/")]) >= 6
    assert sorted(p for p in pages if p.startswith("digest/weekly/")) == [
        f"digest/weekly/2026-W{week}/index.html" for week in (42, 43, 44, 45)]
    video = lxml.html.fromstring((built.clean / "news/2026/11/02/video/index.html").read_bytes())
    assert video.xpath("//@data-embed") == ["https://www.youtube-nocookie.com/embed/dQ8x1vKkZ2A"]
    # The editor's notes are shown on their editions.
    assert b"chosen by the editors" in (built.clean / "digest/weekly/2026-W44/index.html"
                                        ).read_bytes()
    assert b"A busy Thursday" in (built.clean / "digest/daily/2026-10-29/index.html").read_bytes()


def test_every_internal_link_and_image_resolves_to_a_file_of_the_output(built: Built) -> None:
    files = set(built.files())
    broken = []
    checked = 0
    for page in html_pages(built):
        tree = lxml.html.fromstring((built.clean / page).read_bytes())
        for target in page_targets(tree):
            found = output_file(built, page, target, files)
            if found == "":
                broken.append(f"{page} -> {target}")
            checked += found is not None
    assert broken == []
    assert checked > 2000  # the walk saw the site's links, not an empty page


def test_local_images_are_published_as_thumbnails_under_the_base_path(built: Built) -> None:
    page = "news/2026/11/03/with-picture/index.html"
    tree = lxml.html.fromstring((built.clean / page).read_bytes())
    sources = [s.split()[0] for s in ",".join(tree.xpath("//img/@srcset")).split(",") if s]
    local = [s for s in sources if not s.startswith("http")]
    assert local and all(s.startswith(built.base_path) for s in local)


def test_the_link_walk_sees_a_broken_link_and_one_outside_the_base_path(built: Built) -> None:
    """The walk above is only as good as its resolver: it must refuse what a browser would."""
    files = set(built.files())
    page = "topics/ai/index.html"
    assert output_file(built, page, "../robotics/", files) == "topics/robotics/index.html"
    assert output_file(built, page, built.base_path + "feed.xml", files) == "feed.xml"
    assert output_file(built, page, "https://elsewhere.example/x", files) is None
    assert output_file(built, page, "../no-such-topic/", files) == ""
    # A site-absolute link that forgot the base path reaches nothing on a sub-path site.
    missing_base = output_file(built, page, "/topics/robotics/", files)
    assert missing_base == ("topics/robotics/index.html" if built.base_path == "/" else "")


def sitemap_locations(site: Built) -> set[str]:
    index = lxml.etree.fromstring((site.clean / "sitemap.xml").read_bytes())
    assert index.tag == SITEMAP_NS + "sitemapindex"
    found = set()
    for loc in index.iter(SITEMAP_NS + "loc"):
        assert loc.text.startswith(site.base_url)
        tree = lxml.etree.fromstring((site.clean / loc.text[len(site.base_url):]).read_bytes())
        found |= {url.text for url in tree.iter(SITEMAP_NS + "loc")}
    return found


def test_every_page_is_in_the_sitemap_but_the_deliberate_exceptions(built: Built) -> None:
    listed = sitemap_locations(built)
    unlisted = []
    for page in html_pages(built):
        url = built.base_url + page.removesuffix("index.html")
        if url not in listed:
            unlisted.append(page)
    # 404.html; the curation report, for editors only; and the pages of the two merged
    # duplicates and of the clustered item, which send readers on to the story they joined.
    moved = [p for p in unlisted if p.startswith("news/")]
    assert sorted(set(unlisted) - set(moved)) == ["404.html", "_report/index.html"]
    # Equal times and scores: the first file by path stands for the story; the story cluster's
    # lead is its better-scored item.
    assert moved == ["news/2026/10/16/item-03/index.html", "news/2026/10/18/item-10/index.html",
                     "news/2026/11/04/lumora-wire/index.html"]
    for page in moved:
        tree = lxml.html.fromstring((built.clean / page).read_bytes())
        assert tree.xpath("//meta[@http-equiv='refresh']") or \
            tree.xpath("//link[@rel='canonical']/@href")[0] != built.base_url + page[:-10]
    # and nothing listed is missing
    files = set(built.files())
    for url in listed:
        rel = url[len(built.base_url):]
        assert (rel + "index.html" if rel == "" or rel.endswith("/") else rel) in files, url


def is_feed(data: bytes) -> bool:
    try:
        root = lxml.etree.fromstring(data)
    except lxml.etree.XMLSyntaxError:
        return False
    return root.tag in ("rss", "{http://www.w3.org/2005/Atom}feed")


def test_every_feed_parses_without_bozo(built: Built) -> None:
    feeds = {rel: data for rel, data in built.files().items()
             if rel.endswith((".xml", ".rss", ".atom")) and is_feed(data)}
    # RSS and Atom for the site, each of the five topics and the digest.
    assert len(feeds) == 14 and {"feed.xml", "atom.xml", "digest/atom.xml"} <= set(feeds)
    for rel, data in feeds.items():
        parsed = feedparser.parse(data)
        assert not parsed.bozo, (rel, parsed.get("bozo_exception"))
        assert parsed.entries, rel
        for entry in parsed.entries:
            assert entry.link.startswith(built.base_url), (rel, entry.link)
    files = built.files()
    json_feeds = {rel: json.loads(files[rel]) for rel in files if rel.endswith("feed.json")}
    assert len(json_feeds) == 7
    for rel, feed in json_feeds.items():
        assert feed["version"] == "https://jsonfeed.org/version/1.1", rel
        assert feed["feed_url"] == built.base_url + rel and feed["items"], rel
        for entry in feed["items"]:
            assert output_file(built, rel, entry["url"], set(files)), (rel, entry["url"])


def test_every_json_file_is_valid_json(built: Built) -> None:
    jsons = {rel: data for rel, data in built.files().items() if rel.endswith(".json")}
    assert len(jsons) >= 3
    for rel, data in jsons.items():
        try:
            json.loads(data)
        except json.JSONDecodeError as exc:
            pytest.fail(f"{rel}: {exc}")
    for page in html_pages(built):
        tree = lxml.html.fromstring((built.clean / page).read_bytes())
        for block in tree.xpath("//script[@type='application/ld+json']/text()"):
            json.loads(block)


def test_check_reports_no_problem(built: Built, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "--config", str(built.root / "site.toml"),
                 "--output", str(built.clean)])
    said = capsys.readouterr()
    assert code == 0, said.out
    assert said.out == ""  # one line per problem: none
    assert said.err.strip() == f"checked {len(html_pages(built))} pages: 0 problems"


def test_an_incremental_build_after_other_content_equals_a_clean_build(built: Built) -> None:
    report = built.incremental
    assert report is not None and not report.write.full
    # It rebuilt what the other content changed, and no more: not every page.
    assert 0 < report.write.rendered < report.write.unchanged
    clean, warm = built.files(), built.files(built.warm)
    assert sorted(set(clean) ^ set(warm)) == []
    assert [rel for rel in clean if clean[rel] != warm[rel]] == []

