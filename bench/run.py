"""Benchmark newsdigest against Hugo and Pelican on the same generated corpus.

    python bench/run.py [--sizes 1000,10000] [--big] [--skip-peers] [--only CASES]
                        [--runs 3] [--out bench/RESULTS.md]

Our cases run `newsdigest build` as users do, search index included (the headline), with
`--no-search` beside it. `--big` adds a 30,000-item corpus (every case, peers included: about
15 minutes more); `--sizes 30000 --skip-peers --only no-change,one-edit,one-add` times just the
rebuilds there.

Whole-process wall time and peak memory come from /usr/bin/time (Debian's `time`, installed by
the script when missing and root): its peak is the largest single process, children included
(the search indexer is one). Beside it, the memory of the whole process tree at once is sampled
from /proc every 20 ms (PSS, so pages forked workers share count once), with the Pagefind
indexer's own peak. Each clean build starts from a removed output folder after `sync` and a
short pause, for every tool alike: on this disk, creating files right after a large delete costs
up to twice as much, and that noise would otherwise decide the ratios.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
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

DEFAULT = "clean (default, search on)"  # the headline: what `newsdigest build` does


def target(case: str, items: int) -> str:
    """The goals of issue 22 for a case of ours at this size (30,000 items: 1.3× the 10,000
    ones for rebuilds, memory growing at most linearly)."""
    big = items > 10000
    return {
        DEFAULT: "≤ 1.0× Hugo clean; peak ≤ " + ("900" if big else "300") + " MiB"
                 + ("; ≤ 3.2× the 10,000-item one" if big else ""),
        "no-change": "≤ 0.3 s",
        "one-edit": "≤ 0.65 s" if big else "≤ 0.5 s",
        "one-add": "≤ 1.3 s" if big else "≤ 1.0 s",
        "template-change": "only item pages re-render",
    }.get(case, "")


@dataclass
class Result:
    tool: str
    case: str
    items: int
    seconds: float
    peak_mib: float  # the largest single process (/usr/bin/time)
    tree_mib: float = 0.0  # every process of the run at once (sampled PSS)
    indexer_mib: float = 0.0  # the Pagefind indexer's own peak, when one ran
    # user + system seconds of every process (median run): less moved by a busy machine
    cpu: float = 0.0
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


@dataclass
class Timing:
    wall: float
    peak_mib: float  # the largest single process, children included
    tree_mib: float  # the whole process tree at once
    indexer_mib: float  # the largest Pagefind process
    cpu: float = 0.0  # user + system seconds, children included
    stdout: str = ""


class TreeMemory(threading.Thread):
    """Samples a process tree's memory until stopped: the most it used at once (the sum of its
    processes' PSS) and the most a Pagefind process used."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.tree_kib, self.indexer_kib = pid, 0, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            total = 0
            for pid in _descendants(self.pid):
                kib = _pss_kib(pid)
                total += kib
                if "pagefind" in _comm(pid):
                    self.indexer_kib = max(self.indexer_kib, kib)
            self.tree_kib = max(self.tree_kib, total)


def _descendants(root: int) -> list[int]:
    pids, at = [root], 0
    while at < len(pids):
        pid, at = pids[at], at + 1
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as handle:
                    pids += [int(child) for child in handle.read().split()]
        except OSError:
            continue  # gone meanwhile
    return pids


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as handle:
            return handle.read()
    except OSError:
        return ""


def timed(command: list[str], cwd: Path | None = None, sample: bool = True) -> Timing:
    """Wall seconds and peak memory of one whole process (children included); the memory of
    the whole tree at once only when `sample`d (TreeMemory)."""
    if shutil.which("/usr/bin/time"):
        command = ["/usr/bin/time", "-f", "%e %M %U %S", *command]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    sampler = TreeMemory(process.pid)
    if sample:
        sampler.start()
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    if sample:
        sampler.done.set()
        sampler.join()
    if process.returncode != 0:
        raise RuntimeError(stderr[-2000:])
    peak = cpu = 0.0
    if command[0] == "/usr/bin/time":
        last = stderr.strip().splitlines()[-1].split()
        wall, peak, cpu = float(last[0]), int(last[1]) / 1024, float(last[2]) + float(last[3])
    return Timing(wall, peak, sampler.tree_kib / 1024, sampler.indexer_kib / 1024, cpu, stdout)


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


def wait_for_saving(cache: Path) -> None:
    """Until no process of an earlier build is writing a kept state in `cache`: the lock each
    holds while it writes (newsdigest's kept_state), taken and let go."""
    for lock in cache.glob("*.lock"):
        descriptor = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        finally:
            os.close(descriptor)


def newsdigest() -> list[str]:
    script = REPO / ".venv" / "bin" / "newsdigest"
    return [str(script)] if script.exists() else [sys.executable, "-m", "newsdigest"]


def measure(runs: int, prepare: Callable[[], None], command: list[str],
            cwd: Path | None = None) -> tuple[float, float, float, float, float]:
    """The median wall time of `runs` runs, the most memory any of them used, and the median
    CPU time.

    The memory of all processes at once is sampled in one more run, not in the timed ones:
    reading every process's page tables fifty times a second (TreeMemory) took a core's share
    of a two-core machine, and held up the build's forks and allocations while it read them
    (a rebuild after one edit at 10,000 items: 0.770 s sampled, 0.720 s not, medians of 8
    alternated runs)."""
    timings = []
    for sample in [False] * runs + [True]:
        prepare()
        # Every run, of every tool, starts with the previous runs' files on disk: otherwise
        # the kernel writing them back in the background is timed as part of this one.
        subprocess.run(["sync"], check=False)
        timings.append(timed(command, cwd, sample))
    timed_runs, sampled = timings[:-1], timings[-1]
    return (statistics.median(t.wall for t in timed_runs), max(t.peak_mib for t in timings),
            sampled.tree_mib, sampled.indexer_mib, statistics.median(t.cpu for t in timed_runs))


def bench_ours(corpus: Path, items: int, runs: int, only: set[str]) -> list[Result]:
    results = []
    public, cache = corpus / "public", corpus / ".cache"
    templates = corpus / "templates"
    # A fresh copy each run: the template-change case edits it, and the theme may have changed.
    shutil.rmtree(templates, ignore_errors=True)
    shutil.copytree(REPO / "templates", templates)
    # The package's modules compiled, as pip leaves an installed package: a checkout run with
    # PYTHONDONTWRITEBYTECODE set would compile the modules it changed in every timed process.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "newsdigest")],
                   check=False, stdout=subprocess.DEVNULL)
    # `newsdigest build` as users run it: the search index included. No image download
    # (--offline): timings stay comparable, with or without a network.
    build = [*newsdigest(), "build", "-q", "--config", str(corpus / "site.toml"),
             "--templates", str(templates), "--offline"]

    # A build that keeps its site state again (a full one, an add) leaves the process that
    # writes it to finish after the command ends (kept_state.save_in_background): each run
    # starts once it has, so that no run is timed with another's work, and how long it went
    # on after the command goes in the case's note.
    after_command: list[float] = []

    def background_done() -> None:
        started = time.perf_counter()
        wait_for_saving(cache)
        after_command.append(time.perf_counter() - started)

    def case(name: str, prepare: Callable[[], None], extra: list[str] | None = None,
             note: str = "") -> None:
        if only and name not in only:
            return
        background_done()
        del after_command[:]
        try:
            measured = measure(runs, lambda: (background_done(), prepare()),
                               build + (extra or []))
            background_done()
            lingered = sorted(after_command[1:])  # the first is the run before this case's
            if lingered and lingered[len(lingered) // 2] >= 0.02:
                note = (f"{note}; " if note else "") + (
                    f"its kept state written {lingered[len(lingered) // 2]:.2f} s after the "
                    "command (median)")
            results.append(Result("newsdigest", name, items, *measured, note=note))
        except RuntimeError as exc:
            results.append(Result("newsdigest", name, items, 0, 0, note=str(exc)[-200:],
                                  failed=True))

    case(DEFAULT, lambda: settle(public, cache), ["--no-cache"])
    case("clean --no-search", lambda: settle(public, cache), ["--no-cache", "--no-search"])
    # The rebuilds start from a default build with its cache (untimed when not measured).
    settle(public, cache)
    timed(build)
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
    case("one-edit --no-search", edit, ["--no-search"],
         "the search index left as it is: what the index costs an edit")
    timed(build)  # the search index up to date again
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
        # and its own picture, as a new story has: with the original's, the third copy would
        # make it an image shown by four items, generic, and every story pictured again
        text = re.sub(r'(\d+)\.jpg"', rf'\1-added-{n}.jpg"', text, count=1)
        (corpus / "content" / f"added-{n}.md").write_text(text)

    case("one-add", add, note="the newest item of the site, patched into the kept state: the "
                              "front and newest archive page of each list it is in change")
    item_template = templates / "item.html"
    template_text = item_template.read_text()
    changes = iter(range(1000))

    def change_template() -> None:
        item_template.write_text(template_text.replace(
            "{% block main %}", f"{{% block main %}}<!-- {next(changes)} -->", 1))

    if not only or "template-change" in only:
        # Without search: every item page changes, and indexing them all again would time the
        # indexer, not what is re-rendered.
        change_template()
        out = timed([*build, "--no-search", "--explain"]).stdout
        rebuilt = [line for line in out.splitlines() if line.startswith("rebuilt ")]
        items_rebuilt = sum("news/" in line for line in rebuilt)
        case("template-change", change_template, ["--no-search"],
             f"--no-search; {len(rebuilt)} files re-rendered, {items_rebuilt} of them item pages")
    for path in (corpus / "content").glob("added-*.md"):
        path.unlink()
    target.write_text(original)
    item_template.write_text(template_text)
    return results


def bench_hugo(corpus: Path, items: int, runs: int) -> list[Result]:
    if not shutil.which("hugo"):
        return [Result("hugo", "clean", items, 0, 0, note="hugo not installable here",
                       failed=True)]
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
        # Other work on the machine inflates every figure: the load says how quiet it was.
        "- load average (1, 5, 15 min) at the end: "
        + ", ".join(f"{load:.1f}" for load in os.getloadavg()),
    ]


def table(results: list[Result]) -> list[str]:
    lines = ["| tool | case | items | wall s | CPU s | peak MiB (largest process) | MiB of all "
             "processes at once | indexer MiB | × Hugo clean | × Pelican clean | target | note |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    base = {(r.tool, r.case, r.items): r for r in results if not r.failed}
    for result in results:
        hugo = base.get(("hugo", "clean", result.items))
        pelican = base.get(("pelican", "clean", result.items))
        if result.failed:
            lines.append(f"| {result.tool} | {result.case} | {result.items:,} | FAILED | | | | | "
                         f"| | | {result.note} |")
            continue
        ratio_h = f"{result.seconds / hugo.seconds:.2f}" if hugo else ""
        ratio_p = f"{result.seconds / pelican.seconds:.2f}" if pelican else ""
        goal = target(result.case, result.items) if result.tool == "newsdigest" else ""
        indexer = f"{result.indexer_mib:.0f}" if result.indexer_mib else ""
        lines.append(f"| {result.tool} | {result.case} | {result.items:,} | "
                     f"{result.seconds:.2f} | {result.cpu:.2f} | {result.peak_mib:.0f} | "
                     f"{result.tree_mib:.0f} | "
                     f"{indexer} | {ratio_h} | {ratio_p} | {goal} | {result.note} |")
    return lines


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
    parser.add_argument("--peers-max", type=int, default=0,
                        help="run Hugo, Pelican and the plain build only up to this many items "
                             "(Hugo takes about 7 minutes at 30,000)")
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
        if not args.skip_peers and not (args.peers_max and items > args.peers_max):
            for tool, run in (("hugo", bench_hugo), ("pelican", bench_pelican),
                              ("plain python", bench_plain)):
                try:
                    results += run(corpus, items, peer_runs)
                except (RuntimeError, OSError) as exc:
                    results.append(Result(tool, "clean", items, 0, 0, note=str(exc)[-200:],
                                          failed=True))
        results += bench_ours(corpus, items, args.runs, only)
        print("\n".join(table(results)), flush=True)
    report = ["# Benchmark results", "",
              "Produced by `make bench` (`python bench/run.py`): medians "
              f"of {args.runs} whole-process runs (peers once at 10,000 items and more), peak "
              "resident memory of the largest process, and of all processes at once in one "
              "more run (sampled from /proc, which slows what it samples).", "",
              *machine(), "", *table(results), "", *scaling(results)]
    args.out.write_text("\n".join(report) + "\n")
    print(f"\nwritten to {args.out}")
    empty_trash()


if __name__ == "__main__":
    main()
