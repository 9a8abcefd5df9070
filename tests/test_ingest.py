"""`newsdigest ingest` and `approve` against feeds of real-world shape served on 127.0.0.1:
RSS 2.0, Atom with xml:base, RDF, JSON Feed, undated and future-dated feeds, a duplicate
aggregator, a 404, an HTML page and a source that never answers."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import lxml.html
import pytest
import yaml

from newsdigest.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
TYPES = {".xml": "application/rss+xml; charset=utf-8", ".json": "application/feed+json",
         ".html": "text/html; charset=utf-8", ".opml": "text/x-opml"}


@dataclass
class Feeds:
    base: str
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    extra: dict[str, bytes] = field(default_factory=dict)  # more answers, made by a test
    redirects: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def feeds() -> Iterator[Feeds]:
    served = Feeds("")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            served.requests.append((self.path, dict(self.headers)))
            if self.path == "/stuck.xml":
                served.release.wait(10)  # never answers within the test's timeout
                return
            if self.path in served.redirects:
                self.send_response(302)
                self.send_header("Location", served.redirects[self.path])
                self.end_headers()
                return
            path = FIXTURES / self.path.lstrip("/")
            if self.path in served.extra:
                path = Path(self.path)
            elif self.path == "/gone.xml" or not path.is_file():
                self.send_error(404)
                return
            body = served.extra.get(self.path) or path.read_bytes()
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", TYPES.get(path.suffix, "application/octet-stream"))
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    served.base = f"http://127.0.0.1:{server.server_address[1]}"
    yield served
    served.release.set()
    server.shutdown()
    server.server_close()


SETTINGS = """\
[site]
title = "Test Digest"
base_url = "https://news.example/"

[ingest]
allow_loopback = true  # the feeds are served on 127.0.0.1
timeout = 3  # the stuck feed's cost; 1 s failed a good feed on a busy machine

[topics."Robotics"]
keywords = ["robot", "humanoid"]

[topics."Machine Learning"]

[sources.robots]
url = "{base}/rss2.xml"
topics = ["Machine Learning"]
exclude = ["webinar"]

[sources.lab]
url = "{base}/atom.xml"

[sources.papers]
url = "{base}/rdf.xml"
provider = "Papers Example"
include = ["/\\\\bLLMs?\\\\b/", "transformer"]

[sources.notes]
url = "{base}/feed.json"

[sources.undated]
url = "{base}/nodates.xml"

[sources.skew]
url = "{base}/future.xml"

[sources.aggregator]
url = "{base}/duplicate.xml"

[sources.gone]
url = "{base}/gone.xml"

[sources.homepage]
url = "{base}/page.html"

[sources.stuck]
url = "{base}/stuck.xml"
"""


@pytest.fixture
def site(tmp_path: Path, feeds: Feeds, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795132800")  # 2026-11-20T00:00:00Z
    monkeypatch.delenv("NEWSDIGEST_OFFLINE")  # ingest fetches; builds below pass --offline
    root = tmp_path / "site"
    (root / "content").mkdir(parents=True)
    (root / "site.toml").write_text(SETTINGS.replace("{base}", feeds.base), encoding="utf-8")
    return root


def front_matter(path: Path) -> tuple[dict, str]:
    _, block, body = path.read_text(encoding="utf-8").split("---\n", 2)
    return yaml.safe_load(block), body


def run(root: Path, *args: str) -> int:
    return main(["ingest", "--config", str(root / "site.toml"), *args])


def inbox(root: Path) -> dict[str, Path]:
    return {p.name: p for p in sorted((root / "content" / "inbox").glob("*.md"))}


def test_ingest_writes_one_draft_per_new_entry_and_builds_clean(site, feeds, capsys):
    started = time.monotonic()
    assert run(site) == 0
    took = time.monotonic() - started
    out, err = capsys.readouterr()
    assert ("ingest: 10 sources, 11 new, 2 already known, 2 filtered, 3 sources failed"
            in out.splitlines())
    assert f"  gone: source gone: HTTP 404 ({feeds.base}/gone.xml)" in err
    assert "  homepage: not a feed: the address answers an HTML page" in err
    assert "  stuck: timed out after 3 s" in err
    assert took < 6  # the stuck source held the run for its 3 s deadline, not its 10 s stall

    files = inbox(site)
    assert sorted(files) == [
        "2026-11-11-a-note-without-a-title-about-tags-and-such-long-enough-to-be-an-excerpt.md",
        "2026-11-12-our-lab-opens-a-new-office-for-model-research.md",
        "2026-11-13-running-a-tiny-llm-on-a-microcontroller.md",
        "2026-11-14-sparse-mixture-of-experts-language-models-at-small-scale.md",
        "2026-11-15-watch-the-robot-demo-everyone-is-talking-about.md",
        "2026-11-17-open-model-beats-gpt-on-reasoning-benchmark.md",
        "2026-11-18-a-story-only-the-aggregator-has-about-robots.md",
        "2026-11-18-humanoid-robot-learns-to-fold-laundry-and-cook-dinner.md",
        "2026-11-19-scaling-laws-for-robot-policy-models.md",
                "2026-11-20-announcing-the-model-release-of-next-year.md",
        "2026-11-20-weekly-robotics-roundup-number-forty-two.md",
    ], sorted(files)

    # RSS 2.0: HTML in the title, media:content with its size, content:encoded as the body
    humanoid = files["2026-11-18-humanoid-robot-learns-to-fold-laundry-and-cook-dinner.md"]
    data, body = front_matter(humanoid)
    assert list(data) == ["title", "excerpt", "publishedDateTime", "webUrl", "type",
                          "published", "provider", "topics", "images"]
    assert data["title"] == 'Humanoid robot learns to fold laundry & "cook" dinner'
    assert data["excerpt"] == ("A startup's humanoid now folds shirts & towels at home speed. "
                               "Read more")
    assert data["publishedDateTime"].isoformat() == "2026-11-18T14:30:00+00:00"
    assert data["webUrl"] == "https://news.example.com/2026/11/18/humanoid-robot-laundry/"
    assert data["published"] is False and data["type"] == "article"
    assert data["provider"] == {"name": "The Robot Report & Friends",
                                "domain": "news.example.com"}
    assert data["topics"] == ["Machine Learning", "Robotics"]  # the source's, then keywords
    assert data["images"] == [{"url": "https://cdn.news.example.com/humanoid-1200.jpg",
                               "width": 1200, "height": 675}]
    assert "<strong>humanoid</strong>" in body
    assert "script" not in body and "onclick" not in body

    # an enclosure as the picture; the entry's own date
    model, _ = front_matter(files["2026-11-17-open-model-beats-gpt-on-reasoning-benchmark.md"])
    assert model["images"] == [{"url": "https://cdn.news.example.com/model.png"}]
    assert model["excerpt"] == "A 70B open-weights model tops the leaderboard. Details inside."
    assert model["topics"] == ["Machine Learning"]  # no robot word in it

    # a YouTube link is a video, embedded from its id
    video, _ = front_matter(files["2026-11-15-watch-the-robot-demo-everyone-is-talking-about.md"])
    assert video["type"] == "video"
    assert video["featuredContent"] == (
        '<iframe src="https://www.youtube.com/embed/dQw4w9WgXcQ"></iframe>')
    assert video["images"][0] == {"url": "https://i.ytimg.com/vi/dQw4w9WgXcQ/hqdefault.jpg",
                                  "width": 480, "height": 360}

    # Atom: xml:base and relative links resolved, in the link and in the body
    lab, lab_body = front_matter(files["2026-11-19-scaling-laws-for-robot-policy-models.md"])
    assert lab["webUrl"] == "https://lab.example.org/blog/posts/scaling-laws-robot-policies"
    assert lab["title"] == "Scaling laws for robot <policy> models"
    assert lab["provider"]["name"] == "Example Lab <Blog>"
    assert 'href="https://lab.example.org/blog/posts/figures/"' in lab_body
    assert lab["images"] == [{"url": "https://lab.example.org/blog/posts/img/curve.png"}]
    office, _ = front_matter(files["2026-11-12-our-lab-opens-a-new-office-for-model-research.md"])
    assert office["webUrl"] == "https://lab.example.org/news/office"
    assert office["publishedDateTime"].isoformat() == "2026-11-12T09:00:00+00:00"  # updated

    # RDF, with the source's provider and an include regex
    paper, _ = front_matter(files[
        "2026-11-14-sparse-mixture-of-experts-language-models-at-small-scale.md"])
    assert paper["provider"] == {"name": "Papers Example", "domain": "papers.example.net"}

    # JSON Feed: the image, the offset date, a relative URL, a title from the text
    tiny, tiny_body = front_matter(files["2026-11-13-running-a-tiny-llm-on-a-microcontroller.md"])
    assert tiny["publishedDateTime"].isoformat() == "2026-11-13T12:15:00+00:00"
    assert tiny["images"] == [{"url": "https://notes.example.dev/img/esp32.jpg"}]
    assert "<code>512 KB</code>" in tiny_body and "iframe" not in tiny_body
    untitled, _ = front_matter(files["2026-11-11-a-note-without-a-title-about-tags-and-such-"
                                     "long-enough-to-be-an-excerpt.md"])
    assert untitled["webUrl"] == "https://notes.example.dev/2026/11/11/relative"
    assert untitled["excerpt"].startswith("A note without a title, about <tags> & such")

    # no date: the time first seen; a future date: the time seen too
    for name in ("2026-11-20-weekly-robotics-roundup-number-forty-two.md",
                 "2026-11-20-announcing-the-model-release-of-next-year.md"):
        assert front_matter(files[name])[0]["publishedDateTime"].isoformat() == \
            "2026-11-20T00:00:00+00:00"

    # the result builds without a warning, and check passes
    assert main(["build", "--config", str(site / "site.toml"), "--drafts", "--offline"]) == 0
    out, err = capsys.readouterr()
    assert "warning" not in (out + err).lower(), out + err
    assert main(["check", "--config", str(site / "site.toml")]) == 0, capsys.readouterr()


def test_a_second_run_writes_nothing_and_asks_conditionally(site, feeds, capsys):
    assert run(site, "--source", "robots", "--source", "undated") == 0
    first = {name: path.read_bytes() for name, path in inbox(site).items()}
    assert len(first) == 4
    feeds.requests.clear()
    assert run(site, "--source", "robots", "--source", "undated") == 0
    assert "ingest: 2 sources, 0 new, 0 already known, 0 filtered" in capsys.readouterr().out
    assert {name: path.read_bytes() for name, path in inbox(site).items()} == first
    assert all(headers.get("If-None-Match") for _, headers in feeds.requests)

    # without the cache the feeds are read in full: every entry is known by the content
    (site / ".cache" / "ingest.json").unlink()
    assert run(site, "--source", "robots", "--source", "undated") == 0
    assert "0 new, 4 already known, 2 filtered" in capsys.readouterr().out
    # the undated entry kept no date of its own, and the known item still stops it
    assert {name: path.read_bytes() for name, path in inbox(site).items()} == first


def test_undated_entry_keeps_its_first_seen_date(site, monkeypatch):
    assert run(site, "--source", "undated", "--dry-run") == 0
    assert not (site / "content" / "inbox").exists()
    assert not (site / ".cache" / "ingest.json").exists()  # a dry run writes nothing at all
    assert run(site, "--source", "undated") == 0
    [path] = inbox(site).values()
    path.unlink()  # the editor dropped it; a later run finds it again, with the same date
    cache = site / ".cache" / "ingest.json"
    kept = json.loads(cache.read_text())
    kept["sources"] = {}  # as if the feed had changed: no 304 this time
    cache.write_text(json.dumps(kept))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(1795132800 + 3 * 86400))
    assert run(site, "--source", "undated") == 0
    [again] = inbox(site).values()
    assert front_matter(again)[0]["publishedDateTime"].isoformat() == "2026-11-20T00:00:00+00:00"


def test_max_items_and_include_filter(site, capsys):
    toml = site / "site.toml"
    toml.write_text(toml.read_text().replace('exclude = ["webinar"]',
                                             'exclude = ["webinar"]\nmax_items = 1'))
    assert run(site, "--source", "robots") == 0
    assert "1 new, 0 already known, 4 filtered" in capsys.readouterr().out
    assert list(inbox(site)) == [
        "2026-11-18-humanoid-robot-learns-to-fold-laundry-and-cook-dinner.md"]
    toml.write_text(toml.read_text().replace('include = ["/\\\\bLLMs?\\\\b/", "transformer"]',
                                             'include = ["transformer"]'))
    assert run(site, "--source", "papers") == 0
    assert "0 new, 0 already known, 1 filtered" in capsys.readouterr().out


def test_dry_run_lists_and_writes_nothing(site, capsys, monkeypatch):
    monkeypatch.chdir(site)  # paths are shown from where the command runs
    assert run(site, "--source", "lab", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "would write content/inbox/2026-11-19-scaling-laws-for-robot-policy-models.md" in out
    assert "ingest: 1 source, 2 new (dry run: nothing written)" in out
    assert not (site / "content" / "inbox").exists()


def test_publish_and_existing_names_are_never_overwritten(site):
    taken = site / "content" / "inbox" / "2026-11-19-scaling-laws-for-robot-policy-models.md"
    taken.parent.mkdir()
    taken.write_text("an editor's own file\n", encoding="utf-8")
    assert run(site, "--source", "lab", "--publish") == 0
    assert taken.read_text(encoding="utf-8") == "an editor's own file\n"
    written = site / "content/inbox/2026-11-19-scaling-laws-for-robot-policy-models-2.md"
    assert front_matter(written)[0]["published"] is True


def test_every_source_failing_exits_1(site, feeds, capsys, monkeypatch):
    toml = site / "site.toml"
    toml.write_text(toml.read_text() + f'[sources.broken]\nurl = "{feeds.base}/broken.xml"\n')
    assert run(site, "--source", "gone", "--source", "homepage", "--source", "broken") == 1
    out, err = capsys.readouterr()
    assert "ingest: 3 sources, 0 new, 0 already known, 0 filtered, 3 sources failed" in out
    assert ("  broken: broken XML at line 2, column 52: undefined entity "
            f"({feeds.base}/broken.xml)") in err.splitlines(), err
    # the cache keeps each source's health: a second failure says since when
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(1795132800 + 86400))
    assert run(site, "--source", "gone", "--source", "lab") == 0
    err = capsys.readouterr().err
    assert ("  gone: source gone: HTTP 404 "
            f"({feeds.base}/gone.xml); failed 2 runs in a row, since 2026-11-20 00:00") in err
    assert run(site, "--source", "nosuch") == 2
    assert "no source named 'nosuch' in site.toml (known: robots, lab" in capsys.readouterr().err


def test_offline_fetches_and_writes_nothing(site, feeds, monkeypatch, capsys):
    monkeypatch.setenv("NEWSDIGEST_OFFLINE", "1")
    assert run(site) == 0
    assert "ingest: offline: no source fetched, nothing written" in capsys.readouterr().out
    assert feeds.requests == [] and not (site / "content" / "inbox").exists()


def test_loopback_is_refused_unless_allowed(site, capsys):
    toml = site / "site.toml"
    toml.write_text(toml.read_text().replace("allow_loopback = true", "allow_loopback = false"))
    assert run(site, "--source", "lab") == 1
    assert "lab: refused loopback address 127.0.0.1" in capsys.readouterr().err


def test_opml_with_nested_folders(site, feeds, tmp_path, capsys):
    opml = tmp_path / "subscriptions.opml"
    opml.write_text((FIXTURES / "subscriptions.opml").read_text().replace("{base}", feeds.base))
    assert run(site, "--opml", str(opml)) == 0
    assert "ingest: 3 sources, 5 new, 0 already known, 0 filtered" in capsys.readouterr().out
    assert sorted(path for path, _ in feeds.requests) == ["/atom.xml", "/feed.json", "/rdf.xml"]
    paper = inbox(site)["2026-11-14-sparse-mixture-of-experts-language-models-at-small-scale.md"]
    assert front_matter(paper)[0]["provider"]["name"] == "Papers Example: cs.LG"


def test_approve_publishes_keeping_every_other_byte(site, capsys):
    assert run(site, "--source", "lab") == 0
    files = inbox(site)
    path = files["2026-11-19-scaling-laws-for-robot-policy-models.md"]
    before = path.read_bytes()
    assert main(["approve", "--config", str(site / "site.toml"), str(path)]) == 0
    assert path.read_bytes() == before.replace(b"\npublished: false\n", b"\npublished: true\n")
    # by the story's URL, in another form (www., a tracking parameter)
    other = files["2026-11-12-our-lab-opens-a-new-office-for-model-research.md"]
    assert main(["approve", "--config", str(site / "site.toml"),
                 "https://www.lab.example.org/news/office?utm_source=x"]) == 0
    assert front_matter(other)[0]["published"] is True
    assert main(["approve", "--config", str(site / "site.toml"), str(path)]) == 0
    assert "already published" in capsys.readouterr().out
    assert main(["approve", "--config", str(site / "site.toml"), "missing.md"]) == 1


def test_approve_keeps_comments_crlf_and_body(tmp_path):
    from newsdigest.ingest.approve import publish_file

    path = tmp_path / "draft.md"
    text = (b"---\r\ntitle: 'A'\r\npublished:   no   # until legal says so\r\n"
            b"related:\r\n  - published: false\r\n---\r\npublished: false\r\n")
    path.write_bytes(text)
    assert publish_file(path) == "published"
    assert path.read_bytes() == text.replace(b"published:   no   #", b"published:   true   #")


def test_hostile_titles_round_trip(tmp_path):
    from datetime import UTC, datetime

    from newsdigest.ingest.items import NewItem, item_text

    for title in ['"quoted" \\ back', "---", "# not a comment", "key: value", "\x00\x07 bell",
                  "line\nbreak", "emoji 😀 and \u2028 separator", "'single'", "null", "- 1"]:
        text = item_text(NewItem(title=title, url="https://x.example.com/a",
                                 published_at=datetime(2026, 11, 1, tzinfo=UTC),
                                 excerpt=title, provider=title, topics=(title,)))
        data = yaml.safe_load(text.split("---\n")[1])
        assert data["title"] == data["excerpt"] == data["provider"]["name"] == title
        assert data["topics"] == [title]


def test_bad_ingest_settings_are_reported_together(tmp_path, capsys):
    toml = tmp_path / "site.toml"
    toml.write_text('[ingest]\nfolder = "../outside"\ntimeout = 0\nspeed = 3\n'
                    '[sources.a]\nurl = "ftp://example.com/feed"\ninclude = ["/(unclosed/"]\n'
                    '[sources.b]\nurl = "https://example.com/feed"\nmax_items = -1\n'
                    '[topics."Robotics"]\nkeywords = "robot"\n', encoding="utf-8")
    assert main(["ingest", "--config", str(toml)]) == 2
    err = capsys.readouterr().err
    for expected in ("ingest.folder: expected a folder inside the content folder",
                     "ingest.timeout: expected a positive number, got 0",
                     "ingest.speed: unknown setting",
                     "sources.a.url: expected the feed's http(s) URL, got 'ftp://example.com/feed'",
                     "sources.a.include: not a regular expression ('/(unclosed/'",
                     "sources.b.max_items: expected a positive integer, got -1",
                     "topics.Robotics.keywords: expected a list of words, got 'robot'"):
        assert expected in err, err
    assert "Traceback" not in err


def test_no_sources_says_how_to_add_one(tmp_path, capsys):
    toml = tmp_path / "site.toml"
    toml.write_text('[site]\ntitle = "T"\n', encoding="utf-8")
    assert main(["ingest", "--config", str(toml)]) == 1
    assert "no sources in site.toml: add one such as" in capsys.readouterr().err


def test_add_writes_an_item_from_the_pages_metadata(site, feeds, capsys, monkeypatch):
    monkeypatch.chdir(site)
    config = ["--config", str(site / "site.toml")]
    assert main(["add", f"{feeds.base}/page.html", "--topic", "Machine Learning", *config]) == 0
    shown = capsys.readouterr().out.strip()
    assert shown == ("content/inbox/2026-11-19-chipmaker-unveils-falcon-ai-accelerator-and-"
                     "software-stack.md")
    data, body = front_matter(site / shown)
    assert data == {
        "title": 'Chipmaker unveils "Falcon" AI accelerator & software stack',  # OpenGraph
        "excerpt": "The new chip doubles inference throughput per watt, the company says.",
        "publishedDateTime": data["publishedDateTime"],
        "webUrl": "https://www.silicontimes.example.com/2026/11/19/falcon-accelerator",
        "type": "article",
        "published": False,
        "provider": {"name": "Silicon Times", "domain": "silicontimes.example.com"},
        "topics": ["Machine Learning"],
        "images": [{"url": "https://cdn.silicontimes.example.com/falcon.jpg",
                    "width": 1600, "height": 900}],
    }
    assert data["publishedDateTime"].isoformat() == "2026-11-19T06:45:00+00:00"
    assert body == ""
    # the same story again is refused, and nothing is written
    assert main(["add", f"{feeds.base}/page.html", *config]) == 1
    assert "is already in the content folder" in capsys.readouterr().err

    # JSON-LD only: a VideoObject in a list, beside a broken block
    assert main(["add", f"{feeds.base}/video.html", "--publish", *config]) == 0
    video, _ = front_matter(site / capsys.readouterr().out.strip())
    assert video["title"] == "Robot arm sorts 10,000 parcels an hour"
    assert video["type"] == "video" and video["published"] is True
    assert video["featuredContent"] == (
        '<iframe src="https://www.youtube.com/embed/aqz-KE-bpKQ"></iframe>')
    assert video["provider"] == {"name": "Example Video"}  # served from an address, no domain
    assert video["publishedDateTime"].isoformat() == "2026-11-16T12:00:00+00:00"
    assert video["images"] == [{"url": "https://i.ytimg.com/vi/aqz-KE-bpKQ/maxresdefault.jpg"}]

    assert main(["build", *config, "--drafts", "--offline"]) == 0
    out, err = capsys.readouterr()
    assert "warning" not in (out + err).lower(), out + err
    assert main(["add", f"{feeds.base}/gone.html", *config]) == 1
    assert "HTTP 404" in capsys.readouterr().err


def test_hostile_feed_gives_files_that_build_clean(site, feeds, capsys):
    long_title = "Robots " + "very " * 20000 + "long"
    feeds.extra["/hostile.xml"] = f"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>---\n# Evil: "feed" \\ &amp;amp; {'x' * 5000}</title>
<item><title>{long_title}</title><link>https://evil.example.com/1</link>
<pubDate>Wed, 18 Nov 2026 10:00:00 GMT</pubDate>
<description>&lt;script&gt;alert(1)&lt;/script&gt;Text &amp;amp; more</description></item>
<item><title>---</title><link>javascript:alert(1)</link></item>
<item><title>key: "value" # not a comment</title><link>https://evil.example.com/2?a=1&amp;b=2</link>
<pubDate>Wed, 18 Nov 2026 11:00:00 GMT</pubDate>
<description>x</description></item>
</channel></rss>""".encode()
    feeds.redirects["/moved.xml"] = "http://10.0.0.1/feed.xml"
    toml = site / "site.toml"
    toml.write_text(toml.read_text() + f'[sources.hostile]\nurl = "{feeds.base}/hostile.xml"\n'
                    f'[sources.moved]\nurl = "{feeds.base}/moved.xml"\n')
    assert run(site, "--source", "hostile", "--source", "moved") == 0
    out, err = capsys.readouterr()
    assert "ingest: 2 sources, 2 new, 0 already known, 0 filtered, 1 source failed" in out
    assert "moved: refused private address 10.0.0.1, redirected to http://10.0.0.1/" in err
    files = inbox(site)
    key = front_matter(files["2026-11-18-key-value-sharp-not-a-comment.md"])[0]
    assert key["title"] == 'key: "value" # not a comment'
    assert key["webUrl"] == "https://evil.example.com/2?a=1&b=2"
    [long_name] = [name for name in files if name.startswith("2026-11-18-robots-very")]
    data, _ = front_matter(files[long_name])
    assert len(data["title"]) <= 500 and data["title"].endswith("…")
    assert data["excerpt"] == "Text & more"
    assert data["provider"]["name"].startswith('--- # Evil: "feed" \\ & xxx')
    assert main(["build", "--config", str(site / "site.toml"), "--drafts", "--offline"]) == 0
    out, err = capsys.readouterr()
    assert "warning" not in (out + err).lower(), out + err


def test_rss_091_and_json_feed_1_0_parse():
    from newsdigest.ingest.entries import NotAFeed, parse_feed

    rss091 = b"""<?xml version="1.0"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
 "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>Old School</title><link>https://old.example.com/</link>
<description>d</description><language>en</language>
<item><title>Neural nets, 1999 edition</title><link>https://old.example.com/nn</link>
<description>Perceptrons &amp;amp; friends</description></item></channel></rss>"""
    feed = parse_feed(rss091, "https://old.example.com/rss")
    assert feed.title == "Old School"
    [entry] = feed.entries
    assert (entry.title, entry.url, entry.published) == (
        "Neural nets, 1999 edition", "https://old.example.com/nn", None)

    json10 = (b'{"version": "https://jsonfeed.org/version/1", "title": "J", "items": [{"id": "1",'
              b' "url": "https://j.example.com/1", "title": "T", "content_text": "a < b",'
              b' "date_modified": "2026-11-10T10:00:00+02:00"}]}')
    [entry] = parse_feed(json10, "https://j.example.com/feed.json").entries
    assert entry.summary == "a &lt; b" and entry.updated.isoformat() == "2026-11-10T08:00:00+00:00"
    deep = b'{"version": "https://jsonfeed.org/version/1.1", "items": ' + b"[" * 100000
    with pytest.raises(NotAFeed, match="broken JSON"):
        parse_feed(deep, "https://j.example.com/feed.json")
    with pytest.raises(NotAFeed, match="neither XML nor JSON"):
        parse_feed(b"/etc/passwd", "https://j.example.com/feed")  # never opened as a file


def test_the_curation_report_lists_the_sources_health(site, feeds, capsys, monkeypatch):
    assert run(site, "--source", "gone", "--source", "lab") == 0
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(1795132800 + 3600))
    assert run(site, "--source", "gone") == 1
    capsys.readouterr()
    assert main(["report", "--config", str(site / "site.toml")]) == 0
    out = capsys.readouterr().out
    part = out.split("Sources of newsdigest ingest", 1)[1].splitlines()
    assert part[0] == " (10, 1 failing, 0 silent)"
    assert part[1] == ("  gone: failing, 2 runs in a row since 2026-11-20 00:00: source gone: "
                       f"HTTP 404 ({feeds.base}/gone.xml)")
    lab = next(line for line in part if line.startswith("  lab: "))
    assert lab.startswith("  lab: ok, last read 2026-11-20 00:00; ")
    assert re.search(r"; \d+ entries in the feed, [1-9]\d* imported, the last new on "
                     r"2026-11-20$", lab), lab
    # 31 days on with nothing new, the source is flagged as silent, before the fine ones.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(1795132800 + 31 * 86400))
    assert run(site, "--source", "lab") == 0
    capsys.readouterr()
    assert main(["report", "--config", str(site / "site.toml")]) == 0
    later = capsys.readouterr().out.split("Sources of newsdigest ingest", 1)[1].splitlines()
    assert later[0] == " (10, 1 failing, 1 silent)"
    assert later[2].startswith(
        "  lab: silent, nothing new since 2026-11-20; ok, last read 2026-12-21")
    assert "  robots: not fetched yet" in part


def test_the_report_page_shows_the_sources_and_stays_exact_as_they_change(site, feeds,
                                                                        monkeypatch):
    def build(output: str, *more: str) -> lxml.html.HtmlElement:
        assert main(["build", "--config", str(site / "site.toml"), "--offline", "--no-search",
                     "--drafts", "--output", str(site / output), *more]) == 0
        return lxml.html.fromstring((site / output / "_report/index.html").read_bytes())

    def sources(page: lxml.html.HtmlElement) -> list[str]:
        return [line.strip() for line in
                page.xpath("//section[@aria-labelledby='sources']//li/text()")]

    assert run(site, "--source", "lab") == 0
    first = sources(build("public"))
    assert any(line.startswith("lab: ok, last read 2026-11-20 00:00") for line in first)
    assert "robots: not fetched yet" in first
    # A failing run changes no content file: the warm build still remakes the page.
    assert run(site, "--source", "gone") == 1
    warm = build("public")
    assert sources(warm)[0].startswith("gone: failing, 1 run in a row")
    assert sources(warm) == sources(build("clean", "--no-cache"))
    # Time alone turns a quiet source silent: the warm build knows when.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(1795132800 + 31 * 86400))
    later = sources(build("public"))
    assert any(line.startswith("lab: silent, nothing new since 2026-11-20") for line in later)
    assert later == sources(build("clean", "--no-cache"))
    assert (site / "public/_report/index.html").read_bytes() == \
        (site / "clean/_report/index.html").read_bytes()
