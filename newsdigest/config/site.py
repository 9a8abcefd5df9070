"""Site settings from site.toml, validated all at once into a frozen value."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from newsdigest.config.deploy import Target, parse_targets
from newsdigest.config.digest import DigestSettings, parse_digest
from newsdigest.config.images import ImageSettings, parse_image_settings
from newsdigest.config.ingest import IngestSettings, Source, parse_ingest, parse_sources
from newsdigest.config.rules import DEFAULT_IGNORE, KNOWN_EMBED_HOSTS, ContentRules
from newsdigest.config.stories import StorySettings, parse_stories
from newsdigest.config.subscribe import SubscribeSettings, parse_subscribe
from newsdigest.errors import ConfigError
from newsdigest.fingerprint import fingerprint

DEFAULT_CONFIG = "site.toml"


@dataclass(frozen=True)
class TopicSettings:
    """Optional editorial metadata for one topic, keyed in site.toml by its name."""

    name: str
    display_name: str = ""
    description: str = ""
    image: str = ""
    parent: str = ""
    # `newsdigest ingest` gives an entry this topic when one matches its title or summary
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class SiteConfig:
    """Everything a build reads from settings. Paths are absolute."""

    title: str = "AI News Digest"
    description: str = "The day's artificial intelligence news, curated."
    base_url: str = "http://127.0.0.1:8000/"
    language: str = "en"
    timezone: str = "UTC"
    page_size: int = 20
    top_stories: int = 5
    top_stories_days: int = 7
    more_items: int = 4
    feed_items: int = 20
    content_dir: Path = Path("content")
    output_dir: Path = Path("public")
    templates_dir: Path = Path("templates")
    static_dir: Path = Path("static")
    cache_dir: Path = Path(".cache")
    max_file_bytes: int = 1024 * 1024
    # Glob patterns of files and folders in the content folder that are not news items.
    ignore: tuple[str, ...] = DEFAULT_IGNORE
    topics: tuple[TopicSettings, ...] = field(default_factory=tuple)
    deploy: tuple[Target, ...] = field(default_factory=tuple)
    rules: ContentRules = ContentRules()
    max_title_chars: int = 160  # titles and excerpts are shown cut at a word, with an ellipsis
    max_excerpt_chars: int = 600
    digest: DigestSettings = DigestSettings()  # [digest]: editions and the newsletter
    images: ImageSettings = ImageSettings()  # [images]: thumbnails, downloads, their cache
    ingest: IngestSettings = IngestSettings()  # [ingest]: how `newsdigest ingest` fetches
    sources: tuple[Source, ...] = ()  # [sources.NAME]: the feeds it reads
    subscribe: SubscribeSettings = SubscribeSettings()  # [subscribe]: the email signup form
    stories: StorySettings = StorySettings()  # [stories]: clusters of one story's coverage

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    # Cached: every link of every page is built on these two (a quarter of a million per build).
    @cached_property
    def base_path(self) -> str:
        """The path part of base_url, always ending in '/': links are built on it."""
        return urlsplit(self.base_url).path or "/"

    @cached_property
    def origin(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    def url(self, path: str) -> str:
        """Site-absolute link (with the base path) for an output path like 'topics/ai/'."""
        return self.base_path + path.lstrip("/")

    def absolute_url(self, path: str) -> str:
        return self.origin + self.url(path)

    def link(self, target: str) -> str:
        """An external http(s) URL as it is, a site path made site-absolute."""
        return target if target.startswith(("https:", "http:")) else self.url(target)

    def absolute_link(self, target: str) -> str:
        """An external http(s) URL as it is, a site path made a full URL (feeds, metadata)."""
        return target if target.startswith(("https:", "http:")) else self.absolute_url(target)

    def topic_settings(self, name: str) -> TopicSettings | None:
        return self._topics_by_key.get(name.casefold())

    @cached_property
    def _topics_by_key(self) -> dict[str, TopicSettings]:
        # Asked once per story and topic: a scan of the list each time was quadratic.
        by_key: dict[str, TopicSettings] = {}
        for topic in self.topics:
            by_key.setdefault(topic.name.casefold(), topic)
        return by_key

    def with_overrides(self, **overrides: Any) -> SiteConfig:
        """Command-line values on top of the file; None means 'not given'."""
        given = {k: v for k, v in overrides.items() if v is not None}
        if "base_url" in given:
            problems = [f"base_url: {reason}" for reason in url_secrets(given["base_url"])]
            if not problems:
                given["base_url"] = _check_base_url(given["base_url"], problems)
            if problems:
                raise ConfigError("--base-url", problems)
        for key in ("content_dir", "output_dir", "templates_dir", "static_dir", "cache_dir"):
            if key in given:
                given[key] = Path(given[key]).resolve()
        return replace(self, **given)


_SITE_KEYS = {
    "title": str,
    "description": str,
    "base_url": str,
    "language": str,
    "timezone": str,
    "page_size": int,
    "top_stories": int,
    "top_stories_days": int,
    "more_items": int,
    "feed_items": int,
    "max_title_chars": int,
    "max_excerpt_chars": int,
}
_RULES_FLAGS = {"strict"}  # [build] keys of ContentRules that are true or false
_RULES_KEYS = {  # [build] key -> (ContentRules field, scale)
    "max_body_kb": ("max_body_bytes", 1024),
    "max_front_matter_kb": ("max_front_matter_bytes", 1024),
    "max_topics": ("max_topics", 1),
    "render_seconds": ("render_seconds", 1),
}
_BUILD_KEYS = {
    "content": "content_dir",
    "output": "output_dir",
    "templates": "templates_dir",
    "static": "static_dir",
    "cache": "cache_dir",
    "max_file_kb": "max_file_bytes",
}
_TOPIC_KEYS = {f.name for f in fields(TopicSettings)} - {"name"}


def load_config(path: Path | None) -> SiteConfig:
    """Read site.toml (or defaults when there is none); every bad value is reported together."""
    if path is None:
        path = Path(DEFAULT_CONFIG)
        if not path.exists():
            return _with_root(SiteConfig(), Path.cwd())
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found"]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None
    secrets, held = _secrets(data)
    problems: list[str] = []
    values = _parse(data, problems)
    problems = secrets + [p for p in problems if not _repeats_secret(p, held)]
    if problems:
        raise ConfigError(str(path), problems)
    return _with_root(SiteConfig(**values), path.resolve().parent)


def _with_root(config: SiteConfig, root: Path) -> SiteConfig:
    paths = {
        key: (root / getattr(config, key)).resolve()
        for key in ("content_dir", "output_dir", "templates_dir", "static_dir", "cache_dir")
    }
    if config.images.cache is not None:
        paths["images"] = replace(config.images, cache=(root / config.images.cache).resolve())
    return replace(config, **paths)


def _parse(data: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for section in sorted(set(data) - {"site", "build", "topics", "deploy", "images", "digest",
                                         "ingest", "sources", "subscribe", "stories"}):
        problems.append(f"[{section}]: unknown section")
    site = data.get("site", {})
    for key, value in site.items():
        expected = _SITE_KEYS.get(key)
        if key in ("nofollow", "embed_hosts"):
            continue  # content rules, read below
        if expected is None:
            problems.append(f"site.{key}: unknown setting")
        elif not isinstance(value, expected) or isinstance(value, bool):
            problems.append(f"site.{key}: expected {expected.__name__}, got {value!r}")
        elif expected is int and value < 1 and key != "top_stories":
            problems.append(f"site.{key}: expected a positive integer, got {value!r}")
        else:
            values[key] = value
    if "base_url" in values:
        values["base_url"] = _check_base_url(values["base_url"], problems, "site.base_url")
    if "timezone" in values:
        try:
            ZoneInfo(values["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"site.timezone: unknown time zone {values['timezone']!r}")
    rules: dict[str, Any] = {}
    for key, value in site.items():
        if key == "nofollow":
            if isinstance(value, bool):
                rules["nofollow"] = value
            else:
                problems.append(f"site.nofollow: expected true or false, got {value!r}")
        elif key == "embed_hosts":
            unknown = [h for h in value if h not in KNOWN_EMBED_HOSTS] \
                if isinstance(value, list) else None
            if unknown is None or not all(isinstance(h, str) for h in value):
                problems.append("site.embed_hosts: expected a list of host names")
            elif unknown:
                problems.append(f"site.embed_hosts: no embed rule for {', '.join(unknown)} "
                                f"(known: {', '.join(sorted(KNOWN_EMBED_HOSTS))})")
            else:
                rules["embed_hosts"] = tuple(value)
    for key, value in data.get("build", {}).items():
        target = _BUILD_KEYS.get(key)
        if key in _RULES_FLAGS:
            if isinstance(value, bool):
                rules[key] = value
            else:
                problems.append(f"build.{key}: expected true or false, got {value!r}")
        elif key == "ignore":
            if not isinstance(value, list) or not all(isinstance(p, str) and p.strip()
                                                      for p in value):
                problems.append(f"build.ignore: expected a list of file name patterns such as "
                                f'"README*", got {value!r}')
            else:
                values["ignore"] = tuple(p.strip() for p in value)
        elif key in _RULES_KEYS:
            name, scale = _RULES_KEYS[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                problems.append(f"build.{key}: expected a positive number, got {value!r}")
            else:
                rules[name] = type(getattr(ContentRules(), name))(value * scale)
        elif target is None:
            problems.append(f"build.{key}: unknown setting")
        elif key == "max_file_kb":
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                problems.append(f"build.{key}: expected a positive integer, got {value!r}")
            else:
                values[target] = value * 1024
        elif not isinstance(value, str) or not value:
            problems.append(f"build.{key}: expected a folder path, got {value!r}")
        else:
            values[target] = Path(value)
    topics = []
    for name, meta in sorted(data.get("topics", {}).items()):
        if not isinstance(meta, dict):
            problems.append(f"topics.{name}: expected a table")
            continue
        unknown = set(meta) - _TOPIC_KEYS
        bad = [k for k in meta if k in _TOPIC_KEYS and k != "keywords"
               and not isinstance(meta[k], str)]
        for key in sorted(unknown):
            problems.append(f"topics.{name}.{key}: unknown setting")
        for key in bad:
            problems.append(f"topics.{name}.{key}: expected a string")
        keywords = meta.get("keywords", [])
        if not isinstance(keywords, list) or not all(isinstance(k, str) and k.strip()
                                                     for k in keywords):
            problems.append(f"topics.{name}.keywords: expected a list of words, got "
                            f"{keywords!r}")
            bad.append("keywords")
        if not unknown and not bad:
            topics.append(TopicSettings(name=name, **{
                **meta, "keywords": tuple(k.strip() for k in keywords)}))
    values["topics"] = tuple(topics)
    # Items' topics are checked against these (a near miss is a likely typo).
    rules["declared_topics"] = tuple(topic.name for topic in topics)
    values["rules"] = ContentRules(**rules)
    deploy = data.get("deploy", {})
    if isinstance(deploy, dict):
        targets, deploy_problems = parse_targets(deploy)
        problems += deploy_problems
        values["deploy"] = tuple(targets)
    else:
        problems.append("[deploy]: expected tables such as [deploy.production]")
    values["digest"] = parse_digest(data.get("digest"), problems)
    if "images" in data:
        values["images"] = parse_image_settings(data["images"], problems)
    values["ingest"] = parse_ingest(data.get("ingest"), problems)
    values["sources"] = parse_sources(data.get("sources"), problems)
    values["subscribe"] = parse_subscribe(data.get("subscribe"), problems)
    values["stories"] = parse_stories(data.get("stories"), problems)
    return values


def _check_base_url(url: str, problems: list[str], label: str = "base_url") -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        problems.append(f"{label}: expected an http(s) URL, got {url!r}")
        return url
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return f"{parts.scheme}://{parts.netloc}{path}"


# Query parameters that carry a credential: a name with one of these words in it, or one of
# the short names services use for one.
_SECRET_WORDS = ("token", "secret", "password", "passwd", "signature", "apikey", "api_key",
                 "credential", "private_key", "access_key", "session")
_SECRET_NAMES = {"key", "sig", "pwd", "pass", "auth", "authorization", "code"}
# Token shapes that are secrets wherever they appear, a user name included (GitHub, GitLab,
# Slack, AWS access keys, JWTs).
_TOKEN = re.compile(r"\b(?:(?:ghp|gho|ghu|ghs|ghr|github_pat|glpat|xox[abprs])[-_]\w{8,}"
                    r"|AKIA[0-9A-Z]{16}|eyJ[\w-]+\.[\w-]+\.)")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")
# user@host:path, the scp-like form of ssh, rsync and git remotes (no scheme)
_SCP = re.compile(r"([^\s/@:]+(?::[^\s/@]*)?)@[^\s/@:]+:[^\s]*")
# Schemes where a user name is not a secret: the credential is a key held by the SSH agent.
_SSH_SCHEMES = {"ssh", "git+ssh", "ssh+git", "sftp", "rsync", "git"}


def _secrets(data: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """A problem for each setting holding a credential, and those settings with their text."""
    problems: list[str] = []
    held: dict[str, str] = {}
    for setting, text in _strings(data):
        for reason in url_secrets(text):
            problems.append(f"{setting}: {reason}")
            held[setting] = text
    return problems, held


def _repeats_secret(problem: str, held: dict[str, str]) -> bool:
    """Whether another check's problem is about a setting holding a secret (or its table):
    it would say the same again, or quote the secret."""
    setting = problem.split(": ", 1)[0]
    return (setting in held or any(setting == name.rsplit(".", 1)[0] for name in held)
            or any(text in problem for text in held.values()))


def url_secrets(text: str) -> list[str]:
    """Why a setting's text holds a credential (in a URL in it, or as a token): secrets do not
    belong in site.toml, which is shared, committed and shown in error messages."""
    fix = ("keep it out of site.toml: use a credential helper, the SSH agent or an environment "
           "variable")
    reasons: list[str] = []
    for found in _URL.finditer(text):
        try:
            parts = urlsplit(found.group())
            user, password = parts.username, parts.password
        except ValueError:
            continue
        if password is not None:
            reasons.append(f"the URL has a password in it; {fix}")
        elif user is not None and parts.scheme.lower() not in _SSH_SCHEMES:
            reasons.append(f"the URL has a user name in it (often a token); {fix}")
        names = [name for name, _ in parse_qsl(parts.query, keep_blank_values=True)]
        names += [name for name, _ in parse_qsl(parts.fragment, keep_blank_values=True)]
        secret = next((name for name in names if _is_secret_name(name)), None)
        if secret is not None:
            reasons.append(f"the URL has a credential in it (?{secret}=); {fix}")
    scp = _SCP.fullmatch(text.strip())
    if scp is not None and "://" not in text and ":" in scp.group(1):
        reasons.append(f"the address has a password in it; {fix}")
    if not reasons and _TOKEN.search(text):
        reasons.append(f"the value holds an access token; {fix}")
    return reasons


def _is_secret_name(name: str) -> bool:
    name = name.strip().lower().replace("-", "_")
    return name in _SECRET_NAMES or any(word in name for word in _SECRET_WORDS)


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every text value of the settings, with the dotted name of its setting: each is checked
    for credentials, whatever setting it is (a new setting needs no check of its own)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from _strings(inner, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _strings(inner, f"{path}[{index}]")


# Settings no page reads (where things are, where they go): changing them re-renders nothing.
_LOCATION_SETTINGS = {"content_dir", "output_dir", "cache_dir", "templates_dir", "static_dir",
                      "deploy",
                      "ingest",  # read by `newsdigest ingest` only ([sources] names and
                      # URLs are on the curation report page)
                      # pages read the pictures the image stage made, which stories' prints cover
                      "images"}


def settings_fingerprint(config: SiteConfig) -> str:
    """Every setting a page can read (not where folders are)."""
    return fingerprint(*(
        (f.name, getattr(config, f.name)) for f in fields(config)
        if f.name not in _LOCATION_SETTINGS
    ))
