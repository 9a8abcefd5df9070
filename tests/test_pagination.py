"""Lists cut from the oldest (render/pages.py `cut`), on a built site: which stories each page
holds, what its navigation links, that nothing on an archive page counts the list, and how the
navigation lays out in a browser, wide and narrow."""

from __future__ import annotations

import pytest
from browser import browser_fixture, serve_folder  # noqa: F401 - provides `browser`
from conftest import item

SETTINGS = """\
[site]
title = "Paged Digest"
base_url = "https://news.example/"
page_size = 2
top_stories = 0

[topics."Robotics"]
parent = "AI"
"""
DAYS = 30  # 2 on the front page, 28 older: archive pages 1 (the oldest) to 14


def corpus() -> dict[str, str]:
    return {f"content/2026-10-{day:02d}-story-{day}.md": item(
        title=f"Story {day}", date=f"2026-10-{day:02d}T09:00:00Z",
        url=f"https://example.com/{day}", topics=("AI", "Robotics") if day % 2 else ("AI",))
        for day in range(1, DAYS + 1)}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from conftest import Site

    site = Site(tmp_path_factory.mktemp("paged") / "site")
    site.write("site.toml", SETTINGS)
    for rel, text in corpus().items():
        site.write(rel, text)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", "1795132800")  # 2026-11-20, as make_site
        assert site.build("--offline", "--no-search") == 0
    return site


def titles(page) -> list[str]:
    return [h.text_content().strip() for h in page.xpath("//article//h3")]


def nav_labels(page) -> list[str]:
    labels = []
    for li in page.xpath("//nav[@class='pagination']//li"):
        current = li.xpath(".//*[@aria-current='page']")
        labels.append(li.text_content().replace("Page ", "").strip() + ("*" if current else ""))
    return labels


def test_archive_pages_count_from_the_oldest_and_hold_every_story_once(site):
    pages = sorted(int(p.name) for p in (site.public / "page").iterdir())
    assert pages == list(range(1, 15))
    shown = titles(site.html(""))
    for number in range(14, 0, -1):
        shown += titles(site.html(f"page/{number}/"))
    assert shown == [f"Story {day}" for day in range(DAYS, 0, -1)]
    assert titles(site.html("page/1/")) == ["Story 2", "Story 1"]
    oldest = site.html("page/1/")
    assert oldest.find(".//h1").text_content() == "Latest AI news, page 1"
    assert oldest.xpath("//p[@class='page-dates']/text()") == [
        "Stories from October 1 to 2, 2026"]


def test_navigation_links_latest_the_neighbours_and_page_one_with_no_count(site):
    middle = site.html("page/7/")
    assert nav_labels(middle) == ["Latest", "…", "9", "8", "7*", "6", "5", "…", "1"]
    assert middle.xpath("//a[@rel='prev']/@href") == ["/page/8/"]  # newer
    assert middle.xpath("//a[@rel='next']/@href") == ["/page/6/"]  # older
    front = site.html("")
    assert nav_labels(front) == ["Latest*", "14", "13", "12", "…", "1"]
    assert front.xpath("//a[@rel='next']/@href") == ["/page/14/"]
    assert not front.xpath("//a[@rel='prev']")
    assert site.html("page/14/").xpath("//a[@rel='prev']/@href") == ["/"]
    assert not site.html("page/1/").xpath("//a[@rel='next']")
    # no "page 7 of 14", no count of items: page 7 stays the same as the list grows
    assert " of " not in middle.xpath("string(//nav[@class='pagination'])")
    assert "30" not in middle.xpath("string(//main)")


def test_topic_archive_pages_show_their_days_not_the_topics_counts(site):
    front = site.html("topics/ai/")
    assert front.xpath("//span[@class='count']/text()") == ["30 items"]
    assert front.xpath("//span[@class='chip-count']/text()") == ["15"]  # Robotics
    archive = site.html("topics/ai/page/3/")
    assert archive.find(".//h1").text_content() == "AI, page 3"
    assert not archive.xpath("//span[@class='count'] | //span[@class='chip-count']")
    assert archive.xpath("//nav[@class='subtopics']//a/text()") == ["Robotics"]
    assert archive.xpath("//span[@class='page-dates']/text()") == [
        "Stories from October 5 to 6, 2026"]
    description = archive.xpath("//meta[@name='description']/@content")[0]
    assert description == "News about AI, page 3: stories from October 5 to 6, 2026."


@pytest.mark.parametrize("width", [1280, 390])
def test_navigation_fits_a_wide_and_a_narrow_screen(site, browser, width):  # noqa: F811
    with serve_folder(site.public) as base:
        context = browser.new_context(viewport={"width": width, "height": 800})
        try:
            tab = context.new_page()
            tab.goto(base + "page/7/")
            nav = tab.locator("nav.pagination")
            shown = [t.split()[-1] for t in nav.locator("li:visible").all_inner_texts()]
            numbers = nav.locator("ol").bounding_box()
            newer = nav.locator("a[rel=prev]").bounding_box()
            older = nav.locator("a[rel=next]").bounding_box()
        finally:
            context.close()
    if width == 390:
        # two from the current page are left out where a gap already marks missing numbers;
        # Newer and Older go below the numbers, side by side, inside the screen
        assert shown == ["Latest", "…", "8", "7", "6", "…", "1"]
        assert newer["y"] > numbers["y"] + numbers["height"] - 1
        assert newer["y"] == older["y"] and older["x"] + older["width"] <= 390
    else:
        assert shown == ["Latest", "…", "9", "8", "7", "6", "5", "…", "1"]
        assert newer["x"] < numbers["x"] < older["x"] and newer["y"] < numbers["y"] + 10
