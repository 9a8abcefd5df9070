"""The curation report: what the editor should look at before sending an edition.

Items per topic and day, duplicate stories merged, items without an image or with a generic
one, dropped embeds, invalid files skipped, items outside the news window. Shown as text after
a build and by `newsdigest report`, and as a page (_report/) that no public page links to.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from newsdigest.config.site import SiteConfig
from newsdigest.errors import Problem
from newsdigest.render.pages import PageMeta
from newsdigest.render.sitemaps import news_window
from newsdigest.stories.clusters import Cluster, NearMiss
from newsdigest.stories.editions import DAILY, WEEKLY, Edition
from newsdigest.stories.grouping import SiteIndex, Story
from newsdigest.urls import REPORT_FOLDER

LISTED = 50  # at most this many names per list in the terminal


@dataclass(frozen=True)
class ImageFacts:
    """What the report says of the stories' images, kept with the gathered site (a rebuild
    then reads no story's image): an edit patched in place changes no story's images
    (kept_state._shape), an addition adds its own (`with_stories`)."""

    missing: tuple[str, ...]  # the files of the stories without an image, sorted
    generic: tuple[tuple[str, str], ...]  # file, image URL: those whose image is generic

    def with_stories(self, stories: Iterable[Story], generic_urls: Collection[str]
                     ) -> ImageFacts:
        more = image_facts(stories, generic_urls)
        return ImageFacts(tuple(sorted(self.missing + more.missing)),
                          tuple(sorted(self.generic + more.generic)))


def image_facts(stories: Iterable[Story], generic_urls: Collection[str]) -> ImageFacts:
    """`generic_urls`: the image stage's generic pictures (image_stage.ImageUses), so that
    what the report names is exactly what pages skip."""
    missing, generic = [], []
    for story in stories:
        image = story.image
        if image is None:
            missing.append(story.item.source)
        elif image.url in generic_urls:
            generic.append((story.item.source, image.url))
    return ImageFacts(tuple(sorted(missing)), tuple(sorted(generic)))


@dataclass(frozen=True)
class CurationReport:
    items: int
    per_topic: tuple[tuple[str, int], ...]  # by count, then name
    per_day: tuple[tuple[str, int], ...]  # newest first
    merged: tuple[tuple[str, tuple[str, ...]], ...]  # kept file, files merged into it
    no_image: tuple[str, ...]
    generic_image: tuple[tuple[str, str], ...]  # file, image URL
    dropped_embeds: tuple[tuple[str, str], ...]  # where (file:line), why
    invalid: tuple[str, ...]  # the problems of skipped files, as lines
    outside_window: tuple[tuple[str, str], ...]  # reason, file
    older_than_window: int  # published items not in the news sitemap (older than two days)
    daily_editions: int
    weekly_editions: int
    sources: tuple[str, ...] = ()  # the feeds of [sources]: their health (stories/sources.py)
    # Stories of several items (duplicates and clusters), each member with how it joined and
    # its best similarity in the cluster, so that [stories] similarity can be tuned.
    clusters: tuple[Cluster, ...] = ()
    similarity: float = 0.0  # [stories] similarity, shown beside the scores
    near_misses: tuple[NearMiss, ...] = ()  # the most alike items that are not one story

    @property
    def cluster_lines(self) -> list[str]:
        return [f"{c.line} <- " + "; ".join(m.line for m in c.members) for c in self.clusters]

    @property
    def sources_count(self) -> str:
        failing = sum(": failing, " in line for line in self.sources)
        silent = sum(": silent, " in line for line in self.sources)
        return f"{len(self.sources)}, {failing} failing, {silent} silent"

    @property
    def duplicates(self) -> int:
        return sum(len(m) for _, m in self.merged)

    @property
    def embed_places(self) -> list[str]:
        """Where embeds were dropped, without the reason: it quotes the content's hostile URL,
        which has no place on a page of the site (the terminal report gives it)."""
        return [where for where, _ in self.dropped_embeds]

    @property
    def merged_lines(self) -> list[str]:
        return [f"{kept} <- {', '.join(merged)}" for kept, merged in self.merged]

    @property
    def generic_lines(self) -> list[str]:
        return [f"{source}: {url}" for source, url in self.generic_image]

    @property
    def outside_lines(self) -> list[str]:
        return [f"{reason}: {source}" for reason, source in self.outside_window]


def curation_report(index: SiteIndex, made: list[Edition], problems: list[Problem],
                    warnings: list[Problem], now: datetime, images: ImageFacts,
                    sources: tuple[str, ...] = (),
                    config: SiteConfig | None = None) -> CurationReport:
    stories = index.stories
    topics = Counter({t.name: len(t.stories) for t in index.topics if t.stories})
    days = Counter(s.local_date.date() for s in stories)  # named once per day, not per story
    outside = tuple((reason, source) for reason, sources in sorted(index.excluded.items())
                    for source in sources)
    return CurationReport(
        items=len(stories),
        per_topic=tuple(sorted(topics.items(), key=lambda kv: (-kv[1], kv[0].casefold()))),
        per_day=tuple(sorted(((day.isoformat(), count) for day, count in days.items()),
                             reverse=True)),
        merged=tuple(sorted(index.merged.items())),
        no_image=images.missing,
        generic_image=images.generic,
        dropped_embeds=tuple((f"{w.path}:{w.line}" if w.line else w.path, w.message)
                             for w in warnings if w.field == "featuredContent"),
        invalid=tuple(str(p) for p in sorted(problems, key=Problem.sort_key)),
        outside_window=outside,
        older_than_window=len(stories) - len(news_window(stories, now)),
        daily_editions=sum(e.period.kind == DAILY for e in made),
        weekly_editions=sum(e.period.kind == WEEKLY for e in made),
        sources=sources,
        clusters=index.clusters,
        near_misses=index.near_misses,
        similarity=config.stories.similarity if config is not None else 0.0,
    )


def summary_line(report: CurationReport) -> str:
    """One line for the end of a build."""
    return (f"digest: {report.weekly_editions} weekly and {report.daily_editions} daily "
            f"editions; {report.duplicates} duplicate{'s' if report.duplicates != 1 else ''} "
            f"merged; {len(report.no_image)} without an image, {len(report.generic_image)} "
            f"with a generic one; {len(report.dropped_embeds)} embeds dropped; "
            f"{len(report.invalid)} invalid skipped")


def text_report(report: CurationReport, limit: int = LISTED) -> str:
    """The whole report for a terminal: a heading per part, one line per entry."""
    lines = [f"Curation report: {report.items} items, {report.weekly_editions} weekly and "
             f"{report.daily_editions} daily editions", ""]

    def part(title: str, entries: list[str], count: str = "") -> None:
        lines.append(f"{title} ({count or len(entries)})")
        lines.extend(f"  {e}" for e in entries[:limit])
        if len(entries) > limit:
            lines.append(f"  ... and {len(entries) - limit} more")
        lines.append("")

    part("Items per topic", [f"{n:5}  {name}" for name, n in report.per_topic])
    part("Items per day", [f"{n:5}  {day}" for day, n in report.per_day])
    # Counted as the build's summary counts them: the items merged into another story.
    part("Duplicates merged", report.merged_lines,
         f"{report.duplicates} into {len(report.merged)} "
         f"stor{'y' if len(report.merged) == 1 else 'ies'}")
    part(f"Story clusters (similarity needed: {report.similarity:g}; each member: how it "
         "joined, its best similarity in the cluster)", report.cluster_lines)
    part("Near misses (alike, not one story: what a lower similarity or a story: key would "
         "join)", [m.line for m in report.near_misses])
    part("Items without an image", list(report.no_image))
    part("Items with a generic image", report.generic_lines)
    part("Embeds dropped", [f"{where}: {why}" for where, why in report.dropped_embeds])
    part("Invalid files skipped", list(report.invalid))
    part("Left out of the site (outside the news window)", report.outside_lines)
    if report.sources:
        part("Sources of newsdigest ingest", list(report.sources), report.sources_count)
    lines.append(f"{report.older_than_window} items are older than the news sitemap's window "
                 "(two days)")
    return "\n".join(lines) + "\n"



def page_context(curation: CurationReport, config: SiteConfig) -> dict[str, object]:
    """What report.html is rendered with (by the build and by `report --html`)."""
    meta = PageMeta("report", REPORT_FOLDER, "Curation report",
                    f"Curation report · {config.title}",
                    "What was merged, left out or is missing an image, for the editors.")
    return {"page": meta, "report": curation, "site": config}
