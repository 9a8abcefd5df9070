"""Text in feeds and JSON stays text: markup in a title, an excerpt or a description reaches
no reader as an element (issue 18, points 14 and 17), checked with feedparser, lxml and json."""

from __future__ import annotations

import json

import feedparser
import lxml.etree
import lxml.html

from newsdigest.render.structured import inert_json

TITLE = 'Update <a href="https://phish.example/login">sign in</a> & <img src="https://t.example/t.gif">'
EXCERPT = ('Read <img src="https://t.example/pixel.gif"> then <a href="https://phish.example/">'
           "log in</a> &amp; <script>alert(1)</script> &lt;b&gt;")
TOPIC_DESCRIPTION = 'Robots <img src="https://t.example/topic.gif"> <a href="https://phish.example/">x</a>'
SITE_DESCRIPTION = 'News <a href="https://phish.example/">here</a> & <b>bold</b>'
SETTINGS = f"""\
[site]
title = "Feed Digest"
description = '{SITE_DESCRIPTION}'
base_url = "https://news.example/"
timezone = "UTC"

[topics."AI"]
description = '{TOPIC_DESCRIPTION}'

[digest]
min_quality = 0
"""
PLAIN_TITLE = "Story 4 & <friends>"  # no HTML element in it: shown as it is, in every reader
TOPIC = 'Bots <img src="https://t.example/c.gif">'


def news(title: str, date: str, url: str, excerpt: str, topics: tuple[str, ...]) -> str:
    return (f"---\ntitle: {json.dumps(title)}\npublishedDateTime: {date}\n"
            f"webUrl: {json.dumps(url)}\nexcerpt: {json.dumps(excerpt)}\nquality: 60\n"
            "provider:\n  name: Example News\n  domain: example.com\n"
            f"topics: {json.dumps(topics)}\n---\n")


FILES = {
    "content/a.md": news(TITLE, "2026-11-12T09:00:00Z", "https://a.example/1", EXCERPT,
                         ("AI",)),
    "content/b.md": news(PLAIN_TITLE, "2026-11-11T09:00:00Z", "https://b.example/2",
                         "Plain & simple <friends>", ("AI", TOPIC)),
}
# Elements RSS and Atom readers render as HTML whatever the feed says (feedparser takes an RSS
# <description> so), and the elements a hostile text would make there.
READ_AS_HTML = ("//description", "//atom:title", "//atom:subtitle", "//atom:summary")
HARMFUL = "//a | //img | //script | //iframe | //b"


def shown(detail: feedparser.FeedParserDict) -> str:
    """What a reader shows for a parsed text field; fails if the field holds any element."""
    if detail.type == "text/plain":
        return detail.value
    assert detail.type == "text/html", detail
    root = lxml.html.fragment_fromstring(detail.value, create_parent="div")
    assert not list(root.iterdescendants()), f"markup reached the reader: {detail.value!r}"
    return root.text_content()


def test_feed_text_reaches_readers_as_text_never_as_elements(make_site):
    site = make_site(FILES, SETTINGS)
    assert site.build("--no-search") == 0
    channels = {"": SITE_DESCRIPTION, "topics/ai/": TOPIC_DESCRIPTION, "digest/": None,
                "topics/bots-img-src-https-t-example-c-gif/": None}
    for folder, description in channels.items():
        for name in ("feed.xml", "atom.xml"):
            raw = (site.public / folder / name).read_bytes()
            # A reader that renders these elements as HTML whatever their type says.
            for text in lxml.etree.fromstring(raw).xpath(
                    " | ".join(READ_AS_HTML), namespaces={"atom": "http://www.w3.org/2005/Atom"}):
                html = lxml.html.fragment_fromstring(text.text or "", create_parent="div")
                assert not html.xpath(HARMFUL), (folder, name, text.text)
            parsed = feedparser.parse(raw)
            assert not parsed.bozo, (folder, name, parsed.get("bozo_exception"))
            where = folder + name
            assert shown(parsed.feed.title_detail).endswith("Feed Digest"), where
            subtitle = shown(parsed.feed.subtitle_detail)
            assert description is None or subtitle == description, where
            assert parsed.entries, where
            for entry in parsed.entries:
                title, summary = shown(entry.title_detail), shown(entry.summary_detail)
                if title in (TITLE, PLAIN_TITLE):
                    assert summary == (EXCERPT if title == TITLE else "Plain & simple <friends>")
                    topics = ["AI"] if title == TITLE else ["AI", TOPIC]
                    assert [t.get("label") or t.term for t in entry.tags] == topics, where
                else:  # an edition: its summary is its headlines, its content lists them
                    headlines = summary.split("; ")
                    assert set(headlines) <= {TITLE, PLAIN_TITLE}, (where, summary)
                    content = lxml.html.fragment_fromstring(entry.content[0].value,
                                                            create_parent="div")
                    assert not content.xpath("//img | //script"), where
                    assert all(href.startswith("https://news.example/")
                               for href in content.xpath("//a/@href")), where
                    assert all(h in content.text_content() for h in headlines), where
    # A title with no element in it is plain text where RSS readers guess (feedparser does).
    rss = feedparser.parse((site.public / "feed.xml").read_bytes())
    plain = next(e for e in rss.entries if e.title == PLAIN_TITLE)
    assert plain.title_detail.type == "text/plain"


def test_every_json_output_is_inert_when_inlined_and_parses_back_to_the_text(make_site):
    site = make_site(FILES, SETTINGS)
    assert site.build("--no-search") == 0
    documents = sorted(site.public.rglob("*.json"))
    assert {"feed.json", "index.json"} <= {p.name for p in documents}
    for path in documents:
        raw = path.read_bytes()
        assert not {b"<", b">", b"&"} & {raw[i:i + 1] for i in range(len(raw))}, path
        json.loads(raw)
    feed = json.loads((site.public / "feed.json").read_bytes())
    entry = next(e for e in feed["items"] if e["title"] == TITLE)
    assert (entry["summary"], entry["content_text"]) == (EXCERPT, EXCERPT)
    assert "content_html" not in entry  # the excerpt is text: no reader renders it as HTML
    assert feed["description"] == SITE_DESCRIPTION
    api = json.loads((site.public / "api/news/index.json").read_bytes())
    assert {(i["title"], i["excerpt"]) for i in api["items"]} >= {(TITLE, EXCERPT)}
    topics = json.loads((site.public / "api/topics/index.json").read_bytes())
    assert topics["topics"][0]["description"] == TOPIC_DESCRIPTION
    # JSON-LD inlined in the item page: the same helper, still the same value.
    page = site.html(entry["url"].removeprefix("https://news.example/"))
    (script,) = page.xpath("//script[@type='application/ld+json']")
    assert "<" not in script.text and json.loads(script.text)["description"] == EXCERPT


def test_inert_json_escapes_what_html_and_old_javascript_read():
    value = {"a": "</script><!-- & \u2028\u2029 '", "b": ["<", {"<k>": ">"}]}
    text = inert_json(value)
    assert not set("<>&\u2028\u2029") & set(text)
    assert json.loads(text) == value
    assert "\\u003c/script\\u003e" in text  # as Go's encoding/json writes it
