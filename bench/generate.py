"""Deterministic N-item corpora in the news item format, plus the same site for Hugo and Pelican.

    python bench/generate.py --items 10000 --out /tmp/corpus [--seed 1]

writes OUT/content (ours), OUT/site.toml, OUT/hugo (a Hugo site) and OUT/pelican (a Pelican
site): item pages, home and topic lists paginated by 20, one feed, from the same items.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

TOPICS = [
    "AI", "Natural Language Processing", "Computer Vision", "Robotics", "AI Hardware",
    "AI Policy", "AI Ethics", "Machine Learning", "Generative AI", "Autonomous Vehicles",
    "AI in Healthcare", "Reinforcement Learning", "Speech Recognition", "AI Startups",
    "Open Source AI", "AI Research", "Edge AI", "AI Safety", "Recommender Systems", "MLOps",
]
WORDS = (
    "model data neural training chip robot vision language policy open source research lab "
    "startup benchmark agent inference cloud dataset safety regulation accelerator transformer "
    "reasoning multimodal speech translation autonomous medical diagnosis funding release"
).split()
END = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Entry:
    slug: str
    title: str
    excerpt: str
    date: datetime
    provider: tuple[str, str]
    topics: tuple[str, ...]
    video: str  # a YouTube id, or ""
    body: str
    published: bool
    quality: int
    heat: int
    related: int


def entries(count: int, seed: int) -> list[Entry]:
    rng = random.Random(seed)
    providers = [(f"{rng.choice(WORDS).title()} {rng.choice(['News', 'Daily', 'Wire', 'Times'])}",
                  f"provider{n}.example") for n in range(60)]
    made = []
    for n in range(count):
        words = [rng.choice(WORDS) for _ in range(rng.randint(6, 11))]
        title = " ".join(words).capitalize() + f" ({n})"
        body = ""
        if rng.random() < 0.3:
            paragraphs = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(30, 70))) + "."
                          for _ in range(rng.randint(1, 3))]
            body = "\n\n".join(paragraphs) + (
                f"\n\n- first point about {words[0]}\n- second point about {words[1]}\n\n"
                f"Read [the source](https://{providers[n % 60][1]}/story/{n}).\n")
        made.append(Entry(
            slug=f"{'-'.join(words[:6])}-{n}",
            title=title,
            excerpt=" ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 45))) + ".",
            date=END - timedelta(minutes=rng.randint(0, 2 * 365 * 24 * 60)),
            provider=providers[rng.randrange(60)],
            topics=tuple(rng.sample(TOPICS, rng.randint(1, 3))),
            video="".join(rng.choice("abcdefghijkABCDEFGH0123456789_-") for _ in range(11))
            if rng.random() < 0.1 else "",
            body=body,
            published=rng.random() >= 1 / 8,
            quality=rng.randint(0, 100),
            heat=rng.randint(0, 300),
            related=rng.randint(0, 3),
        ))
    return made


def ours(entry: Entry, n: int) -> str:
    q = json.dumps
    name, domain = entry.provider
    lines = ["---", "category: news", f"title: {q(entry.title)}", f"excerpt: {q(entry.excerpt)}",
             f"publishedDateTime: {entry.date:%Y-%m-%dT%H:%M:%SZ}"]
    if entry.video:
        lines.append(f'originalUrl: "https://www.youtube.com/watch?v={entry.video}"')
    else:
        lines.append(f'webUrl: "https://{domain}/{entry.date:%Y/%m}/{entry.slug}"')
    lines += [f"type: {'video' if entry.video else 'article'}", f"quality: {entry.quality}",
              f"heat: {entry.heat}", f"published: {'true' if entry.published else 'false'}"]
    if entry.video:
        embed = (f'<iframe width="560" height="315" src="https://www.youtube.com/embed/'
                 f'{entry.video}" frameborder="0" allowfullscreen></iframe>')
        lines += [f"featuredContent: {q(embed)}", f"length: PT{4 + n % 50}M{n % 60}S"]
    lines += ["provider:", f"  name: {q(name)}", f"  domain: {domain}", "  images:",
              f'    - url: "https://logos.example/{domain}.png"', "      width: 64",
              "      height: 64", "topics:", *[f"  - {q(t)}" for t in entry.topics], "images:",
              f'  - url: "https://images.{domain}/{n}.jpg"', "    width: 1200",
              "    height: 675", f"    title: {q(entry.title)}"]
    if entry.related:
        lines.append("related:")
        for k in range(entry.related):
            lines += [f"  - title: {q(entry.title + ' (other coverage)')}",
                      f'    webUrl: "https://other{k}.example/{entry.slug}"',
                      f"    publishedDateTime: {entry.date:%Y-%m-%dT%H:%M:%SZ}",
                      "    provider:", f"      name: Other {k}", f"      domain: other{k}.example"]
    lines += [f'secured: "{"x" * 120}=="', "---"]
    return "\n".join(lines) + "\n" + (f"\n{entry.body}" if entry.body else "")


def hugo(entry: Entry) -> str:
    q = json.dumps
    image = f"https://images.{entry.provider[1]}/{entry.slug}.jpg"
    return "\n".join([
        "---", f"title: {q(entry.title)}", f"date: {entry.date:%Y-%m-%dT%H:%M:%SZ}",
        f"slug: {q(entry.slug)}", f"summary: {q(entry.excerpt)}",
        f"provider: {q(entry.provider[0])}", f"image: {q(image)}",
        f"draft: {'false' if entry.published else 'true'}",
        "topics:", *[f"  - {q(t)}" for t in entry.topics], "---", entry.body, ""])


def pelican(entry: Entry) -> str:
    return "\n".join([
        f"Title: {entry.title}", f"Date: {entry.date:%Y-%m-%d %H:%M}", f"Slug: {entry.slug}",
        "Category: news", f"Tags: {', '.join(entry.topics)}", f"Summary: {entry.excerpt}",
        f"Status: {'published' if entry.published else 'draft'}", "", entry.body or entry.excerpt,
        ""])


HUGO_CONFIG = """\
baseURL = "https://bench.example/"
title = "Bench Digest"
paginate = 20
disableKinds = ["section", "taxonomyTerm", "term", "taxonomy"]
[taxonomies]
  topic = "topics"
[permalinks]
  news = "/news/:year/:month/:day/:slug/"
[related]
  threshold = 0
  includeNewer = true
  [[related.indices]]
    name = "topics"
    weight = 100
[outputs]
  home = ["HTML", "RSS"]
  page = ["HTML"]
  taxonomy = ["HTML"]
  term = ["HTML"]
"""
# Topic lists are taxonomy term pages: enable them (Hugo 0.111 names them "term").
HUGO_CONFIG = HUGO_CONFIG.replace('["section", "taxonomyTerm", "term", "taxonomy"]',
                                  '["section"]')
HUGO_LAYOUTS = {
    "_default/baseof.html": """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{{ .Title }} · {{ .Site.Title }}</title><link rel="stylesheet" href="/css/site.css">
</head><body><header><a href="/">{{ .Site.Title }}</a> <a href="/topics/">Topics</a></header>
<main>{{ block "main" . }}{{ end }}</main></body></html>
""",
    "_default/single.html": """{{ define "main" }}<article><h1>{{ .Title }}</h1>
<p>{{ .Params.provider }} · <time datetime="{{ .Date.Format "2006-01-02T15:04:05Z07:00" }}">
{{ .Date.Format "January 2, 2006" }}</time></p>
<ul>{{ range .Params.topics }}<li><a href="/topics/{{ . | urlize }}/">{{ . }}</a></li>{{ end }}</ul>
<img src="{{ .Params.image }}" alt="" width="1200" height="675"><p>{{ .Summary }}</p>
{{ .Content }}</article>
<aside>{{ range first 4 (.Site.RegularPages.Related .) }}
<a href="{{ .RelPermalink }}">{{ .Title }}</a>{{ end }}</aside>{{ end }}
""",
    "partials/card.html": """<article><img src="{{ .Params.image }}" alt="" loading="lazy">
<h3><a href="{{ .RelPermalink }}">{{ .Title }}</a></h3><p>{{ .Summary }}</p>
<p>{{ .Params.provider }} · {{ .Date.Format "Jan 2, 2006" }}</p></article>
""",
    "index.html": """{{ define "main" }}{{ $p := .Paginate .Site.RegularPages }}
{{ range $p.Pages }}{{ partial "card.html" . }}{{ end }}
{{ if $p.HasNext }}<a href="{{ $p.Next.URL }}">Older</a>{{ end }}{{ end }}
""",
    "_default/term.html": """{{ define "main" }}<h1>{{ .Title }}</h1>{{ $p := .Paginate .Pages }}
{{ range $p.Pages }}{{ partial "card.html" . }}{{ end }}
{{ if $p.HasNext }}<a href="{{ $p.Next.URL }}">Older</a>{{ end }}{{ end }}
""",
    "_default/taxonomy.html": """{{ define "main" }}<h1>Topics</h1><ul>{{ range .Data.Terms }}
<li><a href="{{ .Page.RelPermalink }}">{{ .Page.Title }}</a> {{ .Count }}</li>{{ end }}</ul>
{{ end }}
""",
}
PELICAN_CONFIG = """\
AUTHOR = "Bench"
SITENAME = "Bench Digest"
SITEURL = "https://bench.example"
PATH = "content"
TIMEZONE = "UTC"
DEFAULT_LANG = "en"
DEFAULT_PAGINATION = 20
RELATIVE_URLS = False
FEED_ALL_ATOM = "feeds/all.atom.xml"
CATEGORY_FEED_ATOM = None
TRANSLATION_FEED_ATOM = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None
ARTICLE_URL = "news/{date:%Y}/{date:%m}/{date:%d}/{slug}/"
ARTICLE_SAVE_AS = "news/{date:%Y}/{date:%m}/{date:%d}/{slug}/index.html"
TAG_URL = "topics/{slug}/"
TAG_SAVE_AS = "topics/{slug}/index.html"
AUTHOR_SAVE_AS = ""
CATEGORY_SAVE_AS = ""
PAGINATED_TEMPLATES = {"index": None, "tag": None}
"""


def write(out: Path, count: int, seed: int) -> None:
    if out.exists():
        shutil.rmtree(out)
    made = entries(count, seed)
    for n, entry in enumerate(made):
        for folder, name, text in (
            (out / "content" / f"{entry.date:%Y}" / f"{entry.date:%m}", f"{entry.slug}.md",
             ours(entry, n)),
            (out / "hugo" / "content" / "news", f"{entry.slug}.md", hugo(entry)),
            (out / "pelican" / "content", f"{entry.slug}.md", pelican(entry)),
        ):
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text, encoding="utf-8")
    (out / "site.toml").write_text(
        '[site]\ntitle = "Bench Digest"\nbase_url = "https://bench.example/"\npage_size = 20\n'
        'feed_items = 20\n')
    (out / "hugo" / "hugo.toml").write_text(HUGO_CONFIG)
    for rel, text in HUGO_LAYOUTS.items():
        path = out / "hugo" / "layouts" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    # The same Hugo site without "more on this topic" (Hugo's .Related, the costly part), as
    # in the reference figures.
    plain = out / "hugo-plain"
    shutil.copytree(out / "hugo", plain)
    single = plain / "layouts" / "_default" / "single.html"
    single.write_text(single.read_text().split("<aside>")[0] + "{{ end }}\n")
    (out / "pelican" / "pelicanconf.py").write_text(PELICAN_CONFIG)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    write(args.out, args.items, args.seed)
    print(f"wrote {args.items} items to {args.out}")


if __name__ == "__main__":
    main()
