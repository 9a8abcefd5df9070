"""Every bad input of ../shared/BAD-INPUTS.md: a clear line with file, line and field, no
traceback, nothing written; or, where the input is usable, the documented normalisation."""

from __future__ import annotations

import json

import pytest
from conftest import DEEPLY_NESTED, item

SETTINGS = '[site]\ntitle = "Bad"\nbase_url = "https://bad.example/"\n'
GOOD = item("Good story", "2026-10-01T10:00:00Z", "https://example.com/good")


def header(*lines: str) -> str:
    return "\n".join(["---", *lines, "---", ""])


BASE = ['title: "T"', "publishedDateTime: 2026-10-02T10:00:00Z", 'webUrl: "https://e.com/x"']

# (case, file text, expected message fragment)
SKIPPED = [
    ("unclosed flow list", "\n\n" + header(*BASE, "topics: [a, b"),
     "x.md:7:9: front matter: YAML: did not find expected ',' or ']'"),
    ("tab indentation", header(*BASE, "provider:", "\tname: x"), "x.md:6:1: front matter: YAML:"),
    ("unquoted colon", header('title: GPT-5: what changed', *BASE[1:]),
     "quote values containing ': '"),
    ("never closed", "---\n" + "\n".join(BASE) + "\n",
     "x.md:1: front matter: not terminated"),
    ("front matter is a list", header("- a", "- b"),
     "x.md:2: front matter: must be a mapping of fields, not a list"),
    ("front matter is a scalar", header("just text"),
     "front matter: must be a mapping of fields, not a single value"),
    ("empty file", "", "x.md: empty file"),
    ("whitespace only", "  \n\n \n", "x.md: empty file"),
    ("no front matter", "Just a body.\n", "front matter: missing"),
    ("billion laughs", header(*BASE, "a: &a [x, x]", "b: [*a, *a]"),
     "x.md:6: b[0]: anchors/aliases not allowed"),  # the line of the alias, not the anchor
    ("duplicate key", header(*BASE, 'title: "Again"'), "x.md:5: title: duplicate key"),
    ("python tag", header(*BASE, "x: !!python/object/apply:os.system [touch /tmp/pwned]"),
     "unsupported YAML tag"),
    ("missing title", header(*BASE[1:]), "x.md: title: required"),
    ("missing date", header(BASE[0], BASE[2]), "x.md: publishedDateTime: required"),
    ("missing url", header(*BASE[:2]), "x.md: webUrl: required"),
    ("title is a number", header("title: 2024", *BASE[1:]),
     "x.md:2: title: expected text, got the number 2024"),
    ("title is null", header("title: null", *BASE[1:]), "x.md:2: title: expected text"),
    ("topics are booleans", header(*BASE, "topics: [no, yes]"),
     "x.md:5: topics[0]: expected text, got false"),
    ("published as text", header(*BASE, 'published: "false"'),
     "x.md:5: published: expected true or false, got the text 'false'"),
    ("month 13", header(BASE[0], "publishedDateTime: 2024-13-45", BASE[2]),
     "x.md:3: publishedDateTime: invalid date"),
    ("February 30", header(BASE[0], "publishedDateTime: 2024-02-30", BASE[2]),
     "publishedDateTime: invalid date"),
    ("yesterday", header(BASE[0], "publishedDateTime: yesterday", BASE[2]),
     "publishedDateTime: invalid date"),
    ("quality NaN", header(*BASE, "quality: .nan"), "x.md:5: quality: expected a whole number"),
    ("quality text", header(*BASE, 'quality: "high"'), "quality: expected a whole number"),
    ("quality negative", header(*BASE, "quality: -3"), "quality: expected a whole number of 0"),
    # Values at the limits of Python's numbers and dates: each one line, never a traceback.
    ("quality of 4,400 digits", header(*BASE, "quality: " + "9" * 4400),
     "x.md:5: quality: number too large"),
    ("date past year 9999 in UTC",
     header(BASE[0], "publishedDateTime: 9999-12-31T23:00:00-05:00", BASE[2]),
     "x.md:3: publishedDateTime: date out of range (9999-12-31T23:00:00-05:00) (use a date "
     "from 1900 to 2999)"),
    ("year 1", header(BASE[0], "publishedDateTime: 0001-01-01", BASE[2]),
     "x.md:3: publishedDateTime: date out of range (0001-01-01)"),
    ("body nested too deeply", header(*BASE) + DEEPLY_NESTED,
     "x.md: body: Markdown nests too deeply to render"),
]
BAD_URLS = ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "\\x01javascript:alert(1)",
            "data:text/html,hi", "vbscript:x", "//evil.example/x", "https:evil.example",
            "file:///etc/passwd", "https://user:pw@evil.example/"]


@pytest.mark.parametrize("case, text, expected", SKIPPED, ids=[c[0] for c in SKIPPED])
def test_unusable_file_is_named_and_nothing_is_written(make_site, capsys, case, text, expected):
    site = make_site({"content/good.md": GOOD}, SETTINGS)
    assert site.build() == 0
    before = {p: p.read_bytes() for p in site.public.rglob("*") if p.is_file()}
    site.write("content/x.md", text)
    assert site.build() == 1
    err = capsys.readouterr().err
    assert expected in err, err
    assert "Traceback" not in err
    assert {p: p.read_bytes() for p in site.public.rglob("*") if p.is_file()} == before
    assert site.build("--skip-invalid") == 0
    skipped = capsys.readouterr().err
    assert "skipped: x.md" in skipped and expected.split("x.md")[-1] in skipped


# More values at the limits, checked by the loader alone (a build each would cost seconds).
LIMITS = [
    ("quality: \"" + "9" * 4400 + "\"",
     "quality: expected a whole number up to 1,000,000,000, got 4400 digits"),
    ("heat: 10000000000", "heat: expected a whole number up to 1,000,000,000, got the number "
                          "10000000000"),
    ("heat: 0x" + "f" * 4000, "heat: number too large"),
    ("quality: 1.0e+400", "quality: expected a whole number, got the number inf"),
    ("updatedDateTime: 0001-01-01T00:00:00+01:00", "updatedDateTime: date out of range"),
    ("updatedDateTime: 9999-12-31T23:59:59", "updatedDateTime: date out of range"),
    ("updatedDateTime: 99999999999999", "updatedDateTime: date out of range"),
    ("updatedDateTime: -99999999999999", "updatedDateTime: date out of range"),
    ("updatedDateTime: 1899-12-31T23:59:59Z", "updatedDateTime: date out of range"),
]


@pytest.mark.parametrize("line, expected", LIMITS, ids=[c[0][:30] for c in LIMITS])
def test_values_at_their_limits_are_one_located_problem(tmp_path, line, expected):
    from newsdigest.content.files import SourceFile
    from newsdigest.content.loading import LoadSettings, load_many

    path = tmp_path / "x.md"
    path.write_text(header(*BASE, line))
    entry, = load_many([SourceFile(str(path), "x.md")], LoadSettings("Pacific/Kiritimati",
                                                                     1 << 20), {})
    problem, = entry.result.problems
    assert str(problem).startswith(f"x.md:5: {expected}")


def test_dates_at_the_edges_of_the_range_are_kept(tmp_path):
    from newsdigest.content.files import SourceFile
    from newsdigest.content.loading import LoadSettings, load_many

    path = tmp_path / "x.md"
    path.write_text(header(BASE[0], "publishedDateTime: 1900-01-01T00:00:00Z", BASE[2],
                           "updatedDateTime: 2999-12-31T23:59:59Z", "related:",
                           '  - title: "R"', '    webUrl: "https://e.com/r"',
                           "    publishedDateTime: 0001-01-01", "    quality: 10000000000"))
    entry, = load_many([SourceFile(str(path), "x.md")], LoadSettings("UTC", 1 << 20), {})
    story = entry.result.item
    assert story is not None, entry.result.problems
    assert (story.published_at.year, story.updated_at.year) == (1900, 2999)
    assert story.related[0].published_at is None and story.related[0].quality == 0


@pytest.mark.parametrize("url", BAD_URLS)
def test_source_url_must_be_http(make_site, capsys, url):
    site = make_site({"content/x.md": header(BASE[0], BASE[1], f'webUrl: "{url}"')}, SETTINGS)
    assert site.build() == 1
    assert "x.md:4: webUrl: not an http(s) URL" in capsys.readouterr().err


@pytest.mark.parametrize("url", BAD_URLS)
def test_unsafe_optional_links_are_dropped_with_a_warning(make_site, capsys, url):
    text = header(*BASE, f'ampWebUrl: "{url}"', "related:", '  - title: "Other"',
                  f'    webUrl: "{url}"', "images:", f'  - url: "{url}"')
    site = make_site({"content/x.md": text}, SETTINGS)
    assert site.build() == 0
    err = capsys.readouterr().err
    assert "ampWebUrl: not an http(s) URL; link dropped" in err
    assert "related[0]: needs a title and an http(s) webUrl; dropped" in err
    page = (site.public / "news/2026/10/02/x/index.html").read_text().lower()
    for scheme in ("javascript:", "vbscript:", "data:text", "file:", "evil.example"):
        assert scheme not in page


def test_binary_and_latin1_files(make_site, capsys):
    site = make_site({"content/png.md": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
                      "content/latin.md": header(*BASE).encode() + "café".encode("latin-1")},
                     SETTINGS)
    assert site.build() == 1
    err = capsys.readouterr().err
    assert "png.md: binary file" in err
    assert "latin.md: not valid UTF-8 at byte" in err


def test_oversized_file_is_refused_before_reading(make_site, capsys):
    site = make_site({"content/huge.md": header(*BASE) + "x" * 1_100_000}, SETTINGS)
    assert site.build() == 1
    assert "huge.md: file too large (1.1 MB > limit 1.0 MB)" in capsys.readouterr().err


def test_python_tag_has_no_side_effect(make_site, tmp_path):
    marker = tmp_path / "pwned"
    site = make_site({"content/x.md": header(
        *BASE, f"x: !!python/object/apply:os.system [touch {marker}]")}, SETTINGS)
    site.build()
    assert not marker.exists()


def test_mixed_date_shapes_sort_without_error(make_site):
    files = {
        "content/a.md": header('title: "Aware"', "publishedDateTime: 2026-10-01T10:00:00Z",
                               'webUrl: "https://e.com/a"'),
        "content/b.md": header('title: "Offset"', "publishedDateTime: 2026-10-01T08:00:00-07:00",
                               'webUrl: "https://e.com/b"'),
        "content/c.md": header('title: "Naive"', "publishedDateTime: 2026-10-01T12:00:00",
                               'webUrl: "https://e.com/c"'),
        "content/d.md": header('title: "Date"', "publishedDateTime: 2026-10-02",
                               'webUrl: "https://e.com/d"'),
        "content/e.md": header('title: "Quoted"', 'publishedDateTime: "2026-09-30T10:00:00Z"',
                               'webUrl: "https://e.com/e"'),
        "content/f.md": header('title: "Epoch"', "publishedDateTime: 1790000000",
                               'webUrl: "https://e.com/f"'),
    }
    site = make_site(files, SETTINGS)
    assert site.build() == 0
    titles = site.html("archive/2026/10/").xpath("//li[@class='row']/a/text()")
    assert titles == ["Date", "Offset", "Naive", "Aware"]


def test_topics_as_a_string_become_a_list_with_a_warning(make_site, capsys):
    site = make_site({"content/x.md": header(*BASE, "topics: AI")}, SETTINGS)
    assert site.build() == 0
    assert "x.md:5: topics: expected a list, got one name; read as ['AI']" in \
        capsys.readouterr().err
    assert (site.public / "topics/ai/index.html").exists()
    assert not (site.public / "topics/a").exists()


@pytest.mark.parametrize("name, slug", [
    ("..", None), (".", None), ("", None), ("/", None), ("../../etc", "etc"), ("AI/ML", "ai-ml"),
    ("C++", "c-plus-plus"), ("C#", "c-sharp"), ("🤖", None), ("日本語", None), ("CON", "con"),
    ("x" * 300, "x" * 80),
])
def test_any_topic_name_gets_a_safe_slug(make_site, name, slug):
    site = make_site({"content/x.md": header(*BASE, "topics:", f'  - "{name}"', '  - "Other"')},
                     SETTINGS)
    assert site.build() == 0
    folders = [p.name for p in (site.public / "topics").iterdir() if p.is_dir()]
    for folder in folders:
        assert (site.public / "topics" / folder).resolve().is_relative_to(site.public.resolve())
    if name.strip(" /.") == "" and name != "../../etc":
        return  # an empty name is dropped, or a '.'/'/' only name gets a hash slug
    expected = slug or next(f for f in folders if f.startswith("t-"))
    assert expected in folders


def test_slug_collisions_get_a_suffix_and_a_warning(make_site, capsys):
    site = make_site({"content/x.md": header(*BASE, "topics:", '  - "AI ML"', '  - "AI/ML"')},
                     SETTINGS)
    assert site.build() == 0
    assert (site.public / "topics/ai-ml").is_dir() and (site.public / "topics/ai-ml-2").is_dir()
    assert "slug 'ai-ml' already used" in capsys.readouterr().err


def test_same_source_url_keeps_the_newest_and_the_older_url_sends_readers_to_it(
        make_site, capsys):
    site = make_site({
        "content/a.md": item("Older", "2026-10-01T10:00:00Z", "https://example.com/same"),
        "content/b.md": item("Newer", "2026-10-02T10:00:00Z", "https://example.com/same"),
    }, SETTINGS)
    assert site.build() == 0
    assert "1 duplicate merged" in capsys.readouterr().out
    older = site.html("news/2026/10/01/a/")
    refresh = older.xpath("//meta[@http-equiv='refresh']/@content")
    assert refresh and refresh[0].endswith("url=/news/2026/10/02/b/")
    assert not older.xpath("//article")  # a page that sends readers on, not a second copy
    report = (site.public / "_report/index.html").read_text(encoding="utf-8")
    assert "b.md &lt;- a.md" in report or "b.md <- a.md" in report


def test_two_items_on_one_url_is_an_error_naming_both(make_site, capsys):
    site = make_site({
        "content/2026-10-01-same.md": item("One", "2026-10-01T10:00:00Z", "https://e.com/1"),
        "content/other/2026-10-01-same.md": item("Two", "2026-10-01T11:00:00Z", "https://e.com/2"),
    }, SETTINGS)
    assert site.build() == 1
    err = capsys.readouterr().err
    assert "2026-10-01-same.md" in err and "other/2026-10-01-same.md" in err
    assert "same URL /news/2026/10/01/same/" in err


def test_editor_junk_is_ignored_silently(make_site, capsys):
    site = make_site({"content/good.md": GOOD, "content/.#good.md": "lock",
                      "content/good.md~": "backup", "content/.good.md.swp": b"\x00\x01",
                      "content/.DS_Store": b"\x00"}, SETTINGS)
    assert site.build() == 0
    assert capsys.readouterr().err == ""


def test_xss_in_fields_is_escaped_everywhere(make_site):
    evil = '<script>alert(1)</script>"><img src=x onerror=alert(2)>{{7*7}}'
    text = header(f"title: {json.dumps(evil)}", *BASE[1:], f"excerpt: {json.dumps(evil)}",
                  "provider:", f"  name: {json.dumps(evil)}", "  domain: e.com")
    site = make_site({"content/x.md": text}, SETTINGS)
    assert site.build() == 0
    for page in site.public.rglob("*"):
        if page.suffix in (".html", ".xml"):
            data = page.read_text()
            assert "<script>alert" not in data, page
            assert "<img src=x" not in data, page
    # JSON carries the title as data: exactly the text, for the reader to escape.
    feed = json.loads((site.public / "feed.json").read_text())
    assert feed["items"][0]["title"] == evil
    assert "{{7*7}}" in (site.public / "news/2026/10/02/x/index.html").read_text()


def test_body_html_is_sanitized(make_site):
    body = ('<script>alert(1)</script>\n\n<img src="x.png" onerror="alert(2)">\n\n'
            "[click](javascript:alert(3)) [entity](&#106;avascript:alert(4))\n\n"
            '<iframe src="https://evil.example"></iframe>\n\n[ok](https://example.com)\n')
    site = make_site({"content/x.md": header(*BASE) + body}, SETTINGS)
    assert site.build() == 0
    story = site.html("news/2026/10/02/x/").xpath("//div[contains(@class,'story-body')]")[0]
    html = lxml_text(story)
    assert "<script" not in html and "onerror" not in html and "<iframe" not in html
    assert "javascript:" not in html.lower()
    assert story.xpath(".//a[@href='https://example.com']/@rel") == ["noopener noreferrer"]


def lxml_text(element) -> str:
    import lxml.html

    return lxml.html.tostring(element, encoding="unicode")


def test_secured_never_reaches_the_output(make_site):
    site = make_site({"content/x.md": header(*BASE, 'secured: "TOPSECRETBLOB=="')}, SETTINGS)
    assert site.build() == 0
    for page in site.public.rglob("*"):
        if page.is_file():
            assert b"TOPSECRETBLOB" not in page.read_bytes(), page


def test_featured_content_from_unknown_hosts_is_dropped(make_site, capsys):
    embeds = ['<iframe src="https://www.youtube.com.evil.example/embed/dQ8x1vKkZ2A"></iframe>',
              '<iframe src="https://www.youtube.com@evil.example/embed/dQ8x1vKkZ2A"></iframe>',
              '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
              '<iframe src="https://www.youtube.com/embed/dQ8x1vKkZ2A"></iframe><script></script>']
    files = {f"content/v{n}.md": header(
        'title: "V"', "publishedDateTime: 2026-10-02T10:00:00Z", f'webUrl: "https://e.com/{n}"',
        "type: video", f"featuredContent: '{embed}'") for n, embed in enumerate(embeds)}
    site = make_site(files, SETTINGS)
    assert site.build() == 0
    err = capsys.readouterr().err
    assert err.count("featuredContent:") == 4 and "embed dropped" in err
    for page in site.public.rglob("*.html"):
        assert "evil.example" not in page.read_text()
