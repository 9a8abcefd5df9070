"""Property-based: any front matter and any Markdown either builds safely or is reported."""

from __future__ import annotations

import json
import os
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import lxml.html
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsdigest.build.pipeline import BuildOptions, build_site
from newsdigest.config.site import load_config
from newsdigest.errors import ContentInvalid

# The default run stays quick; CI can ask for more with HYPOTHESIS_PROFILE=ci.
settings.register_profile("default", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                 HealthCheck.too_slow])
settings.register_profile("ci", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                 HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

HOSTILE = st.sampled_from([
    "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "javascript:alert(1)",
    "{{7*7}}", "{% raw %}", "</script>", "\x00", "\u202e", "🤖", "../../etc/passwd", "C++",
    "data:text/html,<b>x</b>", "<iframe src=//evil.example>", "&#106;avascript:x", "\r\n",
])
TEXT = st.one_of(st.text(max_size=60), HOSTILE)
SCALAR = st.one_of(TEXT, st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                   st.booleans(), st.none())
VALUE = st.recursive(SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)
FIELDS = ["title", "excerpt", "publishedDateTime", "webUrl", "originalUrl", "type", "quality",
          "heat", "published", "provider", "topics", "images", "featuredContent", "length",
          "related", "slug", "tags", "price", "updatedDateTime", "why", "kind", "discussion",
          "readingMinutes", "story"]
FRONT_MATTER = st.dictionaries(st.one_of(st.sampled_from(FIELDS), TEXT), VALUE, max_size=10)
MARKDOWN = st.lists(st.one_of(TEXT, st.sampled_from([
    "[x](javascript:alert(1))", "<a href='javascript:x' onclick='y'>a</a>", "<style>*{}</style>",
    "![i](x.png)", "<svg onload=alert(1)>", "```\ncode\n```", "> quote", "| a |\n|---|\n| b |",
])), max_size=6).map("\n\n".join)
VALID = {"title": "Valid", "publishedDateTime": "2026-10-01T10:00:00Z",
         "webUrl": "https://example.com/v"}
ON_ATTRIBUTE = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


def check_output(public: Path) -> None:
    theme_scripts = {"/js/site.js", "/js/search.js"}
    for page in public.rglob("*"):
        assert page.resolve().is_relative_to(public.resolve())
        if page.suffix != ".html":
            continue
        text = page.read_text()
        tree = lxml.html.fromstring(text)
        for script in tree.iter("script"):
            assert script.get("src") in theme_scripts or \
                script.get("type") == "application/ld+json", page
            if script.get("type") == "application/ld+json":
                json.loads(script.text)  # still valid JSON: nothing broke out of it
        assert not ON_ATTRIBUTE.search(text), page
        for href in tree.xpath("//@href | //@src"):
            assert not href.strip().lower().startswith(("javascript:", "data:", "vbscript:"))


@given(front=FRONT_MATTER, body=MARKDOWN, keep_valid=st.booleans())
def test_random_items_build_safely_or_are_reported(tmp_path_factory, front, body, keep_valid):
    root = tmp_path_factory.mktemp("fuzz")
    (root / "content").mkdir()
    data = {**front, **VALID} if keep_valid else front
    text = "---\n" + json.dumps(data, ensure_ascii=False, default=str) + "\n---\n" + body
    (root / "content" / "item.md").write_text(text, encoding="utf-8", errors="surrogatepass")
    (root / "site.toml").write_text('[site]\nbase_url = "https://f.example/"\n')
    config = load_config(root / "site.toml")
    try:
        build_site(config, BuildOptions(workers=1, search=False, offline=True, use_cache=False))
    except ContentInvalid as exc:
        assert exc.problems and all(p.path == "item.md" for p in exc.problems)
        assert not (root / "public").exists()  # nothing written
        return
    check_output(root / "public")


# Numbers and dates at their limits, as YAML writes them: Python's 4,300-digit cap on int(),
# the first and last dates it has (an offset alone moves them past), floats that overflow.
BIG = ["9" * 4400, "-" + "9" * 4400, "0x" + "f" * 4000, str(2**63), str(2**63 - 1),
       str(-2**63), "1.0e+400", "-1.0e+400", ".inf", "-.inf", ".nan", "0o777", "1:30:00",
       "1_000", '"' + "9" * 5000 + '"', '"-1"', "10000000000", "1000000000"]
NUMBER = st.one_of(st.sampled_from(BIG), st.integers(-10**20, 10**20).map(str),
                   st.floats(allow_nan=True, allow_infinity=True).map(repr))
OFFSET = st.timedeltas(min_value=-timedelta(hours=23, minutes=59),
                       max_value=timedelta(hours=23, minutes=59)).map(timezone)
DATE = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59),
                 timezones=st.one_of(st.none(), OFFSET)).map(datetime.isoformat),
    st.dates().map(date.isoformat),
    st.sampled_from(["0001-01-01", "9999-12-31", "9999-12-31T23:00:00-05:00",
                     "0001-01-01T00:00:00+01:00", "1899-12-31T23:59:59Z", "1900-01-01",
                     "2999-12-31T23:59:59-12:00", "3000-01-01"]),
    NUMBER,
)


# Each field at a limit or ordinary, so that examples with every value usable build too.
ORDINARY_DATE = st.one_of(DATE, st.just("2026-10-01T10:00:00Z"))
ORDINARY_NUMBER = st.one_of(NUMBER, st.just("7"))


@given(published=ORDINARY_DATE, updated=ORDINARY_DATE, related_date=DATE,
       quality=ORDINARY_NUMBER, heat=ORDINARY_NUMBER, width=NUMBER, length=NUMBER,
       zone=st.sampled_from(["UTC", "Pacific/Kiritimati", "Etc/GMT+12", "America/New_York"]))
@settings(max_examples=int(os.environ.get("FUZZ_LIMITS_EXAMPLES", "40")))
def test_numbers_and_dates_at_their_limits_build_or_are_one_located_problem(
        tmp_path_factory, published, updated, related_date, quality, heat, width, length, zone):
    root = tmp_path_factory.mktemp("limits")
    (root / "content").mkdir()
    lines = ['title: "Limits"', f"publishedDateTime: {published}", 'webUrl: "https://e.com/l"',
             f"updatedDateTime: {updated}", f"quality: {quality}", f"heat: {heat}",
             f'length: "PT{length.strip(chr(34))}S"', "type: video",
             "provider:", "  name: E", "  domain: e.com",
             "images:", '  - url: "https://e.com/i.jpg"', f"    width: {width}",
             "related:", '  - title: "R"', '    webUrl: "https://e.com/r"',
             f"    publishedDateTime: {related_date}", f"    quality: {quality}",
             f"readingMinutes: {width}", f"discussion: [{length}]"]
    (root / "content" / "item.md").write_text("---\n" + "\n".join(lines) + "\n---\n")
    (root / "site.toml").write_text(f'[site]\nbase_url = "https://f.example/"\n'
                                    f'timezone = "{zone}"\n')
    config = load_config(root / "site.toml")
    try:
        build_site(config, BuildOptions(workers=1, search=False, offline=True, use_cache=False,
                                        future=True, report=False))
    except ContentInvalid as exc:
        for problem in exc.problems:  # each names the file, the line and the field
            assert problem.path == "item.md" and problem.field and problem.line, problem
        assert not (root / "public").exists()
        return
    check_output(root / "public")
