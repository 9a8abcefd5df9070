"""/feeds/ lists every feed of the site in its three formats; /feeds.opml has them all for a
reader to import in one step."""

from __future__ import annotations

import json

import feedparser
import listparser
from conftest import item

SETTINGS = """\
[site]
title = "Feed Digest"
base_url = "https://news.example/digest/"
"""


def test_the_feeds_page_and_the_opml_list_name_every_feed_and_each_resolves(make_site):
    site = make_site({
        "content/2026-10-01-a.md": item("One", url="https://e.com/1", topics=("AI",)),
        "content/2026-10-02-b.md": item("Two", "2026-10-02T10:00:00Z", "https://e.com/2",
                                        topics=("AI", "Robotics")),
    }, SETTINGS)
    assert site.build("--offline", "--no-search") == 0
    page = site.html("feeds/")
    expected = {"", "digest/", "topics/ai/", "topics/robotics/"}
    links = page.xpath("//main//a[@type]/@href")
    assert sorted(links) == sorted(f"/digest/{folder}{name}" for folder in expected
                                   for name in ("feed.xml", "atom.xml", "feed.json"))
    for href in links:
        data = (site.public / href.removeprefix("/digest/")).read_bytes()
        if href.endswith(".json"):
            assert json.loads(data)["version"] == "https://jsonfeed.org/version/1.1"
        else:
            assert not feedparser.parse(data).bozo, href
    assert page.xpath("string(//section[@aria-labelledby='feeds-topic']//li[1]/a[1])") == "AI"
    # Linked from every page's footer.
    assert site.html("").xpath("//footer//a[@href='/digest/feeds/']")
    opml = listparser.parse((site.public / "feeds.opml").read_bytes())
    assert not opml.bozo
    urls = [feed.url for feed in opml.feeds]
    assert urls[:2] == ["https://news.example/digest/feed.xml",
                        "https://news.example/digest/digest/feed.xml"]
    assert {u.removeprefix("https://news.example/digest/") for u in urls} == {
        f"{folder}feed.xml" for folder in expected}
    assert opml.feeds[2].title == "AI · Feed Digest"
