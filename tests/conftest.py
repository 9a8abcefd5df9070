"""Shared fixtures: small sites written inline, built through the real CLI, parsed with lxml."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import lxml.etree
import lxml.html
import pytest

from newsdigest.cli import main

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "content" / "000_0d84c82fd133e02b.txt"  # the pipeline's own example, as shipped
SAMPLE_PARTS = ("content", "site.toml", "templates", "static")
# Markdown that Python-Markdown cannot render: it nests past Python's recursion limit, and it
# takes seconds (quadratic time). Python-Markdown 3.11.4 renders `* ` x 600 and `[` x 20000
# that 3.11.3 could not; these two still fail on both.
DEEPLY_NESTED = '<div markdown="1">\n' * 500 + "x\n" + "</div>\n" * 500
SLOW_MARKDOWN = "[" * 10000 + "](" * 10000


def copy_sample(root: Path) -> Path:
    """The sample digest as a user gets it (content, settings, templates, static) in `root`."""
    for part in SAMPLE_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, root / part)
        else:
            shutil.copy2(source, root / part)
    return root


def item(title: str = "A story", date: str = "2026-10-01T10:00:00Z",
         url: str = "https://example.com/story", topics: tuple[str, ...] = ("AI",),
         body: str = "", **fields: str) -> str:
    """A valid news item; extra fields are YAML lines given as name=value text."""
    lines = [
        "---",
        f'title: "{title}"',
        f"publishedDateTime: {date}",
        f'webUrl: "{url}"',
        "type: article",
        "quality: 50",
        "heat: 10",
        "provider:",
        "  name: Example News",
        "  domain: example.com",
        "topics:",
        *[f'  - "{t}"' for t in topics],
    ]
    lines += [f"{k}: {v}" for k, v in fields.items()]
    lines.append("---")
    return "\n".join(lines) + "\n" + textwrap.dedent(body)


@dataclass
class Site:
    root: Path

    @property
    def public(self) -> Path:
        return self.root / "public"

    def write(self, rel: str, text: str | bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    def build(self, *args: str) -> int:
        return main(["build", "--config", str(self.root / "site.toml"), *args])

    def html(self, rel: str) -> lxml.html.HtmlElement:
        path = self.public / rel
        if path.is_dir() or rel.endswith("/") or rel == "":
            path = path / "index.html"
        return lxml.html.fromstring(path.read_bytes())

    def pages(self) -> list[Path]:
        return sorted(self.public.rglob("*.html"))

    def sitemaps(self) -> list[lxml.etree._Element]:
        """The files sitemap.xml (an index) points at, parsed, each checked to be one."""
        index = lxml.etree.fromstring((self.public / "sitemap.xml").read_bytes())
        assert index.tag == "{http://www.sitemaps.org/schemas/sitemap/0.9}sitemapindex"
        trees = []
        for loc in index.xpath("//*[local-name()='loc']/text()"):
            tree = lxml.etree.fromstring((self.public / loc.rsplit("/", 1)[1]).read_bytes())
            assert tree.tag == "{http://www.sitemaps.org/schemas/sitemap/0.9}urlset", loc
            trees.append(tree)
        return trees

    def sitemap_urls(self) -> list[str]:
        return [loc for tree in self.sitemaps()
                for loc in tree.xpath("//*[local-name()='url']/*[local-name()='loc']/text()")]


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches the internet: builds download no image unless a test about images
    clears this (it then serves its images itself, on 127.0.0.1)."""
    monkeypatch.setenv("NEWSDIGEST_OFFLINE", "1")


@pytest.fixture
def make_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Site]:
    # A fixed clock: 2026-11-20T00:00:00Z, so "future" items are deterministic.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795132800")

    def make(files: dict[str, str | bytes], settings: str = "") -> Site:
        site = Site(tmp_path / "site")
        site.write("site.toml", textwrap.dedent(settings) or
                   '[site]\ntitle = "Test Digest"\nbase_url = "https://news.example/"\n')
        for rel, text in files.items():
            site.write(rel, text)
        (site.root / "content").mkdir(exist_ok=True)
        return site

    return make
