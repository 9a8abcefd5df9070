"""The JSON API: the same items as the pages, for other apps, paginated like the site (archive
pages numbered from the oldest, see render/pages.py `cut`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from newsdigest.config.site import SiteConfig
from newsdigest.render.fragments import Fragments
from newsdigest.render.pages import FRONT, cut, neighbours
from newsdigest.render.structured import inert_json, logo_url
from newsdigest.stories.grouping import SiteIndex, Story


@dataclass(frozen=True)
class Document:
    path: str  # e.g. 'api/news/page/2/index.json'
    inputs: tuple[Any, ...]  # what it is made from, for its fingerprint
    data: Any  # a zero-argument function that returns the JSON value, less its stories
    stories: Callable[[], list[str]] | None = None  # the stories as encoded JSON, if any
    # Every story whose values `inputs` hold (as PageSpec.shows); None: not known.
    shows: tuple[Story, ...] | None = None

    def render(self) -> bytes:
        text = _encode(self.data())
        if self.stories is not None:
            # Every story is on several lists (latest, each of its topics): each is encoded
            # once and spliced in as the last member, "items".
            text = text[:-1] + ',"items":[' + ",".join(self.stories()) + "]}"
        return (text + "\n").encode()


def _encode(value: Any) -> str:
    # Compact on purpose (inert_json): `indent` switches json to its pure-Python encoder,
    # which made the API cost as much as rendering every item page.
    return inert_json(value)


def story_text(story: Story, config: SiteConfig) -> str:
    """A story's JSON, as every list that shows it embeds it."""
    return _encode(story_json(story, config))


def story_json(story: Story, config: SiteConfig) -> dict[str, Any]:
    """Every field the item page shows, with absolute URLs; never `secured`."""
    item = story.item
    image = config.absolute_link(story.image_url) if story.image_url else ""
    return {
        "url": config.absolute_url(story.path),
        "title": item.title,
        "excerpt": item.excerpt,
        "publishedDateTime": item.published_at.isoformat(),
        "updatedDateTime": item.updated_at.isoformat() if item.updated_at else None,
        "sourceUrl": item.url,
        "type": item.type,
        "category": item.category,
        "quality": item.quality,
        "heat": item.heat,
        "provider": {"name": item.provider.name, "domain": item.provider.domain,
                     "logo": logo_url(story, config) or None},
        "topics": [{"name": t.name, "slug": t.slug, "url": config.absolute_url(t.path)}
                   for t in story.topics],
        "tags": list(item.tags),
        "image": ({"url": image, "width": story.image.width, "height": story.image.height,
                   "title": story.image.title} if story.image else None),
        "video": ({"embedUrl": item.embed.src, "watchUrl": item.embed.watch_url,
                   "duration": item.duration} if item.embed else None),
        "kind": item.kind or "news",
        "sponsored": item.sponsored,
        "why": item.why or None,
        "readingMinutes": item.reading_minutes,
        "discussion": [{"site": d.site, "url": d.url} for d in item.discussion_links],
        "price": item.price or None,
        "bodyHtml": item.body_html or None,
        # The other outlets of a story shown once (a cluster, or merged duplicates).
        "coverage": [{"title": c.title, "url": c.url, "provider": c.provider}
                     for c in story.also],
        "related": [{"title": r.title, "url": r.url, "provider": r.provider,
                     "publishedDateTime": r.published_at.isoformat() if r.published_at
                     else None} for r in item.related],
    }


def _pages(folder: str, stories: tuple[Story, ...], config: SiteConfig,
           extra: dict[str, Any], encoded: Fragments) -> list[Document]:
    """A list's documents, cut as its pages are (pages.paginate): the front document with
    the newest stories and the total, then archive pages numbered from the oldest, which
    carry no count and so stay the same once full."""

    def path(number: int) -> str:
        return f"{folder}page/{number}/index.json" if number else f"{folder}index.json"

    def link(path_: str | None) -> str | None:
        return config.absolute_url(path_) if path_ is not None else None

    def encode_all(chunk: tuple[Story, ...]) -> list[str]:
        return [encoded.made((story.fingerprint, "json"), partial(story_text, story, config))
                for story in chunk]

    documents = []
    # The pages' own cut, without their navigation: a document links only to its neighbours.
    front, archive = cut(stories, config.page_size)
    top = len(archive)
    for number, items in ((FRONT, front), *((n, archive[n - 1]) for n in range(top, 0, -1))):
        newer, older = neighbours(number, top, path)
        counted = {"total": len(stories)} if number == FRONT else {}

        def data(number: int = number, newer: str | None = newer, older: str | None = older,
                 counted: dict[str, int] = counted) -> dict[str, Any]:
            return {**extra, "page": number or None, **counted,
                    "newer": link(newer), "older": link(older)}

        inputs = (extra, number, counted, newer, older, items)
        documents.append(Document(path(number), inputs, data, partial(encode_all, items),
                                  shows=items))
    return documents


def documents(index: SiteIndex, config: SiteConfig,
              encoded: Fragments | None = None) -> list[Document]:
    """Every API file; `encoded` keeps each story's JSON, shared by all the lists (and, given
    a store, between builds)."""
    encoded = encoded if encoded is not None else Fragments(None, "")
    made = _pages("api/news/", index.stories, config, {"title": config.title}, encoded)
    topics = tuple((t.name, t.slug, t.description, len(t.stories)) for t in index.topics)

    def topic_list() -> dict[str, Any]:
        return {"topics": [{"name": name, "slug": slug, "description": description,
                            "count": count, "url": config.absolute_url(f"topics/{slug}/"),
                            "api": config.absolute_url(f"api/topics/{slug}/index.json")}
                           for name, slug, description, count in topics]}

    made.append(Document("api/topics/index.json", (topics,), topic_list))
    for topic in index.topics:
        made += _pages(f"api/topics/{topic.slug}/", topic.stories, config,
                       {"topic": topic.name, "slug": topic.slug}, encoded)
    return made
