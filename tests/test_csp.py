"""The default theme passes its own strict Content-Security-Policy in a real browser."""

from __future__ import annotations

from browser import browser_fixture, serve_folder  # noqa: F401 - provides `browser`
from conftest import item

from newsdigest.render.theme import CONTENT_SECURITY_POLICY

SETTINGS = '[site]\ntitle = "CSP"\nbase_url = "http://127.0.0.1/"\n'
EMBED = '"<iframe src=\\"https://www.youtube.com/embed/dQ8x1vKkZ2A\\"></iframe>"'


def test_pages_have_no_inline_script_or_style(make_site):
    site = make_site({"content/a.md": item("A", "2026-10-01T10:00:00Z", "https://e.com/a",
                                           body="Text with <b>html</b>.\n")}, SETTINGS)
    site.build("--no-search")
    for page in site.pages():
        tree = site.html(page.relative_to(site.public).as_posix())
        assert tree.xpath("//meta[@http-equiv='Content-Security-Policy']/@content") == [
            CONTENT_SECURITY_POLICY]
        for script in tree.iter("script"):
            assert script.get("src") or script.get("type") == "application/ld+json", page
        assert not tree.xpath("//style | //*[@style] | //*[@*[starts-with(name(), 'on')]]"), page
    headers = (site.public / "_headers").read_text()
    assert "frame-ancestors 'none'" in headers


def test_no_violation_in_the_browser(browser, make_site):
    site = make_site({
        "content/v.md": item("Video", "2026-10-01T10:00:00Z",
                             "https://www.youtube.com/watch?v=dQ8x1vKkZ2A",
                             featuredContent=EMBED).replace("type: article", "type: video"),
        "content/a.md": item("Article", "2026-10-02T10:00:00Z", "https://e.com/a"),
    }, SETTINGS)
    assert site.build() == 0
    with serve_folder(site.public) as base:
        page = browser.new_page()
        violations: list[str] = []
        page.on("console", lambda m: violations.append(m.text)
                if "Content Security Policy" in m.text else None)
        try:
            for path in ("", "news/2026/10/01/v/", "topics/", "search/?q=video"):
                page.goto(base + path)
                page.wait_for_load_state("networkidle")
            page.locator(".search-result-title").first.wait_for(timeout=10_000)
            page.goto(base + "news/2026/10/01/v/")
            page.click("a.video-facade")
            frame = page.locator("iframe.video-frame")
            frame.wait_for(timeout=5_000)
            assert frame.get_attribute("src").startswith(
                "https://www.youtube-nocookie.com/embed/dQ8x1vKkZ2A")
            assert violations == []
        finally:
            page.close()
