"""Pictures in a real browser: thumbnails load, and a remote image that cannot load uncovers
the placeholder tile instead of a broken-image icon."""

from __future__ import annotations

from browser import browser_fixture, serve_folder  # noqa: F401 - provides `browser`
from conftest import item
from test_images import images_yaml, photo

SETTINGS = '[site]\ntitle = "Pictures"\nbase_url = "http://127.0.0.1/"\n'


def test_thumbnails_show_and_unloadable_remote_images_leave_the_tile(browser, make_site):
    # Port 9 on this machine refuses connections: the offline build points the page at it.
    dead = "http://127.0.0.1:9/gone.jpg"
    site = make_site({
        "content/a.md": item("Local", "2026-10-02T10:00:00Z", "https://e.com/a",
                             images=images_yaml(("a.jpg", 1200, 800, "A picture"))),
        "content/a.jpg": photo(1200, 800, "JPEG"),
        "content/b.md": item("Remote", "2026-10-01T10:00:00Z", "https://e.com/b",
                             images=images_yaml((dead, 1200, 675, ""))).replace(
            "  domain: example.com", "  domain: example.com\n  images:\n"
            "    - url: http://127.0.0.1:9/logo.png\n      width: 64\n      height: 64"),
    }, SETTINGS)
    assert site.build("--no-search", "--offline") == 0
    with serve_folder(site.public) as base:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(base)
        page.wait_for_load_state("networkidle")
        local = page.locator("a[href='/news/2026/10/02/a/'].card-media img").first
        assert local.evaluate("i => i.complete && i.naturalWidth > 0")
        assert "/img/" in local.evaluate("i => i.currentSrc")
        assert local.evaluate("i => i.currentSrc").endswith(".webp")  # the modern format won
        page.wait_for_function("[...document.querySelectorAll('img.card-remote')]"
                               ".every(i => getComputedStyle(i).display === 'none')",
                               timeout=5_000)
        tile = page.locator("a[href='/news/2026/10/01/b/'].card-media .placeholder").first
        assert tile.is_visible() and tile.inner_text() == "E"
        # The dead logo gave way to the provider's initial in the byline.
        bylines = page.locator("article:has(a[href='/news/2026/10/01/b/']) .card-meta .provider")
        bylines.locator(".provider-initial").first.wait_for(timeout=5_000)
        assert bylines.locator(".provider-initial").all_inner_texts() == ["E"] * bylines.count()
        assert bylines.locator("img").count() == 0
        page.close()
