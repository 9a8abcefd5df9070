"""The unit tier: the pure stages (grouping, editions, pagination, page planning) on items made
through the real parser and validator, with no files and no build. Each test names exact
values, so a change in a rule shows here before it shows in a whole site."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsdigest.config.digest import DigestSettings
from newsdigest.config.site import SiteConfig, TopicSettings
from newsdigest.content.files import SourceFile
from newsdigest.content.front_matter import RawItem, parse
from newsdigest.content.model import Item, validate
from newsdigest.render.pages import FRONT, cut, navigation, paginate, plan_pages
from newsdigest.render.sitemaps import is_listed
from newsdigest.stories import editions, grouping

NOW = datetime(2026, 11, 20, tzinfo=UTC)
CONFIG = SiteConfig(base_url="https://news.example/")


def make_item(name: str, date: str = "2026-11-10T10:00:00Z", topics: tuple[str, ...] = ("AI",),
              title: str = "", url: str = "", **fields: str) -> Item:
    """An Item as a build would make it from content/<name>.md (parse, then validate).

    `fields` are front matter lines as name=YAML text, over quality 50, heat 10, example.com.
    """
    values = {"quality": "50", "heat": "10", "provider": "{name: Example, domain: example.com}",
              **fields}
    text = "\n".join([
        "---", f'title: "{title or name.replace("-", " ").title()}"',
        f"publishedDateTime: {date}", f'webUrl: "{url or f"https://example.com/{name}"}"',
        f"topics: [{', '.join(topics)}]", *[f"{k}: {v}" for k, v in values.items()], "---", "",
    ])
    raw = parse(SourceFile(f"/nowhere/{name}.md", f"{name}.md"), text)
    assert isinstance(raw, RawItem), raw
    validation = validate(raw, f"digest-{name}", UTC)
    assert validation.item is not None, validation.problems
    return validation.item


def index_of(items: list[Item], config: SiteConfig = CONFIG) -> grouping.SiteIndex:
    result = grouping.group(items, config, NOW)
    assert result.problems == []
    return result.index


# grouping --------------------------------------------------------------------------------

def test_select_leaves_out_drafts_withdrawn_and_future_items_and_says_why() -> None:
    kept = make_item("kept")
    draft = make_item("draft", published="false")
    withdrawn = make_item("withdrawn", removed="true")
    soon = make_item("soon", date="2026-11-20T00:04:00Z")  # within the 5-minute tolerance
    future = make_item("future", date="2026-11-21T00:00:00Z")
    chosen, excluded = grouping.select([kept, draft, withdrawn, soon, future], NOW,
                                       drafts=False, future=False)
    assert [i.source for i in chosen] == ["kept.md", "soon.md"]
    assert excluded == {"unpublished": ["draft.md"], "removed": ["withdrawn.md"],
                        "future": ["future.md"]}
    everything, nothing = grouping.select([draft, withdrawn, future], NOW, drafts=True,
                                          future=True)
    assert len(everything) == 3 and nothing == {}


def test_group_orders_newest_first_and_builds_paths_topics_and_archive() -> None:
    older = make_item("older", "2026-10-31T23:30:00Z", ("AI", "Robotics"))
    newer = make_item("newer", "2026-11-02T08:00:00Z", ("robotics",))
    index = index_of([older, newer])
    assert [s.path for s in index.stories] == ["news/2026/11/02/newer/",
                                               "news/2026/10/31/older/"]
    # One topic per case-folded name, shown in the most used spelling (a tie: the first).
    assert [(t.name, t.slug, t.path, len(t.stories)) for t in index.topics] == [
        ("AI", "ai", "topics/ai/", 1), ("Robotics", "robotics", "topics/robotics/", 2)]
    assert [(y.year, [(m.month, len(m.stories)) for m in y.months]) for y in index.years] == [
        (2026, [(11, 1), (10, 1)])]
    assert index.more == {"news/2026/11/02/newer/": (index.stories[1],),
                          "news/2026/10/31/older/": (index.stories[0],)}


def test_local_dates_follow_the_site_time_zone() -> None:
    late = make_item("late", "2026-10-31T23:30:00Z")
    index = index_of([late], replace(CONFIG, timezone="Europe/Berlin"))
    assert index.stories[0].path == "news/2026/11/01/late/"
    assert index.years[0].months[0].month == 11


def test_duplicates_merge_into_one_story_and_the_others_pages_move_to_it() -> None:
    first = make_item("first", "2026-11-10T10:00:00Z", url="https://a.example/same")
    copy = make_item("copy", "2026-11-10T09:00:00Z", url="https://a.example/same")
    index = index_of([copy, first])
    assert [s.item.source for s in index.stories] == ["first.md"]
    assert index.merged == {"first.md": ("copy.md",)}
    assert list(index.moved) == ["news/2026/11/10/copy/"]
    assert index.moved["news/2026/11/10/copy/"].path == "news/2026/11/10/first/"


def test_same_path_twice_is_a_problem_naming_both_files() -> None:
    one = make_item("one", url="https://a.example/1", slug="same")
    two = make_item("two", url="https://b.example/2", slug="same", title="Other words")
    result = grouping.group([one, two], CONFIG, NOW)
    assert [(p.path, p.field, p.message) for p in result.problems] == [
        ("two.md", "slug", "same URL /news/2026/11/10/same/ as one.md")]
    assert len(result.index.stories) == 1


def test_top_stories_rank_by_score_among_the_latest_week() -> None:
    config = replace(CONFIG, top_stories=2, top_stories_days=7)
    items = [make_item(f"i{n}", f"2026-11-{10 + n:02d}T10:00:00Z", quality=str(q))
             for n, q in enumerate([90, 10, 70, 10, 10, 10, 80])]
    ancient = make_item("ancient", "2026-10-01T10:00:00Z", quality="100")
    index = index_of([*items, ancient], config)
    # score = quality + min(heat, 300) / 3; heat is 10 everywhere, so quality decides.
    assert [s.item.source for s in index.top_stories] == ["i0.md", "i6.md"]


@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 99), st.booleans()),
                min_size=1, max_size=25),
       st.integers(1, 4), st.integers(1, 6))
def test_top_stories_are_the_best_of_the_latest_days_or_of_the_latest_few(
        stories: list[tuple[int, int, bool]], count: int, days: int) -> None:
    # The band is every story of the latest `days` days, or the latest 3 * `count` when
    # fewer; sponsored items are never in it. Read from the newest, it stops where it ends.
    config = replace(CONFIG, top_stories=count, top_stories_days=days)
    items = [make_item(f"i{n}", f"2026-10-{1 + hours // 24:02d}T{hours % 24:02d}:00:00Z",
                       quality=str(quality), **({"kind": "sponsor"} if sponsored else {}))
             for n, (hours, quality, sponsored) in enumerate(stories)]
    index = index_of(items, config)
    newest = index.stories[0].item.published_at
    paid = [s for s in index.stories if not s.item.sponsored]
    band = [s for s in paid if (newest - s.item.published_at).total_seconds() <= days * 86400]
    band = band if len(band) >= 3 * count else paid[: 3 * count]
    best = sorted(band, key=lambda s: (-s.score, -s.item.published_at.timestamp(), s.path))
    assert index.top_stories == tuple(best[:count])


@given(st.lists(st.tuples(st.integers(0, 200), st.sets(st.sampled_from("ABCD"), max_size=2),
                          st.booleans()), min_size=1, max_size=30),
       st.integers(1, 4))
def test_more_made_again_for_added_stories_alone_is_more_made_anew(
        stories: list[tuple[int, set[str], bool]], limit: int) -> None:
    # A patched add walks again only the stories within `limit` places of an added one in a
    # topic they share: every other story's "more" is the one it had.
    items = [make_item(f"i{n}", f"2026-10-{1 + hours // 24:02d}T{hours % 24:02d}:00:00Z",
                       topics=tuple(sorted(topics)))
             for n, (hours, topics, _) in enumerate(stories)]
    every = list(index_of(items).stories)
    added_sources = {f"i{n}.md" for n, (_, _, added) in enumerate(stories) if added}
    added = [story for story in every if story.item.source in added_sources]
    before = grouping._more_from_topics([s for s in every if s not in added], limit)
    assert grouping._more_from_topics(every, limit, before, added) == \
        grouping._more_from_topics(every, limit)


def test_parent_topics_hold_their_subtopics_stories_and_link_both_ways() -> None:
    config = replace(CONFIG, topics=(
        TopicSettings("Robotics", parent="AI", description="Machines that move"),
        TopicSettings("Humanoids", parent="Robotics"),
    ))
    items = [make_item("a", "2026-11-10T10:00:00Z", ("AI",)),
             make_item("b", "2026-11-11T10:00:00Z", ("Robotics",)),
             make_item("c", "2026-11-12T10:00:00Z", ("Humanoids",))]
    topics = {t.slug: t for t in index_of(items, config).topics}
    assert [s.item.source for s in topics["ai"].stories] == ["c.md", "b.md", "a.md"]
    assert [s.item.source for s in topics["robotics"].stories] == ["c.md", "b.md"]
    assert [s.item.source for s in topics["humanoids"].stories] == ["c.md"]
    assert topics["humanoids"].parent == topics["robotics"].ref
    assert [a.slug for a in topics["humanoids"].ancestors] == ["ai", "robotics"]
    assert [c.slug for c in topics["ai"].children] == ["robotics"]
    assert topics["robotics"].description == "Machines that move"


def test_a_parent_loop_is_warned_about_and_ignored() -> None:
    config = replace(CONFIG, topics=(TopicSettings("A", parent="B"),
                                     TopicSettings("B", parent="A")))
    result = grouping.group([make_item("x", topics=("A",))], config, NOW)
    assert any("loop" in w.message for w in result.warnings)
    assert any(t.parent is None for t in result.index.topics)


# pagination and page planning ------------------------------------------------------------

def test_cut_numbers_archive_pages_from_the_oldest() -> None:
    # newest first: 0 is the newest item; the front has the newest 2, page 1 the oldest 2,
    # and the newest remainder joins the top page (m = 3 here, with 3 items)
    assert cut(tuple(range(9)), 2) == ((0, 1), ((7, 8), (5, 6), (2, 3, 4)))
    assert cut(tuple(range(5)), 2) == ((0, 1), ((2, 3, 4),))
    assert cut(tuple(range(3)), 2) == ((0, 1), ((2,),))  # fewer than a page left: page 1
    assert cut(tuple(range(2)), 2) == ((0, 1), ())
    assert cut((), 20) == ((), ())


@given(n=st.integers(0, 120), size=st.integers(1, 12))
def test_cut_keeps_every_item_once_in_order_and_full_pages_forever(n: int, size: int) -> None:
    items = tuple(range(n, 0, -1))  # newest first: n is the newest
    front, archive = cut(items, size)
    top = len(archive)
    # every item exactly once, in order: the front, then pages m down to 1
    assert front + tuple(x for page in reversed(archive) for x in page) == items
    assert front == items[:size]
    assert all(len(page) == size for page in archive[:-1])
    if n - size >= size:
        assert size <= len(archive[-1]) <= 2 * size - 1
    else:  # fewer than a page left after the front: all on page 1, or no archive page
        assert archive == ((items[size:],) if n > size else ())
    # one newer item: pages 1 to m-1 stay exactly as they were; page m gains the item that
    # left the front, or splits into m (its oldest `size`) and a new m + 1
    front2, archive2 = cut((n + 1, *items), size)
    assert archive2[: max(0, top - 1)] == archive[: max(0, top - 1)]
    if top and len(archive2) == top:
        assert archive2[-1] == (front[-1], *archive[-1])
    elif top:
        assert len(archive2) == top + 1 and archive2[top - 1] == archive[-1][-size:]


def test_navigation_links_latest_neighbours_and_the_oldest_page() -> None:
    def path(n: int) -> str:
        return f"p{n}" if n else "front"

    def labels(page: int, top: int) -> list[str]:
        # * the current page, ~ a number a narrow screen leaves out (a gap is beside it)
        return [link.label + ("*" if link.current else "") + ("~" if link.far else "")
                if link.path else "gap" for link in navigation(page, top, path).links]

    assert labels(FRONT, 10) == ["Latest*", "10", "9", "8~", "gap", "1"]
    assert labels(5, 10) == ["Latest", "gap", "7~", "6", "5*", "4", "3~", "gap", "1"]
    assert labels(4, 10) == ["Latest", "gap", "6~", "5", "4*", "3", "2", "1"]
    assert labels(8, 10) == ["Latest", "10", "9", "8*", "7", "6~", "gap", "1"]
    assert labels(10, 10) == ["Latest", "10*", "9", "8~", "gap", "1"]
    assert labels(1, 10) == ["Latest", "gap", "3~", "2", "1*"]
    assert labels(FRONT, 2) == ["Latest*", "2", "1"]
    bar = navigation(5, 10, path)
    assert (bar.newer, bar.older) == ("p6", "p4")
    assert (navigation(10, 10, path).newer, navigation(1, 10, path).older) == ("front", None)
    assert (navigation(FRONT, 10, path).newer, navigation(FRONT, 10, path).older) == (
        None, "p10")
    assert navigation(FRONT, 0, path).links == ()  # one page: no navigation
    # a page three below the top has the same navigation however many pages come after
    assert all(navigation(5, top, path) == navigation(5, 8, path) for top in range(8, 40))
    assert [p.number for p in paginate(tuple(range(9)), 2, path)] == [FRONT, 3, 2, 1]


def test_plan_pages_makes_exactly_the_pages_of_a_small_index() -> None:
    config = replace(CONFIG, page_size=2, top_stories=0)
    items = [make_item(f"s{n}", f"2026-11-{10 + n:02d}T10:00:00Z", ("AI",) if n < 3 else ("ML",))
             for n in range(5)]
    items.append(make_item("dup", "2026-11-10T09:00:00Z", url="https://example.com/s0"))
    pages = plan_pages(index_of(items, config), config)
    assert sorted(p.path for p in pages) == sorted([
        "news/2026/11/10/s0/", "news/2026/11/11/s1/", "news/2026/11/12/s2/",
        "news/2026/11/13/s3/", "news/2026/11/14/s4/",
        "", "page/1/",  # five stories, two a page: the front and the three older ones
        "topics/", "topics/ai/", "topics/ai/page/1/", "topics/ml/",
        "archive/", "archive/2026/", "archive/2026/11/",
        "news/2026/11/10/dup/",  # the merged duplicate's page sends readers to s0
        "search/", "404.html",
    ])
    unlisted = sorted(p.path for p in pages if not is_listed(p))
    assert unlisted == ["404.html", "news/2026/11/10/dup/"]


def test_the_home_page_leaves_the_top_stories_out_of_its_list() -> None:
    config = replace(CONFIG, page_size=3, top_stories=1)
    items = [make_item(f"s{n}", f"2026-11-{10 + n:02d}T10:00:00Z", quality=str(10 + n * 10))
             for n in range(3)]
    home = next(p for p in plan_pages(index_of(items, config), config) if p.path == "")
    assert [s.item.source for s in home.context["top_stories"]] == ["s2.md"]
    assert [s.item.source for s in home.context["stories"]] == ["s1.md", "s0.md"]


# editions --------------------------------------------------------------------------------

def editions_of(items: list[Item], **digest: object) -> list[editions.Edition]:
    config = replace(CONFIG, digest=DigestSettings(**digest))  # type: ignore[arg-type]
    return editions.build_editions(index_of(items, config), config)


def entries(edition: editions.Edition) -> list[str]:
    return [s.item.source for s in edition.stories]


def test_editions_rank_by_curation_score_and_cap_items_per_edition() -> None:
    day = "2026-11-12T{:02d}:00:00Z"
    items = [make_item("low", day.format(8), quality="10", heat="0"),
             make_item("hot", day.format(9), quality="40", heat="900"),  # 40 + 300 * 0.5
             make_item("good", day.format(10), quality="80", heat="0"),
             make_item("mid", day.format(11), quality="60", heat="0")]
    (daily,) = editions_of(items, weekly=False, max_items=3, heat_weight=0.5, max_per_topic=9)
    assert daily.period.key == "2026-11-12"
    assert daily.path == "digest/daily/2026-11-12/"
    assert entries(daily) == ["hot.md", "good.md", "mid.md"]


def test_editions_cap_each_topic_but_never_a_pinned_item() -> None:
    day = "2026-11-12T{:02d}:00:00Z"
    items = [make_item(f"ai{n}", day.format(n), ("AI",), quality=str(90 - n)) for n in range(4)]
    items.append(make_item("ml", day.format(5), ("ML",), quality="1"))
    (daily,) = editions_of(items, weekly=False, max_per_topic=2)
    assert entries(daily) == ["ai0.md", "ai1.md", "ml.md"]
    assert [(s.label, len(s.stories)) for s in daily.sections] == [("AI", 1), ("ML", 1)]
    # Pinned items come first and pass the cap, but they fill it: one more AI item, not two.
    items += [make_item(f"pin{n}", day.format(6 + n), ("AI",), quality="0", digest="pin")
              for n in range(3)]
    (daily,) = editions_of(items, weekly=False, max_per_topic=2)
    assert entries(daily) == ["pin2.md", "pin1.md", "pin0.md", "ml.md"]
    (daily,) = editions_of(items[:-1], weekly=False, max_per_topic=2)
    assert entries(daily) == ["pin1.md", "pin0.md", "ml.md"]
    (daily,) = editions_of(items[:-2], weekly=False, max_per_topic=2)
    assert entries(daily) == ["pin0.md", "ai0.md", "ml.md"]


def test_editions_apply_min_quality_and_topic_and_domain_rules() -> None:
    day = "2026-11-12T{:02d}:00:00Z"
    items = [
        make_item("weak", day.format(1), ("AI",), quality="5"),
        make_item("ai", day.format(2), ("AI",), quality="50"),
        make_item("crypto", day.format(3), ("Crypto",), quality="50"),
        make_item("skipped", day.format(4), ("AI",), quality="99", digest="skip"),
    ]
    (daily,) = editions_of(items, weekly=False, min_quality=10)
    assert sorted(entries(daily)) == ["ai.md", "crypto.md"]
    (daily,) = editions_of(items, weekly=False, exclude_topics=("crypto",))
    assert sorted(entries(daily)) == ["ai.md", "weak.md"]
    (daily,) = editions_of(items, weekly=False, include_topics=("crypto",))
    assert entries(daily) == ["crypto.md"]
    # Every item above is from example.com; a subdomain counts as its domain.
    assert editions_of(items, weekly=False, exclude_domains=("example.com",)) == []
    sub = make_item("sub", day.format(5), quality="50",
                    provider="{name: Sub, domain: blog.example.com}")
    (daily,) = editions_of([sub], weekly=False, include_domains=("example.com",))
    assert entries(daily) == ["sub.md"]


def test_weekly_and_daily_editions_are_newest_first_and_linked() -> None:
    items = [make_item("mon", "2026-11-09T10:00:00Z"), make_item("tue", "2026-11-10T10:00:00Z"),
             make_item("next-week", "2026-11-16T10:00:00Z")]
    made = editions_of(items)
    assert [e.period.key for e in made] == [
        "2026-W47", "2026-11-16", "2026-W46", "2026-11-10", "2026-11-09"]
    week = made[2]
    assert entries(week) == ["tue.md", "mon.md"]  # equal scores: the newest first
    assert week.next is not None and week.next.path == "digest/weekly/2026-W47/"
    assert week.previous is None
    assert made[3].previous is not None and made[3].previous.path == "digest/daily/2026-11-09/"


def test_a_child_stopped_before_its_answer_is_ended_and_reaped_at_once() -> None:
    import time

    from newsdigest import parallel

    child = parallel.InChild(lambda: time.sleep(60))
    pid = child._pid
    started = time.monotonic()
    child.stop()
    assert time.monotonic() - started < 5
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped
    with pytest.raises(parallel.ChildFailed):
        child.result()
    child.stop()  # a second time: nothing left to stop


def test_a_cache_file_is_replaced_whole_by_its_pieces(tmp_path) -> None:
    """store.save_atomic writes bytes, or pieces one after the other (the kept state's
    items are views of the file it replaces), and leaves no temporary file behind."""
    from newsdigest import store

    target = tmp_path / "cache" / "state"
    store.save_atomic(target, b"old")
    old = memoryview(b"-kept-")
    store.save_atomic(target, [b"new", old[1:5], bytearray(b"!")])
    assert target.read_bytes() == b"newkept!"
    store.save_atomic(target, bytearray(b"whole"))
    assert target.read_bytes() == b"whole"
    assert [p.name for p in target.parent.iterdir()] == ["state"]


def test_navigation_made_when_read_is_the_one_navigation_makes() -> None:
    """A list page's navigation is made when first read (pages.Navigation), and reads as
    navigation() makes it; its repr, which fingerprints take, is the same exactly when the
    navigation is (of pages of one list)."""
    from newsdigest.render.pages import Navigation

    def path(n: int) -> str:
        return f"p{n}" if n else "front"

    for page, top in [(FRONT, 0), (FRONT, 10), (5, 10), (1, 3)]:
        made, lazy = navigation(page, top, path), Navigation(page, top, path)
        assert (lazy.page, lazy.newer, lazy.older, lazy.links) == made
    pages = [(page, top) for top in range(12) for page in (FRONT, *range(1, top + 1))]
    for one in pages:
        for other in pages:
            same = navigation(*one, path) == navigation(*other, path)
            assert same == (repr(Navigation(*one, path)) == repr(Navigation(*other, path))), (
                one, other)
    assert [p.pagination.older for p in paginate(tuple(range(9)), 2, path)] == [
        "p3", "p2", "p1", None]


def test_a_file_whose_front_matter_alone_changed_is_validated_without_rendering_its_body(
        tmp_path, monkeypatch):
    # loading.load_one with the file's last validation: the same body (by digest) is taken
    # as it was rendered; another body is rendered; either way, as a fresh validation.
    from conftest import item

    from newsdigest.content import model
    from newsdigest.content.loading import LoadSettings, load_one

    path = tmp_path / "story.md"
    settings = LoadSettings("UTC", 1_000_000)

    def loaded(text: str, last=None):
        path.write_text(text)
        stat = path.stat()
        return load_one(SourceFile(str(path), "story.md", stat.st_size, stat.st_mtime_ns),
                        settings, last)

    body = "Some *Markdown* with a [link](https://example.com/x).\n"
    first = loaded(item(title="First", body=body))
    assert "<em>Markdown</em>" in first.result.item.body_html
    render = model.render_item_body
    rendered = []
    monkeypatch.setattr(model, "render_item_body",
                        lambda *args: rendered.append(args) or render(*args))
    retitled = loaded(item(title="Second", body=body), first)
    assert rendered == []
    assert retitled.result.item.title == "Second"
    assert retitled.result == loaded(item(title="Second", body=body)).result  # as if fresh
    assert len(rendered) == 1
    changed = loaded(item(title="Second", body=body + "\nMore.\n"), retitled)
    assert len(rendered) == 2 and "<p>More.</p>" in changed.result.item.body_html


@pytest.mark.parametrize("warned_files", [[55, 3, 7], range(0, 100, 3)], ids=["few", "many"])
def test_warnings_come_in_the_order_of_the_files_however_many_are_warned_of(warned_files
                                                                            ) -> None:
    # A few warned files are looked up among the discovered ones; many are found in one pass.
    from types import SimpleNamespace

    from newsdigest.build.gather import GatheredSite
    from newsdigest.content.files import Discovery
    from newsdigest.errors import Problem

    items = [SourceFile(f"/content/{n:03d}.md", f"{n:03d}.md", 1, 1) for n in range(100)]
    discovery = Discovery(items, [], [Problem("notes/x.md", None, "", "discovered")])
    warned = {f"{n:03d}.md": [Problem(f"{n:03d}.md", 1, "x", "unknown field")]
              for n in warned_files}
    warned["gone.md"] = [Problem("gone.md", 1, "x", "no longer discovered")]
    later = Problem("", None, "", "from grouping")
    site = SimpleNamespace(item_warnings=warned, later_warnings=[later])
    assert GatheredSite.warnings(site, discovery) == [
        *discovery.warnings, *(warned[f"{n:03d}.md"][0] for n in sorted(warned_files)), later]
