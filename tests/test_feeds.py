"""Feeds, sitemaps and page metadata, parsed the way feed readers and search engines do."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import feedparser
import jsonschema
import lxml.etree
from conftest import item

SETTINGS = """\
[site]
title = "Feed Digest"
base_url = "https://example.org/digest/"
feed_items = 3
page_size = 2
"""
JSON_FEED_SCHEMA = {
    "type": "object",
    "required": ["version", "title", "items", "home_page_url", "feed_url"],
    "properties": {
        "version": {"const": "https://jsonfeed.org/version/1.1"},
        "title": {"type": "string"},
        "home_page_url": {"type": "string", "pattern": "^https://"},
        "feed_url": {"type": "string", "pattern": "^https://"},
        "items": {"type": "array", "items": {
            "type": "object",
            "required": ["id", "url", "title", "date_published"],
            "anyOf": [{"required": ["content_html"]}, {"required": ["content_text"]}],
            "properties": {
                "id": {"type": "string"}, "url": {"type": "string", "pattern": "^https://"},
                "title": {"type": "string"}, "date_published": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "authors": {"type": "array", "items": {"type": "object",
                                                       "required": ["name"]}},
                "image": {"type": "string", "pattern": "^https?://"},
            },
        }},
    },
}


def files() -> dict[str, str]:
    made = {}
    for n in range(5):
        made[f"content/2026-10-0{n + 1}-story-{n}.md"] = item(
            title=f"Story {n} & <friends>", date=f"2026-10-0{n + 1}T10:00:00+02:00",
            url=f"https://example.com/{n}", topics=("AI", "Robotics") if n % 2 else ("AI",),
            body="Some **bold** text.\n" if n == 4 else "",
            images=f'\n  - url: "https://img.example/{n}.jpg"\n    width: 800\n    height: 450')
    return made


def test_every_feed_parses_without_errors(make_site):
    site = make_site(files(), SETTINGS)
    assert site.build() == 0
    for folder in ("", "topics/ai/", "topics/robotics/"):
        for name in ("feed.xml", "atom.xml"):
            raw = (site.public / folder / name).read_bytes()
            lxml.etree.fromstring(raw)  # strict XML
            parsed = feedparser.parse(raw)
            assert not parsed.bozo, (folder, name, parsed.get("bozo_exception"))
            assert parsed.entries, (folder, name)
        document = json.loads((site.public / folder / "feed.json").read_text())
        jsonschema.validate(document, JSON_FEED_SCHEMA)


def test_site_feed_entries(make_site):
    site = make_site(files(), SETTINGS)
    site.build()
    rss = feedparser.parse((site.public / "feed.xml").read_bytes())
    assert [e.title for e in rss.entries] == ["Story 4 & <friends>", "Story 3 & <friends>",
                                              "Story 2 & <friends>"]
    first = rss.entries[0]
    assert first.link == "https://example.org/digest/news/2026/10/05/story-4/"
    assert first.id == first.link
    assert first.published_parsed[:5] == (2026, 10, 5, 8, 0)  # +02:00 kept as an instant
    assert [t.term for t in first.tags] == ["AI"]
    assert first.enclosures[0].href == "https://img.example/4.jpg"
    assert "<strong>bold</strong>" in first.content[0].value
    atom = feedparser.parse((site.public / "atom.xml").read_bytes())
    assert atom.entries[0].author == "Example News"
    assert atom.feed.links[0].href.startswith("https://example.org/digest/")


def test_guids_are_stable_across_builds(make_site):
    site = make_site(files(), SETTINGS)
    site.build()
    before = [e.id for e in feedparser.parse((site.public / "feed.xml").read_bytes()).entries]
    site.build("--no-cache")
    after = [e.id for e in feedparser.parse((site.public / "feed.xml").read_bytes()).entries]
    assert before == after


def test_every_page_has_autodiscovery_and_topic_pages_their_own(make_site):
    site = make_site(files(), SETTINGS)
    site.build()
    for page in site.pages():
        tree = site.html(page.relative_to(site.public).as_posix())
        types = tree.xpath("//link[@rel='alternate']/@type")
        assert {"application/rss+xml", "application/atom+xml",
                "application/feed+json"} <= set(types), page
    topic = site.html("topics/robotics/")
    assert "/digest/topics/robotics/feed.xml" in topic.xpath("//link[@rel='alternate']/@href")
    assert "/digest/topics/robotics/feed.xml" in topic.xpath("//a[@class='subscribe']/@href")


def test_sitemap_lists_every_page_and_every_url_exists(make_site):
    site = make_site(files(), SETTINGS)
    site.build()
    urls = site.sitemap_urls()
    assert len(urls) == len(set(urls))
    paths = {urlsplit(u).path.removeprefix("/digest/") for u in urls}
    for path in paths:
        target = site.public / path
        assert (target / "index.html").exists() or target.is_file(), path
    pages = {p.relative_to(site.public).parent.as_posix() + "/" for p in site.pages()
             if p.name == "index.html"}
    pages = {"" if p == "./" else p for p in pages}
    assert pages - {"_report/"} == paths  # the curation report is for editors, not crawlers
    robots = (site.public / "robots.txt").read_text()
    assert "Sitemap: https://example.org/digest/sitemap.xml" in robots
    assert "Sitemap: https://example.org/digest/sitemap-news.xml" in robots


def test_sitemap_is_an_index_of_list_pages_and_item_months_and_an_edit_remakes_one(
        make_site, capsys):
    site = make_site({
        "content/oct.md": item("October story", "2026-10-01T10:00:00Z", "https://e.com/1"),
        "content/nov.md": item("November story", "2026-11-02T10:00:00Z", "https://e.com/2",
                               updatedDateTime="2026-11-05T08:00:00Z"),
    }, SETTINGS)
    assert site.build("--no-search") == 0
    index = lxml.etree.fromstring((site.public / "sitemap.xml").read_bytes())
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    listed = {loc.rsplit("/", 1)[1]: mod for loc, mod in zip(
        index.xpath("//s:loc/text()", namespaces=ns),
        index.xpath("//s:lastmod/text()", namespaces=ns), strict=True)}
    assert listed == {"sitemap-pages.xml": "2026-11-05T08:00:00+00:00",
                      "sitemap-items-2026-11.xml": "2026-11-05T08:00:00+00:00",
                      "sitemap-items-2026-10.xml": "2026-10-01T10:00:00+00:00"}
    # a list page's last change is its stories' newest; a page of no list has none
    pages = lxml.etree.fromstring((site.public / "sitemap-pages.xml").read_bytes())
    changed = {url.findtext("s:loc", namespaces=ns).removeprefix("https://example.org/digest/"):
               url.findtext("s:lastmod", namespaces=ns) for url in pages.xpath("//s:url",
                                                                               namespaces=ns)}
    assert {path: changed[path] for path in ("", "topics/ai/", "archive/2026/10/",
                                             "archive/2026/11/", "archive/", "topics/")} == {
        "": "2026-11-05T08:00:00+00:00", "topics/ai/": "2026-11-05T08:00:00+00:00",
        "archive/2026/10/": "2026-10-01T10:00:00+00:00",
        "archive/2026/11/": "2026-11-05T08:00:00+00:00", "archive/": None, "topics/": None}
    october = lxml.etree.fromstring((site.public / "sitemap-items-2026-10.xml").read_bytes())
    assert october.xpath("//s:loc/text()", namespaces=ns) == [
        "https://example.org/digest/news/2026/10/01/oct/"]

    def sitemaps_rebuilt() -> set[str]:
        assert site.build("--no-search", "--explain") == 0
        return {line.split(":")[0].removeprefix("rebuilt ")
                for line in capsys.readouterr().out.splitlines()
                if line.startswith("rebuilt sitemap")}

    capsys.readouterr()
    # a new title: its month's file says something else of its video and image, the list
    # pages' file says nothing else (their paths and last changes)
    site.write("content/oct.md", item("October story, revised", "2026-10-01T10:00:00Z",
                                      "https://e.com/1"))
    assert sitemaps_rebuilt() == {"sitemap-items-2026-10.xml"}
    # a later update: the last change of its month's archive page, and of the index
    site.write("content/oct.md", item("October story, revised", "2026-10-01T10:00:00Z",
                                      "https://e.com/1", updatedDateTime="2026-10-03T09:00:00Z"))
    assert sitemaps_rebuilt() == {"sitemap-items-2026-10.xml", "sitemap-pages.xml",
                                  "sitemap.xml"}
    pages = lxml.etree.fromstring((site.public / "sitemap-pages.xml").read_bytes())
    assert pages.xpath("//s:url[s:loc='https://example.org/digest/archive/2026/10/']"
                       "/s:lastmod/text()", namespaces=ns) == ["2026-10-03T09:00:00+00:00"]


def test_news_sitemap_holds_the_last_two_days(make_site):
    recent = {"content/today.md": item("Today", "2026-11-19T12:00:00Z", "https://e.com/t"),
              "content/old.md": item("Old", "2026-11-10T12:00:00Z", "https://e.com/o")}
    site = make_site(recent, SETTINGS)
    site.build()
    tree = lxml.etree.fromstring((site.public / "sitemap-news.xml").read_bytes())
    ns = {"n": "http://www.google.com/schemas/sitemap-news/0.9"}
    assert tree.xpath("//n:title/text()", namespaces=ns) == ["Today"]


def test_news_sitemap_leaves_out_sponsored_items(make_site):
    recent = {"content/today.md": item("Today", "2026-11-19T12:00:00Z", "https://e.com/t"),
              "content/paid.md": item("Paid", "2026-11-19T11:00:00Z", "https://e.com/p",
                                      kind="sponsor")}
    site = make_site(recent, SETTINGS)
    site.build()
    tree = lxml.etree.fromstring((site.public / "sitemap-news.xml").read_bytes())
    ns = {"n": "http://www.google.com/schemas/sitemap-news/0.9"}
    assert tree.xpath("//n:title/text()", namespaces=ns) == ["Today"]


def test_item_page_metadata(make_site):
    site = make_site(files(), SETTINGS)
    site.build()
    page = site.html("news/2026/10/05/story-4/")
    meta = {m.get("property") or m.get("name"): m.get("content") for m in page.iter("meta")}
    assert meta["og:type"] == "article"
    assert meta["og:url"] == "https://example.org/digest/news/2026/10/05/story-4/"
    assert meta["og:image"] == "https://img.example/4.jpg"
    assert meta["twitter:card"] == "summary_large_image"
    assert page.xpath("//link[@rel='canonical']/@href") == [meta["og:url"]]
    data = json.loads(page.xpath("//script[@type='application/ld+json']/text()")[0])
    assert data["@type"] == "NewsArticle"
    assert data["headline"] == "Story 4 & <friends>"
    assert data["isBasedOn"] == "https://example.com/4"
    assert data["datePublished"] == "2026-10-05T08:00:00+00:00"
    assert data["breadcrumb"]["itemListElement"][0]["item"] == "https://example.org/digest/"


def test_video_item_has_video_object(make_site):
    embed = '"<iframe src=\\"https://www.youtube.com/embed/dQ8x1vKkZ2A\\"></iframe>"'
    site = make_site({"content/v.md": item("A video", "2026-10-01T10:00:00Z",
                                           "https://www.youtube.com/watch?v=dQ8x1vKkZ2A",
                                           featuredContent=embed, length="PT1H2M3S")},
                     SETTINGS)
    site.build()
    page = site.html("news/2026/10/01/v/")
    data = json.loads(page.xpath("//script[@type='application/ld+json']/text()")[0])
    assert data["video"]["embedUrl"] == "https://www.youtube-nocookie.com/embed/dQ8x1vKkZ2A"
    assert data["video"]["duration"] == "PT1H2M3S"


def test_list_pages_have_collection_page_data(make_site):
    site = make_site(files(), SETTINGS)
    site.build()
    data = json.loads(site.html("topics/ai/").xpath(
        "//script[@type='application/ld+json']/text()")[0])
    assert data["@type"] == "CollectionPage"
    assert [c["name"] for c in data["breadcrumb"]["itemListElement"]] == ["Home", "Topics", "AI"]


def test_video_pages_are_in_the_video_sitemap_extension(make_site):
    embed = '"<iframe src=\\"https://www.youtube.com/embed/dQ8x1vKkZ2A\\"></iframe>"'
    site = make_site({"content/v.md": item("A video", "2026-10-01T10:00:00Z",
                                           "https://www.youtube.com/watch?v=dQ8x1vKkZ2A",
                                           featuredContent=embed, length="PT2M")}, SETTINGS)
    site.build()
    ns = {"v": "http://www.google.com/schemas/sitemap-video/1.1"}
    trees = site.sitemaps()
    assert [u for t in trees for u in t.xpath("//v:player_loc/text()", namespaces=ns)] == [
        "https://www.youtube-nocookie.com/embed/dQ8x1vKkZ2A"]
    assert [d for t in trees for d in t.xpath("//v:duration/text()", namespaces=ns)] == ["120"]
    # An item page's line is kept between builds (with its month's): a new title is a new
    # line, and so is another base URL
    site.write("content/v.md", (site.root / "content/v.md").read_text().replace(
        "A video", "A new video"))
    site.build()
    (items,) = [t for t in site.sitemaps() if t.xpath("//v:title", namespaces=ns)]
    assert items.xpath("//v:title/text()", namespaces=ns) == ["A new video"]
    site.write("site.toml", SETTINGS.replace("example.org/digest/", "example.net/news/"))
    site.build()
    (items,) = [t for t in site.sitemaps() if t.xpath("//v:title", namespaces=ns)]
    assert items.xpath("//*[local-name()='loc']/text()") == [
        "https://example.net/news/news/2026/10/01/v/"]


API_ITEM = {
    "type": "object",
    "required": ["url", "title", "publishedDateTime", "sourceUrl", "provider", "topics"],
    "properties": {
        "url": {"type": "string", "pattern": "^https://example.org/digest/news/"},
        "title": {"type": "string"}, "excerpt": {"type": "string"},
        "publishedDateTime": {"type": "string", "format": "date-time"},
        "sourceUrl": {"type": "string", "pattern": "^https?://"},
        "provider": {"type": "object", "required": ["name", "domain"]},
        "topics": {"type": "array", "items": {"type": "object",
                                              "required": ["name", "slug", "url"]}},
        "image": {"type": ["object", "null"]}, "video": {"type": ["object", "null"]},
    },
    "not": {"required": ["secured"]},
}
API_PAGE = {  # an archive page: numbered from the oldest, no count (it stays the same)
    "type": "object",
    "required": ["page", "newer", "older", "items"],
    "properties": {
        "page": {"type": "integer", "minimum": 1},
        "newer": {"type": "string"}, "older": {"type": ["string", "null"]},
        "items": {"type": "array", "items": API_ITEM},
    },
    "not": {"anyOf": [{"required": ["pages"]}, {"required": ["total"]}]},
}
API_FRONT = {  # a list's front document: the newest items and the count
    "type": "object",
    "required": ["page", "total", "newer", "older", "items"],
    "properties": {
        "page": {"type": "null"}, "total": {"type": "integer"}, "newer": {"type": "null"},
        "older": {"type": ["string", "null"]},
        "items": {"type": "array", "items": API_ITEM},
    },
}
API_TOPICS = {
    "type": "object", "required": ["topics"],
    "properties": {"topics": {"type": "array", "items": {
        "type": "object", "required": ["name", "slug", "count", "url", "api"]}}},
}


def test_json_api_matches_its_schemas_and_pages_link_up(make_site):
    site = make_site(files(), SETTINGS)
    site.build()
    api = site.public / "api"
    first = json.loads((api / "news/index.json").read_text())
    jsonschema.validate(first, API_FRONT)
    # Five items, two a page: the front has the newest two, archive page 1 the oldest three.
    assert first["total"] == 5 and len(first["items"]) == 2
    assert first["older"] == "https://example.org/digest/api/news/page/1/index.json"
    oldest = json.loads((api / "news/page/1/index.json").read_text())
    jsonschema.validate(oldest, API_PAGE)
    assert oldest["page"] == 1 and oldest["older"] is None
    assert oldest["newer"] == "https://example.org/digest/api/news/index.json"
    assert [i["url"] for i in first["items"] + oldest["items"]] == [
        i["url"] for i in sorted(first["items"] + oldest["items"],
                                 key=lambda i: i["publishedDateTime"], reverse=True)]
    topics = json.loads((api / "topics/index.json").read_text())
    jsonschema.validate(topics, API_TOPICS)
    for topic in topics["topics"]:
        data = json.loads((api / "topics" / topic["slug"] / "index.json").read_text())
        jsonschema.validate(data, API_FRONT)
        assert data["total"] == topic["count"]
    assert "secured" not in (api / "news/index.json").read_text()
