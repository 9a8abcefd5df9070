"""Search on static hosting: Pagefind's index, driven in a real browser over loopback."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from browser import browser_fixture, serve_folder  # noqa: F401 - provides `browser`
from conftest import item

from newsdigest.build import search
from newsdigest.errors import NewsdigestError

SETTINGS = """\
[site]
title = "Search Digest"
base_url = "http://127.0.0.1/digest/"
"""


def files() -> dict[str, str]:
    return {
        "content/2026-10-01-chips.md": item(
            "Chipmakers race to build inference accelerators", "2026-10-01T10:00:00Z",
            "https://example.com/chips", ("AI Hardware",),
            excerpt='"A wafer-scale design promises cheaper tokens."'),
        "content/2026-10-02-robots.md": item(
            "Robot hands learn to fold laundry", "2026-10-02T10:00:00Z",
            "https://example.com/robots", ("Robotics",),
            body="The gripper uses *tactile sensors* made of silicone.\n"),
    }


@contextmanager
def served_with_base_path(site, tmp_path) -> Iterator[str]:
    """The output served under /digest/, as a host with a base path would."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "digest").symlink_to(site.public)
    with serve_folder(root) as base:
        yield base + "digest/"


@pytest.fixture
def served(make_site, tmp_path) -> Iterator[str]:
    site = make_site(files(), SETTINGS)
    assert site.build() == 0
    with served_with_base_path(site, tmp_path) as url:
        yield url


def test_index_covers_item_pages_only(make_site):
    site = make_site(files(), SETTINGS)
    site.build()
    shards = json.loads((site.public / "pagefind" / "shards.json").read_text())
    assert shards == ["0/"] and (site.public / "pagefind" / "0" / "pagefind.js").exists()
    assert entry(site.public / "pagefind" / "0")["languages"]["en"]["page_count"] == 2
    assert site.html("search/").find(".//h1").text_content() == "Search"
    box = site.html("").xpath("//form[@role='search']")[0]
    assert box.get("action") == "/digest/search/" and box.xpath(".//input/@name") == ["q"]


def test_no_search_flag_and_unchanged_pages_skip_indexing(make_site):
    site = make_site(files(), SETTINGS)
    site.build("--no-search")
    assert not (site.public / "pagefind").exists()
    site.build()
    stamp = (site.public / "pagefind" / "shards.json").stat().st_mtime_ns
    site.build()
    assert (site.public / "pagefind" / "shards.json").stat().st_mtime_ns == stamp


def test_an_index_folder_deleted_behind_its_back_is_made_again(make_site):
    site = make_site(files(), SETTINGS)
    site.build()
    robots = site.root / "content/2026-10-02-robots.md"
    robots.write_text(robots.read_text().replace("tactile", "capacitive"))
    site.build()  # the edit in the recent index, which leaves out the whole one's entry
    for gone in ("pagefind-recent", "pagefind/0"):
        shutil.rmtree(site.public / gone)
        assert site.build() == 0  # no input changed
        assert (site.public / gone / "pagefind.js").exists(), gone
        assert (site.public / "pagefind-recent/replaced.json").exists()


@pytest.mark.parametrize("name", ["pagefind/extra.txt", "pagefind-recent"])
def test_a_static_file_where_the_index_goes_is_refused_in_one_line(make_site, capsys, name):
    """The index folders are swapped in whole: a site file in them was thrown away when the
    index was made and put back by the next build (warm != clean), or failed with a traceback."""
    site = make_site(files(), SETTINGS)
    site.write(f"static/{name}", "mine\n")
    assert site.build() == 2
    err = capsys.readouterr().err
    assert f"static/{name}: the search index is written there" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert site.build("--no-search") == 0  # no index: the file is the site's to place
    assert (site.public / name).read_text() == "mine\n"


def test_the_index_folder_is_readable_like_a_new_folder(make_site):
    # It is made in a private (0700) temporary folder and swapped in: a web server reading
    # the site as another user must be able to enter it, or search breaks.
    umask = os.umask(0o022)
    os.umask(umask)
    site = make_site(files(), SETTINGS)
    site.build()
    index = site.public / "pagefind"
    assert stat.S_IMODE(index.stat().st_mode) == 0o777 & ~umask
    if umask & 0o055 == 0:
        index.chmod(0o700)  # as an earlier version left it; the index itself is up to date
        site.build()
        assert stat.S_IMODE(index.stat().st_mode) == 0o777 & ~umask


def first_result(page, query: str):
    """The first result's title link once a query is typed on the search page."""
    page.fill("#search-query", query)
    result = page.locator(".search-result-title").first
    result.wait_for(timeout=10_000)
    return result


def test_typing_a_query_finds_the_right_item(browser, served):
    page = browser.new_page()
    page.goto(served + "search/")
    result = first_result(page, "tactile")
    assert result.inner_text() == "Robot hands learn to fold laundry"
    assert result.get_attribute("href") == "/digest/news/2026/10/02/robots/"
    assert "tactile" in page.locator(".search-result mark").first.inner_text().lower()
    page.fill("#search-query", "wafer")
    # (wait_for_function would evaluate a string: the site's CSP rightly forbids that)
    page.locator(".search-result-title", has_text="Chipmakers").first.wait_for(timeout=10_000)
    page.close()


def test_header_search_box_lands_on_results(browser, served):
    page = browser.new_page()
    page.goto(served)
    page.fill("#site-search", "laundry")
    page.press("#site-search", "Enter")
    page.locator(".search-result-title").first.wait_for(timeout=10_000)
    assert "/search/?q=laundry" in page.url
    assert page.locator(".search-result-title").first.inner_text().startswith("Robot hands")
    page.close()


def entry(index) -> dict:
    return json.loads((index / "pagefind-entry.json").read_text())


def test_an_edit_indexes_only_the_changed_pages_until_there_are_many(make_site, monkeypatch):
    site = make_site(files(), SETTINGS)
    site.build()
    whole, recent = site.public / "pagefind" / "0", site.public / "pagefind-recent"
    stamp = (whole / "pagefind-entry.json").stat().st_mtime_ns
    assert (recent / "replaced.json").read_text() == "[]"  # always there: no 404 to search
    robots = site.root / "content/2026-10-02-robots.md"
    robots.write_text(robots.read_text().replace("tactile", "capacitive"))
    site.build()
    assert (whole / "pagefind-entry.json").stat().st_mtime_ns == stamp  # not made again
    assert entry(recent)["languages"]["en"]["page_count"] == 1
    assert (recent / "replaced.json").read_text() == '["news/2026/10/02/robots/"]'
    (site.root / "content/2026-10-01-chips.md").unlink()
    site.build()
    assert (whole / "pagefind-entry.json").stat().st_mtime_ns == stamp
    assert sorted(json.loads((recent / "replaced.json").read_text())) == [
        "news/2026/10/01/chips/", "news/2026/10/02/robots/"]
    # past the limit, the whole index is made again and the recent one emptied
    monkeypatch.setattr(search, "MOST_RECENT", 1)
    robots.write_text(robots.read_text().replace("capacitive", "piezoresistive"))
    site.build()
    assert (whole / "pagefind-entry.json").stat().st_mtime_ns != stamp
    assert entry(whole)["languages"]["en"]["page_count"] == 1
    assert (recent / "replaced.json").read_text() == "[]"


def test_edits_to_one_gathering_of_the_site_make_the_records_of_the_edited_stories_only(
        make_site, monkeypatch, tmp_path):
    """Between builds patched from one kept site state (GatheredSite.stamp), only the stories
    edited since it was gathered, in either build, and the pages the recent index holds can
    differ from the record: only their records are made. The recent index is as if all
    had been."""
    asked = tmp_path / "asked"
    real_records = search.records

    def records(stories, topics, kinds, providers, only=None):
        with asked.open("a") as log:  # written by the indexing process
            log.write(f"{sorted(only) if only is not None else 'all'}\n")
        return real_records(stories, topics, kinds, providers, only)

    monkeypatch.setattr(search, "records", records)
    site = make_site({**files(), "content/2026-10-03-fusion.md": item(
        "Fusion startups bet on AI control", "2026-10-03T10:00:00Z",
        "https://example.com/fusion", ("AI Hardware",))}, SETTINGS)
    site.build()
    recent = site.public / "pagefind-recent"
    robots, chips = (site.root / f"content/2026-10-0{n}.md" for n in ("2-robots", "1-chips"))
    robots_text = robots.read_text()

    def built(*args: str) -> tuple[str, list[str]]:
        asked.unlink(missing_ok=True)
        assert site.build(*args) == 0
        return (asked.read_text().strip() if asked.exists() else "",
                sorted(json.loads((recent / "replaced.json").read_text())))

    robots.write_text(robots_text.replace("tactile", "capacitive"))
    assert built() == ("['news/2026/10/02/robots/']", ["news/2026/10/02/robots/"])
    chips.write_text(chips.read_text().replace("wafer-scale", "chiplet"))
    assert built() == ("['news/2026/10/01/chips/', 'news/2026/10/02/robots/']",
                       ["news/2026/10/01/chips/", "news/2026/10/02/robots/"])
    robots.write_text(robots_text)  # undone: as the whole index has it again
    assert built() == ("['news/2026/10/01/chips/', 'news/2026/10/02/robots/']",
                       ["news/2026/10/01/chips/"])
    assert entry(recent)["languages"]["en"]["page_count"] == 1
    # a build without search in between: the next one still finds the edit it made
    robots.write_text(robots_text.replace("tactile", "magnetic"))
    assert built("--no-search")[0] == ""
    assert built() == ("['news/2026/10/01/chips/', 'news/2026/10/02/robots/']",
                       ["news/2026/10/01/chips/", "news/2026/10/02/robots/"])
    # an added story gathers the site anew: every record is made
    (site.root / "content/2026-10-04-new.md").write_text(item(
        "Quantum annealers", "2026-10-04T10:00:00Z", "https://example.com/q", ("AI Hardware",)))
    assert built()[0] == "all"


def test_another_pagefind_binary_makes_the_whole_index_again(make_site, monkeypatch, tmp_path):
    """An index is in the format of the binary that made it: after an edit with another one
    (PAGEFIND_BINARY_PATH, or another version installed), the whole index is made again
    rather than a recent one in its format beside a whole one in the old."""
    from pagefind.service import get_executable

    site = make_site(files(), SETTINGS)
    site.build()
    whole, recent = site.public / "pagefind" / "0", site.public / "pagefind-recent"
    stamp = (whole / "pagefind-entry.json").stat().st_mtime_ns
    other = tmp_path / "other-bin" / "pagefind"
    other.parent.mkdir()
    shutil.copy2(get_executable(), other)
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(other))
    robots = site.root / "content/2026-10-02-robots.md"
    robots.write_text(robots.read_text().replace("tactile", "capacitive"))
    site.build()
    assert (whole / "pagefind-entry.json").stat().st_mtime_ns != stamp
    assert entry(whole)["languages"]["en"]["page_count"] == 2
    assert (recent / "replaced.json").read_text() == "[]"
    stamp = (whole / "pagefind-entry.json").stat().st_mtime_ns
    robots.write_text(robots.read_text().replace("capacitive", "piezoresistive"))
    site.build()  # the same binary again: the edit alone, in the recent index
    assert (whole / "pagefind-entry.json").stat().st_mtime_ns == stamp
    assert (recent / "replaced.json").read_text() == '["news/2026/10/02/robots/"]'


def test_a_build_stopped_between_swapping_an_index_and_its_record_is_not_trusted(
        make_site, monkeypatch):
    """The record names what the indexes on disk hold: a build stopped after an index was
    swapped in but before the record was written must not leave the next build trusting the
    old record (a page in both indexes, or a recent index that no longer matches)."""
    site = make_site(files(), SETTINGS)
    assert site.build() == 0
    recent = site.public / "pagefind-recent"
    real_exchange, real_keep_record = search.rename_exchange, search._keep_record

    def stopped(*args):
        raise NewsdigestError("killed")

    def exchange_whole_then_stop(fresh, target):
        if target == recent:
            raise NewsdigestError("killed")
        return real_exchange(fresh, target)

    # 1. stopped after the whole index (with a new page) is in, before the recent one
    (site.root / "content/2026-10-03-new.md").write_text(item(
        "Quantum annealers", "2026-10-03T10:00:00Z", "https://example.com/q", ("AI Hardware",)))
    monkeypatch.setattr(search, "MOST_RECENT", 0)
    monkeypatch.setattr(search, "rename_exchange", exchange_whole_then_stop)
    assert site.build() != 0
    monkeypatch.setattr(search, "MOST_RECENT", 300)
    monkeypatch.setattr(search, "rename_exchange", real_exchange)
    assert site.build() == 0
    # the whole index made again, not the new page indexed a second time in the recent one
    assert (recent / "pagefind.js").read_text() == "export {};\n"
    # 2. stopped after the recent index (with an edit) is in, then the edit undone
    robots = site.root / "content/2026-10-02-robots.md"
    before = robots.read_text()
    robots.write_text(before.replace("tactile", "capacitive"))
    monkeypatch.setattr(search, "_keep_record", stopped)
    assert site.build() != 0
    monkeypatch.setattr(search, "_keep_record", real_keep_record)
    robots.write_text(before)
    assert site.build() == 0
    assert (recent / "pagefind.js").read_text() == "export {};\n"  # not the edited page
    assert (recent / "replaced.json").read_text() == "[]"


def test_search_finds_edited_pages_as_they_are_now(browser, make_site, tmp_path):
    site = make_site(files(), SETTINGS)
    assert site.build() == 0
    robots = site.root / "content/2026-10-02-robots.md"
    robots.write_text(robots.read_text().replace("tactile", "capacitive")
                      .replace("Robot hands learn", "Robot hands finally learn"))
    (site.root / "content/2026-10-01-chips.md").unlink()
    assert site.build() == 0
    with served_with_base_path(site, tmp_path) as url:
        page = browser.new_page()
        page.goto(url + "search/")
        result = first_result(page, "capacitive")
        assert result.inner_text() == "Robot hands finally learn to fold laundry"
        assert result.get_attribute("href") == "/digest/news/2026/10/02/robots/"
        # the edited page once, as it is now; its old words and a deleted page find nothing
        page.fill("#search-query", "laundry")
        page.locator(".search-status", has_text="1 result for").wait_for(timeout=10_000)
        assert page.locator(".search-result-title").all_inner_texts() == [
            "Robot hands finally learn to fold laundry"]
        for gone in ("tactile", "wafer"):
            page.fill("#search-query", gone)
            page.locator(".search-status", has_text="No results").wait_for(timeout=10_000)
        page.close()


def test_a_full_screen_of_results_leaves_out_every_out_of_date_entry(browser, make_site,
                                                                     tmp_path):
    # 25 pages that all match, all edited since the whole index was made: their 25 entries in
    # it are out of date, and may rank anywhere among the 25 new ones.
    site = make_site({
        f"content/2026-10-{n + 1:02d}-zebra.md": item(
            f"Zebra story {n}", f"2026-10-{n + 1:02d}T10:00:00Z", f"https://example.com/z{n}",
            ("Robotics",), body="Zebra crossings and zebra herds.\n")
        for n in range(25)}, SETTINGS)
    assert site.build() == 0
    for path in (site.root / "content").glob("*-zebra.md"):
        path.write_text(path.read_text().replace("Zebra story", "Edited zebra story"))
    assert site.build() == 0
    with served_with_base_path(site, tmp_path) as url:
        page = browser.new_page()
        page.goto(url + "search/")
        first_result(page, "zebra")
        page.locator(".search-status", has_text="20 results for").wait_for(timeout=10_000)
        titles = page.locator(".search-result-title").all_inner_texts()
        assert len(titles) == 20 and all(t.startswith("Edited zebra story") for t in titles)
        page.close()


def test_records_go_to_the_service_without_waiting_between_answers(tmp_path):
    # Pagefind's shipped reader waited 0.1 s before each answer: 300 records took 30 s.
    made = [search.Record(url=f"/news/2026/10/01/s{n}/", content=f"gradient item{n} words",
                          meta={"title": f"Story {n}"}, filters={"kind": ["news"]})
            for n in range(300)]
    folder = tmp_path / "shard"
    folder.mkdir()
    started = time.perf_counter()
    search._run_apart(search._index(folder, made, "en"))
    assert time.perf_counter() - started < 20  # 30 s and more with the shipped reader
    assert entry(folder)["languages"]["en"]["page_count"] == 300
    assert not list(folder.glob("pagefind-ui*"))  # Pagefind's own interfaces: not used


def test_the_service_reader_takes_answers_larger_than_2_mib_in_any_pieces():
    # A shard's files come back as one message of several MB; the shipped reader's readuntil
    # stopped at 2 MiB. Answers are base64 JSON, each ended by a comma.
    from pagefind.service import PagefindService

    def message(number: int, payload: dict) -> bytes:
        body = json.dumps({"message_id": number, "payload": payload}).encode()
        return base64.b64encode(body) + b","

    async def read() -> list:
        loop = asyncio.get_running_loop()
        service = search._service_class(PagefindService).__new__(
            search._service_class(PagefindService))
        stream = asyncio.StreamReader(limit=2 ** 21)
        service._backend = type("Backend", (), {"stdout": stream})()
        service._responses = {n: loop.create_future() for n in (1, 2, 3)}
        futures = dict(service._responses)
        reading = asyncio.create_task(service._wait_for_responses())
        big = {"type": "GetFiles", "files": [{"path": "x", "content": "A" * 5_000_000}]}
        data = (message(1, {"type": "IndexedFile"}) + message(2, big)
                + message(3, {"type": "Error", "message": "bad record"}))
        for start in range(0, len(data), 777_777):  # pieces that split messages anywhere
            stream.feed_data(data[start:start + 777_777])
            await asyncio.sleep(0)
        stream.feed_eof()
        await reading
        return [futures[1].result(), futures[2].result(), futures[3].exception()]

    small, large, error = search._run_apart(read())  # (a browser test may run a loop here)
    assert small == {"type": "IndexedFile"}
    assert len(large["files"][0]["content"]) == 5_000_000
    assert str(error) == "bad record"


def test_a_build_that_fails_writing_its_pages_leaves_the_search_index_as_it_was(
        make_site, monkeypatch):
    """The index is made while the pages are written, and swapped in only after them."""
    from newsdigest.build import output

    site = make_site(files(), SETTINGS)
    assert site.build() == 0
    recent = site.public / "pagefind-recent"
    before = {p.relative_to(recent): p.read_bytes() for p in recent.rglob("*") if p.is_file()}
    robots = site.root / "content/2026-10-02-robots.md"
    robots.write_text(robots.read_text().replace("tactile", "capacitive"))

    def crash(*args, **kwargs):
        raise NewsdigestError("disk full")

    monkeypatch.setattr(output, "_write", crash)
    assert site.build() != 0
    monkeypatch.undo()
    after = {p.relative_to(recent): p.read_bytes() for p in recent.rglob("*") if p.is_file()}
    assert after == before
    assert not [p.name for p in site.public.parent.iterdir() if "pagefind-" in p.name]
    assert site.build() == 0  # and the next build indexes the edit
    assert (recent / "replaced.json").read_text() == '["news/2026/10/02/robots/"]'


def test_a_build_that_makes_the_output_anew_indexes_while_writing_and_stops_when_it_fails(
        make_site, monkeypatch):
    """A clean build (--no-cache) indexes while it writes the new output folder; when writing
    fails, the indexing is stopped rather than waited for, and the last site stays whole."""
    from newsdigest.build import output

    site = make_site(files(), SETTINGS)
    assert site.build("--no-cache") == 0
    before = {p.relative_to(site.public): p.read_bytes()
              for p in site.public.rglob("*") if p.is_file()}
    assert any(str(p).startswith("pagefind/") for p in before)

    async def slow_index(folder, made, language) -> None:  # in the indexing process
        await asyncio.sleep(60)

    def crash(*args, **kwargs):
        assert any(site.root.glob(".public.pagefind-*"))  # the indexing has begun
        raise NewsdigestError("disk full")

    monkeypatch.setattr(search, "_index", slow_index)
    monkeypatch.setattr(output, "_write", crash)
    started = time.monotonic()
    assert site.build("--no-cache") != 0
    assert time.monotonic() - started < 30  # not the minute the indexing would take
    monkeypatch.undo()
    after = {p.relative_to(site.public): p.read_bytes()
             for p in site.public.rglob("*") if p.is_file()}
    assert after == before
    assert not [p.name for p in site.root.iterdir() if p.name.startswith(".public.")]
