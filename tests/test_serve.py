"""`newsdigest serve`: live reload in a real browser, the error overlay, HTTP, rebuild routing."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from browser import browser_fixture  # noqa: F401 - provides `browser`
from conftest import REPO, Site, item

from newsdigest.build.pipeline import BuildOptions
from newsdigest.cli import main
from newsdigest.config.site import SiteConfig, load_config
from newsdigest.serve.rebuild import Rebuild, serve_config
from newsdigest.serve.server import Broadcast, PreviewServer, ServeOptions, is_loopback
from newsdigest.serve.watcher import Changes, Sources, Watcher

NOW = datetime(2026, 11, 20, tzinfo=UTC)
FIRST = "content/2026-10-01-first.md"
FIRST_PAGE = "news/2026/10/01/first/index.html"
SITE = {
    FIRST: item("First story", "2026-10-01T10:00:00Z", "https://example.com/1"),
    "content/2026-10-02-second.md": item("Second story", "2026-10-02T10:00:00Z",
                                         "https://example.com/2"),
}
THEME_ITEM = (REPO / "templates" / "item.html").read_text()


class RecordingLog:
    """Collects the server's rebuilds so tests can wait for them."""

    def __init__(self) -> None:
        self.rebuilds: list[Rebuild] = []
        self._cond = threading.Condition()

    def rebuilt(self, rebuild: Rebuild, cause: str, config: SiteConfig) -> None:
        with self._cond:
            self.rebuilds.append(rebuild)
            self._cond.notify_all()

    def wait(self, count: int, timeout: float = 10.0) -> list[Rebuild]:
        """The rebuilds after the first `count`, once the next full build (or any error) is in."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                news = self.rebuilds[count:]
                if any(r.kind == "build" or not r.ok for r in news):
                    return news
                if not self._cond.wait(deadline - time.monotonic()):
                    raise AssertionError(f"no rebuild within {timeout} s; got {news}")


@dataclass
class Served:
    site: Site
    server: PreviewServer
    log: RecordingLog

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def output(self) -> Path:
        return self.server.preview.output_dir

    def request(self, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
        """A raw request: the path is sent exactly as given (no normalising of '..')."""
        host, port = self.server.url.removeprefix("http://").rstrip("/").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=5)
        try:
            connection.request(method, path)
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, \
                response.read()
        finally:
            connection.close()

    def edit(self, rel: str, text: str) -> list[Rebuild]:
        """Write a file and return the rebuilds it caused."""
        before = len(self.log.rebuilds)
        self.site.write(rel, text)
        return self.log.wait(before)


@pytest.fixture
def serve(make_site: Callable[..., Site]) -> Iterator[Callable[..., Served]]:
    running: list[tuple[PreviewServer, threading.Thread]] = []

    def start(files: dict[str, str], folders: tuple[str, ...] = ("templates", "static"),
              options: BuildOptions | None = None, host: str = "127.0.0.1") -> Served:
        site = make_site(files)
        for folder in folders:
            (site.root / folder).mkdir(exist_ok=True)
        config_file = (site.root / "site.toml").resolve()
        log = RecordingLog()
        server = PreviewServer(
            lambda url: serve_config(load_config(config_file), url),
            options or BuildOptions(drafts=True, future=True, workers=1, now=NOW,
                                    search=False, offline=True),
            ServeOptions(host, 0), log, config_file,
        )
        server.start()
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        running.append((server, thread))
        return Served(site, server, log)

    yield start
    for server, thread in running:
        server.close()
        thread.join(timeout=5)
        assert not thread.is_alive(), "the server did not stop"


# --- in a real browser -------------------------------------------------------------------------

def test_an_edited_title_shows_in_the_open_page_by_itself(serve, browser):
    served = serve(SITE)
    page = browser.new_page()
    home = browser.new_page()
    try:
        page.goto(served.url + "news/2026/10/01/first/")
        home.goto(served.url)
        assert page.locator("h1").inner_text() == "First story"
        page.locator("script[data-build]").wait_for(state="attached")

        started = time.monotonic()
        served.site.write(FIRST, item("First story, rewritten", "2026-10-01T10:00:00Z",
                                      "https://example.com/1"))
        # Waits go through locators: the site's CSP forbids the eval behind wait_for_function.
        page.locator("h1", has_text="First story, rewritten").wait_for(timeout=2000)
        assert time.monotonic() - started < 2.0
        # the list that shows the story follows with the incremental build
        home.get_by_text("First story, rewritten").first.wait_for(timeout=3000)
    finally:
        page.close()
        home.close()


def test_a_template_error_shows_an_overlay_until_it_is_fixed(serve, browser):
    served = serve(SITE)
    served.edit("templates/item.html", THEME_ITEM)
    page = browser.new_page()
    try:
        page.goto(served.url + "news/2026/10/01/first/")
        page.locator("script[data-build]").wait_for(state="attached")
        broken = THEME_ITEM.replace("{{ page.heading }}</h1>", "{{ page.heading }</h1>")
        line = THEME_ITEM.splitlines().index(
            next(s for s in THEME_ITEM.splitlines() if "{{ page.heading }}</h1>" in s)) + 1
        served.site.write("templates/item.html", broken)

        overlay = page.locator("newsdigest-overlay")
        overlay.locator(".panel").wait_for(state="visible", timeout=3000)
        where = f"{_shown('templates/item.html', served)}:{line}"
        assert overlay.locator(".where").inner_text() == where
        assert "template syntax error" in overlay.locator(".message").inner_text()
        assert page.locator("h1").inner_text() == "First story"  # the last good page stays

        served.site.write("templates/item.html", THEME_ITEM.replace(
            '<h1 id="story-title">', '<h1 id="story-title" class="fixed">'))
        page.locator("h1.fixed").wait_for(timeout=3000)
        assert overlay.count() == 0
    finally:
        page.close()


def test_an_invalid_item_shows_file_and_line_and_goes_when_fixed(serve, browser):
    served = serve(SITE)
    page = browser.new_page()
    try:
        page.goto(served.url)
        page.locator("script[data-build]").wait_for(state="attached")
        served.site.write(FIRST, item(date="yesterday"))

        overlay = page.locator("newsdigest-overlay")
        overlay.locator(".panel").wait_for(state="visible", timeout=3000)
        assert overlay.locator(".where").inner_text() == f"{_shown(FIRST, served)}:3"
        assert "publishedDateTime" in overlay.locator(".message").inner_text()
        hit = overlay.locator(".row.hit")
        assert (hit.locator(".number").inner_text(), hit.inner_text().strip()) == \
            ("3", "3publishedDateTime: yesterday")
        assert overlay.locator(".title").inner_text() == "The build failed"

        served.site.write(FIRST, item("First story, fixed", "2026-10-01T10:00:00Z",
                                      "https://example.com/1"))
        page.get_by_text("First story, fixed").first.wait_for(timeout=3000)
        assert overlay.count() == 0
    finally:
        page.close()


def test_a_css_change_is_applied_without_reloading_the_page(serve, browser):
    served = serve(SITE)
    page = browser.new_page()
    try:
        page.goto(served.url)
        page.locator("script[data-build]").wait_for(state="attached")
        page.evaluate("window.notReloaded = true")
        served.site.write("static/css/site.css", "body { background-color: rgb(1, 2, 3); }\n")
        deadline = time.monotonic() + 2
        while page.evaluate("getComputedStyle(document.body).backgroundColor") != \
                "rgb(1, 2, 3)":
            assert time.monotonic() < deadline, "the stylesheet was not swapped in"
            time.sleep(0.05)
        assert page.evaluate("window.notReloaded") is True
    finally:
        page.close()


def _shown(rel: str, served: Served) -> str:
    """How the overlay names a file: relative to the working folder when inside it."""
    path = (served.site.root / rel).resolve()
    return path.relative_to(Path.cwd()).as_posix() if path.is_relative_to(Path.cwd()) \
        else str(path)


# --- HTTP ----------------------------------------------------------------------------------------

def test_folders_serve_their_index_and_missing_pages_get_the_404_page(serve):
    served = serve(SITE)
    status, headers, body = served.request("/topics/ai/")
    assert status == 200
    assert body.startswith(b"<!doctype html>")
    status, headers, body = served.request("/topics/ai")
    assert (status, headers["location"]) == (301, "/topics/ai/")
    status, headers, body = served.request("/no/such/page/")
    assert status == 404
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert b"Page not found" in body and b"/__newsdigest/reload.js" in body
    assert served.request("/__newsdigest/nothing")[0] == 404


def test_content_types_and_no_caching(serve):
    served = serve(SITE)
    expected = {
        "/": "text/html; charset=utf-8",
        "/" + FIRST_PAGE: "text/html; charset=utf-8",
        "/css/site.css": "text/css; charset=utf-8",
        "/js/site.js": "text/javascript; charset=utf-8",
        "/sitemap.xml": "application/xml; charset=utf-8",
        "/robots.txt": "text/plain; charset=utf-8",
        "/favicon.svg": "image/svg+xml",
        "/__newsdigest/reload.js": "text/javascript; charset=utf-8",
        "/__newsdigest/overlay.css": "text/css; charset=utf-8",
    }
    for path, content_type in expected.items():
        status, headers, body = served.request(path)
        assert (path, status, headers["content-type"]) == (path, 200, content_type)
        assert headers["cache-control"] == "no-store"
        assert headers["x-content-type-options"] == "nosniff"
        assert "etag" not in headers and "last-modified" not in headers
        assert int(headers["content-length"]) == len(body)
    status, headers, body = served.request("/css/site.css", "HEAD")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0
    assert served.request("/", "POST")[0] == 405


def test_no_request_leaves_the_output_folder(serve, tmp_path):
    served = serve(SITE)
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve")
    (served.output / "leak.txt").symlink_to(secret)
    (served.output / "leakdir").symlink_to(tmp_path)
    for path in ["/../site.toml", "/../../secret.txt", "/%2e%2e/site.toml", "/%2E%2E%2Fsite.toml",
                 "/topics/..%2f..%2fsite.toml", "/..%5csite.toml", "/css/%00.css",
                 "/leak.txt", "/leakdir/secret.txt", "/.newsdigest", "/%ff", "//etc/passwd"]:
        status, headers, body = served.request(path)
        assert status == 404, path
        assert b"do not serve" not in body and b"[site]" not in body
    assert served.request("//example.com")[0] == 404  # never a redirect to another host


def test_the_reload_script_is_added_when_serving_never_written(serve):
    served = serve(SITE)
    status, headers, body = served.request("/" + FIRST_PAGE)
    tags = re.findall(rb"<script[^>]*__newsdigest[^>]*></script>", body)
    assert len(tags) == 1 and b"data-build=" in tags[0]
    assert body.index(tags[0]) < body.index(b"</head>")
    assert b"<script>" not in body  # external script only: ready for a strict CSP
    for file in served.output.rglob("*"):
        if file.is_file():
            assert b"__newsdigest" not in file.read_bytes(), file
    assert served.request("/css/site.css")[2] == (served.output / "css/site.css").read_bytes()
    assert not served.site.public.exists()  # public/ is for `build`; the preview has its own


def test_pages_use_the_local_address(serve):
    served = serve(SITE)
    body = served.request("/" + FIRST_PAGE)[2].decode()
    assert f'<link rel="canonical" href="{served.url}news/2026/10/01/first/">' in body
    assert "news.example" not in body


@pytest.mark.parametrize("options, shown", [
    (BuildOptions(drafts=True, future=True, workers=1, now=NOW,
                  search=False, offline=True), True),  # as serve
    (BuildOptions(workers=1, now=NOW,
                  search=False, offline=True), False),  # --no-drafts --no-future
])
def test_drafts_and_future_items_are_shown_unless_turned_off(serve, options, shown):
    served = serve({**SITE,
                    "content/draft.md": item("Draft story", url="https://example.com/d",
                                             published="false"),
                    "content/future.md": item("Future story", "2027-01-01T10:00:00Z",
                                              "https://example.com/f")}, options=options)
    home = served.request("/")[2]
    assert (b"Draft story" in home, b"Future story" in home) == (shown, shown)


# --- what each change rebuilds -------------------------------------------------------------------

def test_an_edit_in_place_writes_the_item_page_first_then_its_lists(serve, tmp_path):
    served = serve(SITE)
    rebuilds = served.edit(FIRST, item("First story, again", "2026-10-01T10:00:00Z",
                                       "https://example.com/1"))
    assert [r.kind for r in rebuilds] == ["pages", "build"]
    assert rebuilds[0].changed == (FIRST_PAGE,)
    lists = rebuilds[1].changed
    assert FIRST_PAGE not in lists  # the quick page was already exactly the pipeline's
    assert {"index.html", "topics/ai/index.html", "archive/2026/10/index.html"} <= set(lists)
    assert "news/2026/10/02/second/index.html" in lists  # shows it under "more from AI"
    assert "css/site.css" not in lists

    # the same page as a fresh full build of the same site makes
    check = tmp_path / "check"
    assert main(["build", "--config", str(served.site.root / "site.toml"), "--drafts",
                 "--future", "--no-cache", "--base-url", served.url, "--output", str(check)]) == 0
    assert (served.output / FIRST_PAGE).read_bytes() == (check / FIRST_PAGE).read_bytes()
    assert (served.output / "index.html").read_bytes() == (check / "index.html").read_bytes()


def test_moving_an_item_in_time_goes_through_the_full_build(serve):
    served = serve(SITE)
    rebuilds = served.edit(FIRST, item("First story", "2026-09-01T10:00:00Z",
                                       "https://example.com/1"))
    assert [r.kind for r in rebuilds] == ["build"]
    assert "news/2026/09/01/first/index.html" in rebuilds[0].changed
    assert FIRST_PAGE in rebuilds[0].changed  # deleted
    assert not (served.output / FIRST_PAGE).exists()


def test_a_css_change_is_a_copy_and_renders_nothing(serve):
    served = serve(SITE)
    before = len(served.log.rebuilds)
    served.site.write("static/css/site.css", "body { color: red; }\n")
    deadline = time.monotonic() + 5
    while len(served.log.rebuilds) == before and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    rebuilds = served.log.rebuilds[before:]
    assert [(r.kind, r.changed) for r in rebuilds] == [("static", ("css/site.css",))]
    assert (served.output / "css/site.css").read_text() == "body { color: red; }\n"


def test_a_burst_of_changes_is_one_rebuild(serve, monkeypatch):
    from newsdigest.serve import watcher

    # What is tested is that a burst coalesces; 60 ms of quiet is too short a window for a
    # loaded CI machine, which can pause this loop for longer between two writes.
    monkeypatch.setattr(watcher, "QUIET", 0.5)
    served = serve(SITE)
    before = len(served.log.rebuilds)
    for number in range(40):
        served.site.write(f"content/2026-10-03-burst-{number}.md",
                          item(f"Burst {number}", "2026-10-03T10:00:00Z",
                               f"https://example.com/b{number}"))
    rebuilds = served.log.wait(before)
    time.sleep(0.5)
    assert len(served.log.rebuilds) == before + 1 == before + len(rebuilds)
    assert (served.output / "news/2026/10/03/burst-39/index.html").exists()


def test_a_changed_template_rerenders_the_pages_that_use_it(serve):
    served = serve(SITE)
    rebuilds = served.edit("templates/item.html", THEME_ITEM.replace(
        '<h1 id="story-title">', '<h1 id="story-title" class="custom">'))
    assert [r.kind for r in rebuilds] == ["build"]
    assert set(rebuilds[0].changed) == {FIRST_PAGE, "news/2026/10/02/second/index.html"}
    assert 'class="custom"' in (served.output / FIRST_PAGE).read_text()


def test_site_settings_are_reloaded_and_their_errors_reported(serve):
    served = serve(SITE)
    toml = served.site.root / "site.toml"
    good = toml.read_text()
    rebuilds = served.edit("site.toml", good + "[nonsense]\n")
    assert not rebuilds[-1].ok
    assert [e.message for e in rebuilds[-1].errors] == ["[nonsense]: unknown section"]
    assert rebuilds[-1].errors[0].file.endswith("site.toml")
    # content edits while the settings are broken keep reporting them
    rebuilds = served.edit(FIRST, item("First story, edited", url="https://example.com/1"))
    assert not rebuilds[-1].ok

    rebuilds = served.edit("site.toml", good.replace("Test Digest", "Renamed Digest"))
    assert rebuilds[-1].ok
    assert "Renamed Digest" in (served.output / "index.html").read_text()


def test_a_failed_build_keeps_the_last_good_site(serve):
    served = serve(SITE)
    page = (served.output / FIRST_PAGE).read_bytes()
    rebuilds = served.edit(FIRST, "---\ntitle: [unclosed\n---\n")
    assert not rebuilds[-1].ok and rebuilds[-1].errors[0].file.endswith(FIRST)
    assert (served.output / FIRST_PAGE).read_bytes() == page
    assert served.request("/" + FIRST_PAGE)[0] == 200


def test_the_server_starts_and_reports_even_when_the_first_build_fails(serve):
    served = serve({**SITE, FIRST: item(date="not a date")})
    assert not served.log.rebuilds[0].ok
    status, _, body = served.request("/")
    assert status == 404 and b"/__newsdigest/reload.js" in body
    rebuilds = served.edit(FIRST, item("First story", url="https://example.com/1"))
    assert rebuilds[-1].ok
    assert served.request("/")[0] == 200


SECRET = "c2VjcmV0LXNpZ25lZC1ibG9i"  # a `secured` value: pieces of it must never be shown
SECRET_TAG = "c2VjcmV0VGFn"


def _events_until_status(served: Served) -> bytes:
    """The event stream from its start up to the end of its first status event."""
    host, port = served.url.removeprefix("http://").rstrip("/").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("GET", "/__newsdigest/events?since=x.0")
        response = connection.getresponse()
        data = b""
        while b"event: status" not in data or not data.endswith(b"\n\n"):
            chunk = response.read1()
            assert chunk, data
            data += chunk
        return data
    finally:
        connection.close()


def test_build_errors_never_show_a_secured_value(serve):
    served = serve({
        **SITE,
        # An error on the line after `secured`: the lines around it are shown.
        "content/2026-10-05-bad-date.md": f'---\ntitle: "Bad date"\nsecured: {SECRET}\n'
        'publishedDateTime: yesterday\nwebUrl: "https://example.com/5"\n---\n',
        # The value itself broken over two lines: the YAML error points into it.
        "content/2026-10-06-broken.md": f'---\ntitle: "Broken"\nsecured: {SECRET[:8]}\n'
        f"{SECRET[8:]}\npublishedDateTime: 2026-10-06T10:00:00Z\n---\n",
        # A tag on the value: the problem is about the tag, which is part of the value.
        "content/2026-10-07-tagged.md": f'---\ntitle: "Tagged"\nsecured: !{SECRET_TAG} '
        f'{SECRET}\npublishedDateTime: 2026-10-07T10:00:00Z\nwebUrl: "https://example.com/7"\n'
        "---\n",
    })
    failed = served.log.rebuilds[0]
    assert not failed.ok
    entries = {e.file.rsplit("/", 1)[-1]: e for e in failed.errors}
    assert set(entries) == {"2026-10-05-bad-date.md", "2026-10-06-broken.md",
                            "2026-10-07-tagged.md"}
    bad_date = entries["2026-10-05-bad-date.md"]
    assert bad_date.line == 4 and "publishedDateTime" in bad_date.message
    assert bad_date.context[1:3] == ((3, "secured: [not shown]"),
                                     (4, "publishedDateTime: yesterday"))
    assert entries["2026-10-07-tagged.md"].message.startswith("secured: unsupported YAML tag")
    shown = [str(failed.errors), str(failed.error), _events_until_status(served).decode()]
    for text in shown:
        for piece in (SECRET, SECRET[:8], SECRET[8:], SECRET_TAG):
            assert piece not in text


def test_every_shape_of_a_secured_value_is_hidden_and_nothing_else():
    from newsdigest.serve.rebuild import secret_lines

    lines = ["---", "secured: |", "  block one", "", "  block two", "title: kept",
             '"secured": "quoted', 'over lines"', "secured:", "- in a list", "- too",
             "provider: {name: kept, secured: flow}", "secured: folded", "  plain", "webUrl: kept",
             "body: secured: kept", "---", "secured: in the body, kept"]
    hidden = secret_lines(lines)
    assert sorted(hidden) == [1, 2, 4, 6, 7, 8, 9, 10, 11, 12, 13]
    assert hidden[1] == "secured: [not shown]" and hidden[2] == "  [not shown]"
    assert hidden[11] == "provider: {name: kept, secured: [not shown]"
    assert all(not any(word in text for word in ("block", "quoted", "list", "flow", "plain"))
               for text in hidden.values())


# --- the event stream ----------------------------------------------------------------------------

def test_a_page_that_loaded_before_a_change_learns_of_it_when_it_connects():
    hub = Broadcast()
    token = hub.token()
    hub.reload(("/a/index.html",))
    hub.reload(("/b/index.html",))
    hub.close()
    events = b"".join(hub.stream(token)).decode()
    assert 'event: reload\ndata: {"paths":["/a/index.html","/b/index.html"]' in events
    assert "event: reload" not in b"".join(hub.stream(hub.token())).decode()
    # a page from another server run reloads whole
    assert '"paths":null' in b"".join(hub.stream("0000.3")).decode()


def test_build_errors_are_sent_to_pages_that_connect_later():
    from newsdigest.serve.rebuild import ErrorEntry

    hub = Broadcast()
    hub.set_errors((ErrorEntry("content/a.md", 3, "title: missing"),))
    hub.close()
    events = b"".join(hub.stream(hub.token())).decode()
    assert ('event: status\ndata: {"errors":[{"file":"content/a.md","line":3,'
            '"message":"title: missing","context":[]}]}') in events


# --- the command -------------------------------------------------------------------------------

def test_a_port_in_use_gives_a_clear_message(make_site, capsys):
    site = make_site(SITE)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["serve", "--config", str(site.root / "site.toml"), "--port", str(port)])
    assert code == 2
    err = capsys.readouterr().err
    assert f"port {port} on 127.0.0.1 is already in use" in err and "--port" in err
    assert "Traceback" not in err


def test_listening_beyond_this_machine_warns(make_site, capsys):
    site = make_site(SITE)
    with socket.socket() as taken:  # keeps the wildcard bind from succeeding: nothing is exposed
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        main(["serve", "--config", str(site.root / "site.toml"), "--host", "0.0.0.0",
              "--port", str(port)])
    assert "warning: listening on 0.0.0.0: other machines can read this preview" in \
        capsys.readouterr().err
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")


def test_ctrl_c_stops_the_server_cleanly(make_site):
    site = make_site(SITE)
    process = subprocess.Popen(
        [sys.executable, "-m", "newsdigest", "serve", "--config", str(site.root / "site.toml"),
         "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        # As a background job of a shell starts it: Ctrl-C must stop it all the same.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        url = ""
        for line in process.stdout:
            if line.startswith("serving "):
                url = line.split(" at ")[1].split()[0]
                break
        assert url.startswith("http://127.0.0.1:")
        host, port = url.removeprefix("http://").rstrip("/").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=5)
        connection.request("GET", "/")
        assert connection.getresponse().status == 200
        connection.close()
        process.send_signal(signal.SIGINT)
        # Generous: on a loaded two-core machine (the suite runs two workers) a stop that takes
        # 0.2 s alone was seen to take longer than 10.
        try:
            out, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"the server did not stop within 30 s after Ctrl-C\n{out}\n{err}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert out.strip().endswith("stopped")
    assert "Traceback" not in err


# --- the watcher ---------------------------------------------------------------------------------

@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[Path, Watcher]]:
    for folder in ("content", "templates", "static"):
        (tmp_path / folder).mkdir()
    (tmp_path / "site.toml").write_text("[site]\n")
    watcher = Watcher(Sources(tmp_path / "content", (tmp_path / "templates",),
                              (tmp_path / "static",), tmp_path / "site.toml"))
    watcher.start()
    yield tmp_path, watcher
    watcher.close()


def _next_batch(watcher: Watcher, timeout: float = 5.0) -> Changes | None:
    found: list[Changes | None] = []
    thread = threading.Thread(target=lambda: found.append(watcher.next_batch()), daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        watcher.close()  # ends the wait
        thread.join(1)
        return None
    return found[0]


def test_the_watcher_hands_over_a_burst_as_one_batch_by_kind(watched):
    root, watcher = watched
    for number in range(200):  # like a `git checkout` of many files
        (root / "content" / f"item-{number}.md").write_text("x")
    (root / "templates" / "item.html").write_text("x")
    batch = _next_batch(watcher)
    assert batch is not None and len(batch.content) == 200
    assert batch.templates == {root / "templates" / "item.html"}
    assert not batch.static and not batch.config


def test_the_watcher_sees_editor_saves_and_ignores_their_droppings(watched):
    root, watcher = watched
    # an editor's save: a swap file, a backup, then the new text renamed over the old file
    (root / "content" / ".a.md.swp").write_text("swap")
    (root / "content" / "a.md~").write_text("backup")
    temporary = root / "content" / ".a.md.tmp"
    temporary.write_text("new")
    os.replace(temporary, root / "content" / "a.md")
    batch = _next_batch(watcher)
    assert batch is not None and batch.content == {root / "content" / "a.md"}

    # site.toml replaced atomically, twice: each is seen (a watch on the file itself is not)
    for text in ("[site]\ntitle = 'a'\n", "[site]\ntitle = 'b'\n"):
        replacement = root / ".site.toml.new"
        replacement.write_text(text)
        os.replace(replacement, root / "site.toml")
        batch = _next_batch(watcher)
        assert batch is not None and batch.config and not batch.content
    (root / "notes.txt").write_text("not a source")  # beside site.toml: ignored
    assert _next_batch(watcher, timeout=0.5) is None


def test_a_templates_folder_created_later_is_watched(tmp_path):
    (tmp_path / "content").mkdir()
    watcher = Watcher(Sources(tmp_path / "content", (tmp_path / "templates",), (), None))
    watcher.start()
    try:
        (tmp_path / "templates").mkdir()
        batch = _next_batch(watcher)
        assert batch is not None and batch.templates == {tmp_path / "templates"}
        watcher.watch(watcher.sources)  # as the server does after every batch
        (tmp_path / "templates" / "item.html").write_text("x")
        batch = _next_batch(watcher)
        assert batch is not None and tmp_path / "templates" / "item.html" in batch.templates
    finally:
        watcher.close()


def test_a_content_folder_deleted_and_made_again_is_still_watched(watched):
    root, watcher = watched
    (root / "content" / "a.md").write_text("x")
    assert _next_batch(watcher) is not None
    shutil.rmtree(root / "content")
    assert _next_batch(watcher) is not None
    watcher.watch(watcher.sources)
    (root / "content").mkdir()
    assert _next_batch(watcher) is not None  # seen through the parent folder
    watcher.watch(watcher.sources)
    (root / "content" / "b.md").write_text("x")
    batch = _next_batch(watcher)
    assert batch is not None and root / "content" / "b.md" in batch.content


def test_the_item_cache_kept_in_memory_is_saved_when_the_server_stops(serve):
    from newsdigest.content.files import discover
    from newsdigest.content.loading import LoadSettings, load_items

    served = serve(SITE)
    served.edit(FIRST, item("First story, cached", url="https://example.com/1"))
    config = served.server.preview.config
    served.server.close()
    loaded = load_items(discover(config.content_dir).items,
                        LoadSettings.of(config),
                        config.cache_dir / "items", workers=1)
    assert loaded.parsed == 0  # all from the saved cache, the edited file included
    assert "First story, cached" in {i.title for i in loaded.items}


def test_a_folder_that_cannot_be_watched_is_a_clear_error(tmp_path, monkeypatch):
    import errno

    from watchdog.observers.api import BaseObserver

    from newsdigest.errors import NewsdigestError

    def refuse(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    (tmp_path / "content").mkdir()
    monkeypatch.setattr(BaseObserver, "schedule", refuse)
    watcher = Watcher(Sources(tmp_path / "content", (), (), None))
    with pytest.raises(NewsdigestError, match="max_user_watches"):
        watcher.start()
    watcher.close()
