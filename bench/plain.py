"""The floor of the Python stack: the peers' site built by the plainest Python, for reference.

python-frontmatter (with libyaml), Python-Markdown and Jinja2, as the issue's "plain Python
build": item pages, the home list and one list per topic paginated by 20, one RSS feed, on
every core (reading in one pool of processes, rendering and writing in another). No
validation, no sanitising, no editions, API, images, search, cache or atomic writes: what
is left is the cost of the libraries themselves.

    python bench/plain.py CORPUS OUT [--jobs N]
"""

from __future__ import annotations

import argparse
import os
import re
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import frontmatter
import jinja2
import markdown

PAGE_SIZE = 20
BASE = "https://bench.example/"

ITEM = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{{ item.title }} · Bench Digest</title><link rel="stylesheet" href="/css/site.css"></head>
<body><header><a href="/">Bench Digest</a> <a href="/topics/">Topics</a></header><main><article>
<h1>{{ item.title }}</h1><p>{{ item.provider }} · <time datetime="{{ item.date.isoformat() }}">
{{ item.date.strftime("%B %d, %Y") }}</time></p>
<ul>{% for t in item.topics %}<li><a href="/topics/{{ t | slug }}/">{{ t }}</a></li>
{% endfor %}</ul>
{% if item.image %}<img src="{{ item.image }}" alt="" width="1200" height="675">{% endif %}
<p>{{ item.excerpt }}</p>{{ item.html | safe }}
<a href="{{ item.url }}">Read on {{ item.provider }}</a></article></main></body></html>
"""
LIST = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{{ title }} · Bench Digest</title><link rel="stylesheet" href="/css/site.css"></head>
<body><header><a href="/">Bench Digest</a> <a href="/topics/">Topics</a></header><main>
<h1>{{ title }}</h1>{% for item in items %}<article>
{% if item.image %}<img src="{{ item.image }}" alt="" loading="lazy">{% endif %}
<h3><a href="/{{ item.path }}">{{ item.title }}</a></h3><p>{{ item.excerpt }}</p>
<p>{{ item.provider }} · {{ item.date.strftime("%b %d, %Y") }}</p></article>{% endfor %}
{% if next %}<a href="/{{ next }}">Older</a>{% endif %}</main></body></html>
"""
FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Bench Digest</title><link>{{ base }}</link>
<description>AI news</description>{% for item in items %}<item><title>{{ item.title }}</title>
<link>{{ base }}{{ item.path }}</link><guid>{{ base }}{{ item.path }}</guid>
<pubDate>{{ item.date.strftime("%a, %d %b %Y %H:%M:%S +0000") }}</pubDate>
<description>{{ item.excerpt }}</description></item>{% endfor %}</channel></rss>
"""


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def read(path: str) -> dict[str, Any] | None:
    post = frontmatter.load(path)
    meta = post.metadata
    if meta.get("published") is False:
        return None
    date = datetime.fromisoformat(str(meta["publishedDateTime"]).replace("Z", "+00:00"))
    images = meta.get("images") or []
    name = Path(path).stem
    return {
        "title": meta["title"], "excerpt": meta.get("excerpt", ""), "date": date,
        "provider": (meta.get("provider") or {}).get("name", ""), "url": meta.get("webUrl", ""),
        "topics": list(meta.get("topics") or []), "image": images[0]["url"] if images else "",
        "html": markdown.markdown(post.content, extensions=["extra"]) if post.content else "",
        "path": f"news/{date:%Y/%m/%d}/{name}/",
    }


def read_all(paths: list[str]) -> list[dict[str, Any] | None]:
    return [read(path) for path in paths]


_jobs: list[tuple[str, str, dict[str, Any]]] = []
_env = jinja2.Environment(autoescape=True)
_env.filters["slug"] = slug
_templates = {name: _env.from_string(text)
              for name, text in (("item", ITEM), ("list", LIST), ("feed", FEED))}


def write_range(bounds: tuple[int, int], out: str) -> int:
    for file, template, context in _jobs[bounds[0]:bounds[1]]:
        target = os.path.join(out, file)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(_templates[template].render(context))
    return bounds[1] - bounds[0]


def lists(items: list[dict[str, Any]], folder: str, title: str
          ) -> list[tuple[str, str, dict[str, Any]]]:
    pages = [items[i:i + PAGE_SIZE] for i in range(0, len(items), PAGE_SIZE)] or [[]]

    def path(n: int) -> str:
        return f"{folder}index.html" if n == 1 else f"{folder}page/{n}/index.html"

    return [(path(n), "list", {"title": title, "items": chunk,
                               "next": path(n + 1)[:-10] if n < len(pages) else ""})
            for n, chunk in enumerate(pages, start=1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    paths = sorted(str(p) for p in (args.corpus / "content").rglob("*.md"))
    chunks = [paths[i:i + 100] for i in range(0, len(paths), 100)]
    with get_context("fork").Pool(args.jobs) as pool:
        items = [item for part in pool.imap(read_all, chunks) for item in part if item]
    items.sort(key=lambda item: item["date"], reverse=True)
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        for topic in item["topics"]:
            by_topic.setdefault(topic, []).append(item)
    _jobs.extend((item["path"] + "index.html", "item", {"item": item}) for item in items)
    _jobs.extend(lists(items, "", "Latest AI news"))
    for topic, stories in by_topic.items():
        _jobs.extend(lists(stories, f"topics/{slug(topic)}/", topic))
    _jobs.append(("feed.xml", "feed", {"items": items[:20], "base": BASE}))
    ranges = [(i, min(i + 200, len(_jobs))) for i in range(0, len(_jobs), 200)]
    with get_context("fork").Pool(args.jobs) as pool:
        written = sum(pool.starmap(write_range, [(r, str(args.out)) for r in ranges]))
    print(f"{len(items)} items, {written} files")


if __name__ == "__main__":
    main()
