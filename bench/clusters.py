"""Story clusters measured: precision and recall on the labelled headline pairs, and the time
to cluster 10,000 items.

    python bench/clusters.py [--similarity 0.5] [--window-hours 48] [--mistakes]

The pairs (tests/fixtures/story_pairs.json) are clustered together as one site, six hours
apart, as a site's stream of news is: a pair counts as "same story" when both items end up in
one cluster. The timing clusters two corpora of 10,000 items: bench/generate.py's, and the
labelled items copied 21 times a month apart (real-shaped headlines, with clusters in them).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from newsdigest.config.stories import StorySettings  # noqa: E402
from newsdigest.content.dedupe import story_keys  # noqa: E402
from newsdigest.content.item import Item, Provider  # noqa: E402
from newsdigest.stories.clusters import ClusterInputs, merge_stories  # noqa: E402

PAIRS = HERE.parent / "tests" / "fixtures" / "story_pairs.json"
DEFAULT = StorySettings()


def make_item(source: str, title: str, excerpt: str, provider: str, published: datetime) -> Item:
    domain = "".join(c for c in provider.casefold() if c.isalnum()) + ".example"
    url = f"https://{domain}/{source}"
    return Item(source=source, content_hash="", title=title, slug=source, published_at=published,
                url=url, excerpt=excerpt, provider=Provider(provider, domain),
                story_keys=story_keys(title, url, "", (), excerpt))


def labelled(path: Path = PAIRS) -> tuple[list[Item], list[tuple[int, int, bool, str]]]:
    """The items of every pair, and the pairs as (index a, index b, same story, kind)."""
    items: list[Item] = []
    pairs = []
    for pair in json.loads(path.read_text(encoding="utf-8"))["pairs"]:
        for side in ("a", "b"):
            entry = pair[side]
            items.append(make_item(f"pair-{pair['id']:03d}-{side}.md", entry["title"],
                                   entry["excerpt"], entry["provider"],
                                   datetime.fromisoformat(entry["published"])))
        pairs.append((len(items) - 2, len(items) - 1, pair["same"], pair["kind"]))
    return items, pairs


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    false_negatives: int
    mistakes: tuple[str, ...]


def evaluate(settings: StorySettings = DEFAULT, path: Path = PAIRS) -> Scores:
    items, pairs = labelled(path)
    groups = ClusterInputs.of(items, UTC, settings).result[0]
    cluster_of = {index: number for number, group in enumerate(groups) for index in group}
    tp = fp = fn = 0
    mistakes = []
    for a, b, same, kind in pairs:
        together = a in cluster_of and cluster_of.get(a) == cluster_of.get(b)
        if together and same:
            tp += 1
        elif together:
            fp += 1
            mistakes.append(f"joined ({kind}): {items[a].title} | {items[b].title}")
        elif same:
            fn += 1
            mistakes.append(f"missed ({kind}): {items[a].title} | {items[b].title}")
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(precision, recall, f1, tp, fp, fn, tuple(mistakes))


def generated_corpus(count: int) -> list[Item]:
    """bench/generate.py's items (random words from a small vocabulary, 60 providers)."""
    import generate

    return [make_item(f"gen-{n}.md", e.title, e.excerpt, e.provider[0], e.date)
            for n, e in enumerate(generate.entries(count, 1))]


def headline_corpus(count: int) -> list[Item]:
    """The labelled items copied a month apart until there are `count`: real-shaped
    headlines, with the clusters of the pairs in every copy."""
    items, _ = labelled()
    corpus = []
    copy = 0
    while len(corpus) < count:
        shift = timedelta(days=30 * copy)
        corpus += [replace(i, source=f"{copy}-{i.source}", url=f"{i.url}/{copy}",
                           published_at=i.published_at + shift,
                           story_keys=replace(i.story_keys, urls=(f"{i.url}/{copy}",)))
                   for i in items[: count - len(corpus)]]
        copy += 1
    return corpus


def timed(items: list[Item], settings: StorySettings, runs: int = 5
          ) -> tuple[float, float, int]:
    """The best wall and CPU times of `runs` to cluster the items (newest first, as a build
    does), and how many clusters it made. The CPU time is the one to trust on a busy machine.
    Without the cyclic garbage collector, as a build runs (build/pipeline.py)."""
    ordered = sorted(items, key=lambda i: i.published_at, reverse=True)
    wall = cpu = float("inf")
    clusters = 0
    gc.disable()
    try:
        for _ in range(runs):
            start, start_cpu = time.perf_counter(), time.process_time()
            merged = merge_stories(ordered, UTC, settings)
            wall = min(wall, time.perf_counter() - start)
            cpu = min(cpu, time.process_time() - start_cpu)
            clusters = len(merged.clusters)
    finally:
        gc.enable()
    return wall, cpu, clusters


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--similarity", type=float, default=StorySettings().similarity)
    parser.add_argument("--window-hours", type=int, default=StorySettings().window_hours)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--mistakes", action="store_true", help="list every wrong pair")
    args = parser.parse_args()
    settings = StorySettings(similarity=args.similarity, window_hours=args.window_hours)
    scores = evaluate(settings)
    _, pairs = labelled()
    same = sum(p[2] for p in pairs)
    print(f"labelled pairs: {len(pairs)} ({same} same story, {len(pairs) - same} different); "
          f"similarity {settings.similarity:g}, window {settings.window_hours} h")
    print(f"precision {scores.precision:.3f}  recall {scores.recall:.3f}  F1 {scores.f1:.3f}  "
          f"(TP {scores.true_positives}, FP {scores.false_positives}, "
          f"FN {scores.false_negatives})")
    if args.mistakes:
        print("\n".join(scores.mistakes))
    for name, corpus in (("bench/generate.py corpus", generated_corpus(args.items)),
                         ("headline corpus", headline_corpus(args.items))):
        wall, cpu, clusters = timed(corpus, settings)
        print(f"{name}: {len(corpus):,} items clustered in {wall:.3f} s ({cpu:.3f} s CPU; "
              f"{clusters:,} clusters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
