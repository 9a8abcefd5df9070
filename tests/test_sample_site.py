"""The sample digest as shipped (content/, site.toml, the theme): its first build is complete
and loads nothing from the network, and the build summary agrees with the curation report."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import lxml.html
import pytest
import yaml
from conftest import REPO, copy_sample
from PIL import Image

from newsdigest.cli import main

BASE = "https://digest.example.org/"  # the sample's base_url
# What a browser fetches while showing a page, as opposed to links it only follows on a click
# (a[href]) or metadata it never loads (og:image, link rel=alternate).
LOADS = ("//img/@src", "//img/@srcset", "//source/@srcset", "//iframe/@src", "//video/@poster",
         "//audio/@src", "//script/@src", "//embed/@src", "//object/@data",
         "//link[contains(' stylesheet icon preload modulepreload manifest ', "
         "concat(' ', normalize-space(@rel), ' '))]/@href")
SUMMARY_IMAGES = re.compile(r"^images: (\d+) fetched, (\d+) cached, (\d+) generated, "
                            r"(\d+) fallbacks", re.M)
SUMMARY_DUPLICATES = re.compile(r"^digest: .*?; (\d+) duplicates? merged;", re.M)


@dataclass(frozen=True)
class Built:
    root: Path
    out: str
    err: str

    @property
    def public(self) -> Path:
        return self.root / "public"

    def run(self, *args: str) -> tuple[int, str]:
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
            code = main([*args, "--config", str(self.root / "site.toml")])
        return code, stdout.getvalue()


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """The sample copied as a user gets it, built once, offline, on the sample's own clock."""
    root = tmp_path_factory.mktemp("sample")
    copy_sample(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", "1795132800")  # 2026-11-20: no sample item is future
        patch.setenv("NEWSDIGEST_OFFLINE", "1")
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(["build", "--config", str(root / "site.toml"), "--offline",
                         "--no-search"])
        assert code == 0, stderr.getvalue()
        yield Built(root, stdout.getvalue(), stderr.getvalue())


def test_the_first_build_makes_every_picture_with_no_fallback(sample: Built) -> None:
    found = SUMMARY_IMAGES.search(sample.out)
    assert found is not None, sample.out
    fetched, _, generated, fallbacks = map(int, found.groups())
    assert (fetched, fallbacks) == (0, 0), sample.out
    assert generated > 0
    assert "fallback (" not in sample.out
    assert "generic left out" not in sample.out


def _output_file(public: Path, url: str) -> Path | None:
    """The file of the output a URL of a page names, or None for anything off the site."""
    if url.startswith(BASE):
        path = "/" + url[len(BASE):]
    elif urlsplit(url).scheme or url.startswith("//"):
        return None  # remote, data: or other schemes: nothing a local file answers
    else:
        path = urlsplit(url).path
    if not path.startswith("/"):
        return None  # the theme writes root-relative URLs; a relative one is a mistake here
    target = public / path.lstrip("/")
    return target / "index.html" if path.endswith("/") else target


def _loaded_urls(page: lxml.html.HtmlElement) -> list[str]:
    urls = []
    for query in LOADS:
        for value in page.xpath(query):
            if query.endswith("srcset"):
                urls += [c.split()[0] for c in value.split(",") if c.strip()]
            else:
                urls.append(value.strip())
    return urls


def test_every_page_loads_only_files_of_the_site(sample: Built) -> None:
    pages = sorted(sample.public.rglob("*.html"))
    assert len(pages) > 100
    missing = []
    for html in pages:
        for url in _loaded_urls(lxml.html.fromstring(html.read_bytes())):
            target = _output_file(sample.public, url)
            if target is None or not target.is_file():
                missing.append(f"{html.relative_to(sample.public)}: {url}")
    assert missing == []


def test_every_story_shows_its_own_picture_and_no_placeholder(sample: Built) -> None:
    home = lxml.html.fromstring((sample.public / "index.html").read_bytes())
    assert home.xpath("//article//img")
    assert home.xpath("//*[contains(concat(' ', @class, ' '), ' placeholder ')]") == []
    items = sorted((sample.public / "news").glob("*/*/*/*/index.html"))
    stories = [p for p in items if not lxml.html.fromstring(p.read_bytes())
               .xpath("//meta[@http-equiv='refresh']")]  # merged duplicates only redirect
    assert len(stories) >= 40
    for html in stories:
        page = lxml.html.fromstring(html.read_bytes())
        hero = page.xpath("//article//figure[contains(@class, 'story-media')]//img/@src")
        assert hero and hero[0].startswith("/img/"), html


def _front_matter(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8").split("---\n")[1])


def test_local_pictures_are_the_size_their_items_declare() -> None:
    content = REPO / "content"
    checked = 0
    for item in sorted(content.rglob("*")):
        if item.suffix not in (".md", ".txt") or "digests" in item.parts:
            continue
        data = _front_matter(item)
        provider = data.get("provider") or {}
        for image in [*(data.get("images") or []), *(provider.get("images") or [])]:
            url = image["url"]
            assert not urlsplit(url).scheme, f"{item.name}: remote picture {url}"
            target = (item.parent / url).resolve()
            assert target.is_relative_to(content) and target.is_file(), f"{item.name}: {url}"
            with Image.open(target) as picture:
                assert picture.size == (image["width"], image["height"]), f"{item.name}: {url}"
            checked += 1
    assert checked > 80


def _merged_files(lines: list[str]) -> int:
    """'kept.md <- a.md, b.md' names two files merged into one story."""
    return sum(len(line.split(" <- ", 1)[1].split(", ")) for line in lines)


def test_build_summary_and_report_count_the_same_duplicates(sample: Built) -> None:
    found = SUMMARY_DUPLICATES.search(sample.out)
    assert found is not None, sample.out
    summary = int(found.group(1))
    assert summary > 0  # the sample has duplicates to show
    # The page the build writes: its opening line, the count of its part, the files listed.
    page = lxml.html.fromstring((sample.public / "_report/index.html").read_bytes())
    lede = page.xpath("string(//header//p[contains(@class, 'lede')])")
    assert re.search(rf"\b{summary} duplicates? merged", lede), lede
    badge = page.xpath("string(//h2[@id='merged']/span[@class='count'])")
    assert re.match(rf"{summary}\b", badge.strip()), badge
    assert _merged_files(page.xpath("//section[@aria-labelledby='merged']//li/text()")) == summary
    # `newsdigest report` in the terminal.
    code, text = sample.run("report")
    assert code == 0
    part = re.search(r"^Duplicates? (?:stories )?merged \((\d+)[^)]*\)\n((?:  .*\n)*)", text, re.M)
    assert part is not None, text
    assert int(part.group(1)) == summary
    assert _merged_files([line.strip() for line in part.group(2).splitlines()]) == summary


def test_the_first_build_is_quiet_and_shows_the_provider_logos(sample: Built) -> None:
    # The letter marks are files of the sample (content/logos/), named relative to each item:
    # ../../logos/x.png from content/2026/10/.
    assert "warning:" not in sample.err, sample.err
    page = lxml.html.fromstring(
        (sample.public / "news/2026/10/13/robotaxi-expansion/index.html").read_bytes())
    logo = page.xpath("//*[contains(@class, 'story-meta')]//img[contains(@class, "
                      "'provider-logo')]/@src")
    assert logo and logo[0].startswith("/img/")


def test_the_readme_example_item_uses_every_field_and_builds_without_a_warning(
        make_site, capsys: pytest.CaptureFixture[str]) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The item format", 1)[1].split("\n## ", 1)[0]
    example = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    documented = set(re.findall(r"^\| `([^`]+)`(?:, `([^`]+)`)? \|", section, re.M))
    fields = {name for pair in documented for name in pair if name}
    video_only = {"featuredContent", "length"}  # the example is an article
    assert fields - video_only == set(yaml.safe_load(example.split("---\n")[1]))
    site = make_site({"content/2026/10/robotaxi.md": example,
                      "content/images/robotaxi-city.jpg":
                          (REPO / "content/images/robotaxi-city.jpg").read_bytes(),
                      "content/logos/theverge.com.png":
                          (REPO / "content/logos/theverge.com.png").read_bytes()})
    assert site.build("--no-search") == 0
    assert "warning" not in capsys.readouterr().err
    page = site.html("news/2026/10/13/robotaxi-two-more-cities/")
    assert page.xpath("//article//figure//img/@src")[0].startswith("/img/")
