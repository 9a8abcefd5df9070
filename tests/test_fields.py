"""Front matter fields the format does not know, topics site.toml does not declare, and
build.strict: a misspelt field or topic is named, never dropped without a word."""

from __future__ import annotations

import pytest
from conftest import SEED, item

from newsdigest.config.rules import NearNames

SETTINGS = '[site]\ntitle = "Fields"\nbase_url = "https://fields.example/"\n'
TOPICS = '[topics."Machine Learning"]\n[topics."AI"]\n[topics."Computer Vision"]\n'
STRICT = "[build]\nstrict = true\n"


def header(*lines: str) -> str:
    return "\n".join(["---", *lines, "---", ""])


BASE = ['title: "T"', "publishedDateTime: 2026-10-02T10:00:00Z", 'webUrl: "https://e.com/x"',
        "provider:", "  name: Example", "  domain: example.com"]


def tree(folder) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_misspelt_fields_are_named_with_the_nearest_known_one(make_site, capsys):
    text = header(*BASE, "publised: false", 'exerpt: "Lost"', "toppics: [AI]", "qualty: 90",
                  "images:", '  - url: "https://e.com/i.jpg"', "    widht: 100",
                  "related:", '  - titel: "Other"', '    webUrl: "https://e.com/o"',
                  "author: someone")
    text = text.replace("  name: Example", "  nmae: Example")
    site = make_site({"content/x.md": text}, SETTINGS)
    assert site.build() == 0
    err = capsys.readouterr().err
    for line in ["x.md:8: publised: unknown field; did you mean published?",
                 "x.md:9: exerpt: unknown field; did you mean excerpt?",
                 "x.md:10: toppics: unknown field; did you mean topics?",
                 "x.md:11: qualty: unknown field; did you mean quality?",
                 "x.md:6: provider.nmae: unknown field; did you mean provider.name?",
                 "x.md:14: images[0].widht: unknown field; did you mean images[0].width?",
                 "x.md:16: related[0].titel: unknown field; did you mean related[0].title?",
                 "x.md:18: author: unknown field; ignored"]:
        assert f"warning: {line}\n" in err, err
    assert "Traceback" not in err


def test_known_fields_give_no_warning(make_site, capsys):
    site = make_site({"content/seed.txt": SEED.read_text()}, SETTINGS)
    assert site.build() == 0
    assert "unknown field" not in capsys.readouterr().err


def test_a_topic_one_edit_from_a_declared_one_is_named(make_site, capsys):
    text = header(*BASE, "topics:", '  - "Machine Leaning"', '  - "ai"', '  - "Robotics"',
                  '  - "Computer Visoin"', '  - "AI Policy"')
    site = make_site({"content/x.md": text}, SETTINGS + TOPICS)
    assert site.build() == 0
    err = capsys.readouterr().err
    assert ("x.md:9: topics[0]: topic 'Machine Leaning' is not declared in site.toml; did you "
            "mean 'Machine Learning'?") in err
    assert ("x.md:12: topics[3]: topic 'Computer Visoin' is not declared in site.toml; did you "
            "mean 'Computer Vision'?") in err
    assert err.count("is not declared") == 2  # 'ai' is 'AI'; Robotics and AI Policy are new


@pytest.mark.parametrize("name, declared", [
    ("machine leaning", "Machine Learning"),  # a letter left out
    ("machine learnning", "Machine Learning"),  # one added
    ("machine lezrning", "Machine Learning"),  # one changed
    ("machine elarning", "Machine Learning"),  # two swapped
    ("machine learning", None),  # declared itself
    ("machine lear", None),  # four edits
    ("ai policy", None),
    ("ar", None),  # short names one edit apart are other words: AI, AR, VR
])
def test_near_names(name, declared):
    assert NearNames(("Machine Learning", "AI", "Robotics")).near(name) == declared


def test_strict_makes_every_warning_an_error_and_writes_nothing(make_site, capsys):
    site = make_site({"content/good.md": item("Good", "2026-10-01T10:00:00Z",
                                              "https://e.com/good")}, SETTINGS)
    assert site.build() == 0
    before = tree(site.public)
    site.write("content/x.md", header(*BASE, "publised: false"))
    site.write("site.toml", SETTINGS + STRICT)
    capsys.readouterr()
    assert site.build() == 1
    err = capsys.readouterr().err
    assert ("x.md:8: publised: unknown field; did you mean published? (an error with "
            "build.strict = true)") in err
    assert "Traceback" not in err
    assert tree(site.public) == before
    # --skip-invalid leaves the item out, as for any other error
    assert site.build("--skip-invalid") == 0
    assert "skipped: x.md:8: publised" in capsys.readouterr().err
    assert not (site.public / "news/2026/10/02/x").exists()


def test_strict_fails_on_warnings_about_the_site_too(make_site, capsys, tmp_path):
    outside = tmp_path / "outside.md"
    outside.write_text(item("Outside", "2026-10-02T10:00:00Z", "https://e.com/outside"))
    site = make_site({"content/a.md": item("A", "2026-10-01T10:00:00Z", "https://e.com/a")},
                     SETTINGS + STRICT)
    (site.root / "content/link.md").symlink_to(outside)
    # Not about an item --skip-invalid could leave out: the build fails.
    assert site.build("--skip-invalid") == 1
    assert "link.md: symbolic link not followed" in capsys.readouterr().err
    assert not site.public.exists()


def test_the_item_cache_knows_the_declared_topics_and_strict(make_site, capsys):
    # Validation reads both: a cached result made without them would hide the warning.
    text = header(*BASE, "topics:", '  - "Machine Leaning"')
    site = make_site({"content/x.md": text}, SETTINGS)
    assert site.build() == 0
    assert "is not declared" not in capsys.readouterr().err
    site.write("site.toml", SETTINGS + TOPICS)
    assert site.build() == 0
    assert "topic 'Machine Leaning' is not declared" in capsys.readouterr().err
    site.write("site.toml", SETTINGS + TOPICS + STRICT)
    assert site.build() == 1
    assert "topic 'Machine Leaning' is not declared" in capsys.readouterr().err
