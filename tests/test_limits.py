"""Limits and policies for untrusted content, set in site.toml."""

from __future__ import annotations

import time

from conftest import item

SETTINGS = """\
[site]
title = "Limits"
base_url = "https://limits.example/"
max_title_chars = 40
nofollow = true
embed_hosts = ["player.vimeo.com"]

[build]
max_body_kb = 4
max_front_matter_kb = 2
max_topics = 2
"""
YOUTUBE = '"<iframe src=\\"https://www.youtube.com/embed/dQ8x1vKkZ2A\\"></iframe>"'


def test_limits_from_settings(make_site, capsys):
    site = make_site({
        "content/long.md": item("A title that is far too long to be shown in full anywhere",
                                "2026-10-01T10:00:00Z", "https://e.com/1",
                                ("A", "B", "C"), body=("word " * 20 + "\n") * 100
                                + "[link](https://example.com)\n"),
        "content/fm.md": item("Big", "2026-10-02T10:00:00Z", "https://e.com/2",
                              excerpt='"' + "x" * 3000 + '"'),
        "content/video.md": item("Video", "2026-10-03T10:00:00Z", "https://e.com/3",
                                 featuredContent=YOUTUBE),
    }, SETTINGS)
    assert site.build("--skip-invalid") == 0
    err = capsys.readouterr().err
    assert "long.md: body: longer than 4 KB; cut" in err
    assert "long.md:11: topics: 3 topics; only the first 2 are used" in err
    assert "fm.md:1: front matter: too large (3 KB > limit 2 KB)" in err
    assert "video.md:13: featuredContent: host not allowed (www.youtube.com); embed dropped" in err
    page = site.html("news/2026/10/01/long/")
    assert page.find(".//h1").text_content() == "A title that is far too long to be…"
    body = page.xpath("//div[contains(@class,'story-body')]")[0]
    assert len(body.text_content()) < 4200
    assert not (site.public / "topics/c").exists()


def test_nofollow_on_body_links(make_site):
    site = make_site({"content/a.md": item("A", "2026-10-01T10:00:00Z", "https://e.com/a",
                                           body="[x](https://example.com)\n")}, SETTINGS)
    site.build()
    rel = site.html("news/2026/10/01/a/").xpath("//div[contains(@class,'story-body')]//a/@rel")
    assert rel == ["nofollow noopener noreferrer"]


def test_bad_rules_are_reported_together(make_site, capsys):
    site = make_site({}, '[site]\nembed_hosts = ["evil.example"]\nnofollow = "yes"\n'
                         "[build]\nmax_topics = 0\n")
    assert site.build() == 2
    err = capsys.readouterr().err
    assert "site.embed_hosts: no embed rule for evil.example" in err
    assert "site.nofollow: expected true or false" in err
    assert "build.max_topics: expected a positive number" in err


def test_a_pathological_body_costs_seconds_not_minutes(make_site, capsys):
    hostile = "[" * 20000 + "]" * 20000  # minutes in Python-Markdown without a budget
    site = make_site({
        "content/hostile.md": item("Hostile", "2026-10-01T10:00:00Z", "https://e.com/h",
                                   body=hostile),
        "content/fine.md": item("Fine", "2026-10-02T10:00:00Z", "https://e.com/f"),
    }, '[site]\nbase_url = "https://l.example/"\n[build]\nrender_seconds = 1\n')
    started = time.monotonic()
    assert site.build("--skip-invalid", "--no-search") == 0
    assert time.monotonic() - started < 30
    assert "hostile.md: body: render exceeded 1 s" in capsys.readouterr().err
    assert (site.public / "news/2026/10/02/fine/index.html").exists()
