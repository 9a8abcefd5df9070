"""Why a build makes a file again: `--explain` for every file, `newsdigest why` for one."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, datetime
from pathlib import Path

from newsdigest.build import output
from newsdigest.build.discover import find_sources
from newsdigest.build.gather import gather
from newsdigest.build.options import BuildOptions
from newsdigest.build.output import Manifest
from newsdigest.build.plan import plan_site
from newsdigest.build.records import (
    last_manifest,
    templates_record_path,
)
from newsdigest.config.site import SiteConfig
from newsdigest.outputs import Output
from newsdigest.render.pages import PageSpec
from newsdigest.render.theme import Theme
from newsdigest.store import load_pickle
from newsdigest.stories.grouping import Story


@dataclass
class Why:
    """What the next build would do with one file of the site, and why."""

    path: str  # the file, relative to the output folder
    verdict: str
    templates: list[str] = field(default_factory=list)  # every one a page is made with
    sources: list[str] = field(default_factory=list)  # content files of the stories it shows
    similar: list[str] = field(default_factory=list)  # for a path that is no file of the site


def why(config: SiteConfig, options: BuildOptions, wanted: str) -> Why:
    """Plan the next build as `build_site` would, and say what it would do with one file
    (a path of the output folder, a URL of the site or a file in the output folder).

    Nothing of the site is written; the caches are used and brought up to date.
    """
    now = options.now or datetime.now(UTC)
    cache_dir = config.cache_dir if options.use_cache else None
    sources = find_sources(config)
    plan = plan_site(config, options, now, sources.discovery,
                     gather(config, options, sources, now))
    path = output_path(wanted, config)
    manifest_file, manifest = last_manifest(config, cache_dir)
    found = next((o for o in plan.outputs if o.path == path), None)
    if found is None:
        if manifest is not None and path in manifest:
            return Why(path, "deleted: no longer a file of the site")
        similar = difflib.get_close_matches(path, [o.path for o in plan.outputs], n=3)
        return Why(path, "not a file of the site", similar=similar)
    spec = next((page for page, made in zip(plan.pages, plan.page_files, strict=True)
                 if made is found), None)
    templates = sorted(templates_used(plan.theme, found))
    sources = [story.item.source for story in _stories_shown(spec)] if spec else []
    if manifest is None:
        verdict = "rebuilt: the next build is a full build (no record of a previous one)"
    elif output.stale_outputs([found], manifest, config.output_dir):
        changed = templates_changed(plan.theme, manifest_file)
        verdict = "rebuilt: " + _reason(found, manifest, plan.theme, changed)
    else:
        verdict = "up to date: neither rendered nor written"
    return Why(path, verdict, templates, sources)


def output_path(wanted: str, config: SiteConfig) -> str:
    """The output file a user means by a path, a URL of the site or a file in the output."""
    text = wanted.strip().split("#", 1)[0].split("?", 1)[0]
    base = config.base_url.rstrip("/") + "/"
    base_path = "/" + base.split("://", 1)[-1].partition("/")[2]
    if text.startswith(base):
        text = text[len(base):]
    elif text.startswith(("http://", "https://")):
        text = "/" + text.split("://", 1)[1].partition("/")[2]
    on_disk = Path(text).expanduser().absolute()
    if on_disk.is_relative_to(config.output_dir.absolute()):
        text = on_disk.relative_to(config.output_dir.absolute()).as_posix()
        text = "" if text == "." else text + ("/" if on_disk.is_dir() else "")
    elif text.startswith(base_path):
        text = text[len(base_path):]
    text = text.lstrip("/")
    if not text or text.endswith("/"):
        return text + "index.html"
    return text if "." in text.rsplit("/", 1)[-1] else text + "/index.html"


def _stories_shown(page: PageSpec) -> list[Story]:
    """Every story a page's fingerprint covers, in the order its values hold them: an item
    page's own first, then its "More on" list; a list's top stories, an edition's sections,
    the topics page's latest story of each topic."""
    shown: dict[str, Story] = {}

    def visit(value: object) -> None:
        if isinstance(value, Story):
            shown.setdefault(value.path, value)
        elif isinstance(value, dict):
            for inner in value.values():
                visit(inner)
        elif isinstance(value, list | tuple):
            for inner in value:
                visit(inner)
        elif is_dataclass(value) and not isinstance(value, type):
            for spec in fields(value):
                visit(getattr(value, spec.name))

    visit(page.story)
    # (an item page's inputs are its stories' fingerprints, joined: its values hold them)
    visit(page.context if page.inputs is None or isinstance(page.inputs, str)
          else page.inputs)
    return list(shown.values())


def templates_used(theme: Theme, made: Output) -> set[str]:
    """Every template an output is made with, those its templates reach included."""
    return set().union(*(theme.uses(name) for name in made.templates))


def templates_changed(theme: Theme, manifest_file: Path | None) -> set[str]:
    """The templates whose source changed since the last build (as far as it recorded)."""
    if manifest_file is None:
        return set()
    before = load_pickle(templates_record_path(manifest_file))
    if not isinstance(before, dict):
        return set()
    return {name for name, digest in theme.source_hashes().items()
            if name in before and before[name] != digest}


def _what_changed(before: str, now: Output, templates: list[str]) -> str:
    """Which inputs of an output changed, as far as its fingerprint tells.

    A page's fingerprint is its templates' digests followed by the fingerprint of its values
    (`Output.values`): the two halves say whether a template or what it shows changed.
    `templates` are the changed ones among those it uses, when known.
    """
    size = len(now.values)
    if not size or len(before) != len(now.fingerprint):
        return "its inputs changed"
    reasons = []
    if before[:-size] != now.fingerprint[:-size]:
        reasons.append("a template it uses changed"
                       + (f" ({', '.join(templates)})" if templates else ""))
    if before[-size:] != now.values:
        reasons.append("what it shows changed (its items or the settings)")
    return " and ".join(reasons)


def explain_outputs(outputs: list[Output], manifest: Manifest | None, output_dir: Path,
             templates_changed: set[str], theme: Theme) -> list[str]:
    if manifest is None:
        return ["full build: no record of a previous build for this output folder"]
    return [f"{stale.path}: {_reason(stale, manifest, theme, templates_changed)}"
            for stale in output.stale_outputs(outputs, manifest, output_dir)]


def _reason(stale: Output, manifest: Manifest, theme: Theme, templates_changed: set[str]
            ) -> str:
    """Why an output the last build made (or did not) must be made again."""
    known = manifest.get(stale.path)
    if known is None:
        return "new page"
    if known[0] != stale.fingerprint:
        return _what_changed(known[0], stale,
                             sorted(templates_used(theme, stale) & templates_changed))
    return "file on disk differs from the last build"
