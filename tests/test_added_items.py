"""Added items patched into the kept site state (build/kept_state.py `_add`): after every add,
the site is a clean build's, byte for byte; where the add reshapes more than its own story,
the build groups everything again (or fails exactly as a clean build does)."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from conftest import item
from test_incremental import NOW, SETTINGS, assert_same_as_clean_build, build, corpus, edit

from newsdigest.build.gather import WarmState
from newsdigest.build.pipeline import BuildOptions, build_site
from newsdigest.config.site import load_config

ADDED = "2026-10-20-added.md"

HIERARCHY = """\
[topics."Robotics"]
parent = "AI"
description = "Machines that move."
[topics."AI Policy"]
parent = "AI"
display_name = "AI policy & law"
[topics."Quantum"]
description = "Declared, used by no item yet."
"""


def added(title: str = "An added story", date: str = "2026-10-20T09:00:00Z",
          url: str = "https://example.com/added", **fields) -> str:
    return item(title=title, date=date, url=url, **fields)


def other_outlet(text: str) -> str:
    return text.replace("name: Example News", "name: Other Wire").replace(
        "domain: example.com", "domain: other.example")


def small_corpus() -> dict[str, str]:
    return dict(list(corpus().items())[:8])


FEATURES = HIERARCHY + """\
[digest]
weekly = true
sponsors = true
topic_editions = ["AI", "robotics"]
[images]
generic_threshold = 2
"""
PICTURED = added(title="A pictured story", date="2026-10-02T09:00:00Z",
                 url="https://example.com/p",
                 images='[{url: "https://img.example/shared.jpg", width: 1200, height: 630}]')
LOGO = '  domain: example.com\n  images:\n    - url: "https://img.example/mark.png"\n' \
       "      width: 64\n      height: 64"

# One after another into one site (each add is checked, then kept for the next): added text
# and whether it is patched in (False: grouped again, as it reshapes more than its story).
ADDS = [
    # topic hierarchies: a child topic's item is in its parents' lists too
    (added(topics=("Robotics",)), True),
    (added(topics=("AI",)), True),
    (added(topics=("Robotics", "AI", "Computer Vision")), True),
    (added(topics=("ai policy",)), True),  # another spelling of a topic with a display name
    (added(topics=("Quantum",)), False),  # declared in site.toml, in no item yet
    # kinds and the story's own extras
    (added(kind="sponsor", topics=("Robotics",)), True),
    (added(story="alone"), False),
    (added(why='"It matters."', discussion='["https://lobste.rs/s/x"]', readingMinutes="4",
           digest="pin", date="2026-10-02T11:00:00Z", topics=()), True),
    (added(date="2025-06-30T23:30:00Z"), True),  # a month and year of their own
    # the future edge: 5 minutes after the build's time is in, a second later is not
    (added(date="2026-11-20T00:05:00Z"), True),
    # pictures: one another item shows (now generic), a provider's logo, a missing file
    (added(images='[{url: "https://img.example/shared.jpg", width: 1200, height: 630}]'),
     False),
    (added(images='[{url: "img/missing.png", width: 1200, height: 630}]').replace(
        "  domain: example.com", LOGO), True),
    # story clusters: another outlet's take on a story joins it; on another story it does not
    (other_outlet(added(title="Story number 4 told again by another outlet",
                        date="2026-10-05T14:00:00Z")), False),
    (other_outlet(added(title="Quantum annealers reach a thousand qubits")), True),
]


def test_adds_one_after_another_build_like_clean_builds(make_site, tmp_path):
    site = make_site({**small_corpus(), "content/2026-10-02-pictured.md": PICTURED,
                      "content/digests/2026-10-20.md": "---\ntitle: Note\n---\nA note.\n"},
                     SETTINGS + FEATURES)
    build(site)
    for n, (text, patched) in enumerate(ADDS):
        rel = f"2026-10-20-added-{n:02d}.md"
        site.write(f"content/{rel}", text.replace("https://example.com/added",
                                                  f"https://example.com/added/{n}"))
        report = build(site)
        assert (report.patched == [rel]) is patched, (n, report.patched)
        with pytest.raises(ChildProcessError):  # every child waited for, the clusters'
            os.waitpid(-1, os.WNOHANG)  # check too (it sends their inputs to the state's)
        assert_same_as_clean_build(site, tmp_path / f"added-{n}")
    # the kept state holds them all: an edit after is patched alone
    edit(site, "2026-10-08-story-7.md", "Story number 7", "Story number seven")
    assert build(site).patched == ["2026-10-08-story-7.md"]
    assert_same_as_clean_build(site, tmp_path / "edited")



def test_a_command_line_build_does_not_wait_for_its_kept_state(make_site, tmp_path,
                                                               monkeypatch):
    # The command line's process ends with the build (`keep_alive` given): after an add,
    # the kept state is written by a process it leaves to finish, which holds the state's
    # lock; the next build waits for it and patches the state it wrote, and `clean` waits
    # before removing the cache (the writer would make it again).
    import time

    from newsdigest.build import kept_state
    from newsdigest.cli import main

    site = make_site(small_corpus(), SETTINGS)
    build(site)
    real_save = kept_state._save

    def slow_save(*args, **kwargs):
        time.sleep(0.5)
        real_save(*args, **kwargs)

    monkeypatch.setattr(kept_state, "_save", slow_save)
    config = load_config(site.root / "site.toml")

    def command_line_build():
        return build_site(config, BuildOptions(now=NOW, workers=1, search=False, offline=True),
                          keep_alive=[])

    site.write("content/2026-10-20-added.md", added(url="https://example.com/added/0"))
    started = time.monotonic()
    assert command_line_build().patched == ["2026-10-20-added.md"]
    assert time.monotonic() - started < 0.5  # not waited for
    edit(site, "2026-10-08-story-7.md", "Story number 7", "Story number seven")
    assert command_line_build().patched == ["2026-10-08-story-7.md"]  # the added one's state
    assert_same_as_clean_build(site, tmp_path / "edited")
    site.write("content/2026-10-21-added.md", added(title="Another added story",
                                                    date="2026-10-21T09:00:00Z",
                                                    url="https://example.com/added/1"))
    # (the edit still patched in: a state patched with edits alone is not kept again)
    assert command_line_build().patched == ["2026-10-08-story-7.md", "2026-10-21-added.md"]
    assert main(["clean", "--config", str(site.root / "site.toml")]) == 0
    time.sleep(0.6)
    assert not config.cache_dir.exists()


def test_adds_kept_by_this_process_when_no_child_can_keep_them(make_site, tmp_path,
                                                                monkeypatch):
    # The clusters' check sends their new inputs to the process that keeps the state: this
    # one, when it could not fork one (parallel.InChild gives no answer).
    from newsdigest import parallel

    class Unforked(parallel.InChild):
        def __init__(self, task) -> None:
            self._pid, self._pipe = 0, -1

    site = make_site(small_corpus(), SETTINGS)
    build(site)
    monkeypatch.setattr(parallel, "InChild", Unforked)
    for n in range(2):
        rel = f"2026-10-2{n}-added.md"
        site.write(f"content/{rel}", added(title=f"Added story {n}",
                                           date=f"2026-10-2{n}T09:00:00Z",
                                           url=f"https://example.com/added/{n}"))
        assert build(site).patched == [rel]
        with pytest.raises(ChildProcessError):
            os.waitpid(-1, os.WNOHANG)
        assert_same_as_clean_build(site, tmp_path / f"added-{n}")


def test_a_sponsored_item_added_or_edited_in_place_stays_out_of_the_feeds(make_site, tmp_path):
    # The feeds know which stories are sponsored from what the kept state holds of every
    # item (gather.ItemFacets), not from the items: an added sponsor must join that.
    import feedparser

    site = make_site(small_corpus(), SETTINGS)  # [digest] sponsors = false, as by default
    build(site)
    rel = "2026-10-20-sponsor.md"
    site.write(f"content/{rel}", added(title="A word from our sponsor", kind="sponsor",
                                       url="https://example.com/sponsor"))
    assert build(site).patched == [rel]
    assert_same_as_clean_build(site, tmp_path / "added")
    edit(site, rel, "A word from our sponsor", "Another word from our sponsor")
    assert build(site).patched == [rel]
    assert_same_as_clean_build(site, tmp_path / "edited")
    titles = [e.title for e in feedparser.parse((site.public / "feed.xml").read_bytes()).entries]
    assert titles and not [t for t in titles if "sponsor" in t]


@pytest.mark.parametrize(("options", "text", "patched"), [
    ({"drafts": True}, added(), True),
    ({"drafts": True}, added(published="false"), False),
    ({"future": True}, added(date="2026-12-01T09:00:00Z"), False),
    ({"skip_invalid": True}, added(quality="lots"), False),
])
def test_adds_in_builds_with_drafts_future_items_or_invalid_ones(make_site, tmp_path, options,
                                                                  text, patched):
    files = small_corpus()
    files["content/2026-10-03-draft.md"] = added(title="A draft", url="https://example.com/d",
                                                 published="false")
    files["content/2026-10-04-bad.md"] = added(title="Bad", url="https://example.com/bad",
                                               heat="very")
    if not options.get("skip_invalid"):
        del files["content/2026-10-04-bad.md"]
    site = make_site(files, SETTINGS)
    build(site, **options)
    site.write(f"content/{ADDED}", text)
    assert (build(site, **options).patched == [ADDED]) is patched
    assert_same_as_clean_build(site, tmp_path / "added", **options)


def test_an_add_near_midnight_in_the_sites_time_zone(make_site, tmp_path):
    site = make_site(small_corpus(), SETTINGS + 'timezone = "America/New_York"\n')
    build(site)
    # the 19th in New York: that day's page, archive and edition
    site.write(f"content/{ADDED}", added(date="2026-10-20T02:30:00Z"))
    assert build(site).patched == [ADDED]
    assert_same_as_clean_build(site, tmp_path / "added")
    assert (site.public / "news/2026/10/19/added/index.html").is_file()


def test_an_added_item_with_a_local_picture(make_site, tmp_path):
    from PIL import Image

    site = make_site(small_corpus(), SETTINGS)
    Image.new("RGB", (1200, 630), (200, 30, 40)).save(site.root / "content/picture.png")
    build(site)
    site.write(f"content/{ADDED}", added(
        images='[{url: "picture.png", width: 1200, height: 630}]'))
    assert build(site).patched == [ADDED]
    assert_same_as_clean_build(site, tmp_path / "added")
    # its thumbnails changed the image cache's index: the state kept with it says so, and
    # the next build patches an edit into it instead of doing it all again
    rel = next(p.name for p in sorted((site.root / "content").glob("*.md")) if p.name != ADDED)
    path = site.root / "content" / rel
    path.write_text(path.read_text().replace('title: "', 'title: "Edited ', 1))
    assert build(site).patched == [rel]
    assert_same_as_clean_build(site, tmp_path / "edited")


def test_added_edited_and_removed_in_one_build(make_site, tmp_path):
    site = make_site(small_corpus(), SETTINGS + HIERARCHY)
    build(site)
    # added and edited together: both patched
    site.write(f"content/{ADDED}", added(topics=("Robotics",)))
    edit(site, "2026-10-05-story-4.md", "Story number 4", "Story number four")
    assert sorted(build(site).patched or ()) == ["2026-10-05-story-4.md", ADDED]
    assert_same_as_clean_build(site, tmp_path / "both")
    # an edit of the added item, another add and a removal: grouped again
    edit(site, ADDED, "An added story", "An added story, corrected")
    site.write("content/2026-10-21-more.md", added(title="One more", url="https://example.com/m",
                                                   date="2026-10-21T09:00:00Z"))
    (site.root / "content/2026-10-03-story-2.md").unlink()
    assert build(site).patched is None
    assert_same_as_clean_build(site, tmp_path / "removed")
    # the added item edited after it was kept: patched as an edit
    edit(site, ADDED, "corrected", "corrected twice")
    assert build(site).patched == [ADDED]
    assert_same_as_clean_build(site, tmp_path / "edited")


def test_an_add_after_the_kept_state_is_lost_builds_like_a_clean_build(make_site, tmp_path):
    site = make_site(small_corpus(), SETTINGS)
    build(site)
    for n, damage in enumerate(["deleted", "truncated", "emptied"]):
        site.write(f"content/2026-10-2{n}-first-{n}.md", added(
            title=f"First {n}", url=f"https://example.com/first/{n}"))
        assert build(site).patched == [f"2026-10-2{n}-first-{n}.md"]
        (state,) = (site.root / ".cache").glob("*.state")
        kept = state.read_bytes()
        if damage == "deleted":
            state.unlink()
        else:
            state.write_bytes(kept[:len(kept) // 2] if damage == "truncated" else b"")
        site.write(f"content/2026-10-2{n}-second-{n}.md", added(
            title=f"Second {n}", url=f"https://example.com/second/{n}"))
        assert build(site).patched is None, damage
        assert_same_as_clean_build(site, tmp_path / damage)


def test_an_add_then_a_settings_change_or_a_build_without_the_cache(make_site, tmp_path):
    site = make_site(small_corpus(), SETTINGS)
    build(site)
    site.write(f"content/{ADDED}", added())
    assert build(site).patched == [ADDED]
    site.write("site.toml", SETTINGS.replace("page_size = 3", "page_size = 2") + HIERARCHY)
    assert build(site).patched is None
    assert_same_as_clean_build(site, tmp_path / "settings")
    # an add built without the cache (nothing kept), then another with it
    site.write("content/2026-10-21-a.md", added(title="Built without the cache",
                                                url="https://example.com/nc",
                                                date="2026-10-21T09:00:00Z",
                                                topics=("Robotics",)))
    assert build(site, use_cache=False).patched is None
    assert_same_as_clean_build(site, tmp_path / "no-cache")
    site.write("content/2026-10-22-b.md", added(title="Built with it again",
                                                url="https://example.com/wc",
                                                date="2026-10-22T09:00:00Z"))
    assert sorted(build(site).patched or ()) == ["2026-10-21-a.md", "2026-10-22-b.md"]
    assert_same_as_clean_build(site, tmp_path / "cache")


def test_two_added_items_that_take_one_url_fail_as_in_a_clean_build(make_site):
    from newsdigest.errors import ContentInvalid

    site = make_site(small_corpus(), SETTINGS)
    build(site)
    for n in (1, 2):
        site.write(f"content/2026-10-20-twin-{n}.md", added(
            title=f"Twin {n}", url=f"https://example.com/t{n}", slug="twin"))
    with pytest.raises(ContentInvalid, match="same URL /news/2026/10/20/twin/"):
        build(site)


def test_two_added_takes_on_one_story_are_grouped_again(make_site, tmp_path):
    site = make_site(small_corpus(), SETTINGS)
    build(site)
    site.write("content/2026-10-20-one.md", added(
        title="Nvidia buys chip startup Lumina for two billion dollars",
        url="https://example.com/nv"))
    site.write("content/2026-10-20-two.md", other_outlet(added(
        title="Lumina acquired by Nvidia in a two billion dollar chip deal",
        url="https://other.example/nv", date="2026-10-20T11:00:00Z")))
    report = build(site)
    assert report.patched is None and len(report.index.merged) == 1
    assert_same_as_clean_build(site, tmp_path / "twins")


def test_strict_build_fails_on_an_added_items_warning_as_a_clean_build(make_site, tmp_path):
    from newsdigest.errors import ContentInvalid

    site = make_site(small_corpus(), SETTINGS + "[build]\nstrict = true\n")
    build(site)
    site.write(f"content/{ADDED}", added(publised="true"))
    with pytest.raises(ContentInvalid, match="publised"):
        build(site)
    with pytest.raises(ContentInvalid, match="publised"):
        build(site)
    edit(site, ADDED, "publised: true", "published: true")
    build(site)
    assert_same_as_clean_build(site, tmp_path / "fixed")


def test_the_preview_server_patches_adds_in_topic_hierarchies(make_site, tmp_path):
    site = make_site(small_corpus(), SETTINGS + HIERARCHY)
    config = load_config(site.root / "site.toml")
    options = BuildOptions(now=NOW, workers=1, search=False, offline=True)
    build(site)  # a state kept on disk, then the preview server's own in memory
    warm = WarmState()
    build_site(config, options, warm=warm)
    for n, topics in enumerate((("Robotics",), ("ai policy", "Computer Vision"), ("AI",))):
        rel = f"2026-10-2{n}-fresh-{n}.md"
        site.write(f"content/{rel}", added(title=f"Fresh story {n}", url=f"https://x.example/{n}",
                                           date=f"2026-10-2{n}T09:00:00Z", topics=topics))
        assert build_site(config, options, warm=warm).patched == [rel]
        assert_same_as_clean_build(site, tmp_path / f"fresh-{n}")
    edit(site, "2026-10-20-fresh-0.md", "Fresh story 0", "Fresh story zero")
    assert build_site(config, options, warm=warm).patched == ["2026-10-20-fresh-0.md"]
    assert_same_as_clean_build(site, tmp_path / "edited")
    # a build after the server's patches the state kept on disk with all it added
    assert sorted(build(site).patched or ()) == [f"2026-10-2{n}-fresh-{n}.md" for n in range(3)]
    assert_same_as_clean_build(site, tmp_path / "built")
    (site.root / "content/2026-10-21-fresh-1.md").unlink()
    assert build_site(config, options, warm=warm).patched is None
    assert_same_as_clean_build(site, tmp_path / "removed")
    site.write("content/2026-10-23-late.md", added(
        title="A late one", url="https://x.example/late",
        date=(NOW + timedelta(minutes=5)).isoformat()))
    assert build_site(config, options, warm=warm).patched == ["2026-10-23-late.md"]
    assert_same_as_clean_build(site, tmp_path / "late")


def with_logo(text: str, width: int, name: str = "Example News") -> str:
    return text.replace("  name: Example News", f"  name: {name}").replace(
        "  domain: example.com",
        '  domain: example.com\n  images:\n    - url: "https://img.example/shared-mark.png"\n'
        f"      width: {width}\n      height: {width}")


def test_an_added_item_sharing_a_logo_declared_otherwise(make_site, tmp_path):
    files = small_corpus()
    for rel in list(files)[:6]:
        files[rel] = with_logo(files[rel], 64)
    site = make_site(files, SETTINGS)
    build(site)
    site.write(f"content/{ADDED}", with_logo(added(), 32, "Example Wire"))
    build(site)
    assert_same_as_clean_build(site, tmp_path / "added")


@pytest.mark.slow
def test_adds_to_a_site_past_the_idf_floor_with_many_clusters(make_site, tmp_path):
    # 560 items (past IDF_FLOOR: each add changes how rare every word is) from 150 made-up
    # stories, each told by several outlets in its own words: about 200 clusters and a full
    # list of near misses in the curation report. An add that joins or splits one, directly
    # or by shifting the words' weights, is grouped again; any other is patched in; the site
    # is a clean build's every time.
    import random

    rng = random.Random(10)
    vocabulary = ["".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou")
                          for _ in range(3)) for _ in range(1500)]
    stories = [(rng.sample(vocabulary, 7), rng.choice([9, 10, 11]), rng.randint(1, 19))
               for _ in range(150)]
    outlets = [("Example News", "example.com"), ("Other Wire", "other.example"),
               ("Third Post", "third.example"), ("Fourth", "fourth.example")]

    def told(n: int, fresh: bool = False) -> str:
        words, month, day = (rng.sample(vocabulary, 7), 11, 19) if fresh else rng.choice(stories)
        name, domain = rng.choice(outlets)
        return item(
            title=" ".join(rng.sample(words, rng.randint(4, 6))).capitalize(),
            date=f"2026-{month:02d}-{day:02d}T{rng.randint(0, 23):02d}:00:00Z",
            url=f"https://{domain}/s/{n}",
            topics=tuple(rng.sample(["AI", "Robotics", "Chips"], rng.randint(1, 2))),
            excerpt='"' + " ".join(rng.sample(words, 5) + rng.sample(vocabulary, 3)) + '"',
        ).replace("name: Example News", f"name: {name}").replace(
            "domain: example.com", f"domain: {domain}")

    count = 560
    site = make_site({f"content/s{n}.md": told(n) for n in range(count)},
                     SETTINGS.replace("page_size = 3", "page_size = 50")
                     + "[stories]\nsimilarity = 0.12\n")
    report = build(site)
    assert len(report.index.clusters) > 100 and len(report.index.near_misses) == 20
    ways = set()
    for step in range(8):
        rel = f"s{count}.md"
        site.write(f"content/{rel}", told(count, fresh=step % 2 == 0))  # or a story of its own
        count += 1
        ways.add(build(site).patched == [rel])
        assert_same_as_clean_build(site, tmp_path / f"step-{step}")
    assert ways == {True, False}


def test_a_damaged_kept_state_is_not_patched(make_site, tmp_path):
    # A flipped bit may leave the kept state readable, as other titles (or raise what
    # unpickling never does): its checksum says it is not the state saved.
    site = make_site(small_corpus(), SETTINGS)
    build(site)
    site.write(f"content/{ADDED}", added(topics=("Robotics",)))
    assert build(site).patched == [ADDED]
    (state,) = (site.root / ".cache").glob("*.state")
    kept = state.read_bytes()
    assert kept.count(b"Story number") > 4
    state.write_bytes(kept.replace(b"Story number", b"Story numbex"))
    site.write("content/2026-10-21-next.md", added(
        title="The next one", url="https://example.com/next", date="2026-10-21T09:00:00Z",
        topics=("AI", "Robotics", "Computer Vision", "AI Policy")))
    assert build(site).patched is None
    assert_same_as_clean_build(site, tmp_path / "after")


def test_a_kept_state_whose_damaged_header_raises_is_not_patched(make_site, tmp_path):
    # The checksum is summed while the header is read: a damaged header may raise what
    # unpickling never does, and the sum then says why.
    import operator
    import pickle

    class Raising:
        def __reduce__(self):
            return operator.getitem, ({}, "a key no header has")

    site = make_site(small_corpus(), SETTINGS)
    build(site)
    (state,) = (site.root / ".cache").glob("*.state")
    kept = state.read_bytes()
    size = int.from_bytes(kept[:8], "little")
    header = pickle.dumps(Raising())
    with pytest.raises(KeyError):
        pickle.loads(header)
    state.write_bytes(len(header).to_bytes(8, "little") + header + kept[8 + size:])
    edit(site, "2026-10-05-story-4.md", "Story number 4", "Story number four")
    assert build(site).patched is None
    assert_same_as_clean_build(site, tmp_path / "after")


def test_a_kept_state_whose_body_cannot_be_read_leaves_no_child_behind(make_site, tmp_path,
                                                                        monkeypatch):
    # The clusters are checked in a child process started before the rest of the state is
    # read: a body that cannot be read makes the build do it all again, its child waited for.
    import io
    import pickle
    import zlib

    from newsdigest import parallel

    started = []

    class Recorded(parallel.InChild):
        def __init__(self, task) -> None:
            super().__init__(task)
            started.append(self._pid)

    class RecordedFollowed(parallel.InChildFollowed):
        def __init__(self, task) -> None:
            super().__init__(task)
            started.append(self._pid)

    monkeypatch.setattr(parallel, "InChild", Recorded)
    monkeypatch.setattr(parallel, "InChildFollowed", RecordedFollowed)
    site = make_site(small_corpus(), SETTINGS)
    build(site)
    (state,) = (site.root / ".cache").glob("*.state")
    data = state.read_bytes()[:-4]
    with io.BytesIO(data) as handle:
        for _ in ("the header", "the source and related URLs"):
            handle.seek(int.from_bytes(handle.read(8), "little"), io.SEEK_CUR)
        size = int.from_bytes(handle.read(8), "little")  # of the clusters' inputs
        body = handle.tell() + size
    assert pickle.loads(data[:body][-size:]).sources  # the clusters' inputs end there
    damaged = data[:body] + b"\x80\x05not a pickle"
    state.write_bytes(damaged + zlib.crc32(damaged).to_bytes(4, "little"))
    path = site.root / "content" / "2026-10-05-story-4.md"
    path.write_text(path.read_text().replace("Story number 4", "Story number four"))
    started.clear()
    assert build(site).patched is None
    assert started  # the clusters' check, and the state kept again
    for pid in started:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # waited for already
    assert_same_as_clean_build(site, tmp_path / "after")



def test_a_kept_state_whose_items_do_not_add_up_is_not_patched(make_site, tmp_path):
    # The items are kept after the rest of the state, each read where it lies: an items
    # section one byte short (a state cut off, its checksum made again) is refused, not read
    # as items that run into each other.
    import zlib

    site = make_site(small_corpus(), SETTINGS)
    build(site)
    (state,) = (site.root / ".cache").glob("*.state")
    short = state.read_bytes()[:-5]
    state.write_bytes(short + zlib.crc32(short).to_bytes(4, "little"))
    path = site.root / "content" / "2026-10-05-story-4.md"
    path.write_text(path.read_text().replace("Story number 4", "Story number four"))
    assert build(site).patched is None
    assert_same_as_clean_build(site, tmp_path / "after")


DIGEST_SETTINGS = """\
[site]
title = "Test Digest"
base_url = "https://news.example/"
page_size = 3
top_stories = 2
top_stories_days = 2

[digest]
daily = true
weekly = true
max_items = 3
max_per_topic = 1
min_quality = 30
sponsors = {sponsors}
topic_editions = ["AI", "Robotics"]
"""


def _digest_story(n: int, rng) -> str:
    """A story of its own (its title, URL and slug are its alone) on a random day of three
    weeks, with random scores, topics, a pin, a skip or a sponsor now and then."""
    extra = rng.choice([{}, {}, {}, {"digest": "pin"}, {"digest": "skip"}, {"kind": "sponsor"}])
    text = item(title=f"Added story number {n}",
                date=f"2026-11-{rng.randint(1, 21):02d}T{rng.randint(0, 23):02d}:"
                     f"{rng.choice([0, 0, 30]):02d}:00Z",
                url=f"https://example.com/added/{n}",
                topics=tuple(rng.sample(["AI", "Robotics", "Chips"], rng.randint(1, 2))),
                **extra)
    return (text.replace("quality: 50", f"quality: {rng.randint(10, 95)}")
            .replace("heat: 10", f"heat: {rng.randint(0, 400)}"))


@pytest.mark.parametrize("seed", [11, 12])
def test_random_adds_to_a_busy_digest_build_like_clean_builds(make_site, tmp_path, seed):
    # Daily, weekly and topic editions under caps, top stories of the latest days, pins,
    # skips and sponsors: an added item changes the editions of its day and week and maybe
    # the top stories, which a patched add chooses again for those periods alone.
    import random

    rng = random.Random(seed)
    site = make_site({f"content/a{n}.md": _digest_story(n, rng) for n in range(10)},
                     DIGEST_SETTINGS.format(sponsors=str(rng.random() < 0.5).lower()))
    build(site)
    patched = 0
    for step in range(8):
        rels = [f"a{10 + 2 * step + n}.md" for n in range(rng.choice([1, 1, 2]))]
        for rel in rels:
            site.write(f"content/{rel}", _digest_story(int(rel[1:-3]), rng))
        report = build(site)
        patched += set(rels) <= set(report.patched or ())
        try:
            assert_same_as_clean_build(site, tmp_path / f"step-{step}")
        except AssertionError:
            pytest.fail(f"seed {seed}, step {step}: the patched add differs from a clean build")
    assert patched >= 6  # patched, not grouped again
