"""Digest editions and duplicate stories, built end to end through the real build."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import feedparser
import jsonschema
import pytest
from browser import browser_fixture, serve_folder  # noqa: F401 - provides `browser`
from conftest import DEEPLY_NESTED
from test_feeds import JSON_FEED_SCHEMA

from newsdigest.cli import main
from newsdigest.content.dedupe import merge_duplicates, normalise_title, normalise_url, story_keys
from newsdigest.content.item import Item, Provider

SETTINGS = """\
[site]
title = "Test Digest"
base_url = "https://news.example/"
timezone = "UTC"

[digest]
max_items = 5
max_per_topic = 2
quality_weight = 1.0
heat_weight = 0.1
min_quality = 20
exclude_domains = ["spam.example"]
"""


def news(title: str, date: str, url: str, quality: int, heat: int = 0,
         topics: tuple[str, ...] = ("AI",), provider: str = "Example News",
         domain: str = "example.com", extra: str = "") -> str:
    topic_lines = "".join(f'\n  - "{t}"' for t in topics)
    return (f'---\ntitle: "{title}"\npublishedDateTime: {date}\nwebUrl: "{url}"\n'
            f"quality: {quality}\nheat: {heat}\nprovider:\n  name: \"{provider}\"\n"
            f"  domain: {domain}\ntopics:{topic_lines}\n{extra}---\n")


# Week 46 of 2026 runs from Monday 9 to Sunday 15 November. Scores: quality + heat / 10.
WEEK = {
    "content/a.md": news("Robots learn to fold towels", "2026-11-10T09:00:00Z",
                         "https://a.example/towels", 60, 100, ("Robotics",)),         # 70
    "content/b.md": news("Chip maker ships new accelerator", "2026-11-11T09:00:00Z",
                         "https://b.example/chip", 80, 0, ("Hardware",)),             # 80
    "content/c.md": news("Second robot story of the week", "2026-11-12T09:00:00Z",
                         "https://c.example/robot2", 55, 0, ("Robotics",)),           # 55
    "content/d.md": news("Third robot story over the cap", "2026-11-12T10:00:00Z",
                         "https://d.example/robot3", 50, 0, ("Robotics",)),           # 50
    "content/e.md": news("Big model release tops the week", "2026-11-13T09:00:00Z",
                         "https://e.example/model", 90, 50, ("Language",)),          # 95
    "content/f.md": news("Low quality item the editor pinned", "2026-11-13T10:00:00Z",
                         "https://f.example/pinned", 5, 0, ("Language",),
                         extra="digest: pin\n"),
    "content/g.md": news("Great item the editor skipped", "2026-11-14T09:00:00Z",
                         "https://g.example/skipped", 99, 0, ("Hardware",),
                         extra="digest: skip\n"),
    "content/h.md": news("Below the minimum quality", "2026-11-14T10:00:00Z",
                         "https://h.example/low", 10, 0, ("Hardware",)),
    "content/i.md": news("From an excluded provider", "2026-11-14T11:00:00Z",
                         "https://spam.example/x", 98, 0, ("Hardware",),
                         provider="Spam", domain="spam.example"),
    "content/j.md": news("Fourth hardware story, sixth by score", "2026-11-15T09:00:00Z",
                         "https://j.example/hw", 45, 0, ("Hardware",)),               # 45
}


def entries(site, path: str) -> list[str]:
    page = site.html(path)
    lead = page.xpath("//section[@class='edition-lead']//h3/a/text()")
    rest = page.xpath("//section[@class='edition-section']//h3/a/text()")
    return lead + rest


def sections(site, path: str) -> list[str]:
    return [h.text_content() for h in
            site.html(path).xpath("//section[@class='edition-section']/h2")]


def test_weekly_edition_takes_the_top_items_with_caps_rules_and_pins(make_site):
    site = make_site(WEEK, SETTINGS)
    assert site.build("--no-search") == 0
    # Pinned first (it leads), then by score; the third robot story is over the topic cap,
    # the skipped, low-quality and excluded-provider items are out, at most five in all.
    assert entries(site, "digest/weekly/2026-W46/") == [
        "Low quality item the editor pinned",
        "Chip maker ships new accelerator",
        "Big model release tops the week",
        "Robots learn to fold towels",
        "Second robot story of the week",
    ]
    assert sections(site, "digest/weekly/2026-W46/") == ["Hardware", "Language", "Robotics"]


def test_daily_editions_skip_empty_days_and_link_each_other(make_site):
    site = make_site(WEEK, SETTINGS)
    assert site.build("--no-search") == 0
    daily = sorted(p.name for p in (site.public / "digest/daily").iterdir())
    # 14 November has only a skipped, a low-quality and an excluded item: no edition.
    assert daily == ["2026-11-10", "2026-11-11", "2026-11-12", "2026-11-13", "2026-11-15"]
    assert entries(site, "digest/daily/2026-11-13/") == [
        "Low quality item the editor pinned", "Big model release tops the week"]
    page = site.html("digest/daily/2026-11-15/")
    assert page.xpath("//a[@rel='prev']/@href") == ["/digest/daily/2026-11-13/"]
    assert page.xpath("//a[@rel='next']") == []
    archive = site.html("digest/")
    titles = archive.xpath("//li[contains(@class,'edition-entry')]//h2/a/text()")
    # Newest first; a week ends on the day of its last daily edition and comes first.
    assert titles[0] == "The week in AI: 9–15 November 2026"
    assert titles[1] == "Today in AI: Sunday 15 November 2026"
    assert "Today in AI: Saturday 14 November 2026" not in titles
    assert len(titles) == 6
    home = site.html("")
    assert home.xpath("//p[@class='latest-edition']/a/@href")[0] == "/digest/weekly/2026-W46/"


def test_editions_follow_the_site_time_zone_and_iso_weeks(make_site):
    settings = SETTINGS.replace('timezone = "UTC"', 'timezone = "Europe/Berlin"')
    site = make_site({
        # Sunday 23:30 UTC is Monday 00:30 in Berlin: week 47, not week 46.
        "content/late.md": news("Late on Sunday in London", "2026-11-15T23:30:00Z",
                                "https://x.example/late", 50),
        # ISO week 53 of 2026 runs into January 2027.
        "content/new-year.md": news("New Year's Day story", "2027-01-01T12:00:00Z",
                                    "https://x.example/ny", 50),
    }, settings)
    assert site.build("--no-search", "--future") == 0
    assert (site.public / "digest/weekly/2026-W47/index.html").exists()
    assert (site.public / "digest/daily/2026-11-16/index.html").exists()
    assert not (site.public / "digest/weekly/2026-W46").exists()
    assert (site.public / "digest/weekly/2026-W53/index.html").exists()


DUPLICATES = {
    "content/verge.md": news("Assistant answers what your camera sees", "2026-11-06T17:00:00Z",
                             "https://www.theverge.com/2026/11/assistant", 85, 200,
                             provider="The Verge", domain="theverge.com"),
    # The same page behind tracking parameters, AMP and no www.: the same source.
    "content/verge-amp.md": news("Assistant answers what your camera sees (AMP)",
                                 "2026-11-06T18:00:00Z",
                                 "http://theverge.com/2026/11/assistant/amp/?utm_source=x&fbclid=1",
                                 40, 0, provider="The Verge AMP", domain="theverge.com"),
    # Another provider listing the first in its related coverage.
    "content/reuters.md": news("Phone assistant now sees through the camera",
                               "2026-11-06T19:00:00Z", "https://www.reuters.com/tech/assistant",
                               70, 10, provider="Reuters", domain="reuters.com",
                               extra='related:\n  - title: "x"\n'
                                     '    webUrl: "https://theverge.com/2026/11/assistant"\n'),
    # A near-identical title on the same day, with a provider suffix.
    "content/bloomberg.md": news("Assistant Answers What Your Camera Sees - Bloomberg",
                                 "2026-11-06T21:00:00Z", "https://bloomberg.com/a/assistant",
                                 60, 0, provider="Bloomberg", domain="bloomberg.com"),
    # The same title on another day is another story (recurring titles are common), and past
    # the 48 hours of [stories] window_hours from the first, no cluster takes it in either.
    "content/next-day.md": news("Assistant answers what your camera sees", "2026-11-08T21:30:00Z",
                                "https://other.example/follow-up", 30, 0,
                                provider="Other", domain="other.example"),
}


def test_duplicate_stories_are_merged_once_crediting_every_source(make_site):
    site = make_site(DUPLICATES, SETTINGS)
    assert site.build("--no-search") == 0
    home = site.html("")
    shown = {a.get("href"): a.text for a in
             home.xpath("//article[contains(@class,'card')]//h3/a")}
    assert shown == {"/news/2026/11/06/verge/": "Assistant answers what your camera sees",
                     "/news/2026/11/08/next-day/": "Assistant answers what your camera sees"}
    credits = home.xpath("//section[@aria-labelledby='top-heading']"
                         "//div[@class='coverage']//li")
    assert [(li.findtext("span"), li.find("a").get("href")) for li in credits] == [
        ("The Verge AMP", "http://theverge.com/2026/11/assistant/amp/?utm_source=x&fbclid=1"),
        ("Reuters", "https://www.reuters.com/tech/assistant"),
        ("Bloomberg", "https://bloomberg.com/a/assistant"),
    ]
    topic = site.html("topics/ai/")
    assert len(topic.xpath("//article[contains(@class,'card')]")) == 2
    # The lead of a merged story is the best-scored item; the others' URLs lead to it.
    assert moved_to(site, "news/2026/11/06/verge/") is None
    for merged in ("verge-amp", "reuters", "bloomberg"):
        assert moved_to(site, f"news/2026/11/06/{merged}/") == "/news/2026/11/06/verge/"
    item = site.html("news/2026/11/06/verge/")
    assert item.xpath("//section[@aria-labelledby='coverage-heading']"
                      "//span[@class='coverage-outlet']/text()") == [
        "The Verge AMP", "Reuters", "Bloomberg"]
    assert entries(site, "digest/daily/2026-11-06/") == ["Assistant answers what your camera sees"]


def test_url_and_title_normalisation():
    same = ["https://www.example.com/a/story/", "http://example.com/a/story?utm_source=n",
            "https://example.com/a/story/amp", "https://m.example.com/a/story.amp.html",
            "https://example-com.cdn.ampproject.org/c/s/example.com/a/story",
            "https://example.com/amp/a/story#comments", "https://EXAMPLE.com/a/story?ref=tw"]
    assert {normalise_url(u) for u in same} == {"example.com/a/story"}
    assert normalise_url("https://example.com/a?id=2&utm_medium=x") != normalise_url(
        "https://example.com/a?id=3")
    assert normalise_title("Chips: the “big” Deal - Reuters") == \
        normalise_title("chips the big deal")
    assert normalise_title("AI news today") == ""  # too short to identify a story


def keyed(**fields) -> Item:
    """An Item as validation makes it: with the keys that tell its story apart."""
    related = fields.get("related", ())
    keys = story_keys(fields["title"], fields["url"], fields.get("amp_url", ""), related)
    return Item(**fields, story_keys=keys)


def test_merging_ten_thousand_items_keeps_one_entry_per_story():
    # How long it takes is measured by the benchmark (bench/), which builds 10,000 items.
    start = datetime(2026, 1, 1, tzinfo=UTC)
    items = [keyed(source=f"{i}.md", content_hash=str(i), title=f"Story number {i} about models",
                   slug=str(i), published_at=start + timedelta(hours=i),
                   url=f"https://site{i % 50}.example/{i}/", provider=Provider("P", "p.example"),
                   quality=50)
             for i in range(10_000)]
    items += [keyed(source=f"dup{i}.md", content_hash=f"d{i}", title=f"Other words {i}",
                    slug=f"d{i}", published_at=start, url=f"http://www.site{i % 50}.example/{i}",
                    provider=Provider("Q", "q.example")) for i in range(0, 10_000, 10)]
    kept, credits, merged = merge_duplicates(items, UTC)
    assert len(kept) == 10_000 and len(merged) == 1_000
    assert all(c[0].provider == "Q" for c in credits.values())
    assert merged["500.md"] == ("dup500.md",)


def test_editors_note_introduces_its_edition_and_is_not_a_news_item(make_site, capsys):
    site = make_site({**WEEK,
                      "content/digests/2026-W46.md": "A **busy** week.\n\n<script>x()</script>\n",
                      "content/digests/notes-for-me.md": "not an edition\n",
                      "content/digests/2026-11-14.md": "A day with no edition.\n"}, SETTINGS)
    assert site.build("--no-search") == 0
    note = site.html("digest/weekly/2026-W46/").xpath("//section[contains(@class,'edition-note')]")
    assert note[0].xpath(".//strong/text()") == ["busy"]
    assert not note[0].xpath(".//script")
    assert not site.html("digest/daily/2026-11-10/").xpath(
        "//section[contains(@class,'edition-note')]")
    # Every item has its page (a skipped one too); the notes are none of them.
    assert len(list((site.public / "news").rglob("index.html"))) == len(WEEK)
    err = capsys.readouterr().err
    assert "digests/notes-for-me.md: not an edition name; ignored" in err
    assert "digests/2026-11-14.md: no edition for this period" in err
    assert "title" not in err


def test_an_editors_note_markdown_cannot_render_is_a_warning_not_a_traceback(make_site,
                                                                            capsys):
    # Python-Markdown raises RecursionError on deep nesting (and other errors on odd input).
    site = make_site({**WEEK, "content/digests/2026-W46.md": DEEPLY_NESTED}, SETTINGS)
    assert site.build("--no-search") == 0
    err = capsys.readouterr().err
    assert "digests/2026-W46.md: cannot be rendered" in err or \
        "digests/2026-W46.md: too complex to render" in err
    assert "Traceback" not in err
    assert not site.html("digest/weekly/2026-W46/").xpath(
        "//section[contains(@class,'edition-note')]")


def test_edition_feeds_in_three_formats(make_site):
    site = make_site(WEEK, SETTINGS)
    assert site.build("--no-search") == 0
    for name in ("feed.xml", "atom.xml"):
        parsed = feedparser.parse((site.public / "digest" / name).read_bytes())
        assert not parsed.bozo, (name, parsed.bozo_exception)
        titles = [e.title for e in parsed.entries]
        assert titles[:2] == ["The week in AI: 9–15 November 2026",
                              "Today in AI: Sunday 15 November 2026"], name
        weekly = parsed.entries[0]
        assert weekly.link == "https://news.example/digest/weekly/2026-W46/"
    document = json.loads((site.public / "digest/feed.json").read_text())
    jsonschema.validate(document, JSON_FEED_SCHEMA)
    assert [i["title"] for i in document["items"][:2]] == titles[:2]
    assert document["items"][0]["url"] == "https://news.example/digest/weekly/2026-W46/"
    rss = feedparser.parse((site.public / "digest/feed.xml").read_bytes())
    assert "Chip maker ships new accelerator" in rss.entries[0].content[0].value
    assert site.html("digest/").xpath("//link[@type='application/atom+xml']/@href")[-1] == \
        "/digest/atom.xml"


def test_bad_digest_value_is_a_located_error(make_site, capsys):
    site = make_site({"content/x.md": news("A story", "2026-11-10T09:00:00Z",
                                           "https://x.example/a", 50, extra="digest: maybe\n")},
                     SETTINGS)
    assert site.build("--no-search") == 1
    err = capsys.readouterr().err
    assert "x.md:12: digest: expected pin or skip, got the text 'maybe'" in err
    assert not site.public.exists()


def test_bad_digest_settings_are_reported_together(make_site, capsys):
    site = make_site({}, SETTINGS.replace("max_per_topic = 2", "max_per_topic = 0")
                     + 'weekly = "yes"\nexclude_topics = "AI"\ncolour = 1\n')
    assert site.build() == 2
    err = capsys.readouterr().err
    for expected in ("digest.max_per_topic: expected a positive integer, got 0",
                     "digest.weekly: expected true or false, got 'yes'",
                     "digest.exclude_topics: expected a list of names, got 'AI'",
                     "digest.colour: unknown setting"):
        assert expected in err


def test_editions_can_be_turned_off(make_site):
    site = make_site(WEEK, SETTINGS + "daily = false\n")
    assert site.build("--no-search") == 0
    assert (site.public / "digest/weekly/2026-W46/index.html").exists()
    assert not (site.public / "digest/daily").exists()


@pytest.fixture
def built(make_site):
    site = make_site({**WEEK, "content/digests/2026-W46.md": "First note.\n"}, SETTINGS)
    assert site.build("--no-search") == 0
    return site


def test_nothing_changed_writes_nothing_and_a_note_edit_rebuilds_its_edition_only(built, capsys):
    capsys.readouterr()
    assert built.build("--no-search", "--explain") == 0
    out = capsys.readouterr().out
    assert "(0 rebuilt, 60 unchanged; 0 files written, 0 deleted)" in out
    time.sleep(0.01)
    built.write("content/digests/2026-W46.md", "Second note.\n")
    assert built.build("--no-search", "--explain") == 0
    rebuilt = sorted(line.split(":")[0].removeprefix("rebuilt ")
                     for line in capsys.readouterr().out.splitlines()
                     if line.startswith("rebuilt "))
    # (The sitemaps say nothing of a note: a page's path and last change, which for an
    # edition is none.)
    assert rebuilt == ["digest/atom.xml", "digest/feed.json", "digest/feed.xml",
                       "digest/weekly/2026-W46/index.html"]
    assert "Second note." in (built.public / "digest/weekly/2026-W46/index.html").read_text()


def test_a_duplicate_added_later_updates_the_story_exactly_like_a_clean_build(make_site,
                                                                              tmp_path):
    from test_incremental import NOW, tree

    from newsdigest.build.pipeline import BuildOptions, build_site
    from newsdigest.config.site import load_config

    def build(**options: object):
        config = load_config(site.root / "site.toml").with_overrides(**options)
        return build_site(config, BuildOptions(now=NOW, workers=1, search=False))

    site = make_site({**WEEK}, SETTINGS)
    build()
    site.write("content/b2.md", news("Chip maker ships a new accelerator - Wire",
                                     "2026-11-11T12:00:00Z", "https://wire.example/chip", 30,
                                     provider="Wire", domain="wire.example"))
    report = build()
    assert "news/2026/11/11/b/index.html" in report.write.changed
    assert moved_to(site, "news/2026/11/11/b2/") == "/news/2026/11/11/b/"
    credits = site.html("news/2026/11/11/b/").xpath("//span[@class='coverage-outlet']/text()")
    assert credits == ["Wire"]
    build(output_dir=tmp_path / "clean", cache_dir=tmp_path / "clean-cache")
    assert tree(site.public) == tree(tmp_path / "clean")


def moved_to(site, path: str) -> str | None:
    """Where the page at `path` sends readers (its refresh target), None if it is a story."""
    page = site.html(path)
    refresh = page.xpath("//meta[@http-equiv='refresh']/@content")
    if not refresh:
        return None
    assert page.xpath("//meta[@name='robots']/@content") == ["noindex, follow"]
    target = refresh[0].partition("url=")[2]
    assert page.xpath("//link[@rel='canonical']/@href") == ["https://news.example" + target]
    assert page.xpath("//main//a/@href") == [target]
    return target


def test_a_page_merged_into_a_later_lead_keeps_its_url(make_site, browser):
    site = make_site({"content/first.md": news(
        "Startup unveils a tiny reasoning model", "2026-11-10T09:00:00Z",
        "https://first.example/tiny-model", 30, provider="First", domain="first.example")},
        SETTINGS)
    assert site.build("--no-search") == 0
    assert moved_to(site, "news/2026/11/10/first/") is None
    # The same story arrives later from a better source: it leads, the first page moves.
    site.write("content/better.md", news(
        "Startup unveils tiny reasoning model - Wire", "2026-11-10T15:00:00Z",
        "https://wire.example/tiny", 90, provider="Wire", domain="wire.example"))
    assert site.build("--no-search") == 0
    assert moved_to(site, "news/2026/11/10/first/") == "/news/2026/11/10/better/"
    sitemap = " ".join(site.sitemap_urls())
    assert "news/2026/11/10/better/" in sitemap and "news/2026/11/10/first/" not in sitemap
    assert main(["check", "--config", str(site.root / "site.toml")]) == 0
    with serve_folder(site.public) as base:
        page = browser.new_page()
        page.goto(base + "news/2026/11/10/first/")
        page.wait_for_url(base + "news/2026/11/10/better/")
        assert page.locator("h1").inner_text() == "Startup unveils tiny reasoning model - Wire"
        page.close()


def test_related_coverage_merges_through_any_variant_of_the_url():
    start = datetime(2026, 11, 1, tzinfo=UTC)

    def make(source: str, url: str, related: str = "", quality: int = 10) -> Item:
        from newsdigest.content.item import Related

        return keyed(source=source, content_hash=source, title=source, slug=source,
                     published_at=start, url=url, quality=quality,
                     provider=Provider(source, f"{source}.example"),
                     related=(Related("x", related),) if related else ())

    items = [make("lead", "https://example.com/caf%C3%A9/story-1/", quality=90),
             make("amp", "https://other.example/2", "https://example-com.cdn.ampproject.org/"
                  "c/s/example.com/café/story-1"),
             make("elsewhere", "https://third.example/3", "https://not-here.example/story-9")]
    kept, credits, merged = merge_duplicates(items, UTC)
    assert [i.source for i in kept] == ["lead", "elsewhere"]
    assert merged == {"lead": ("amp",)}
