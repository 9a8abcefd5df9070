"""Every page the theme makes passes the Nu Html Checker (the W3C validator, vnu.jar) with no
error: the sample site as shipped, and a generated site of a few hundred items (long lists: home
and topic pagination, every topic, the archive).

The checker is a Java program: the tests skip when java or the jar is missing, unless
REQUIRE_VALIDATOR=1 (CI), where that is a failure. The jar is NEWSDIGEST_VNU_JAR, or where
`python3 .ci/fetch_vnu.py` puts it (a pinned version, from the npm registry).
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
from collections.abc import Callable
from pathlib import Path

import pytest

from newsdigest.cli import main

REPO = Path(__file__).resolve().parent.parent
SAMPLE_PARTS = ("content", "site.toml", "templates", "static")
GENERATED_ITEMS = 300
# A short run: the quick JIT tier alone halves the checker's CPU time here, the serial collector
# halves its memory, and the quick tier's deeper frames need a bigger stack than the 512k the
# checker asks for (it stops with a StackOverflowError otherwise).
JVM_OPTIONS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xss16m")


def _default_jar() -> Path:
    spec = importlib.util.spec_from_file_location("fetch_vnu", REPO / ".ci" / "fetch_vnu.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return Path(module.DEFAULT_JAR)


def _validator() -> tuple[str, Path]:
    """java and the checker's jar, or a skip (a failure under REQUIRE_VALIDATOR=1)."""
    java = shutil.which("java")
    jar = Path(os.environ.get("NEWSDIGEST_VNU_JAR") or _default_jar())
    missing = ("java is not on PATH" if java is None else
               f"{jar} is missing (python3 .ci/fetch_vnu.py fetches it)" if not jar.is_file()
               else None)
    if missing:
        if os.environ.get("REQUIRE_VALIDATOR") == "1":
            pytest.fail(f"REQUIRE_VALIDATOR=1 but {missing}")
        pytest.skip(missing)
    assert java is not None
    return java, jar


def _build(root: Path) -> Path:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["build", "--config", str(root / "site.toml"), "--offline", "--no-search"])
    assert code == 0, stderr.getvalue()
    return root / "public"


def _sample_site(root: Path) -> Path:
    """The sample as a user gets it: content, settings and the theme's templates and assets."""
    for part in SAMPLE_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, root / part)
        else:
            shutil.copy2(source, root / part)
    return _build(root)


def _generated_site(root: Path) -> Path:
    """bench/generate.py's corpus, built with the default theme (it has no templates of its
    own): enough items that home and every topic have several pages."""
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


@pytest.mark.parametrize("build_site", [_sample_site, _generated_site],
                         ids=["sample", "generated"])
def test_every_page_passes_the_html_checker(build_site: Callable[[Path], Path], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    java, jar = _validator()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795132800")  # 2026-11-20: the sample's own clock
    (tmp_path / "site").mkdir()
    public = build_site(tmp_path / "site")
    errors = _checker_errors(java, jar, public)
    assert errors == [], "\n".join(errors)
