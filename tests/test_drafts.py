"""Drafts are reviewed in serve (or build --drafts) and say so; a plain build leaves them out."""

from __future__ import annotations

from conftest import item


def test_a_draft_says_so_on_its_card_and_page_and_only_there(make_site):
    site = make_site({
        "content/2026-10-01-draft.md": item("Under review", url="https://e.com/d",
                                            published="false"),
        "content/2026-10-02-withdrawn.md": item("Pulled", "2026-10-02T10:00:00Z",
                                                url="https://e.com/w", removed="true"),
        "content/2026-10-03-live.md": item("Live story", "2026-10-03T10:00:00Z",
                                           url="https://e.com/l"),
    })
    assert site.build("--drafts", "--offline", "--no-search") == 0
    home = site.html("")
    badges = {card.xpath("string(.//h3)").strip(): card.xpath("string(.//p[@class='draft-badge'])")
              for card in home.xpath("//article[contains(@class, 'card')]")}
    assert badges == {"Under review": "Draft", "Pulled": "Withdrawn", "Live story": ""}
    page = site.html("news/2026/10/01/draft/")
    assert page.xpath("string(//header[@class='story-header']//p[@class='draft-badge'])") \
        == "Draft: not published"
    live = site.html("news/2026/10/03/live/")
    assert not live.xpath("//header[@class='story-header']//p[@class='draft-badge']")
    assert site.build("--offline", "--no-search") == 0
    assert not (site.public / "news/2026/10/01/draft").exists()
    assert not site.html("").xpath("//p[@class='draft-badge']")
