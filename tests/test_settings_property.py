"""Never wrong after a settings change: for random pairs of settings A and B, a build with A
followed by a build with B into the same folder (every cache warm) equals a clean build with B,
byte for byte. The compiled-template cache once kept the base URL folded into its code."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import item
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from test_incremental import tree

from newsdigest.build.pipeline import BuildOptions, build_site
from newsdigest.config.site import load_config

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


@dataclass(frozen=True)
class Variant:
    """One choice of settings and build options."""

    base_url: str
    override_base_url: bool  # given as --base-url (and serve) rather than in site.toml
    language: str
    timezone: str
    page_size: int
    title: str
    top_stories: int
    feed_items: int
    weekly: bool
    max_items: int
    topic_description: str
    drafts: bool
    topic_editions: tuple[str, ...] = ()
    sponsors: bool = False  # [digest] sponsors: the sponsored story in feeds and editions
    # [stories]: whether the two outlets' takes on one story are one cluster
    cluster: bool = True
    similarity: float = 0.1

    def site_toml(self) -> str:
        base_url = "https://unused.example/" if self.override_base_url else self.base_url
        return (
            f'[site]\ntitle = "{self.title}"\nbase_url = "{base_url}"\n'
            f'language = "{self.language}"\ntimezone = "{self.timezone}"\n'
            f"page_size = {self.page_size}\ntop_stories = {self.top_stories}\n"
            f"feed_items = {self.feed_items}\n"
            f"[digest]\nweekly = {'true' if self.weekly else 'false'}\n"
            f"max_items = {self.max_items}\n"
            f"topic_editions = {json.dumps(list(self.topic_editions))}\n"
            f"sponsors = {'true' if self.sponsors else 'false'}\n"
            f"[stories]\ncluster = {'true' if self.cluster else 'false'}\n"
            f"similarity = {self.similarity}\n"
            f'[topics."Robotics"]\ndescription = "{self.topic_description}"\n'
        )


variants = st.builds(
    Variant,
    base_url=st.sampled_from(["https://news.example/", "https://news.example/digest/",
                              "http://127.0.0.1:8000/", "https://other.example/a/b/"]),
    override_base_url=st.booleans(),
    language=st.sampled_from(["en", "fr", "de-CH"]),
    timezone=st.sampled_from(["UTC", "America/New_York", "Asia/Tokyo", "Pacific/Kiritimati"]),
    page_size=st.sampled_from([2, 3, 20]),
    title=st.sampled_from(["Test Digest", "Robots & Rockets", "L'Hebdo"]),
    top_stories=st.sampled_from([0, 2, 5]),
    feed_items=st.sampled_from([3, 20]),
    weekly=st.booleans(),
    max_items=st.sampled_from([2, 10]),
    topic_description=st.sampled_from(["Machines that move.", "Robots at work"]),
    drafts=st.booleans(),
    topic_editions=st.sampled_from([(), ("Robotics",), ("robotics", "Computer Vision")]),
    sponsors=st.booleans(),
    cluster=st.booleans(),
    similarity=st.sampled_from([0.1, 0.95]),
)


def write_corpus(root: Path) -> None:
    topics = [("AI",), ("AI", "Robotics"), ("Computer Vision",), ("Robotics", "AI Policy")]
    for n in range(12):
        # Items near midnight UTC change day in other time zones.
        text = item(
            title=f"Story number {n}",
            date=f"2026-10-{n + 1:02d}T{(23 + n * 5) % 24:02d}:30:00Z",
            url=f"https://example.com/story/{n}",
            topics=topics[n % len(topics)],
            body="Some *Markdown* body with [a link](https://example.com/).\n"
            if n % 3 == 0 else "",
            **({"published": "false"} if n == 5 else {}),
            **({"kind": "sponsor"} if n == 7 else {}),
        )
        path = root / "content" / f"2026-10-{n + 1:02d}-story-{n}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    # One story from another outlet in other words: clustered with story 3 unless [stories]
    # says not (cluster = false, or a similarity they do not reach).
    other = item(title="Story number 3 told again by another outlet",
                 date="2026-10-04T09:30:00Z", url="https://other.example/3", topics=("AI",))
    (root / "content" / "2026-10-04-other.md").write_text(
        other.replace("name: Example News", "name: Other Wire"), encoding="utf-8")


def build(root: Path, variant: Variant, output: str, use_cache: bool) -> None:
    (root / "site.toml").write_text(variant.site_toml(), encoding="utf-8")
    config = load_config(root / "site.toml").with_overrides(
        output_dir=str(root / output),
        base_url=variant.base_url if variant.override_base_url else None)
    build_site(config, BuildOptions(now=NOW, workers=1, use_cache=use_cache, search=False,
                                    offline=True, drafts=variant.drafts))


@pytest.mark.slow
# No shrinking: each example is three builds, and the failing pair is plain enough as found.
@settings(max_examples=8, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(first=variants, second=variants)
def test_a_settings_change_builds_what_a_clean_build_does(tmp_path: Path, first: Variant,
                                                          second: Variant) -> None:
    root = tmp_path / "site"
    shutil.rmtree(root, ignore_errors=True)
    write_corpus(root)
    build(root, first, "public", use_cache=True)
    build(root, second, "public", use_cache=True)
    build(root, second, "clean", use_cache=False)
    warm, clean = tree(root / "public"), tree(root / "clean")
    assert warm.keys() == clean.keys()
    assert [path for path in warm if warm[path] != clean[path]] == []


def test_base_url_path_reaches_every_link_after_a_warm_build(tmp_path: Path) -> None:
    """The case users met: build at the root, then with a path; the stylesheet, brand link and
    navigation of every page take the path like the cards do."""
    root = tmp_path / "site"
    write_corpus(root)
    at_root = Variant("https://news.example/", False, "en", "UTC", 3, "T", 2, 20, True, 10,
                      "d", False)
    with_path = Variant("https://news.example/digest/", True, "en", "UTC", 3, "T", 2, 20, True,
                        10, "d", False)
    build(root, at_root, "public", use_cache=True)
    build(root, with_path, "public", use_cache=True)
    home = (root / "public" / "index.html").read_text(encoding="utf-8")
    assert 'href="/digest/css/' in home
    assert 'href="/css/' not in home
