"""Per-topic weekly editions (issue 21): `[digest] topic_editions` gives each named topic its own
weekly edition pages, archive, feeds (listed on /feeds/ and in the OPML, linked from the topic's
page) and `newsdigest digest --topic T` email."""

from __future__ import annotations

import email
import email.policy
import json

import feedparser
import listparser
import pytest
from test_editions import SETTINGS, WEEK, entries, news
from test_incremental import tree

from newsdigest.cli import main

TOPIC_SETTINGS = SETTINGS + 'topic_editions = ["robotics", "Language"]\n'
ITEMS = {
    **WEEK,
    # week 47: one Robotics story, and one from the excluded provider
    "content/k.md": news("Robot hands get a sense of touch", "2026-11-17T09:00:00Z",
                         "https://k.example/touch", 65, 0, ("Robotics",)),
    "content/l.md": news("Spam robots", "2026-11-17T10:00:00Z", "https://spam.example/r",
                         99, 0, ("Robotics",), provider="Spam", domain="spam.example"),
}
W46, W47 = "digest/topic/robotics/2026-W46/", "digest/topic/robotics/2026-W47/"


NOTE = "Robots **everywhere** this week.\n"


@pytest.fixture
def site(make_site):
    site = make_site({**ITEMS, "content/digests/robotics/2026-W46.md": NOTE}, TOPIC_SETTINGS)
    assert site.build("--offline", "--no-search") == 0
    return site


def test_each_named_topic_gets_weekly_edition_pages_and_an_archive(site):
    # Every Robotics story of the week passing the [digest] rules, best first: the cap per
    # topic (2) is for the site's editions, where d is cut; pinned, skipped and excluded
    # items follow the same rules as there.
    assert entries(site, W46) == ["Robots learn to fold towels", "Second robot story of the week",
                                  "Third robot story over the cap"]
    assert "Third robot story over the cap" not in entries(site, "digest/weekly/2026-W46/")
    assert entries(site, W47) == ["Robot hands get a sense of touch"]
    page = site.html(W46)
    assert page.xpath("string(//h1)") == "The week in Robotics: 9–15 November 2026"
    # the editor's note of content/digests/robotics/2026-W46.md, on this edition only
    assert page.xpath("string(//section[@class='edition-note prose'])").strip() == (
        "Robots everywhere this week.")
    assert not site.html(W47).xpath("//section[@class='edition-note prose']")
    assert not site.html("digest/weekly/2026-W46/").xpath("//section[@class='edition-note prose']")
    assert page.xpath("//a[@rel='next']/@href") == ["/" + W47]
    assert page.xpath("//a[@class='edition-all']/@href") == ["/digest/topic/robotics/"]
    assert page.xpath("//nav[@aria-label='Breadcrumb']//a/text()") == [
        "Home", "Digest", "Robotics weekly"]
    assert page.xpath("//link[@type='application/rss+xml']/@href")[-1] == (
        "/digest/topic/robotics/feed.xml")
    archive = site.html("digest/topic/robotics/")
    assert archive.xpath("//ul[@class='edition-list']//h2/a/@href") == ["/" + W47, "/" + W46]
    assert archive.xpath("string(//h1)") == "Robotics weekly"
    # "Language" names the topic in any letter case; its editions exist too
    assert site.html("digest/topic/language/2026-W46/").xpath("string(//h1)").startswith(
        "The week in Language")
    assert not (site.public / "digest/topic/hardware").exists()
    # the site's own digest list links each topic's list; each named topic's page links its own
    assert site.html("digest/").xpath("//nav[@class='topic-editions']//a/@href") == [
        "/digest/topic/robotics/", "/digest/topic/language/"]
    assert site.html("topics/robotics/").xpath("//a[@class='topic-weekly']/@href") == [
        "/digest/topic/robotics/"]
    assert not site.html("topics/hardware/").xpath("//a[@class='topic-weekly']")


def test_each_topic_edition_feed_is_valid_and_listed_on_feeds_and_in_the_opml(site):
    rss = feedparser.parse((site.public / "digest/topic/robotics/feed.xml").read_bytes())
    assert not rss.bozo
    assert rss.feed.title == "Robotics weekly · Test Digest"
    assert [e.link for e in rss.entries] == [f"https://news.example/{W47}",
                                             f"https://news.example/{W46}"]
    assert "Third robot story over the cap" in rss.entries[1].content[0].value
    atom = feedparser.parse((site.public / "digest/topic/robotics/atom.xml").read_bytes())
    assert not atom.bozo and len(atom.entries) == 2
    document = json.loads((site.public / "digest/topic/robotics/feed.json").read_bytes())
    assert [i["url"] for i in document["items"]] == [e.link for e in rss.entries]
    feeds = site.html("feeds/")
    group = feeds.xpath("//section[@aria-labelledby='feeds-topic-editions']")[0]
    assert group.xpath("string(h2)") == "Weekly editions by topic"
    assert group.xpath(".//a[@class='feed-name']/text()") == ["Robotics weekly",
                                                             "Language weekly"]
    opml = listparser.parse((site.public / "feeds.opml").read_bytes())
    assert "https://news.example/digest/topic/robotics/feed.xml" in [f.url for f in opml.feeds]


def test_a_name_no_topic_has_is_a_warning_naming_the_setting_and_the_nearest(make_site,
                                                                             capsys):
    site = make_site({**ITEMS, "content/digests/robotics/2026-W46.md": NOTE,
                      "content/digests/robotics/2026-11-10.md": NOTE},
                     SETTINGS + 'topic_editions = ["Robotcs"]\n')
    assert site.build("--offline", "--no-search") == 0
    err = capsys.readouterr().err
    assert ('site.toml: digest.topic_editions: no topic "Robotcs" on the site: it gets no '
            'editions (did you mean "Robotics"?)') in err
    # its notes are not lost in silence; a topic's editions are weekly
    assert ("digests/robotics/2026-W46.md: no edition for this period (no published "
            "item passes the [digest] rules, or its kind is off, or the topic is not in "
            "[digest] topic_editions); note not shown") in err
    assert ("digests/robotics/2026-11-10.md: not an edition name; ignored (name it "
            "YYYY-MM-DD.md or YYYY-Www.md (a topic's edition: <topic slug>/YYYY-Www.md))") in err
    assert not (site.public / "digest/topic").exists()


@pytest.mark.parametrize(("value", "expected"), [
    ('"Robotics"', "digest.topic_editions: expected a list of topic names such as "
                   "[\"Robotics\"], got 'Robotics'"),
    ('["Robotics", "robotics"]', "digest.topic_editions: 'robotics' is named twice"),
])
def test_bad_topic_editions_are_one_located_line(make_site, capsys, value, expected):
    site = make_site(ITEMS, SETTINGS + f"topic_editions = {value}\n")
    assert site.build("--offline") == 2
    assert f"site.toml: {expected}" in capsys.readouterr().err


def test_digest_topic_writes_that_topics_email(site, tmp_path, capsys):
    out = tmp_path / "mail"
    config = str(site.root / "site.toml")
    assert main(["digest", "--config", config, "--topic", "Robotics", "--date", "2026-W46",
                 "--output", str(out), "--eml"]) == 0
    message = email.message_from_bytes((out / "email.eml").read_bytes(),
                                       policy=email.policy.default)
    assert message["Message-ID"] == "<weekly-2026-W46-robotics@news.example>"
    assert message["Subject"] == "The week in Robotics: 9–15 November 2026"
    text = (out / "email.txt").read_text()
    html = (out / "email.html").read_text()
    for title in ("Robots learn to fold towels", "Third robot story over the cap"):
        assert title in text and title in html
    assert "Big model release" not in text
    assert "Robots everywhere this week." in text and "<strong>everywhere</strong>" in html
    assert f"https://news.example/{W46}" in text and f"https://news.example/{W46}" in html
    assert "Robotics weekly" in html and "https://news.example/digest/topic/robotics/" in html
    capsys.readouterr()
    assert main(["digest", "--config", config, "--topic", "robotics"]) == 0  # the latest
    assert "Robot hands get a sense of touch" in capsys.readouterr().out
    assert main(["digest", "--config", config, "--topic", "Hardwar"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("--topic: 'Hardwar' has no editions of its own: add it to "
                        "digest.topic_editions in site.toml (it names 'robotics', 'Language')")
    assert main(["digest", "--config", config, "--topic", "Robotic"]) == 2
    assert 'did you mean "robotics"?' in capsys.readouterr().err
    assert main(["digest", "--config", config, "--topic", "Robotics", "--daily"]) == 2
    assert "a topic's editions are weekly" in capsys.readouterr().err


def test_an_edit_and_a_settings_change_rebuild_exactly_what_a_clean_build_makes(make_site):
    site = make_site(ITEMS, TOPIC_SETTINGS)
    assert site.build("--offline", "--no-search") == 0
    # a robot story scores higher: the topic's edition reorders, its feed changes
    site.write("content/c.md", ITEMS["content/c.md"].replace("quality: 55", "quality: 95"))
    site.write("site.toml", TOPIC_SETTINGS.replace('"robotics", "Language"', '"Robotics"'))
    site.write("content/digests/robotics/2026-W47.md", NOTE)
    assert site.build("--offline", "--no-search") == 0
    assert entries(site, W46)[0] == "Second robot story of the week"
    assert site.html(W47).xpath("//section[@class='edition-note prose']")
    warm = tree(site.public)
    assert main(["build", "--config", str(site.root / "site.toml"), "--offline", "--no-search",
                 "--no-cache", "--output", str(site.root / "clean")]) == 0
    clean = tree(site.root / "clean")
    assert warm.keys() == clean.keys()
    assert [path for path in warm if warm[path] != clean[path]] == []
    assert not any(path.startswith("digest/topic/language/") for path in warm)


def test_digest_topic_takes_the_topics_name_or_slug_as_the_build_does(make_site, capsys):
    # topic_editions matches a topic by name or slug; --topic finds those editions either way.
    story = news("Cameras read signs at night", "2026-11-10T09:00:00Z",
                 "https://cv.example/signs", 70, 0, ("Computer Vision",))
    for named, asked in (("computer-vision", "Computer Vision"),
                         ("Computer Vision", "computer-vision")):
        site = make_site({"content/cv.md": story},
                         SETTINGS + f'topic_editions = ["{named}"]\n')
        assert main(["digest", "--config", str(site.root / "site.toml"),
                     "--topic", asked]) == 0, capsys.readouterr().err
        assert "Cameras read signs at night" in capsys.readouterr().out
