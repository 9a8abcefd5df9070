"""[deploy.NAME] tables of site.toml: where `newsdigest deploy` may put the site."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

KINDS = ("directory", "rsync", "git", "s3")


@dataclass(frozen=True)
class Target:
    name: str
    kind: str
    destination: str  # folder, rsync destination or git remote
    branch: str = "gh-pages"
    cname: str = ""
    message: str = "Deploy {site} ({files} files)"
    author: str = ""  # "Name <email>"
    prefix: str = ""  # s3: a folder in the bucket
    region: str = ""
    endpoint_url: str = ""  # s3: another S3-compatible service


def parse_targets(data: dict[str, object]) -> tuple[list[Target], list[str]]:
    """[deploy.NAME] tables into targets, with every problem at once."""
    targets, problems = [], []
    for name, table in sorted(data.items()):
        where = f"deploy.{name}"
        if not isinstance(table, dict):
            problems.append(f"{where}: expected a table")
            continue
        secret = [k for k in table if any(w in k.lower() for w in ("token", "secret", "password",
                                                                      "key"))]
        for key in secret:
            problems.append(f"{where}.{key}: secrets do not belong in site.toml; "
                            "set them in the environment")
        kind = table.get("type")
        if kind not in KINDS:
            problems.append(f"{where}.type: expected one of {', '.join(KINDS)}, got {kind!r}")
            continue
        key = {"directory": "path", "rsync": "destination", "git": "remote", "s3": "bucket"}[kind]
        destination = table.get(key)
        if not isinstance(destination, str) or not destination:
            problems.append(f"{where}.{key}: required")
            continue
        if "://" in destination and urlsplit(destination).password:
            problems.append(f"{where}: the destination has a password in it; use the "
                            "environment (SSH agent, git credential helper) instead")
            continue
        allowed = {"type", "path", "destination", "remote", "branch", "cname", "message",
                   "author", "bucket", "prefix", "region", "endpoint_url"}
        for key in sorted(set(table) - allowed - set(secret)):
            problems.append(f"{where}.{key}: unknown setting")
        extra = {k: table[k] for k in ("branch", "cname", "message", "author", "prefix",
                                       "region", "endpoint_url") if k in table}
        bad = [k for k, v in extra.items() if not isinstance(v, str)]
        for key in bad:
            problems.append(f"{where}.{key}: expected text")
        if not bad and not secret:
            targets.append(Target(name, kind, destination, **extra))  # type: ignore[arg-type]
    return targets, problems
