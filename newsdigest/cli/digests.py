"""The commands that read the gathered site: digest (an edition's email), report."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from newsdigest import urls
from newsdigest.config.rules import closest_name
from newsdigest.errors import EXIT_OK, NewsdigestError, UsageError

if TYPE_CHECKING:
    from newsdigest.stories.editions import Edition, TopicSeries
from newsdigest.cli.common import (
    build_options_now,
    content_config,
    reading_options,
    require_content,
    shown_path,
    site_config,
)


def digest_command(args: argparse.Namespace) -> int:
    from newsdigest.build.discover import find_sources
    from newsdigest.build.gather import gather
    from newsdigest.render import newsletter
    from newsdigest.render.theme import Theme
    from newsdigest.stories import editions

    config = site_config(args)
    settings = config.digest
    topic = getattr(args, "topic", None)
    if topic is not None:
        _check_topic(topic, args.kind, settings.topic_editions)
    kind = "weekly" if topic is not None else (
        args.kind or ("weekly" if settings.weekly else "daily"))
    if topic is None and not getattr(settings, kind):
        raise UsageError(f"--{kind}: {kind} editions are off (digest.{kind} in site.toml)")
    period = None
    if args.date is not None:
        period = editions.parse_period(args.date, kind)
        if period is None:
            raise UsageError(f"--date: expected YYYY-MM-DD"
                             f"{' or YYYY-Www' if kind == 'weekly' else ''}, got {args.date!r}")
    require_content(config, args.config)
    site = gather(config, reading_options(), find_sources(config),
                  build_options_now() or datetime.now(UTC))
    made = site.editions
    if topic is not None:
        made = _topic_editions(topic, site.topic_series)
    edition = editions.find(made, period) if period else editions.latest(made, kind)
    if edition is None:
        when = f" for {period.label}" if period else ""
        about = f" about {topic}" if topic is not None else ""
        raise NewsdigestError(f"no {kind} edition{about}{when}: no published item of that "
                              "period passes the [digest] rules")
    files = newsletter.render_email(edition, config, Theme(config))
    message = newsletter.eml(edition, files, config) if args.eml else None
    if args.email_dir is None:
        if message is not None:
            sys.stdout.buffer.write(message)
        else:
            sys.stdout.write(files.text)
        sys.stdout.flush()
        return EXIT_OK
    folder = args.email_dir
    folder.mkdir(parents=True, exist_ok=True)
    written = [("email.html", files.html.encode()), ("email.txt", files.text.encode())]
    if message is not None:
        written.append(("email.eml", message))
    for name, data in written:
        (folder / name).write_bytes(data)
    print(f"{edition.title} ({edition.count} stories) -> "
          + ", ".join(shown_path(folder / name) for name, _ in written))
    return EXIT_OK


def _check_topic(topic: str, kind: str | None, named: tuple[str, ...]) -> None:
    """--topic names one of topic_editions (only those have the web page an email links)."""
    if kind == "daily":
        raise UsageError("--daily: a topic's editions are weekly (leave out --daily)")
    # A name or a slug, as the build matches topic_editions to topics (editions.edition_topics).
    if topic.casefold() not in {name.casefold() for name in named} and urls.slugify(topic) \
            not in {urls.slugify(name) for name in named}:
        near = closest_name(topic, named)
        hint = f'; did you mean "{near}"?' if near else ""
        raise UsageError(f"--topic: {topic!r} has no editions of its own: add it to "
                         f"digest.topic_editions in site.toml (it names "
                         f"{', '.join(repr(n) for n in named) or 'none'}){hint}")


def _topic_editions(topic: str, made: list[TopicSeries]) -> list[Edition]:
    for series in made:
        if topic.casefold() == series.topic.name.casefold() \
                or urls.slugify(topic) == series.topic.slug:
            return list(series.editions)
    raise NewsdigestError(f"--topic: no topic {topic!r} on the site: no published item has it")


def report_command(args: argparse.Namespace) -> int:
    from newsdigest.build.discover import find_sources
    from newsdigest.build.gather import gather
    from newsdigest.render.curation import curation_report, page_context, text_report
    from newsdigest.render.theme import Theme
    from newsdigest.stories.sources import source_health

    config = content_config(args)
    now = build_options_now() or datetime.now(UTC)
    sources = find_sources(config)
    site = gather(config, reading_options(), sources, now)
    curation = curation_report(site.index, site.editions, site.problems,
                               site.warnings(sources.discovery), now, site.image_facts,
                               source_health(config, now), config)
    sys.stdout.write(text_report(curation))
    if args.html is not None:
        html = Theme(config).render("report.html", page_context(curation, config))
        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(html, encoding="utf-8")
        print(f"wrote {shown_path(args.html)}", file=sys.stderr)
    return EXIT_OK
