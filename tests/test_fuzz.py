"""Property-based: any front matter and any Markdown either builds safely or is reported."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import lxml.html
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsdigest.config import load_config
from newsdigest.errors import ContentInvalid
from newsdigest.pipeline import BuildOptions, build_site

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
          "related", "slug", "tags", "price", "updatedDateTime"]
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
