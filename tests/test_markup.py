"""Bodies fit the page's outline: their headings start below the page's h1 and skip no level."""

from __future__ import annotations

from conftest import item

from newsdigest.content.markup import render_body


def test_body_headings_are_renumbered_from_h2_without_gaps():
    html = render_body("#### Deep\n\ntext\n\n###### Deeper\n\n# Top\n\n<h3>raw</h3>\n")
    assert html.splitlines() == ["<h4>Deep</h4>", "<p>text</p>", "<h5>Deeper</h5>",
                                 "<h2>Top</h2>", "<h3>raw</h3>"]
    assert render_body("###### Alone\n") == "<h2>Alone</h2>"
    assert render_body("No heading at all.\n") == "<p>No heading at all.</p>"


def test_an_item_page_outline_has_no_skipped_level(make_site):
    site = make_site({"content/2026-10-01-story.md": item(
        "Outlined", url="https://e.com/o", body="#### Why it matters\n\nBecause.\n")})
    assert site.build("--offline", "--no-search") == 0
    page = site.html("news/2026/10/01/story/")
    levels = [int(h.tag[1]) for h in page.xpath("//main//*[self::h1 or self::h2 or self::h3 "
                                                "or self::h4 or self::h5 or self::h6]")]
    assert levels[0] == 1
    assert all(later - earlier <= 1 for earlier, later in zip(levels, levels[1:], strict=False))
    assert page.xpath("string(//main//h2[1])") == "Why it matters"


def test_the_converter_is_extra_and_sane_lists_as_named():
    """The converter is built from extension instances (no entry-point scan at start-up):
    it must render every construct exactly as Markdown(extensions=["extra", "sane_lists"])."""
    import markdown

    from newsdigest.content.markup import _Renderer

    text = (
        "Intro with a footnote[^1] and *HTML* abbr.\n\n*[HTML]: Hyper Text Markup Language\n\n"
        "[^1]: The note.\n\n```python\nprint('x')\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "Term\n:   Its definition\n\n## Title {#anchor .cls}\n\n3. three\n4. four\n\n* star\n\n"
        "- dash\n\n<div markdown=\"1\">*inside*</div>\n"
    )
    named = markdown.Markdown(extensions=["extra", "sane_lists"], output_format="html")
    assert _Renderer().convert(text) == named.convert(text)
    assert "<sup" in named.convert(text) and "<table>" in named.convert(text)
