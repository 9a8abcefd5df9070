"""Killing a build at any moment leaves a complete, browsable site; the next build recovers."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import lxml.html
import pytest
from conftest import item

REPO = Path(__file__).resolve().parent.parent
SETTINGS = '[site]\ntitle = "Crash"\nbase_url = "https://crash.example/"\npage_size = 5\n'


def broken_links(public: Path) -> list[str]:
    """Links that fail on pages a reader can reach from the home page (a crawl, like a reader).

    A page written but not linked yet is invisible; what matters is that no page a reader can
    get to links to a page that is not there.
    """
    problems = []
    seen = {"index.html"}
    queue = ["index.html"]
    while queue:
        page = queue.pop()
        tree = lxml.html.fromstring((public / page).read_bytes())
        for href in tree.xpath("//a/@href | //link/@href | //script/@src"):
            if urlsplit(href).scheme or href.startswith("#"):
                continue
            target = public / href.lstrip("/")
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                problems.append(f"{page} -> {href}")
                continue
            rel = target.relative_to(public).as_posix()
            if rel.endswith(".html") and rel not in seen:
                seen.add(rel)
                queue.append(rel)
    return sorted(problems)


def run_and_kill(config: Path, delay: float) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "newsdigest", "build", "-q", "--config",
                                str(config), "--jobs", "2"], env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@pytest.mark.slow
def test_incremental_builds_killed_at_random_moments_never_break_a_link(make_site):
    files = {f"content/old-{n}.md": item(f"Old {n}", f"2026-09-{1 + n % 28:02d}T10:00:00Z",
                                         f"https://example.com/old/{n}", ("AI", f"T{n % 5}"))
             for n in range(300)}
    site = make_site(files, SETTINGS)
    assert site.build() == 0
    config = site.root / "site.toml"
    chance = random.Random(7)
    for round_number in range(6):
        # Each round: new items in a brand-new topic, an edited title, a deleted item.
        for n in range(20):
            site.write(f"content/r{round_number}-{n}.md", item(
                f"Round {round_number} item {n}", f"2026-10-{1 + n:02d}T1{round_number}:00:00Z",
                f"https://example.com/r{round_number}/{n}", (f"New topic {round_number}", "AI")))
        edited = site.root / f"content/old-{round_number}.md"
        edited.write_text(edited.read_text().replace(f"Old {round_number}",
                                                     f"Edited {round_number}"))
        (site.root / f"content/old-{100 + round_number}.md").unlink()
        run_and_kill(config, chance.uniform(0.3, 1.5))
        assert broken_links(site.public) == [], f"round {round_number}"
        assert not [p for p in site.public.rglob("*") if p.name.endswith(".html") and
                    p.stat().st_size == 0]
    assert site.build() == 0
    assert broken_links(site.public) == []
    assert not list(site.public.rglob(".tmp-newsdigest-*"))
    assert not (site.public / ".newsdigest-writing").exists()
    assert (site.public / "news/2026/10/05/r5-4/index.html").exists()


class Crash(BaseException):
    """Stands for SIGKILL: raised between two file writes, nothing after it runs."""


@pytest.mark.slow
def test_a_build_stopped_after_any_write_leaves_no_broken_link(make_site, monkeypatch):
    from datetime import UTC, datetime

    from newsdigest.build import output
    from newsdigest.build.pipeline import BuildOptions, build_site
    from newsdigest.config.site import load_config

    files = {f"content/old-{n}.md": item(f"Old {n}", f"2026-09-{1 + n % 28:02d}T10:00:00Z",
                                         f"https://example.com/old/{n}", ("AI", f"T{n % 3}"))
             for n in range(40)}
    site = make_site(files, SETTINGS)
    config = load_config(site.root / "site.toml")
    options = BuildOptions(now=datetime(2026, 11, 20, tzinfo=UTC), workers=1,
                           search=False, offline=True)
    build_site(config, options)
    real_write = output._write
    for round_number, stop_after in enumerate([1, 2, 3, 5, 8, 13, 21]):
        site.write(f"content/new-{round_number}.md", item(
            f"New {round_number}", f"2026-10-{1 + round_number:02d}T10:00:00Z",
            f"https://example.com/new/{round_number}", (f"Fresh {round_number}",)))
        (site.root / f"content/old-{round_number}.md").unlink()
        writes = 0

        def write_then_maybe_crash(*args, stop_after=stop_after, **kwargs):
            nonlocal writes
            writes += 1
            if writes > stop_after:
                raise Crash
            return real_write(*args, **kwargs)

        monkeypatch.setattr(output, "_write", write_then_maybe_crash)
        try:
            build_site(config, options)
        except Crash:
            pass
        monkeypatch.setattr(output, "_write", real_write)
        assert broken_links(site.public) == [], (round_number, stop_after)
    build_site(config, options)
    assert broken_links(site.public) == []
