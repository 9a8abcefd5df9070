"""The Jinja environment: site templates over the default theme, autoescaped and strict."""

from __future__ import annotations

import hashlib
import pickle
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta, nodes
from markupsafe import Markup

from newsdigest.config.site import SiteConfig
from newsdigest.config.subscribe import subscribe_form
from newsdigest.errors import Problem, TemplateFailure
from newsdigest.fingerprint import CODE, fingerprint
from newsdigest.render import default_theme_dir, structured
from newsdigest.render.fragments import Fragments, month_of
from newsdigest.render.pages import shorten
from newsdigest.store import load_pickle, save_atomic

# Only the theme's own files run: no inline script or style, no eval (WebAssembly is allowed
# for the search index), videos only from the embed hosts the click-to-play facade loads.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self' https: http: data:; font-src 'self'; connect-src 'self'; "
    "frame-src https://www.youtube-nocookie.com https://player.vimeo.com; object-src 'none'; "
    "base-uri 'self'; form-action 'self'"
)


def content_security_policy(config: SiteConfig) -> str:
    """The policy with the subscribe form's one origin added to `form-action` ('self' stays:
    the search box submits to the site's own search page)."""
    form = subscribe_form(config.subscribe)
    if form is None:
        return CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY.replace("form-action 'self'",
                                           f"form-action 'self' {form.origin}")


def headers_file(theme_file: bytes, config: SiteConfig) -> bytes:
    """The theme's _headers (for hosts that read it) with the site's policy in it."""
    return theme_file.replace(CONTENT_SECURITY_POLICY.encode(),
                              content_security_policy(config).encode())


# The functions templates call that render a template of their own, kept between builds (a
# story's card, its row in an archive): a template that calls one depends on that template.
FRAGMENT_TEMPLATES = {"card": "_card.html", "story_row": "_row.html"}


class _Environment(jinja2.Environment):
    def make_globals(self, d: Any = None) -> dict[str, Any]:  # type: ignore[override]
        # A plain dict where Jinja makes a ChainMap over the environment's globals: every
        # render copies its template's globals, and walking a ChainMap made that a tenth of
        # rendering an item page. Globals are all set before the first template loads.
        return {**self.globals, **(d or {})}


class _SettingsBytecodeCache(jinja2.FileSystemBytecodeCache):
    """Compiled templates, kept apart for each version of the code and of the settings.

    Jinja folds a filter with constant arguments into the compiled code
    (`{{ "/css/site.css" | url }}` becomes the text of the URL), so compiled code depends on
    the base URL and every other setting a filter reads, not only on the template's source.
    """

    def __init__(self, directory: Path, config: SiteConfig):
        super().__init__(str(directory))
        self.variant = fingerprint(CODE, jinja2.__version__, config)

    def get_cache_key(self, name: str, filename: str | None = None) -> str:
        return super().get_cache_key(f"{self.variant}\0{name}", filename)


class Theme:
    """Loads and renders templates; knows which template files every template depends on."""

    def __init__(self, config: SiteConfig, cache_dir: Path | None = None):
        self.config = config
        base = default_theme_dir()
        self.search_path = [config.templates_dir, base / "templates"]
        self.env = _Environment(
            loader=jinja2.FileSystemLoader([str(p) for p in self.search_path]),
            autoescape=jinja2.select_autoescape(("html", "xml", "htm"), default_for_string=True),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,
            # A plain dict: a theme has a few dozen templates, and every page looks up three
            # or four of them (extends, imports) through the default LRU cache's lock.
            cache_size=-1,
            # Compiled templates are kept between builds: compiling them is most of the cost of
            # a rebuild that renders a few pages.
            bytecode_cache=(_SettingsBytecodeCache(cache_dir / "templates", config)
                            if cache_dir else None),
        )
        self.env.filters["url"] = config.url
        self.env.filters["link"] = config.link
        self.env.filters["absolute_link"] = config.absolute_link
        self.env.filters["absolute_url"] = config.absolute_url
        self.env.filters["date"] = format_date
        self.env.filters["isodate"] = lambda d: d.isoformat()
        self.env.filters["thousands"] = lambda n: f"{n:,}"
        self.env.filters["shorten"] = shorten
        self.env.globals["card"] = self.card
        self.env.globals["story_row"] = self.row
        self.env.globals["csp"] = content_security_policy(config)
        self.env.globals["subscribe_form"] = subscribe_form(config.subscribe)
        self.env.globals["list_jsonld"] = lambda page: structured.script_json(
            structured.list_page(page, config))
        self.env.globals["item_jsonld"] = lambda page, story: structured.script_json(
            structured.item_page(page, story, config))
        self._hashes: dict[str, str] = {}
        self._own_hashes: dict[str, str] = {}  # each template's source alone
        self._references: dict[str, set[str]] = {}
        self._references_file = cache_dir / "templates" / "references.pickle" if cache_dir else None
        self._known_references: dict[str, tuple[str | None, ...]] | None = None
        # Rendered cards, by story; the build gives it a store kept between builds.
        self.cards = Fragments(None, "")
        self._card_markup: dict[tuple[str, bool], Markup] = {}  # this process's, ready to use
        # Rendered archive rows, by story and month; likewise given a store by the build.
        self.rows = Fragments(None, "", by_variant=True)
        if cache_dir:
            (cache_dir / "templates").mkdir(parents=True, exist_ok=True)

    def template_names(self) -> list[str]:
        return sorted(set(self.env.list_templates(extensions=("html", "xml", "txt"))))

    def template_hash(self, name: str) -> str:
        """Hash of a template and every template it extends, includes, imports or renders
        (FRAGMENT_TEMPLATES), at any depth: of each one's name and source, so that the hash
        is the same whichever template of a cycle is hashed first (_macros.html renders a
        row, whose template imports _macros.html)."""
        if name not in self._hashes:
            parts = [f"{used}\0{self._own_hashes[used]}" for used in sorted(self.uses(name))]
            self._hashes[name] = hashlib.blake2b(
                "\0".join(parts).encode(), digest_size=12).hexdigest()
        return self._hashes[name]

    def source_hashes(self) -> dict[str, str]:
        """The hash of each template's own source, for every template hashed so far."""
        return dict(self._own_hashes)

    def uses(self, name: str) -> set[str]:
        """The template and every template it extends, includes, imports or renders, at any
        depth."""
        found, pending = set(), [name]
        while pending:
            current = pending.pop()
            if current not in found:
                found.add(current)
                if current not in self._references:
                    source, references = self._source_and_references(current)
                    self._own_hashes[current] = hashlib.blake2b(
                        source.encode(), digest_size=12).hexdigest()
                    self._references[current] = references
                pending.extend(self._references[current])
        return found

    def _source_and_references(self, name: str) -> tuple[str, set[str]]:
        try:
            source, filename, _ = self.env.loader.get_source(  # type: ignore[union-attr]
                self.env, name)
        except jinja2.TemplateNotFound:
            raise TemplateFailure(Problem("", None, "", f"template not found: {name}")) from None
        found = self._referenced(name, source, filename)
        references = {ref for ref in found if ref is not None}
        if None in found:
            # A computed name: depend on every template rather than guess.
            references.update(n for n in self.template_names() if n != name)
        return source, references

    def _referenced(self, name: str, source: str, filename: str | None
                    ) -> tuple[str | None, ...]:
        """The names a template's source refers to, parsed once per version of the source.

        Parsing every template is a tenth of a one-item rebuild, so the answers are kept in
        the cache, keyed by the source itself (those of another version of the code, which
        may find others, are not read).
        """
        if self._known_references is None:
            self._known_references = self._load_references()
        key = hashlib.blake2b(f"{name}\0{source}".encode(), digest_size=16).hexdigest()
        found = self._known_references.get(key)
        if found is None:
            try:
                ast = self.env.parse(source, name, filename)
            except jinja2.TemplateSyntaxError as exc:
                raise TemplateFailure(_describe_template_error(exc)) from None
            fragments = {FRAGMENT_TEMPLATES[call.node.name] for call in ast.find_all(nodes.Call)
                         if isinstance(call.node, nodes.Name)
                         and call.node.name in FRAGMENT_TEMPLATES}
            found = self._known_references[key] = tuple(sorted(
                {*meta.find_referenced_templates(ast), *fragments},
                key=lambda r: (r is None, r or "")))
            if self._references_file is not None:
                save_atomic(self._references_file, pickle.dumps(
                    (CODE, self._known_references), pickle.HIGHEST_PROTOCOL))
        return found

    def _load_references(self) -> dict[str, tuple[str | None, ...]]:
        if self._references_file is None:
            return {}
        match load_pickle(self._references_file):
            case (str() as code, dict() as known) if code == CODE:
                return known
        return {}

    def preload(self, names: list[str]) -> None:
        """Compile templates up front, so syntax errors stop the build before it writes."""
        for name in names:
            try:
                self.env.get_template(name)
            except jinja2.TemplateSyntaxError as exc:
                raise TemplateFailure(_describe_template_error(exc)) from None
            except jinja2.TemplateNotFound as exc:
                raise TemplateFailure(
                    Problem("", None, "", f"template not found: {exc.name}")) from None

    def render(self, name: str, context: dict[str, Any]) -> str:
        try:
            return self.env.get_template(name).render(context)
        except jinja2.TemplateError as exc:
            raise TemplateFailure(_describe_template_error(exc, name)) from None

    def card(self, story: Any, eager: bool = False) -> Markup:
        """A story's card, rendered once and reused on every list that shows it."""
        key = (story.fingerprint, eager)
        markup = self._card_markup.get(key)
        if markup is None:
            # Only the first card of a list loads eagerly, and which story is first changes
            # when the list shifts: those are rendered again rather than kept.
            html = None if eager else self.cards.get(key)
            if html is None:
                html = self.card_html(story, eager)
                if not eager:
                    self.cards.put(key, html)
            markup = self._card_markup[key] = Markup(html)
        return markup

    def card_html(self, story: Any, eager: bool = False) -> str:
        return self.render("_card.html", {"story": story, "eager": eager, "site": self.config})

    def row(self, story: Any) -> Markup:
        """A story's row in its month's archive, rendered once and kept between builds with
        the other rows of its month: after an edit, a month's page of a thousand stories
        renders one row and reads the others (where it read a thousand items)."""
        return Markup(self.rows.made((story.fingerprint, month_of(story)), partial(
            self.render, "_row.html", {"story": story, "site": self.config})))


def _describe_template_error(exc: jinja2.TemplateError, rendering: str = "") -> Problem:
    """Where a template failed (its file and line) and why."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return Problem(exc.filename or exc.name or "", exc.lineno, "",
                       f"template syntax error: {exc.message}")
    import traceback

    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith((".html", ".xml"))
    ]
    path, line = (frames[-1].filename, frames[-1].lineno) if frames else (rendering, None)
    return Problem(path, line, "", f"template error: {exc.message or exc}")


# English names by table: strftime goes through the C locale machinery for every call, and
# dates are formatted tens of thousands of times a build.
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December")


def format_date(value: datetime, style: str = "long") -> str:
    """'Tuesday, March 10, 2026 · 09:05'; style 'short': 'Mar 10, 2026'; 'time': '09:05'."""
    if style == "short":
        return f"{_MONTH_NAMES[value.month - 1][:3]} {value.day}, {value.year}"
    if style == "time":
        return f"{value.hour:02d}:{value.minute:02d}"
    return (f"{_DAY_NAMES[value.weekday()]}, {_MONTH_NAMES[value.month - 1]} {value.day}, "
            f"{value.year} · {value.hour:02d}:{value.minute:02d}")
