"""The fast path of the URL check gives exactly what the general (urllib) check gives."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsdigest.content.model import check_url, parse_url


def reference(value: str) -> str | None:
    return parse_url(value.strip())


URL_PIECES = st.lists(st.sampled_from([
    "http://", "https://", "HTTPS://", "ftp://", "javascript:", "a", "B", "0", "-", ".", "..",
    "/", "//", "?", "??", "#", "##", "=", "&", "%20", "%", ":", ":80", ":99999", "@", "u:p@",
    "[", "]", "[::1]", " ", "\t", "\n", "\x7f", "é", "ü.example", "example.org", "www.",
]), max_size=10).map("".join)


@given(st.one_of(
    URL_PIECES,
    st.tuples(st.sampled_from(["https://", "http://"]), URL_PIECES).map("".join),
    st.text(max_size=40),
))
def test_fast_path_agrees_with_the_general_check(value: str) -> None:
    assert check_url(value) == reference(value)


@pytest.mark.parametrize("value, expected", [
    ("https://example.org", "https://example.org/"),
    ("https://example.org?x=1", "https://example.org/?x=1"),
    ("https://example.org/a?", "https://example.org/a"),
    ("https://example.org/a#", "https://example.org/a"),
    ("HTTPS://Example.ORG/A", "https://example.org/A"),
    ("https://user:secret@example.org/", None),
    ("https://example.org:99999/", None),
    ("javascript:alert(1)", None),
    ("https://exa mple.org/", None),
])
def test_examples(value: str, expected: str | None) -> None:
    assert check_url(value) == expected
