"""Preview latency: from saving an item to its rebuilt page being written, on a large site.

Runs `newsdigest serve` on a generated site (bench/generate.py --items N --out DIR), rewrites
item titles one at a time as an editor would, and times each save to:
  page    the item's page in the preview folder holds the new title (target: < 300 ms at 10k)
  reload  the browsers are told to reload that page (its Server-Sent Event arrives)
  done    the incremental build after it (lists, feeds, neighbours) has finished
and each save of a stylesheet to the event that swaps it in the open pages.
The edited files are restored at the end.

    python bench/serve_latency.py [--items 10000] [--edits 10] [--site DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # this checkout's newsdigest, as the server child process uses
WORK = REPO / "bench" / ".work"
TARGET_MS = 300


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=10_000, help="items in the generated site")
    parser.add_argument("--edits", type=int, default=10, help="item saves to time")
    parser.add_argument("--site", type=Path, help="use this site (with site.toml) instead")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    site = args.site.resolve() if args.site else generated_site(args.items)
    cache = WORK / f"serve-cache-{site.name}"
    server = Server(site, cache)
    try:
        print(f"first build of {site} ...", flush=True)
        started = time.perf_counter()
        server.start()
        print(f"serving after {time.perf_counter() - started:.1f} s", flush=True)
        items = timed_item_edits(server, site, args.edits)
        styles = timed_css_edits(server, site, edits=5)
    finally:
        server.stop()
    results = {
        "items": count_items(site),
        "edits": args.edits,
        "page_ms": summary(items["page"]),
        "reload_ms": summary(items["reload"]),
        "done_ms": summary(items["done"]),
        "css_reload_ms": summary(styles),
        "target_page_ms": TARGET_MS,
    }
    print(f"\n{results['items']} items, {args.edits} title edits (median / p90 / max, ms)")
    for key, label in [("page_ms", "save -> item page written"),
                       ("reload_ms", "save -> reload event"),
                       ("done_ms", "save -> incremental build done"),
                       ("css_reload_ms", "save CSS -> stylesheet swap event")]:
        figures = results[key]
        print(f"  {label:36} {figures['median']:8.0f} {figures['p90']:8.0f} {figures['max']:8.0f}")
    verdict = "met" if results["page_ms"]["median"] < TARGET_MS else "MISSED"
    print(f"  target: item page in < {TARGET_MS} ms: {verdict}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def generated_site(items: int) -> Path:
    site = WORK / f"serve-site-{items}"
    if count_items(site) != items:
        generator = REPO / "bench" / "generate.py"
        if not generator.exists():
            sys.exit(f"{generator} not found; pass --site DIR with a site to use")
        shutil.rmtree(site, ignore_errors=True)
        subprocess.run([sys.executable, str(generator), "--items", str(items), "--out",
                        str(site)], check=True)
    return site


def count_items(site: Path) -> int:
    content = site / "content"
    return sum(1 for p in content.rglob("*") if p.suffix in (".md", ".txt", ".markdown")) \
        if content.is_dir() else 0


class Server:
    """`newsdigest serve` in a child process, with its output lines and events timestamped."""

    def __init__(self, site: Path, cache: Path):
        self.site, self.cache = site, cache
        self.output = cache / "serve-public"
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        self.events: queue.Queue[tuple[float, str, dict]] = queue.Queue()
        self.process: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "newsdigest", "serve", "--config", str(self.site / "site.toml"),
             "--cache-dir", str(self.cache), "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=self.site,
        )
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("serving "):
                self.url = line.split(" at ")[1].split()[0]
                break
        else:
            sys.exit("the server did not start")
        threading.Thread(target=self._read_lines, daemon=True).start()
        host, port = self.url.removeprefix("http://").rstrip("/").split(":")
        self.address = (host, int(port))
        token = re.search(rb'data-build="([^"]+)"', self.get("/")).group(1).decode()
        threading.Thread(target=self._read_events, args=(token,), daemon=True).start()
        time.sleep(0.5)

    def get(self, path: str) -> bytes:
        connection = http.client.HTTPConnection(*self.address, timeout=10)
        connection.request("GET", path)
        body = connection.getresponse().read()
        connection.close()
        return body

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def wait_line(self, pattern: str, timeout: float = 120) -> float:
        deadline = time.monotonic() + timeout
        while True:
            at, line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            if pattern in line:
                return at

    def wait_event(self, name: str, path: str, timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        while True:
            at, event, data = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            if event == name and (data.get("paths") is None or path in data["paths"]):
                return at

    def drain(self) -> None:
        for waiting in (self.lines, self.events):
            while not waiting.empty():
                waiting.get_nowait()

    def _read_lines(self) -> None:
        assert self.process and self.process.stdout
        for line in self.process.stdout:
            self.lines.put((time.perf_counter(), line.rstrip("\n")))

    def _read_events(self, token: str) -> None:
        connection = http.client.HTTPConnection(*self.address, timeout=None)
        connection.request("GET", f"/__newsdigest/events?since={token}")
        response = connection.getresponse()
        event = ""
        for raw in response:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                self.events.put((time.perf_counter(), event, json.loads(line[6:])))


def timed_item_edits(server: Server, site: Path, edits: int) -> dict[str, list[float]]:
    from newsdigest.config.site import load_config
    from newsdigest.content.files import SourceFile
    from newsdigest.content.loading import LoadSettings, load_one
    from newsdigest.urls import item_path, item_slug

    config = load_config(site / "site.toml")
    files = sorted(p for p in (site / "content").rglob("*") if p.suffix in (".md", ".txt"))
    chosen = [files[i * len(files) // edits] for i in range(edits)]
    timings: dict[str, list[float]] = {"page": [], "reload": [], "done": []}
    originals: dict[Path, bytes] = {}
    try:
        for number, file in enumerate(chosen):
            rel = file.relative_to(config.content_dir).as_posix()
            loaded = load_one(SourceFile(file, rel), LoadSettings(config.timezone,
                                                                  config.max_file_bytes))
            item = loaded.result.item
            assert item is not None, f"{file} is not a valid item"
            path = item_path(item.published_at.astimezone(config.tz),
                             item_slug(item.source, item.slug)) + "index.html"
            page = server.output / path
            assert page.exists(), page
            originals.setdefault(file, file.read_bytes())
            title = f"Edited title {number} {time.time_ns()}"
            text = re.sub(r'(?m)^title:.*$', f'title: "{title}"', file.read_text(), count=1)
            server.drain()
            time.sleep(0.3)
            saved = time.perf_counter()
            file.write_text(text)
            written = wait_for_bytes(page, title.encode())
            reload = server.wait_event("reload", "/" + path)
            done = server.wait_line(": rebuilt in")
            timings["page"].append((written - saved) * 1000)
            timings["reload"].append((reload - saved) * 1000)
            timings["done"].append((done - saved) * 1000)
            print(f"  edit {number + 1}: page {timings['page'][-1]:.0f} ms, "
                  f"reload {timings['reload'][-1]:.0f} ms, done {timings['done'][-1]:.0f} ms",
                  flush=True)
    finally:
        server.drain()
        for file, data in originals.items():
            file.write_bytes(data)
    server.wait_line(": rebuilt in")
    return timings


def timed_css_edits(server: Server, site: Path, edits: int) -> list[float]:
    from newsdigest.render import default_theme_dir

    stylesheet = site / "static" / "css" / "site.css"
    existed = stylesheet.exists()
    original = stylesheet.read_bytes() if existed else \
        (default_theme_dir() / "static" / "css" / "site.css").read_bytes()
    timings = []
    try:
        server.drain()
        stylesheet.parent.mkdir(parents=True, exist_ok=True)
        stylesheet.write_bytes(original)
        server.wait_line(" in ")  # the rebuild (or copy) that the new folder causes
        time.sleep(0.3)
        for number in range(edits):
            server.drain()
            saved = time.perf_counter()
            stylesheet.write_bytes(original + f"/* edit {number} */\n".encode())
            timings.append((server.wait_event("reload", "/css/site.css") - saved) * 1000)
            print(f"  stylesheet edit {number + 1}: reload {timings[-1]:.0f} ms", flush=True)
            time.sleep(0.3)
    finally:
        if existed:
            stylesheet.write_bytes(original)
        else:
            stylesheet.unlink(missing_ok=True)
            for folder in (stylesheet.parent, stylesheet.parent.parent):
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()
    return timings


def wait_for_bytes(path: Path, needle: bytes, timeout: float = 30) -> float:
    """The moment the file first holds the bytes (polled every millisecond)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            if needle in path.read_bytes():
                return time.perf_counter()
        except OSError:
            pass
        time.sleep(0.001)
    raise TimeoutError(f"{path} never showed {needle!r}")


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": statistics.median(ordered),
        "p90": ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))],
        "max": ordered[-1],
    }


if __name__ == "__main__":
    sys.exit(main())
