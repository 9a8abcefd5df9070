"""Search facets (issue 21): topic, kind and source narrow the results in a real browser; the
topic buttons take a reader without JavaScript to the topic's page; the index is made in
shards from the build's own records (issue 22)."""

from __future__ import annotations

import json

from browser import browser_fixture, serve_folder  # noqa: F401 - provides `browser`
from conftest import item

from newsdigest.build import search

SETTINGS = """\
[site]
title = "Facet Digest"
base_url = "http://127.0.0.1/digest/"

[topics."Machines"]
[topics."Robotics"]
parent = "Machines"
"""


def story(title: str, day: int, topics: tuple[str, ...], provider: str, kind: str = "",
          body: str = "") -> str:
    fields = {"kind": kind} if kind else {}
    text = item(title, f"2026-10-{day:02d}T10:00:00Z", f"https://example.com/{day}", topics,
                excerpt=f'"{title}: what the model does."', body=body, **fields)
    return text.replace("Example News", provider)


def files() -> dict[str, str]:
    return {
        "content/2026-10-01-arm.md": story("Robot arm model learns to sort parcels", 1,
                                           ("Robotics",), "Lab Wire", "paper"),
        "content/2026-10-02-gripper.md": story("Soft gripper model for fruit picking", 2,
                                               ("Robotics",), "Farm Daily"),
        "content/2026-10-03-chip.md": story("Inference chip model cuts power in half", 3,
                                            ("AI Hardware",), "Lab Wire", "paper"),
        "content/2026-10-04-repo.md": story("Open model weights for chip design", 4,
                                            ("AI Hardware",), "Code Times", "repo",
                                            body="Benchmarks on *eight* boards.\n"),
    }


def served(site, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "digest").symlink_to(site.public)
    return serve_folder(root)


def titles(page) -> list[str]:
    return sorted(page.locator(".search-result-title").all_inner_texts())


def wait_for(page, status: str) -> None:
    page.locator(".search-status", has_text=status).wait_for(timeout=20_000)  # a busy CI


def test_topic_and_kind_narrow_the_results_across_shards(browser, make_site, tmp_path,
                                                          monkeypatch):
    # every record in a shard of its own: the search page merges four indexes
    monkeypatch.setattr(search, "SHARD_CHARS", 1)
    site = make_site(files(), SETTINGS)
    assert site.build() == 0
    assert json.loads((site.public / "pagefind/shards.json").read_text()) == [
        "0/", "1/", "2/", "3/"]
    with served(site, tmp_path) as url:
        page = browser.new_page()
        page.goto(url + "digest/search/")
        page.fill("#search-query", "model")
        wait_for(page, "4 results for “model”")
        page.get_by_role("button", name="Robotics").click()
        wait_for(page, "2 results for “model” in Robotics")
        assert titles(page) == ["Robot arm model learns to sort parcels",
                                "Soft gripper model for fruit picking"]
        assert page.get_by_role("button", name="Robotics").get_attribute("aria-pressed") \
            == "true"
        page.select_option("#facet-kind", "paper")
        wait_for(page, "1 result for “model” in Robotics · Papers")
        assert titles(page) == ["Robot arm model learns to sort parcels"]
        meta = page.locator(".search-result-meta").first.inner_text()
        assert meta == "Lab Wire · Oct 1, 2026 · Paper"
        assert "topic=Robotics" in page.url and "kind=paper" in page.url
        # the pressed topic again clears it: every paper
        page.get_by_role("button", name="Robotics").click()
        wait_for(page, "2 results for “model” in Papers")
        page.select_option("#facet-kind", "")
        page.select_option("#facet-provider", "Code Times")
        wait_for(page, "1 result for “model” in Code Times")
        assert titles(page) == ["Open model weights for chip design"]
        # the address alone brings the same results back
        page.goto(url + "digest/search/?q=model&topic=AI+Hardware&kind=paper")
        wait_for(page, "1 result for “model” in AI Hardware · Papers")
        assert titles(page) == ["Inference chip model cuts power in half"]
        assert page.locator("#facet-kind").input_value() == "paper"
        # a topic finds its subtopics' items too, as its page lists them
        page.goto(url + "digest/search/?q=model&topic=Machines")
        wait_for(page, "2 results for “model” in Machines")
        assert titles(page) == ["Robot arm model learns to sort parcels",
                                "Soft gripper model for fruit picking"]
        page.close()


def test_without_javascript_a_topic_button_goes_to_the_topic_page(browser, make_site, tmp_path):
    site = make_site(files(), SETTINGS)
    assert site.build("--no-search") == 0
    page_html = site.html("search/")
    form = page_html.xpath("//form[@aria-label='Search every news item']")[0]
    assert form.get("method") == "get" and form.get("action") == "/digest/search/"
    buttons = {b.text_content(): b.get("formaction")
               for b in form.xpath(".//button[@name='topic'][@formaction]")}
    assert buttons == {"AI Hardware": "/digest/topics/ai-hardware/",
                       "Machines": "/digest/topics/machines/",
                       "Robotics": "/digest/topics/robotics/"}
    # kind and source need the index: hidden until the script shows them
    assert form.xpath(".//*[@data-facet-selects]")[0].get("hidden") is not None
    with served(site, tmp_path) as url:
        context = browser.new_context(java_script_enabled=False)
        page = context.new_page()
        page.goto(url + "digest/search/")
        page.get_by_role("button", name="Robotics").click()
        page.wait_for_url("**/digest/topics/robotics/**")
        assert page.locator("h1").inner_text().startswith("Robotics")
        context.close()


def test_facets_follow_an_edit_through_the_recent_index(browser, make_site, tmp_path):
    site = make_site(files(), SETTINGS)
    assert site.build() == 0
    facets = json.loads((site.public / "pagefind-recent/facets.json").read_text())
    assert facets == {"kind": ["news", "paper", "repo"],
                      "provider": ["Code Times", "Farm Daily", "Lab Wire"]}
    gripper = site.root / "content/2026-10-02-gripper.md"
    gripper.write_text(story("Soft gripper model for fruit picking", 2, ("Robotics",),
                             "Farm Daily", "video"))
    assert site.build() == 0
    facets = json.loads((site.public / "pagefind-recent/facets.json").read_text())
    assert facets["kind"] == ["paper", "repo", "video"]  # no item is plain news any more
    with served(site, tmp_path) as url:
        page = browser.new_page()
        page.goto(url + "digest/search/?q=gripper&kind=video")
        wait_for(page, "1 result for “gripper” in Videos")
        assert titles(page) == ["Soft gripper model for fruit picking"]
        # its entry in the whole index (kind news) is out of date: not found as news
        page.goto(url + "digest/search/?q=gripper&kind=news")
        wait_for(page, "No results for “gripper”")
        page.close()
