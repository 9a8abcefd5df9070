"""Every page the theme makes is valid and accessible: the Nu Html Checker (the W3C validator,
vnu.jar) finds no error on any page of the sample site as shipped nor of a generated site of a few
hundred items (long lists: home and topic pagination, every topic, the archive), and axe-core,
run in Chromium, finds no violation on one page of each kind at a desktop and a phone width.

The tools are pinned in .ci/fetch_npm.py, which fetches them from the npm registry (no Node
needed): the tests skip when java, the jar, axe-core or Chromium is missing, unless
REQUIRE_VALIDATOR=1 (CI), where that is a failure. NEWSDIGEST_VNU_JAR and NEWSDIGEST_AXE_JS name
the files; by default they are where fetch_npm.py puts them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import lxml.html
import pytest
from browser import browser_fixture, serve_folder  # noqa: F401 - provides `browser`
from conftest import REPO, copy_sample

from newsdigest.cli import main

GENERATED_ITEMS = 300
# A short run: the quick JIT tier alone halves the checker's CPU time here, the serial collector
# halves its memory, and the quick tier's deeper frames need a bigger stack than the 512k the
# checker asks for (it stops with a StackOverflowError otherwise).
JVM_OPTIONS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xss16m")


def _fetch_npm() -> ModuleType:
    """.ci/fetch_npm.py, for where it puts the pinned tools (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("fetch_npm", REPO / ".ci" / "fetch_npm.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tool(variable: str, package: str) -> Path:
    """A pinned tool's file, from its environment variable or where fetch_npm.py puts it; a
    skip when missing (a failure under REQUIRE_VALIDATOR=1, as in CI)."""
    path = Path(os.environ.get(variable) or _fetch_npm().default_path(package))
    if not path.is_file():
        _missing(f"{path} is missing (python3 .ci/fetch_npm.py {package} fetches it)")
    return path


def _missing(what: str) -> NoReturn:
    if os.environ.get("REQUIRE_VALIDATOR") == "1":
        pytest.fail(f"REQUIRE_VALIDATOR=1 but {what}")
    pytest.skip(what)


def _validator() -> tuple[str, Path]:
    """java and the checker's jar."""
    java = shutil.which("java")
    if java is None:
        _missing("java is not on PATH")
    return java, _tool("NEWSDIGEST_VNU_JAR", "vnu-jar")


def _build(root: Path) -> Path:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", "1795132800")  # 2026-11-20: the sample's own clock
        patch.setenv("NEWSDIGEST_OFFLINE", "1")
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(["build", "--config", str(root / "site.toml"), "--offline",
                         "--no-search"])
    assert code == 0, stderr.getvalue()
    return root / "public"


@pytest.fixture(scope="module")
def sample_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample as a user gets it: content, settings and the theme's templates and assets."""
    root = tmp_path_factory.mktemp("sample")
    copy_sample(root)
    return _build(root)


@pytest.fixture(scope="module")
def generated_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bench/generate.py's corpus, built with the default theme (it has no templates of its
    own): enough items that home and every topic have several pages."""
    root = tmp_path_factory.mktemp("generated")
    subprocess.run([sys.executable, str(REPO / "bench" / "generate.py"),
                    "--items", str(GENERATED_ITEMS), "--out", str(root)],
                   check=True, capture_output=True, timeout=60)
    return _build(root)


def _checker_errors(java: str, jar: Path, public: Path) -> list[str]:
    """Every error the checker finds in the site's HTML files, one line each. One JVM for the
    whole site: starting Java costs more than checking a page."""
    # Only web pages: the newsletter's email.html is rendered into .eml files, never into the
    # site, so every .html under public/ is a page a browser shows.
    pages = sorted(public.rglob("*.html"))
    assert len(pages) > 20, pages
    result = subprocess.run([java, *JVM_OPTIONS, "-jar", str(jar), "--errors-only", "--format",
                             "json", *map(str, pages)], capture_output=True, text=True, timeout=120)
    # vnu writes its report to stderr; exit status 1 only means "errors found".
    try:
        report = json.loads(result.stderr)
    except json.JSONDecodeError:
        pytest.fail(f"the checker did not run (exit {result.returncode}): {result.stderr[-2000:]}")
    errors = [message for message in report["messages"]
              if message.get("type") in ("error", "non-document-error")]
    # vnu names files as file:/abs/path: the path inside the site is what a reader needs.
    return [f"{error.get('url', '?').split(str(public), 1)[-1]}:{error.get('lastLine', '?')}:"
            f" {error.get('message')} [{error.get('extract', '').strip()}]" for error in errors]


@pytest.mark.parametrize("site", ["sample_site", "generated_site"])
def test_every_page_passes_the_html_checker(site: str, request: pytest.FixtureRequest) -> None:
    java, jar = _validator()
    public = request.getfixturevalue(site)
    errors = _checker_errors(java, jar, public)
    assert errors == [], "\n".join(errors)


def _one_page_of_each_kind(public: Path) -> list[str]:
    """A page for each layout the theme makes, told apart by the body's class (home, topic,
    item, digest, archive...) and the kinds of blocks in main (an archive's year list or its
    days, an edition or the list of editions, a home page with or without top stories), so a new
    kind of page is checked with no list here to update; and the item pages with parts other
    items lack (a video, other coverage). The HTML checker still sees every page."""
    chosen: dict[tuple[str, ...], str] = {}
    for page in sorted(public.rglob("*.html")):
        tree = lxml.html.fromstring(page.read_bytes())
        if tree.xpath("//meta[@http-equiv='refresh']"):
            continue  # a moved story's stub: the browser leaves it at once, mid-check
        layout = tuple(tree.xpath("/html/body/@class")) + tuple(sorted(
            {f"{block.tag}.{block.get('class', '')}" for block in tree.xpath("//main/*")}))
        path = page.relative_to(public).as_posix().removesuffix("index.html")
        for kind in [layout] + [(part,) for part, xpath in (
                ("video", "//*[@data-embed]"), ("other coverage", "//section[@class='related']"),
                ("more coverage", "//section[@aria-labelledby='coverage-heading']"))
                if tree.xpath(xpath)]:
            chosen.setdefault(kind, path)
    return sorted(set(chosen.values()))


@pytest.fixture(scope="module")
def axe_script() -> str:
    return _tool("NEWSDIGEST_AXE_JS", "axe-core").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def served_sample(sample_site: Path) -> Iterator[str]:
    with serve_folder(sample_site) as base:
        yield base


@pytest.mark.parametrize("width", [1280, 390])
def test_one_page_of_each_kind_passes_axe(width: int, axe_script: str, sample_site: Path,
                                          served_sample: str, browser) -> None:
    pages = _one_page_of_each_kind(sample_site)
    assert {"", "topics/ai/", "search/", "404.html"} <= set(pages), pages
    if width < 600:
        # The phone layout differs in the header, the grids and the item's media: these pages
        # hold all of them, and a page costs a second.
        pages = ["", "topics/ai/", *[path for path in pages if path.startswith("news/")][:1]]
    # axe is an inline script, which the pages' own Content-Security-Policy rightly refuses.
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    try:
        tab = context.new_page()
        found = []
        for path in pages:
            tab.goto(served_sample + path, wait_until="load")
            tab.add_script_tag(content=axe_script)
            result = tab.evaluate("axe.run(document, {resultTypes: ['violations']})")
            found += [f"/{path}: {rule['id']} ({rule['impact']}): {rule['help']}: "
                      f"{[node['target'] for node in rule['nodes'][:3]]}"
                      for rule in result["violations"]]
    finally:
        context.close()
    assert found == [], "\n".join(found)
