"""The email of an edition (HTML for mail clients, text, .eml) and the curation report."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import lxml.html
import pytest
from browser import browser_fixture, serve_folder  # noqa: F401 - provides `browser`
from test_editions import DUPLICATES, SETTINGS, WEEK, news
from test_images import photo

from newsdigest.check import check_site
from newsdigest.cli import main
from newsdigest.config.site import load_config

UNSUBSCRIBE = "https://lists.example/unsubscribe?list=ai"
MAIL_SETTINGS = SETTINGS + (f'unsubscribe = "{UNSUBSCRIBE}"\n'
                            'from_address = "Editors <ed@news.example>"\n')
IMAGE = 'images:\n  - url: "https://img.example/{name}.jpg"\n    width: {w}\n    height: {h}\n'
SIZED = {
    "content/f.md": WEEK["content/f.md"].replace(
        "topics:", IMAGE.format(name="pinned", w=1104, h=552) + "topics:"),
    "content/a.md": WEEK["content/a.md"].replace(
        "topics:", IMAGE.format(name="towels", w=1200, h=600) + "topics:"),
    # An image of unknown size is left out of the email rather than shown unsized.
    "content/e.md": WEEK["content/e.md"].replace(
        "topics:", 'images:\n  - url: "https://img.example/unsized.jpg"\ntopics:'),
}
NOTE = ("A **busy** week: see [the robots](/topics/robotics/) and "
        "[the source](https://a.example/towels).\n\n![chart](https://img.example/chart.png)\n")


def digest(site, *args: str) -> int:
    return main(["digest", "--config", str(site.root / "site.toml"), *args])


@pytest.fixture
def mail(make_site, tmp_path):
    site = make_site({**WEEK, **SIZED, "content/digests/2026-W46.md": NOTE}, MAIL_SETTINGS)
    out = tmp_path / "mail"
    assert digest(site, "--weekly", "--date", "2026-W46", "--output", str(out), "--eml") == 0
    return out


def test_email_shows_the_sites_own_thumbnails_where_the_build_made_them(make_site, tmp_path):
    local = WEEK["content/a.md"].replace(
        "topics:", 'images:\n  - url: "towels.jpg"\n    width: 1600\n    height: 800\ntopics:')
    site = make_site({**WEEK, **SIZED, "content/a.md": local,
                      "content/towels.jpg": photo(1600, 800, "JPEG")}, MAIL_SETTINGS)
    assert site.build("--no-search") == 0
    out = tmp_path / "mail"
    assert digest(site, "--weekly", "--date", "2026-W46", "--output", str(out)) == 0
    page = lxml.html.fromstring((out / "email.html").read_bytes())
    shown = {i.get("src"): (i.get("width"), i.get("height")) for i in page.xpath("//img")}
    thumbnails = [src for src in shown if src.startswith("https://news.example/img/")]
    assert len(thumbnails) == 1 and thumbnails[0].endswith(".jpg")  # not WebP: mail clients
    assert shown[thumbnails[0]] == ("112", "56")
    assert (site.public / thumbnails[0].removeprefix("https://news.example/")).is_file()
    assert "https://img.example/pinned.jpg" in shown  # remote, no thumbnail made: as given


def test_email_html_is_ready_for_mail_clients(mail):
    raw = (mail / "email.html").read_text()
    page = lxml.html.fromstring(raw.encode())
    assert not page.xpath("//style") and not page.xpath("//script") and not page.xpath("//link")
    assert page.xpath("//body//table[@width='600']")
    # Every link and image absolute (the unsubscribe link is the configured one).
    for element, attribute in [(a, "href") for a in page.xpath("//a")] + \
            [(i, "src") for i in page.xpath("//img")]:
        assert element.get(attribute).startswith("https://"), lxml.html.tostring(element)
    assert page.xpath("//a[text()='Unsubscribe']/@href") == [UNSUBSCRIBE]
    assert page.xpath("//a[text()='View in your browser']/@href") == [
        "https://news.example/digest/weekly/2026-W46/"]
    images = page.xpath("//img")
    assert images and all(i.get("width") and i.get("height") for i in images)
    assert [(i.get("src"), i.get("width"), i.get("height")) for i in images] == [
        ("https://img.example/pinned.jpg", "552", "276"),  # the lead, full width
        ("https://img.example/towels.jpg", "112", "56"),  # a thumbnail; no unsized image
    ]
    # The CSS is inlined: the title and entries carry their own styles.
    assert "font-size: 28px" in page.xpath("//h1")[0].get("style")
    preheader = page.xpath("//body/div[1]")[0]
    assert "display: none" in preheader.get("style")
    assert preheader.text_content().startswith("Low quality item the editor pinned · Also: ")
    # The editor's note, its relative link made absolute; the same order as the web edition.
    assert "https://news.example/topics/robotics/" in page.xpath("//a/@href")
    titles = page.xpath("//h2/a/text() | //h3/a/text()")
    assert titles == ["Low quality item the editor pinned", "Chip maker ships new accelerator",
                      "Big model release tops the week", "Robots learn to fold towels",
                      "Second robot story of the week"]


def test_text_part_and_eml(mail):
    text = (mail / "email.txt").read_text()
    assert text.startswith("The week in AI: 9–15 November 2026\n===")
    positions = [text.index(t) for t in ("Low quality item the editor pinned",
                                         "Chip maker ships new accelerator",
                                         "Big model release tops the week",
                                         "Robots learn to fold towels")]
    assert positions == sorted(positions)
    assert "A busy week: see the robots <https://news.example/topics/robotics/>" in text
    assert "Read: https://news.example/news/2026/11/11/b/" in text
    assert f"Unsubscribe: {UNSUBSCRIBE}" in text
    assert "<" not in text.replace("<https://", "")  # no markup, only <URL> links
    message = email.message_from_bytes((mail / "email.eml").read_bytes(),
                                       policy=email.policy.default)
    assert message["Subject"] == "The week in AI: 9–15 November 2026"
    assert message["From"] == "Editors <ed@news.example>"
    assert message["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert message.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    # CRLF line ends in the message, as mail is sent.
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == text
    assert "Chip maker ships new accelerator" in message.get_body(("html",)).get_content()


def test_merged_story_credits_every_source_in_the_email(make_site, capsys):
    site = make_site(DUPLICATES, SETTINGS)
    assert digest(site, "--daily", "--date", "2026-11-06") == 0
    text = capsys.readouterr().out
    assert text.count("Assistant answers what your camera sees") == 1
    for provider in ("The Verge AMP", "Reuters", "Bloomberg"):
        assert f"Also covered by {provider}: " in text
    assert "Unsubscribe: *|UNSUB|*" in text  # the default placeholder, for the mailing tool


@pytest.mark.parametrize("args, code, message", [
    (["--date", "next week"], 2,
     "error: --date: expected YYYY-MM-DD or YYYY-Www, got 'next week'"),
    (["--daily", "--date", "2026-W46"], 2, "error: --date: expected YYYY-MM-DD, got '2026-W46'"),
    (["--weekly", "--date", "2026-W40"], 1,
     "error: no weekly edition for Week 40, 2026: no published item of that period passes the "
     "[digest] rules"),
    (["--daily", "--date", "2026-11-14"], 1, "error: no daily edition for Saturday 14 November"),
])
def test_bad_dates_and_empty_editions_are_one_line_errors(make_site, capsys, args, code, message):
    site = make_site(WEEK, SETTINGS)
    assert digest(site, *args) == code
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_a_kind_turned_off_is_a_usage_error(make_site, capsys):
    site = make_site(WEEK, SETTINGS + "daily = false\n")
    assert digest(site, "--daily") == 2
    assert "--daily: daily editions are off (digest.daily in site.toml)" in capsys.readouterr().err


def test_email_looks_right_at_600_px_in_chromium(browser, mail, tmp_path):
    # Served from 127.0.0.1; the remote images are answered with a local picture.
    picture = (Path(__file__).parent.parent / "content/robot-hands.jpg").read_bytes()
    with serve_folder(mail) as base:
        page = browser.new_page(viewport={"width": 600, "height": 900})
        page.route("https://**/*", lambda route: route.fulfill(body=picture,
                                                                content_type="image/jpeg"))
        page.goto(base + "email.html")
        assert page.evaluate("document.documentElement.scrollWidth") <= 600
        box = page.locator("table[width='600']").bounding_box()
        assert box is not None and box["width"] == 600
        lead = page.locator("img").first.bounding_box()
        # (Its height follows the picture: the attributes are for clients that ignore CSS.)
        assert lead is not None and lead["x"] == 24 and lead["width"] == 552
        assert not page.locator("text=Low quality item the editor pinned · Also").is_visible()
        page.screenshot(path=str(tmp_path / "email.png"), full_page=True)
        page.close()


def test_report_in_the_terminal_as_a_page_and_after_the_build(make_site, capsys, tmp_path):
    files = {**DUPLICATES, "content/broken.md": "---\ntitle: [unclosed\n---\n",
             "content/video.md": news("A video with a bad embed", "2026-11-07T09:00:00Z",
                                      "https://v.example/1", 50,
                                      extra="featuredContent: '<iframe src=\"https://evil."
                                            "example/x\"></iframe>'\n"),
             "content/future.md": news("From the future", "2027-03-01T09:00:00Z",
                                       "https://f.example/1", 50)}
    site = make_site(files, SETTINGS)
    assert main(["report", "--config", str(site.root / "site.toml"),
                 "--html", str(tmp_path / "report.html")]) == 0
    out = capsys.readouterr().out
    assert ("Duplicates merged (3 into 1 story)\n"
            "  verge.md <- verge-amp.md, reuters.md, bloomberg.md") in out
    assert "Items without an image (3)" in out
    assert "Invalid files skipped (1)\n  broken.md:2" in out
    assert "Embeds dropped (1)\n  video.md:" in out
    assert "Left out of the site (outside the news window) (1)\n  future: future.md" in out
    assert "Items per day (3)\n      1  2026-11-08\n      1  2026-11-07\n      1  2026-11-06" in out
    page = lxml.html.fromstring((tmp_path / "report.html").read_bytes())
    assert page.xpath("//meta[@name='robots']/@content") == ["noindex, nofollow"]
    assert page.xpath("//section[@aria-labelledby='merged']//li/text()") == [
        "verge.md <- verge-amp.md, reuters.md, bloomberg.md"]

    assert site.build("--no-search", "--skip-invalid") == 0
    out = capsys.readouterr().out
    assert ("digest: 1 weekly and 3 daily editions; 3 duplicates merged; 3 without an image, "
            "0 with a generic one; 1 embeds dropped; 1 invalid skipped") in out
    assert (site.public / "_report/index.html").exists()
    for html in site.public.rglob("*.html"):
        if "_report" not in html.parts:
            assert "_report" not in html.read_text(), html
    assert not any("_report" in url for url in site.sitemap_urls())
    assert check_site(site.public, load_config(site.root / "site.toml")) == []
    assert site.build("--no-search", "--skip-invalid", "--no-report") == 0
    assert not (site.public / "_report").exists()
