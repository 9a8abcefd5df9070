"""Benchmark newsdigest against Hugo and Pelican on the same generated corpus.

    python bench/run.py [--sizes 1000,10000] [--big] [--skip-peers] [--only CASES]
                        [--runs 3] [--out bench/RESULTS.md]

Whole-process wall time and peak memory come from /usr/bin/time (Debian's `time`, installed by
the script when missing and root). Each clean build starts from a removed output folder after
`sync` and a short pause, for every tool alike: on this disk, creating files right after a large
delete costs up to twice as much, and that noise would otherwise decide the ratios.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = BENCH / ".work"
sys.path.insert(0, str(BENCH))
import generate  # noqa: E402

TARGETS = {  # case -> (limit in seconds or as a ratio, description)
    "clean": "≤ Hugo clean, ≥ 5× faster than Pelican",
    "no-change": "< 1 s",
    "one-edit": "< 1 s",
    "one-add": "< 2 s",
    "template-change": "only item pages re-render",
}


@dataclass
class Result:
    tool: str
    case: str
    items: int
    seconds: float
    peak_mib: float
    note: str = ""
    failed: bool = False


def ensure_tools(skip_peers: bool) -> None:
    root = os.geteuid() == 0
    missing = [p for p, exe in (("time", "/usr/bin/time"), ("hugo", "hugo"))
               if not shutil.which(exe) and not (skip_peers and p == "hugo")]
    if missing and root:
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=False,
                       stdout=subprocess.DEVNULL)
    # Our package is installed editable: its bytecode is written on first import, unless
    # PYTHONDONTWRITEBYTECODE is set (as on some CI machines), when every run would compile the
    # sources again (60 ms of a rebuild). Pelican's pip install compiled its own; so do we.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "newsdigest")],
                   check=True)
    if not skip_peers:
        pelican = WORK / "pelican-venv" / "bin" / "pelican"
        if not pelican.exists():
            subprocess.run([sys.executable, "-m", "venv", str(WORK / "pelican-venv")], check=True)
            subprocess.run([str(WORK / "pelican-venv/bin/pip"), "install", "-q",
                            "pelican==4.12.0", "markdown"], check=True)


def timed(command: list[str], cwd: Path | None = None) -> tuple[float, float, str]:
    """Wall seconds and peak MiB of one whole process (children included)."""
    if shutil.which("/usr/bin/time"):
        command = ["/usr/bin/time", "-f", "%e %M", *command]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    peak = 0.0
    if command[0] == "/usr/bin/time":
        last = done.stderr.strip().splitlines()[-1].split()
        wall, peak = float(last[0]), int(last[1]) / 1024
    return wall, peak, done.stdout


TRASH = WORK / "trash"


def discard(folder: Path) -> None:
    """Move a folder out of the way; the trash is emptied once every timing is done.

    Deleting many files makes this machine's ext4 slow to create new ones for about half a
    minute (10,000 folders with a page each: 0.4 s on a settled disk, 5 s two seconds after
    deleting as many): a build timed right after `rm -rf public` measures that, not the tool.
    """
    if folder.exists():
        TRASH.mkdir(parents=True, exist_ok=True)
        folder.rename(TRASH / f"{time.time_ns()}-{folder.name}")


def empty_trash() -> None:
    shutil.rmtree(TRASH, ignore_errors=True)


def settle(*folders: Path) -> None:
    """A clean start for a timed build: its outputs and caches gone, the disk quiet."""
    for folder in folders:
        discard(folder)
    subprocess.run(["sync"], check=False)
    time.sleep(2)


def newsdigest() -> list[str]:
    script = REPO / ".venv" / "bin" / "newsdigest"
    return [str(script)] if script.exists() else [sys.executable, "-m", "newsdigest"]


def measure(runs: int, prepare: Callable[[], None], command: list[str],
            cwd: Path | None = None) -> tuple[float, float]:
    walls, peaks = [], []
    for _ in range(runs):
        prepare()
        # Every run, of every tool, starts with the previous runs' files on disk: otherwise
        # the kernel writing them back in the background is timed as part of this one.
        subprocess.run(["sync"], check=False)
        wall, peak, _ = timed(command, cwd)
        walls.append(wall)
        peaks.append(peak)
    return statistics.median(walls), max(peaks)


def bench_ours(corpus: Path, items: int, runs: int, only: set[str]) -> list[Result]:
    results = []
    public, cache = corpus / "public", corpus / ".cache"
    templates = corpus / "templates"
    # A fresh copy each run: the template-change case edits it, and the theme may have changed.
    shutil.rmtree(templates, ignore_errors=True)
    shutil.copytree(REPO / "templates", templates)
    # The peers build no search index: ours is measured apart ("search index" below).
    build = [*newsdigest(), "build", "-q", "--config", str(corpus / "site.toml"),
             "--templates", str(templates), "--no-search",
             "--offline"]  # no image download: timings stay comparable, with or without a network

    def case(name: str, prepare: Callable[[], None], extra: list[str] | None = None,
             repeat: int = runs) -> None:
        if only and name not in only:
            return
        try:
            wall, peak = measure(repeat, prepare, build + (extra or []))
            results.append(Result("newsdigest", name, items, wall, peak))
        except RuntimeError as exc:
            results.append(Result("newsdigest", name, items, 0, 0, str(exc)[-200:], True))

    case("clean", lambda: settle(public, cache), ["--no-cache"])
    # The same build on one core: the work itself, without what sharing it out costs.
    case("clean, one core", lambda: settle(public, cache), ["--no-cache", "--jobs", "1"])
    case("clean+cache", lambda: settle(public, cache))
    case("no-change", lambda: None)
    # An item in the middle that is on the site (1 in 8 is unpublished: editing or copying
    # one of those would rebuild nothing and time only the fixed cost).
    files = sorted((corpus / "content").rglob("*.md"))
    target = next(f for f in files[items // 2:] if "\npublished: false" not in f.read_text())
    original = target.read_text()
    edits = iter(range(1000))

    def edit() -> None:
        target.write_text(original.replace('title: "', f'title: "Edited {next(edits)} ', 1))

    case("one-edit", edit)
    added = iter(range(1000))

    def add() -> None:
        n = next(added)
        text = original.replace('title: "', f'title: "Added {n} ', 1)
        text = text.replace("publishedDateTime: ", "publishedDateTime: 2026-11-01T12:00:0", 1)
        text = text.replace("publishedDateTime: 2026-11-01T12:00:0", "publishedDateTime: "
                            f"2026-11-01T12:{n % 60:02d}:00Z\nslug: added-{n}\nx: ", 1)
        # a new source URL: the same one would be a duplicate of the original, and left out
        text = re.sub(r'^((?:webUrl|originalUrl): "https://)', rf"\1added{n}.", text, count=1,
                      flags=re.MULTILINE)
        (corpus / "content" / f"added-{n}.md").write_text(text)

    case("one-add", add)
    item_template = templates / "item.html"
    template_text = item_template.read_text()
    changes = iter(range(1000))

    def change_template() -> None:
        item_template.write_text(template_text.replace(
            "{% block main %}", f"{{% block main %}}<!-- {next(changes)} -->", 1))

    if not only or "template-change" in only:
        change_template()
        _, _, out = timed([*build, "--explain"])
        rebuilt = [line for line in out.splitlines() if line.startswith("rebuilt ")]
        items_rebuilt = sum("news/" in line for line in rebuilt)
        case("template-change", change_template)
        if results and results[-1].case == "template-change":
            results[-1].note = (f"{len(rebuilt)} files re-rendered, {items_rebuilt} of them "
                                "item pages")
    search = [arg for arg in build if arg != "--no-search"]
    if not only or "search-index" in only:
        try:
            wall, peak = measure(1, lambda: shutil.rmtree(public / "pagefind", ignore_errors=True),
                                 search)
            results.append(Result("newsdigest", "search-index", items, wall, peak,
                                  "rebuild that only (re)builds the Pagefind index"))
        except RuntimeError as exc:
            results.append(Result("newsdigest", "search-index", items, 0, 0, str(exc)[-200:],
                                  True))
    if not only or "one-edit+search" in only:
        try:
            timed(search)  # the search index as it is after a build (untimed)
            wall, peak = measure(runs, edit, search)
            results.append(Result("newsdigest", "one-edit+search", items, wall, peak,
                                  "one-edit as `newsdigest build` does it by default: with "
                                  "the search index brought up to date"))
        except RuntimeError as exc:
            results.append(Result("newsdigest", "one-edit+search", items, 0, 0,
                                  str(exc)[-200:], True))
    for path in (corpus / "content").glob("added-*.md"):
        path.unlink()
    target.write_text(original)
    item_template.write_text(template_text)
    return results


def bench_hugo(corpus: Path, items: int, runs: int) -> list[Result]:
    if not shutil.which("hugo"):
        return [Result("hugo", "clean", items, 0, 0, "hugo not installable here", True)]
    results = []
    for site, label in (("hugo", ""), ("hugo-plain", " (no related)")):
        out = corpus / f"{site}-public"
        command = ["hugo", "--quiet", "-s", str(corpus / site), "-d", str(out)]
        clean = measure(runs, lambda out=out, site=site: settle(out, corpus / site / "resources"),
                        command)
        again = measure(runs, lambda: None, command)
        results += [Result("hugo", "clean" + label, items, *clean),
                    Result("hugo", "no-change" + label, items, *again)]
    return results


def bench_pelican(corpus: Path, items: int, runs: int) -> list[Result]:
    pelican = str(WORK / "pelican-venv" / "bin" / "pelican")
    site = corpus / "pelican"
    out = corpus / "pelican-public"
    command = [pelican, "content", "-s", "pelicanconf.py", "-o", str(out), "-q"]
    clean = measure(runs, lambda: settle(out, site / "cache"), command, site)
    # Pelican's own content cache, as its docs suggest for repeated builds.
    (site / "pelicanconf_cached.py").write_text(
        (site / "pelicanconf.py").read_text()
        + "CACHE_CONTENT = True\nLOAD_CONTENT_CACHE = True\nCACHE_PATH = 'cache'\n")
    cached = [pelican, "content", "-s", "pelicanconf_cached.py", "-o", str(out), "-q"]
    settle(out, site / "cache")
    timed(cached, site)  # fills the cache
    again = measure(runs, lambda: None, cached, site)
    return [Result("pelican", "clean", items, *clean),
            Result("pelican", "no-change (cache)", items, *again)]


def bench_plain(corpus: Path, items: int, runs: int) -> list[Result]:
    """The issue's "plain Python build" (bench/plain.py): the floor of the libraries we use."""
    out = corpus / "plain-public"
    command = [sys.executable, str(BENCH / "plain.py"), str(corpus), str(out)]
    return [Result("plain python", "clean", items, *measure(runs, lambda: settle(out), command))]


def machine() -> list[str]:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor())
    memory = next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    versions = []
    for command in (["hugo", "version"], [str(WORK / "pelican-venv/bin/pelican"), "--version"]):
        try:
            versions.append(subprocess.run(command, capture_output=True, text=True,
                                           timeout=30).stdout.strip().split("\n")[0])
        except OSError:
            versions.append(f"{command[0]}: not installed")
    disk = shutil.disk_usage(WORK)
    return [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- CPU: {cpu}, {os.cpu_count()} cores; memory {int(memory) // 1024} MiB",
        f"- Python {platform.python_version()}; {' / '.join(versions)}",
        f"- disk of the work folder: {disk.total // 2**30} GiB, {disk.free // 2**30} GiB free",
    ]


def table(results: list[Result]) -> list[str]:
    lines = ["| tool | case | items | wall s | peak MiB | × Hugo clean | × Pelican clean | "
             "target | note |", "|---|---|---:|---:|---:|---:|---:|---|---|"]
    for result in results:
        base = {(r.tool, r.case, r.items): r for r in results if not r.failed}
        hugo = base.get(("hugo", "clean", result.items))
        pelican = base.get(("pelican", "clean", result.items))
        if result.failed:
            lines.append(f"| {result.tool} | {result.case} | {result.items:,} | FAILED | | | | "
                         f"| {result.note} |")
            continue
        ratio_h = f"{result.seconds / hugo.seconds:.2f}" if hugo else ""
        ratio_p = f"{result.seconds / pelican.seconds:.2f}" if pelican else ""
        target = TARGETS.get(result.case, "") if result.tool == "newsdigest" else ""
        lines.append(f"| {result.tool} | {result.case} | {result.items:,} | "
                     f"{result.seconds:.2f} | {result.peak_mib:.0f} | {ratio_h} | {ratio_p} | "
                     f"{target} | {result.note} |")
    return lines


def two_core_bound(results: list[Result]) -> list[str]:
    """Half our one-core build: the fastest two cores could make it if every step were shared
    out perfectly (grouping cannot be), against the time 5× faster than Pelican allows."""
    lines = []
    for one in results:
        if one.tool != "newsdigest" or one.case != "clean, one core" or one.failed:
            continue
        pelican = next((r for r in results if (r.tool, r.case, r.items) ==
                        ("pelican", "clean", one.items) and not r.failed), None)
        if pelican:
            lines.append(f"- {one.items:,} items: our one-core build ÷ 2 = "
                         f"{one.seconds / 2:.2f} s, the least two cores could take; "
                         f"5× faster than Pelican needs ≤ {pelican.seconds / 5:.2f} s.")
    return ["## The two-core bound", "", *lines] if lines else []


def scaling(results: list[Result]) -> list[str]:
    """How each of our cases grows from the smallest corpus to the larger ones (1.0 = linear)."""
    ours = {(r.case, r.items): r.seconds for r in results
            if r.tool == "newsdigest" and not r.failed and r.seconds > 0}
    sizes = sorted({items for _, items in ours})
    if len(sizes) < 2:
        return []
    lines = ["## Scaling", "", "| case | " + " | ".join(
        f"{b:,} ÷ {a:,} items (×{b / a:g} items)" for a, b in pairwise(sizes)) + " |",
        "|---|" + "---:|" * (len(sizes) - 1)]
    for case in dict.fromkeys(case for case, _ in ours):
        cells = []
        for small, big in pairwise(sizes):
            if (case, small) in ours and (case, big) in ours:
                cells.append(f"{ours[(case, big)] / ours[(case, small)]:.2f}×")
            else:
                cells.append("")
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description="newsdigest vs Hugo and Pelican")
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--big", action="store_true", help="add 30,000 items")
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--only", default="", help="comma-separated cases of ours")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=BENCH / "RESULTS.md")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s] + ([30000] if args.big else [])
    only = {c for c in args.only.split(",") if c}
    WORK.mkdir(exist_ok=True)
    if TRASH.exists():  # left by an interrupted run: emptied, then a pause for the disk
        empty_trash()
        time.sleep(30)
    ensure_tools(args.skip_peers)
    results: list[Result] = []
    for items in sizes:
        corpus = WORK / f"corpus-{items}"
        discard(corpus)
        generate.write(corpus, items, seed=1)
        # Peers run once at 10,000+ items: Pelican alone takes about a minute a run there.
        peer_runs = args.runs if items < 10000 else 1
        if not args.skip_peers:
            for tool, run in (("hugo", bench_hugo), ("pelican", bench_pelican),
                              ("plain python", bench_plain)):
                try:
                    results += run(corpus, items, peer_runs)
                except (RuntimeError, OSError) as exc:
                    results.append(Result(tool, "clean", items, 0, 0, str(exc)[-200:], True))
        results += bench_ours(corpus, items, args.runs, only)
        print("\n".join(table(results)), flush=True)
    report = ["# Benchmark results", "",
              "Produced by `make bench` (`python bench/run.py`): medians "
              f"of {args.runs} whole-process runs (peers once at 10,000 items and more), peak "
              "resident memory of the largest process.", "", *machine(), "", *table(results),
              "", *two_core_bound(results), "", *scaling(results)]
    args.out.write_text("\n".join(report) + "\n")
    print(f"\nwritten to {args.out}")
    empty_trash()


if __name__ == "__main__":
    main()
