"""The digest format (issue 21): why it matters, the kind's label, discussion links and reading
time on cards, item pages, edition pages, the JSON API and the email; sponsored items labelled,
their links marked paid, never top stories, and out of feeds, editions and the email unless
[digest] sponsors = true; `add` and `ingest` count the reading time of the source's text."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import feedparser
import lxml.html
import pytest
import yaml
from conftest import Site, item
from test_incremental import tree
from test_ingest import feeds  # noqa: F401 - serves pages and feeds on 127.0.0.1

from newsdigest.cli import main

SETTINGS = '[site]\ntitle = "Format Digest"\nbase_url = "https://news.example/"\n'
THREADS = ["https://news.ycombinator.com/item?id=4242",
           "https://old.reddit.com/r/MachineLearning/comments/abc/moe/",
           "https://www.reddit.com/r/LocalLLaMA/comments/def/moe/",
           "https://mastodon.social/@sigmoid/113456",
           "https://bsky.app/profile/lab.example/post/3k",
           "https://twitter.com/lab/status/1", "https://lobste.rs/s/abc123/moe",
           "https://forum.example.org/t/moe/12"]
WHY = "Cheaper training puts frontier-scale models in reach of university labs."
SPONSOR_TITLE = "Train models 3x faster on Acme GPU Cloud"
FILES = {
    "content/paper.md": item(
        "Sparse experts beat dense baselines", "2026-11-18T09:00:00Z",
        "https://arxiv.org/abs/2611.01234", ("Research",), kind="paper", why=f'"{WHY}"',
        excerpt='"Routing tokens to a few experts keeps quality at a third of the compute."',
        readingMinutes="14", discussion="[" + ", ".join(f'"{u}"' for u in THREADS) + "]"),
    # The best-scored item of all, and the newest: were it news, it would lead everything.
    "content/sponsor.md": item(
        SPONSOR_TITLE, "2026-11-19T08:00:00Z", "https://acme.example/gpu?ref=digest",
        ("Research",), body="Sign up at [Acme](https://acme.example/signup).\n",
        kind="sponsor", ampWebUrl='"https://acme.example/amp/gpu"').replace(
            "quality: 50\nheat: 10", "quality: 99\nheat: 300"),
    "content/news.md": item("Chipmaker unveils inference accelerator", "2026-11-19T07:00:00Z",
                            "https://chips.example/accel", ("Research",)),
    "content/opinion.md": item("Benchmarks are not the product", "2026-11-17T07:00:00Z",
                               "https://essays.example/benchmarks", ("Research",),
                               kind="Opinion"),
}
PAPER_PAGE = "news/2026/11/18/paper/"
SPONSOR_PAGE = "news/2026/11/19/sponsor/"
FEEDS = ["feed.xml", "atom.xml", "feed.json", "topics/research/feed.xml",
         "topics/research/atom.xml", "topics/research/feed.json"]


@dataclass
class Built:
    site: Site
    mail: Path  # the W47 email's folder

    def page(self, rel: str) -> lxml.html.HtmlElement:
        return self.site.html(rel)


def _build(root: Path, settings: str) -> Built:
    site = Site(root)
    site.write("site.toml", settings)
    for rel, text in FILES.items():
        site.write(rel, text)
    assert site.build("--no-search") == 0
    mail = root / "mail"
    assert main(["digest", "--config", str(root / "site.toml"), "--weekly", "--date",
                 "2026-W47", "--output", str(mail)]) == 0
    return Built(site, mail)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SOURCE_DATE_EPOCH", "1795132800")  # 2026-11-20T00:00:00Z
        env.setenv("NEWSDIGEST_OFFLINE", "1")
        yield _build(tmp_path_factory.mktemp("format"), SETTINGS)


@pytest.fixture(scope="module")
def with_sponsors(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SOURCE_DATE_EPOCH", "1795132800")
        env.setenv("NEWSDIGEST_OFFLINE", "1")
        settings = SETTINGS.replace("[site]\n", "[site]\nnofollow = true\n")
        yield _build(tmp_path_factory.mktemp("sponsors"), settings + "[digest]\nsponsors = true\n")


def feed_titles(path: Path) -> list[str]:
    if path.suffix == ".json":
        return [entry["title"] for entry in json.loads(path.read_bytes())["items"]]
    parsed = feedparser.parse(path.read_bytes())
    assert not parsed.bozo, path
    return [entry.title for entry in parsed.entries]


def card(page: lxml.html.HtmlElement, title: str) -> lxml.html.HtmlElement:
    found = page.xpath(f"//article[contains(@class, 'card')][.//h3[normalize-space()="
                       f"'{title}']]")
    assert found, title
    return found[0]


def text(node: lxml.html.HtmlElement, xpath: str) -> list[str]:
    return [" ".join(n.text_content().split()) for n in node.xpath(xpath)]


def test_cards_show_the_kind_why_reading_time_and_discussion_by_site(built: Built) -> None:
    home = built.page("")
    paper = card(home, "Sparse experts beat dense baselines")
    assert text(paper, ".//*[@class='kind-label kind-paper']") == ["Paper"]
    why = paper.xpath(".//p[@class='why']")
    assert why and why[0].getprevious().get("class") == "card-excerpt"  # under the excerpt
    assert text(paper, ".//p[@class='why']") == [f"Why it matters: {WHY}"]
    assert text(paper, ".//*[@class='card-meta']//*[@class='reading-time']") == ["14 min read"]
    links = paper.xpath(".//p[@class='discussion']/a")
    assert [a.text for a in links] == ["Hacker News", "Reddit", "Reddit (2)", "Mastodon",
                                       "Bluesky", "X", "Lobsters", "forum.example.org"]
    assert [a.get("href") for a in links] == THREADS
    assert text(card(home, "Benchmarks are not the product"), ".//*[@class='kind-label "
                "kind-opinion']") == ["Opinion"]  # `kind: Opinion`: any letter case
    plain = card(home, "Chipmaker unveils inference accelerator")
    assert not plain.xpath(".//*[contains(@class, 'kind-label')] | .//p[@class='why'] | "
                           ".//*[@class='reading-time'] | .//p[@class='discussion']")


def test_the_item_page_shows_why_under_the_excerpt_and_the_discussion(built: Built) -> None:
    page = built.page(PAPER_PAGE)
    story = page.xpath("//article[@class='story']")[0]
    assert text(story, ".//header/p[contains(@class, 'kind-label')]") == ["Paper"]
    why = story.xpath(".//p[@class='why']")
    assert why and why[0].getprevious().get("class") == "story-excerpt"
    assert text(story, ".//p[@class='story-meta']//*[@class='reading-time']") == ["14 min read"]
    assert [a.text for a in story.xpath(".//p[@class='discussion']/a")][:3] == [
        "Hacker News", "Reddit", "Reddit (2)"]
    data = json.loads(page.xpath("//script[@type='application/ld+json']/text()")[0])
    assert data["@type"] == "NewsArticle" and data["discussionUrl"] == THREADS


def test_a_sponsored_item_is_labelled_and_its_links_are_marked_paid(built: Built) -> None:
    assert text(card(built.page(""), SPONSOR_TITLE), ".//*[contains(@class, 'kind-label')]") \
        == ["Sponsored"]
    page = built.page(SPONSOR_PAGE)
    story = page.xpath("//article[@class='story']")[0]
    assert text(story, ".//header/p[@class='kind-label kind-sponsor']") == ["Sponsored"]
    outgoing = {a.get("href"): a.get("rel") for a in story.xpath(".//a[starts-with(@href, "
                                                                   "'https://acme.example')]")}
    assert outgoing == {"https://acme.example/gpu?ref=digest": "sponsored noopener",
                        "https://acme.example/amp/gpu": "sponsored noopener",
                        "https://acme.example/signup": "sponsored noopener"}
    data = json.loads(page.xpath("//script[@type='application/ld+json']/text()")[0])
    assert data["@type"] == "AdvertiserContentArticle"
    # A news item's link to its source is not marked.
    button = built.page(PAPER_PAGE).xpath("//p[@class='story-source']/a")[0]
    assert button.get("rel") == "noopener noreferrer"


def test_a_sponsored_item_is_never_a_top_story_but_stays_on_the_lists(built: Built) -> None:
    home = built.page("")
    top = text(home, "//section[@class='top-stories']//h3")
    assert top and SPONSOR_TITLE not in top
    assert SPONSOR_TITLE in text(home, "//div[@class='card-grid']//h3")
    assert SPONSOR_TITLE in text(built.page("topics/research/"), "//h3")
    assert (built.site.public / SPONSOR_PAGE / "index.html").is_file()


def test_sponsored_items_are_left_out_of_feeds_editions_and_the_email(built: Built) -> None:
    public = built.site.public
    for rel in FEEDS:
        titles = feed_titles(public / rel)
        assert "Sparse experts beat dense baselines" in titles, rel
        assert not [t for t in titles if "Acme" in t], rel
    editions = sorted((public / "digest").rglob("index.html"))
    assert editions
    for edition in editions:
        assert "Acme" not in edition.read_text(encoding="utf-8"), edition
    for name in ("email.html", "email.txt"):
        assert "Acme" not in (built.mail / name).read_text(encoding="utf-8")


def test_the_edition_page_shows_why_and_labels(built: Built) -> None:
    page = built.page("digest/weekly/2026-W47/")
    shown = text(page, "//article[@class='edition']//p[@class='why']")
    assert f"Why it matters: {WHY}" in shown
    assert "Paper" in text(page, "//article[@class='edition']//*[contains(@class, "
                                 "'kind-label')]")


def test_the_email_shows_why_kind_reading_time_and_discussion(built: Built) -> None:
    html = lxml.html.fromstring((built.mail / "email.html").read_bytes())
    assert f"Why it matters: {WHY}" in text(html, "//p[contains(@style, '')]")
    assert "Paper" in text(html, "//p")
    assert any("14 min read" in t for t in text(html, "//p"))
    assert [a.get("href") for a in html.xpath("//p[starts-with(normalize-space(), "
                                               "'Discussion')]/a")] == THREADS
    assert not html.xpath("//style")  # inlined
    mail_text = (built.mail / "email.txt").read_text(encoding="utf-8")
    assert "[Paper] Sparse experts beat dense baselines" in mail_text
    assert "Why it matters: Cheaper training puts frontier-scale models in reach of" in mail_text
    assert "· 14 min read\nRead: https://news.example/news/2026/11/18/paper/\n" in mail_text
    assert all(line.startswith(("Read: ", "Source: ")) for line in mail_text.splitlines()
               if "Read: " in line or "Source: " in line)  # each on a line of its own
    assert f"Discussion on Hacker News: {THREADS[0]}" in mail_text
    assert f"Discussion on Reddit (2): {THREADS[2]}" in mail_text


def test_the_json_api_has_the_new_fields(built: Built) -> None:
    api = json.loads((built.site.public / "api/news/index.json").read_bytes())
    by_title = {entry["title"]: entry for entry in api["items"]}
    paper = by_title["Sparse experts beat dense baselines"]
    assert (paper["kind"], paper["sponsored"], paper["why"], paper["readingMinutes"]) == (
        "paper", False, WHY, 14)
    assert paper["discussion"][0] == {"site": "Hacker News", "url": THREADS[0]}
    sponsor = by_title[SPONSOR_TITLE]
    assert (sponsor["kind"], sponsor["sponsored"]) == ("sponsor", True)
    plain = by_title["Chipmaker unveils inference accelerator"]
    assert (plain["kind"], plain["why"], plain["readingMinutes"], plain["discussion"]) == (
        "news", None, None, [])


def test_with_sponsors_on_they_are_in_feeds_and_editions_labelled(with_sponsors: Built) -> None:
    public = with_sponsors.site.public
    for rel in FEEDS:
        assert f"Sponsored: {SPONSOR_TITLE}" in feed_titles(public / rel), rel
        if rel.endswith(".xml"):
            entry = next(e for e in feedparser.parse((public / rel).read_bytes()).entries
                         if SPONSOR_TITLE in e.title)
            assert "Sponsored" in [t.get("label") or t.get("term") for t in entry.tags], rel
    week = with_sponsors.page("digest/weekly/2026-W47/")
    assert SPONSOR_TITLE in text(week, "//article[@class='edition']//h3")
    # the best-scored story of the week, but paid: it never leads
    assert SPONSOR_TITLE not in text(week, "//section[@class='edition-lead']//h3")
    html = lxml.html.fromstring((with_sponsors.mail / "email.html").read_bytes())
    assert "Sponsored" in text(html, "//p")
    assert {a.get("rel") for a in html.xpath("//a[starts-with(@href, 'https://acme.example')]")} \
        == {"sponsored noopener nofollow"}
    assert f"[Sponsored] {SPONSOR_TITLE}" in (with_sponsors.mail / "email.txt").read_text(
        encoding="utf-8")
    # never a top story, whatever the setting; nofollow where the site uses it
    assert SPONSOR_TITLE not in text(with_sponsors.page(""), "//section[@class='top-stories']//h3")
    assert {a.get("rel") for a in with_sponsors.page(SPONSOR_PAGE).xpath(
        "//article[@class='story']//a[starts-with(@href, 'https://acme.example')]")} == {
        "sponsored noopener nofollow"}


def test_an_item_turned_sponsored_rebuilds_as_a_clean_build_would(make_site) -> None:
    site = make_site(dict(FILES), SETTINGS)
    assert site.build("--no-search") == 0
    site.write("content/news.md", FILES["content/news.md"].replace(
        "type: article", "type: article\nkind: sponsor"))
    site.write("content/paper.md", FILES["content/paper.md"].replace(
        "readingMinutes: 14", "readingMinutes: 15"))
    assert site.build("--no-search") == 0
    clean = site.root / "clean"
    assert main(["build", "--config", str(site.root / "site.toml"), "--no-search", "--no-cache",
                 "--output", str(clean)]) == 0
    warm, fresh = tree(site.public), tree(clean)
    assert warm.keys() == fresh.keys()
    assert [path for path in warm if warm[path] != fresh[path]] == []
    assert "Chipmaker" not in (site.public / "feed.xml").read_text(encoding="utf-8")


def header(*lines: str) -> str:
    url = f"https://e.com/{zlib.crc32(repr(lines).encode())}"  # one story per file
    return "\n".join(["---", 'title: "T"', "publishedDateTime: 2026-10-02T10:00:00Z",
                      f'webUrl: "{url}"', "provider:", "  name: Example",
                      "  domain: example.com", *lines, "---", ""])


def test_the_new_fields_are_validated_with_located_warnings(make_site, capsys) -> None:
    long_why = "word " * 80
    site = make_site({
        "content/a.md": header(f'why: "{long_why}"', "kind: papr",
                               'discussion: "https://news.ycombinator.com/item?id=1"'),
        "content/b.md": header("discussion:", '  - "javascript:alert(1)"', "  - {url: x}",
                               '  - "https://lobste.rs/s/x"', "readingMinutes: 0"),
        "content/c.md": header("kind: video", 'readingMinutes: "7"'),
        "content/d.md": header("kind: sponsored"),  # paid content must never lose its label
        "content/e.md": header("kind: podcast", "readingMinutes: 2.5"),
    }, SETTINGS)
    assert site.build("--no-search", "--skip-invalid") == 0
    err = capsys.readouterr().err
    for line in [
        "a.md:8: why: 399 characters; shown cut at 300 (one sentence on why it matters; the "
        "excerpt says the rest)",
        "a.md:9: kind: unknown kind 'papr'; ignored (did you mean paper?)",
        "a.md:10: discussion: expected a list, got one URL; read as a list of one (write it as "
        "a list: discussion: [URL])",
        "b.md:9: discussion[0]: not an http(s) URL ('javascript:alert(1)'); dropped (the "
        "thread's full address, e.g. https://news.ycombinator.com/item?id=1)",
        "b.md:10: discussion[1]: not an http(s) URL (a mapping); dropped",
        "b.md:12: readingMinutes: expected whole minutes from 1 to 600, got the number 0; "
        "ignored (e.g. readingMinutes: 6, or leave it out)",
        "e.md:8: kind: unknown kind 'podcast'; ignored (one of news, paper, repo, video, "
        "opinion, sponsor)",
        "e.md:9: readingMinutes: expected whole minutes from 1 to 600, got the number 2.5",
    ]:
        assert line in err, err
    assert ("d.md:8: kind: unknown kind 'sponsored' (write kind: sponsor for paid content: "
            "it is labelled Sponsored)") in err
    assert "c.md" not in err and "Traceback" not in err
    c = site.html("news/2026/10/02/c/")
    assert text(c, "//*[@class='reading-time']") == ["7 min read"]
    a = site.html("news/2026/10/02/a/")
    assert len(text(a, "//p[@class='why']")[0]) < 330
    assert text(a, "//p[@class='discussion']/a") == ["Hacker News"]
    assert not (site.public / "news/2026/10/02/d").exists()


ARTICLE = " ".join(f"word{n}" for n in range(690))  # 3 minutes at 230 words a minute
PAGE = """<!doctype html><html><head><title>{title}</title>
<meta property="og:title" content="{title}"><meta property="og:site_name" content="Lab">
<meta property="article:published_time" content="2026-11-19T06:45:00+00:00">{ld}</head>
<body><nav>{menu}</nav><header>Lab news</header><main><article><h1>{title}</h1><p>{text}</p>
</article><aside>{menu}</aside></main><footer>{menu}</footer></body></html>"""
MENU = " ".join(["Home Research Careers Contact Blog Press"] * 60)


def test_add_fills_reading_minutes_from_the_pages_main_text(make_site, feeds,  # noqa: F811
                                                            monkeypatch, capsys) -> None:
    monkeypatch.delenv("NEWSDIGEST_OFFLINE")
    site = make_site({}, SETTINGS + "[ingest]\nallow_loopback = true\ntimeout = 2\n")
    feeds.extra["/long.html"] = PAGE.format(title="A long read", ld="", text=ARTICLE,
                                            menu=MENU).encode()
    feeds.extra["/short.html"] = PAGE.format(title="A short teaser", ld="", text="Subscribe "
                                             "to read on.", menu=MENU).encode()
    ld = '<script type="application/ld+json">{"@type": "NewsArticle", "wordCount": 1150}</script>'
    feeds.extra["/paywall.html"] = PAGE.format(title="Behind a paywall", ld=ld,
                                               text="Subscribe to read on.", menu=MENU).encode()
    config = ["--config", str(site.root / "site.toml")]
    minutes = {}
    for name in ("long", "short", "paywall"):
        assert main(["add", f"{feeds.base}/{name}.html", *config]) == 0
        written = site.root / capsys.readouterr().out.strip()
        minutes[name] = yaml.safe_load(written.read_text().split("---\n")[1]).get(
            "readingMinutes")
    assert minutes == {"long": 3, "short": None, "paywall": 5}


def test_ingest_fills_reading_minutes_when_the_feed_has_the_full_text(make_site, feeds,  # noqa: F811
                                                                      monkeypatch) -> None:
    monkeypatch.delenv("NEWSDIGEST_OFFLINE")
    entry = ("<item><title>{title}</title><link>https://lab.example/{slug}</link>"
             "<pubDate>Wed, 18 Nov 2026 10:00:00 GMT</pubDate><description>A summary."
             "</description>{content}</item>")
    full = f"<content:encoded><![CDATA[<p>{ARTICLE}</p><p>{ARTICLE}</p>]]></content:encoded>"
    feeds.extra["/full.xml"] = (
        '<?xml version="1.0"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/'
        'modules/content/"><channel><title>Lab</title><link>https://lab.example/</link>'
        + entry.format(title="Full text entry", slug="full", content=full)
        + entry.format(title="Teaser entry", slug="teaser",
                       content="<content:encoded>Read more.</content:encoded>")
        + "</channel></rss>").encode()
    site = make_site({}, SETTINGS + "[ingest]\nallow_loopback = true\ntimeout = 2\n"
                     f'[sources.lab]\nurl = "{feeds.base}/full.xml"\n')
    assert main(["ingest", "--config", str(site.root / "site.toml")]) == 0
    found = {}
    for path in (site.root / "content/inbox").glob("*.md"):
        data = yaml.safe_load(path.read_text().split("---\n")[1])
        found[data["title"]] = data.get("readingMinutes")
    assert found == {"Full text entry": 6, "Teaser entry": None}


def test_reading_time_counts_a_page_whose_head_has_no_end_tag() -> None:
    # </head> is optional in HTML: <body> (or any tag a head cannot hold) ends the head, and
    # the article's words after it are counted, not skipped as the head's.
    from newsdigest.ingest.page import page_facts

    words = " ".join(["word"] * 460)
    for body in (f"<body><article><p>{words}</p></article>", f"<p>{words}</p>"):
        page = f'<!doctype html><html><head><meta charset="utf-8"><title>T</title>{body}'
        assert page_facts(page, "https://lab.example/a").reading_minutes == 2


def test_reading_time_counts_a_page_wrapped_in_one_form() -> None:
    # ASP.NET WebForms pages put the whole page, article and all, inside <form>.
    from newsdigest.ingest.page import page_facts

    words = " ".join(["word"] * 460)
    for body in (f"<nav>Home News</nav><article><p>{words}</p></article>",
                 f"<div id=content><p>{words}</p></div><button>Search</button>"):
        page = f'<html><head><title>T</title></head><body><form id="aspnetForm">{body}</form>'
        assert page_facts(page, "https://lab.example/a").reading_minutes == 2


def test_reading_time_of_a_paywalled_page_takes_its_word_count_written_as_text() -> None:
    from newsdigest.ingest.page import page_facts

    for count in ('1150', '"1150"', '" 1150 "'):
        page = ('<html><head><script type="application/ld+json">{"@type": "NewsArticle", '
                f'"wordCount": {count}}}</script></head><body><p>Subscribe to read on.</p>')
        assert page_facts(page, "https://lab.example/a").reading_minutes == 5
    page = page.replace('" 1150 "', '"about 1150"')
    assert page_facts(page, "https://lab.example/a").reading_minutes is None
