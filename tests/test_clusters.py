"""Story clusters (stories/clusters.py): the items of different outlets about one story show
once, by their lead, with "More coverage"; measured on labelled headline pairs."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from newsdigest.build.pipeline import BuildOptions, build_site
from newsdigest.cli import main
from newsdigest.config.site import load_config

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 20, tzinfo=UTC)
SETTINGS = """\
[site]
title = "Test Digest"
base_url = "https://news.example/"
"""


def _bench() -> object:
    spec = importlib.util.spec_from_file_location("bench_clusters", REPO / "bench" / "clusters.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_clusters"] = module
    spec.loader.exec_module(module)
    return module


def test_precision_and_recall_on_the_labelled_pairs():
    pairs = json.loads((REPO / "tests/fixtures/story_pairs.json").read_text())["pairs"]
    assert len(pairs) >= 200
    kinds = {p["kind"] for p in pairs if not p["same"]}
    assert {"same-company", "follow-up", "numbers-differ"} <= kinds
    scores = _bench().evaluate()
    assert scores.precision >= 0.95, scores.mistakes
    assert scores.recall >= 0.8, scores.mistakes


def news(title: str, date: str, slug: str, provider: str, quality: int = 50,
         excerpt: str = "", **fields: str) -> str:
    domain = provider.casefold().replace(" ", "") + ".example"
    lines = ["---", f'title: "{title}"', f'excerpt: "{excerpt}"', f"publishedDateTime: {date}",
             f'webUrl: "https://{domain}/{slug}"', "type: article", f"quality: {quality}",
             "heat: 0", f"provider: {{name: {provider}, domain: {domain}}}", "topics: [Chips]",
             *[f"{k}: {v}" for k, v in fields.items()], "---", ""]
    return "\n".join(lines)


LUMORA = "Nvidia pays about $2 billion for the photonics startup Lumora and its optical links."
FILES = {
    # One story, four outlets, four ways to say it: the best-scored item leads.
    "content/lumora-reuters.md": news("Nvidia buys chip startup Lumora for $2B",
                                      "2026-11-10T08:00:00Z", "lumora", "Reuters", 90, LUMORA),
    "content/lumora-verge.md": news("Lumora acquired by Nvidia in $2 billion deal",
                                    "2026-11-10T10:00:00Z", "lumora", "The Verge", 60,
                                    "The photonics startup Lumora moves data between GPUs "
                                    "with light; Nvidia pays $2 billion."),
    "content/lumora-ft.md": news("Nvidia agrees $2bn takeover of photonics start-up Lumora",
                                 "2026-11-10T14:00:00Z", "lumora", "Financial Times", 50,
                                 "Lumora's optical interconnects go to Nvidia for $2bn."),
    # (the headline as syndicated, naming its outlet: shown without it, beside the name)
    "content/lumora-bloomberg.md": news("Nvidia to acquire Lumora in $2 billion optics bet - "
                                        "Bloomberg",
                                        "2026-11-11T09:00:00Z", "lumora", "Bloomberg", 40,
                                        "Nvidia's $2 billion purchase of Lumora brings "
                                        "photonic links to its accelerators."),
    "content/lumora-wired.md": news("Nvidia's $2 billion Lumora deal bets on light over copper",
                                    "2026-11-11T12:00:00Z", "lumora", "Wired", 35,
                                    "Lumora's photonic links could replace copper between "
                                    "Nvidia accelerators."),
    # The same company, other news: its own story.
    "content/nvidia-shares.md": news("Nvidia shares fall 3% after export curbs on China",
                                     "2026-11-10T12:00:00Z", "shares", "CNBC", 50,
                                     "Investors fear new rules will hurt data center sales."),
    # The editor keeps this one apart, however alike.
    "content/lumora-alone.md": news("Nvidia buys Lumora for $2 billion",
                                    "2026-11-10T16:00:00Z", "lumora", "Axios", 30, LUMORA,
                                    story="alone"),
    # A sponsored item is nobody's coverage, however alike.
    "content/lumora-sponsor.md": news("Nvidia buys Lumora: what $2 billion of photonics means",
                                      "2026-11-10T17:00:00Z", "sponsor", "Optics Co", 20, LUMORA,
                                      kind="sponsor"),
    # A follow-up days later: past the window, another story.
    "content/lumora-later.md": news("Lumora founders join Nvidia networking group",
                                    "2026-11-15T09:00:00Z", "later", "The Information", 50,
                                    "The founders of Lumora will lead photonics at Nvidia."),
    # Unlike words, one key: the editor says they are one story.
    "content/eu-politico.md": news("EU opens consultation on AI Act codes",
                                   "2026-11-12T09:00:00Z", "codes", "Politico", 70,
                                   "The Commission asks for comments by March.",
                                   story="eu-codes"),
    "content/eu-reuters.md": news("Brussels wants your comments on general-purpose model rules",
                                  "2026-11-12T11:00:00Z", "codes", "Reuters", 40,
                                  "Companies have until spring to reply.", story="eu-codes"),
}
LEAD = "/news/2026/11/10/lumora-reuters/"


def build(site, **options):
    config = load_config(site.root / "site.toml")
    return build_site(config, BuildOptions(**{"now": NOW, "workers": 1, "search": False,
                                              "offline": True, **options}))


def moved_to(site, path: str) -> str | None:
    refresh = site.html(path).xpath("//meta[@http-equiv='refresh']/@content")
    return refresh[0].partition("url=")[2] if refresh else None


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from conftest import Site

    site = Site(tmp_path_factory.mktemp("clusters") / "site")
    site.write("site.toml", SETTINGS)
    for rel, text in FILES.items():
        site.write(rel, text)
    report = build(site)
    return site, report


def test_a_cluster_shows_once_by_its_lead_with_more_coverage(built):
    site, _ = built
    home = site.html("")
    cards = {a.get("href"): a.text for a in home.xpath("//main//article//h3/a")}
    assert set(cards) == {LEAD, "/news/2026/11/10/nvidia-shares/", "/news/2026/11/10/lumora-alone/",
                          "/news/2026/11/15/lumora-later/", "/news/2026/11/12/eu-politico/",
                          "/news/2026/11/10/lumora-sponsor/"}
    cards_of_lead = home.xpath(f"//main//article[.//h3/a[@href='{LEAD}']]")
    assert cards_of_lead
    (coverage,) = cards_of_lead[0].xpath(".//div[@class='coverage']")
    assert coverage.findtext("p") == "More coverage"
    shown = [(li.findtext("span"), li.find("a").text, li.find("a").get("href"))
             for li in coverage.xpath(".//li")]
    assert shown == [
        ("The Verge", "Lumora acquired by Nvidia in $2 billion deal",
         "https://theverge.example/lumora"),
        ("Financial Times", "Nvidia agrees $2bn takeover of photonics start-up Lumora",
         "https://financialtimes.example/lumora"),
        ("Bloomberg", "Nvidia to acquire Lumora in $2 billion optics bet",
         "https://bloomberg.example/lumora"),
    ]
    # Three on a card, then how many more on the lead's page.
    (more,) = coverage.xpath(".//p[@class='coverage-more']/a")
    assert (more.text, more.get("href")) == ("+1 more", LEAD + "#coverage-heading")
    # The lead's page lists every other outlet; each member's URL sends readers to it.
    page = site.html(LEAD.strip("/"))
    assert page.xpath("//section[@aria-labelledby='coverage-heading']"
                      "//span[@class='coverage-outlet']/text()") == [
        "The Verge", "Financial Times", "Bloomberg", "Wired"]
    for member in ("lumora-verge", "lumora-ft"):
        assert moved_to(site, f"news/2026/11/10/{member}/") == LEAD
    assert moved_to(site, "news/2026/11/11/lumora-bloomberg/") == LEAD
    # The editor's choices: `story: alone` stays apart, one `story:` key is one story.
    assert moved_to(site, "news/2026/11/10/lumora-alone/") is None
    assert moved_to(site, "news/2026/11/10/lumora-sponsor/") is None
    assert moved_to(site, "news/2026/11/12/eu-reuters/") == "/news/2026/11/12/eu-politico/"


def test_the_json_api_lists_a_cluster_once_with_its_coverage(built):
    site, _ = built
    items = json.loads((site.public / "api/news/index.json").read_text())["items"]
    (lead,) = [i for i in items if i["url"].endswith(LEAD)]
    assert [c["provider"] for c in lead["coverage"]] == [
        "The Verge", "Financial Times", "Bloomberg", "Wired"]
    assert lead["coverage"][0]["url"] == "https://theverge.example/lumora"
    assert not [i for i in items if i["title"] == "Lumora acquired by Nvidia in $2 billion deal"]


def test_feeds_and_editions_show_a_cluster_once(built):
    site, _ = built
    feed = feedparser.parse((site.public / "feed.xml").read_bytes())
    titles = [e.title for e in feed.entries]
    assert titles.count("Nvidia buys chip startup Lumora for $2B") == 1
    assert not {"Lumora acquired by Nvidia in $2 billion deal",
                "Nvidia to acquire Lumora in $2 billion optics bet - Bloomberg"} & set(titles)
    day = site.html("digest/daily/2026-11-10/")
    shown = day.xpath("//main//h3/a/text()")
    assert "Nvidia buys chip startup Lumora for $2B" in shown
    assert "Lumora acquired by Nvidia in $2 billion deal" not in shown


def test_the_curation_report_lists_each_cluster_with_how_each_member_joined(built):
    site, report = built
    clusters = {c.lead: c for c in report.index.clusters}
    lumora = clusters["lumora-reuters.md"]
    assert [(m.source, m.how) for m in lumora.members] == [
        ("lumora-verge.md", "similar"), ("lumora-ft.md", "similar"),
        ("lumora-bloomberg.md", "similar"), ("lumora-wired.md", "similar")]
    assert all(m.score is not None and m.score >= 0.1 for m in lumora.members)
    assert [(m.source, m.how) for m in clusters["eu-politico.md"].members] == [
        ("eu-reuters.md", "story key")]
    page = site.html("_report/")
    assert page.xpath("//section[@aria-labelledby='near-misses']//p/text()") == ["None."]
    rows = page.xpath("//section[@aria-labelledby='clusters']/ul/li")
    assert len(rows) == 2
    text = rows[1].text_content()
    assert "lumora-reuters.md" in text
    assert f"{lumora.members[0].score:.2f} similar · lumora-verge.md · The Verge" in text


def test_an_edit_that_joins_or_leaves_a_cluster_builds_like_a_clean_build(make_site, tmp_path):
    site = make_site(FILES, SETTINGS)
    build(site)
    shares = site.root / "content/nvidia-shares.md"
    # A title corrected without touching any cluster: the kept state is patched.
    shares.write_text(shares.read_text().replace("fall 3%", "drop 3%"))
    assert build(site).patched == ["nvidia-shares.md"]
    assert_same_as_clean_build(site, tmp_path / "one")
    # Edited into the Lumora story: it joins the cluster, and the kept state cannot know it.
    shares.write_text(shares.read_text().replace(
        "Nvidia shares drop 3% after export curbs on China",
        "Nvidia snaps up photonics startup Lumora for $2 billion"))
    report = build(site)
    assert report.patched is None
    assert "nvidia-shares.md" in report.index.merged["lumora-reuters.md"]
    assert_same_as_clean_build(site, tmp_path / "two")
    # No longer alone: the editor's item joins too.
    alone = site.root / "content/lumora-alone.md"
    alone.write_text(alone.read_text().replace("story: alone\n", ""))
    assert build(site).patched is None
    assert_same_as_clean_build(site, tmp_path / "three")


@pytest.mark.parametrize("early", [True, False])
def test_an_edit_that_joins_a_cluster_indexes_the_site_it_makes(make_site, monkeypatch,
                                                                 early):
    # On a small site the search index is started from the patched state before its clusters
    # are checked: when an edit joins a cluster, that indexing is abandoned and the regrouped
    # site's made. On a large one (as if), it is started once they are.
    from newsdigest.build import steps

    monkeypatch.setattr(steps, "INDEX_WHILE_PLANNING", 10_000 if early else 0)
    site = make_site(FILES, SETTINGS)
    build(site, search=True)
    shares = site.root / "content/nvidia-shares.md"
    shares.write_text(shares.read_text().replace(
        "Nvidia shares fall 3% after export curbs on China",
        "Nvidia snaps up photonics startup Lumora for $2 billion"))
    report = build(site, search=True)
    assert report.patched is None and report.write.search_indexed
    assert "nvidia-shares.md" in report.index.merged["lumora-reuters.md"]
    def pages(index: Path) -> int:
        entry = json.loads((index / "pagefind-entry.json").read_text())
        return entry["languages"]["en"]["page_count"]

    whole, recent = site.public / "pagefind", site.public / "pagefind-recent"
    replaced = json.loads((recent / "replaced.json").read_text())
    assert any("nvidia" in path for path in replaced)  # its page is gone: left out
    shards = json.loads((whole / "shards.json").read_text())
    stories = [story for story in report.index.stories if story.path.startswith("news/")]
    # the whole index, less the pages it has out of date, and the recent one: the site's
    assert sum(pages(whole / str(s)) for s in shards) - len(replaced) + pages(recent) == len(
        stories)
    assert not list(site.root.glob(".public.pagefind-*"))  # the abandoned indexing's folders


def assert_same_as_clean_build(site, tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    config = load_config(site.root / "site.toml").with_overrides(output_dir=clean)
    build_site(config, BuildOptions(now=NOW, workers=1, use_cache=False, search=False,
                                    offline=True))
    tree = {p.relative_to(site.public).as_posix(): p.read_bytes()
            for p in sorted(site.public.rglob("*")) if p.is_file() and p.name != ".newsdigest"}
    assert tree == {p.relative_to(clean).as_posix(): p.read_bytes()
                    for p in sorted(clean.rglob("*")) if p.is_file() and p.name != ".newsdigest"}


def test_clustering_off_merges_only_exact_duplicates(make_site):
    site = make_site(FILES, SETTINGS + "[stories]\ncluster = false\n")
    report = build(site)
    assert set(report.index.merged) == {"eu-politico.md"}  # the editor's key still counts


@pytest.mark.parametrize(("setting", "message"), [
    ("similarity = 1.5", "stories.similarity: expected a number above 0 and at most 1"),
    ("window_hours = 0", "stories.window_hours: expected a whole number of hours from 1 to 720"),
    ("cluster = \"yes\"", "stories.cluster: expected true or false, got 'yes'"),
    ("simlarity = 0.2", "stories.simlarity: unknown setting"),
])
def test_bad_story_settings_are_one_clear_line(make_site, capsys, monkeypatch, setting,
                                               message):
    site = make_site({}, SETTINGS + f"[stories]\n{setting}\n")
    monkeypatch.chdir(site.root)
    assert main(["build"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if "stories." in line]) == 1


def test_near_misses_say_why_two_alike_items_are_not_one_story():
    from newsdigest.config.stories import StorySettings
    from newsdigest.stories.clusters import merge_stories

    bench = _bench()
    when = datetime(2026, 11, 10, 8, tzinfo=UTC)
    items = [  # newest first, as a build has them
        bench.make_item("c.md", "Nvidia to pay $2 billion for Lumora, the photonics startup",
                        LUMORA, "Reuters", when.replace(hour=12)),
        bench.make_item("b.md", "Lumora acquired by Nvidia in $2 billion deal", LUMORA,
                        "The Verge", when.replace(hour=10)),
        bench.make_item("a.md", "Nvidia buys chip startup Lumora for $2B", LUMORA, "Reuters",
                        when),
    ]
    # The Verge joins the Reuters take most like its own; the other would bring Reuters in
    # twice: a near miss that says so.
    merged = merge_stories(items, UTC, StorySettings())
    ((lead, others),) = merged.merged.items()
    assert "b.md" in (lead, *others) and len(others) == 1
    (refused,) = [m for m in merged.near_misses if m.why == "one outlet twice"]
    assert refused.score >= 0.1
    assert "(The Verge: Lumora acquired by Nvidia in $2 billion deal)" in refused.line
    assert "(Reuters: " in refused.line
    # A similarity asked for that they do not reach: no cluster, and the pairs say so.
    strict = merge_stories(items, UTC, StorySettings(similarity=0.99))
    assert strict.merged == {}
    assert {m.why for m in strict.near_misses} == {"below the similarity"}


def test_cluster_inputs_read_back_as_they_were_kept():
    """A kept site state holds the clusters' inputs with every word numbered once
    (clusters._packed): read back, they are the same inputs, items without an excerpt or
    without title words and a sponsored item's key included."""
    import pickle

    from newsdigest.config.stories import StorySettings
    from newsdigest.stories.clusters import ClusterInputs

    bench = _bench()
    when = datetime(2026, 11, 10, 8, tzinfo=UTC)
    items = [
        bench.make_item("c.md", "Nvidia to pay $2 billion for Lumora, the photonics startup",
                        LUMORA, "Reuters", when.replace(hour=12)),
        bench.make_item("b.md", "Lumora acquired by Nvidia in $2 billion deal", "",
                        "The Verge", when.replace(hour=10)),
        bench.make_item("a.md", "The", LUMORA, "Wired", when),
    ]
    items[2] = replace(items[2], story="alone")
    inputs = ClusterInputs.of(items, UTC, StorySettings())
    assert inputs.words[1].excerpt == () and inputs.words[2].title == ()
    again = pickle.loads(pickle.dumps(inputs, pickle.HIGHEST_PROTOCOL))
    assert again == inputs
    assert [w.key for w in again.words] == ["", "", "alone"]
    assert again.result == inputs.result and again.scores() == inputs.scores()
    empty = ClusterInputs.of([], UTC, StorySettings())
    assert pickle.loads(pickle.dumps(empty)) == empty


HEADLINES = [  # (title, excerpt)
    ("Nvidia buys chip startup Lumora for $2B", LUMORA),
    ("Lumora acquired by Nvidia in $2 billion deal", "The photonics startup goes to Nvidia."),
    ("Nvidia agrees $2bn takeover of photonics start-up Lumora", "Light links for GPUs."),
    ("Nvidia shares fall 3% after export curbs on China", "Investors fear lost sales."),
    ("Robot hands learn to fold laundry from video", "A lab trained them on home videos."),
]


@pytest.mark.slow
@settings(max_examples=6, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.integers(0, 3), st.integers(0, len(HEADLINES) - 1),
                                st.sampled_from(["", "alone", "k1"])), min_size=1, max_size=3))
def test_any_title_or_story_edit_builds_what_a_clean_build_does(tmp_path_factory, edits):
    """Edits that join, leave or keep clusters, one build after each (a kept state patched
    when the clusters stay the same, remade when not): the output is a clean build's."""
    from conftest import Site

    site = Site(tmp_path_factory.mktemp("edits") / "site")
    site.write("site.toml", SETTINGS)
    outlets = ["Reuters", "The Verge", "Financial Times", "CNBC"]
    for n, outlet in enumerate(outlets):
        site.write(f"content/item-{n}.md", news(*HEADLINES[n][:1], f"2026-11-10T0{n + 1}:00:00Z",
                                                f"s{n}", outlet, 50 + n, HEADLINES[n][1]))
    build(site)
    for n, headline, story in edits:
        title, excerpt = HEADLINES[headline]
        text = news(title, f"2026-11-10T0{n + 1}:00:00Z", f"s{n}", outlets[n], 50 + n, excerpt,
                    **({"story": story} if story else {}))
        site.write(f"content/item-{n}.md", text)
        build(site)
    assert_same_as_clean_build(site, site.root.parent)
