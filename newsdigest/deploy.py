"""Deploy the built site to a target from site.toml [deploy.NAME], through tools made for it.

Targets: "directory" (a local or mounted folder: staged beside it and swapped in, unchanged
files hard-linked), "rsync" (any rsync destination, --delay-updates so files appear together),
"git" (a branch such as gh-pages of a remote: plain git, history kept, pushed in one step).
Secrets never live in site.toml: a git remote or rsync destination with a password in it is
refused; credentials come from the environment (SSH agent, git credential helpers).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from newsdigest.errors import NewsdigestError
from newsdigest.output import MARKER, make_staging, rename_exchange, repair_mode

KINDS = ("directory", "rsync", "git", "s3")
# Files whose names change with their content may be cached for a year; pages must stay fresh.
HASHED = tuple(f"{index}/{part}/" for index in ("pagefind", "pagefind-recent")
               for part in ("fragment", "index", "filter"))
CACHE_LONG = "public, max-age=31536000, immutable"
CACHE_SHORT = "public, max-age=300, must-revalidate"
EXCLUDED = {MARKER, ".newsdigest-writing"}


class DeployError(NewsdigestError):
    """A deploy step failed; the message says what state the target is in and what to do."""


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


@dataclass
class Plan:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    @property
    def transfers(self) -> int:
        return len(self.added) + len(self.changed)

    def lines(self) -> list[str]:
        return ([f"add    {p}" for p in self.added] + [f"change {p}" for p in self.changed]
                + [f"delete {p}" for p in self.deleted])


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


def site_files(output_dir: Path) -> Iterator[str]:
    for path in sorted(output_dir.rglob("*")):
        if path.is_file() and path.name not in EXCLUDED:
            yield path.relative_to(output_dir).as_posix()


def _digest(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


def plan_directory(output_dir: Path, target: Path) -> Plan:
    plan = Plan()
    wanted = set(site_files(output_dir))
    present = set(site_files(target)) if target.is_dir() else set()
    for rel in sorted(wanted):
        if rel not in present:
            plan.added.append(rel)
        else:
            src, dst = output_dir / rel, target / rel
            if src.stat().st_size != dst.stat().st_size or _digest(src) != _digest(dst):
                plan.changed.append(rel)
    plan.deleted = sorted(present - wanted)
    return plan


def deploy_directory(output_dir: Path, target: Path, dry_run: bool) -> Plan:
    """Stage the new site beside the target (unchanged files hard-linked), then swap it in."""
    plan = plan_directory(output_dir, target)
    if dry_run:
        return plan
    if target.is_dir() and not plan.transfers and not plan.deleted:
        repair_mode(target)
        return plan
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = make_staging(target, "deploy")
    changed = set(plan.added) | set(plan.changed)
    try:
        for rel in site_files(output_dir):
            destination = staging / rel
            destination.parent.mkdir(parents=True, exist_ok=True)
            if rel in changed:
                shutil.copy2(output_dir / rel, destination)
            else:
                os.link(target / rel, destination)
        if target.exists():
            if not rename_exchange(staging, target):
                old = staging.with_name(staging.name + "-old")
                os.rename(target, old)
                os.rename(staging, target)
                os.rename(old, staging)
        else:
            os.rename(staging, target)
            staging.mkdir()
    except OSError as exc:
        raise DeployError(f"deploy to {target} failed ({exc}); the target was not changed") \
            from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return plan


def deploy_rsync(output_dir: Path, destination: str, dry_run: bool) -> Plan:
    if not shutil.which("rsync"):
        raise DeployError("rsync is not installed (apt-get install rsync)")
    command = ["rsync", "--recursive", "--links", "--times", "--checksum", "--delete",
               "--delay-updates", "--itemize-changes", "--exclude", MARKER,
               "--exclude", ".newsdigest-writing"]
    if dry_run:
        command.append("--dry-run")
    done = subprocess.run([*command, f"{output_dir}/", destination], capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise DeployError(f"rsync failed: {done.stderr.strip()[-500:]}; with --delay-updates "
                          "the files already sent are in hidden folders, the live files "
                          "are unchanged: run the deploy again")
    plan = Plan()
    for line in done.stdout.splitlines():
        flags, _, path = line.partition(" ")
        if flags.startswith("*deleting"):
            plan.deleted.append(path.strip())
        elif flags.startswith(">f") or flags.startswith("<f"):
            (plan.added if "+++++++" in flags else plan.changed).append(path)
    return plan


def _git(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise DeployError(f"git {args[0]} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def deploy_git(output_dir: Path, target: Target, work: Path, site_title: str,
               dry_run: bool) -> Plan:
    """Commit the site on the target branch (history kept) and push it in one step."""
    if not shutil.which("git"):
        raise DeployError("git is not installed")
    if not (work / ".git").is_dir():
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        _git("init", "-q", cwd=work)
        _git("remote", "add", "origin", target.destination, cwd=work)
    else:
        _git("remote", "set-url", "origin", target.destination, cwd=work)
    remote_has_branch = bool(_git("ls-remote", "--heads", "origin", target.branch, cwd=work))
    if remote_has_branch:
        _git("fetch", "-q", "--depth", "1", "origin", target.branch, cwd=work)
        _git("checkout", "-q", "-B", target.branch, "FETCH_HEAD", cwd=work)
    else:
        _git("checkout", "-q", "--orphan", target.branch, cwd=work)
        _git("rm", "-rfq", "--ignore-unmatch", ".", cwd=work)
    for entry in work.iterdir():
        if entry.name != ".git":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    count = 0
    for rel in site_files(output_dir):
        destination = work / rel
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(output_dir / rel, destination)
        count += 1
    (work / ".nojekyll").write_text("")  # serve folders that start with _ as they are
    if target.cname:
        (work / "CNAME").write_text(target.cname + "\n")
    _git("add", "-A", cwd=work)
    status = _git("status", "--porcelain", cwd=work)
    plan = Plan()
    for line in status.splitlines():
        code, path = line[:2], line[3:]
        (plan.added if "A" in code or "?" in code else
         plan.deleted if "D" in code else plan.changed).append(path)
    if dry_run or not status.strip():
        return plan
    env = {}
    if target.author:
        name, _, email = target.author.partition("<")
        env = {"GIT_AUTHOR_NAME": name.strip(), "GIT_AUTHOR_EMAIL": email.rstrip("> "),
               "GIT_COMMITTER_NAME": name.strip(), "GIT_COMMITTER_EMAIL": email.rstrip("> ")}
    elif not _git_identity(work):
        env = {"GIT_AUTHOR_NAME": "newsdigest", "GIT_AUTHOR_EMAIL": "newsdigest@localhost",
               "GIT_COMMITTER_NAME": "newsdigest", "GIT_COMMITTER_EMAIL": "newsdigest@localhost"}
    message = target.message.format(site=site_title, files=count)
    _git("commit", "-q", "-m", message, cwd=work, env=env)
    _git("push", "-q", "origin", f"{target.branch}:{target.branch}", cwd=work)
    return plan


def _git_identity(work: Path) -> bool:
    done = subprocess.run(["git", "config", "user.email"], cwd=work, capture_output=True)
    return done.returncode == 0


def deploy_s3(output_dir: Path, target: Target, dry_run: bool) -> Plan:
    """Upload what changed (by MD5, S3's ETag) with its type and cache policy; delete last.

    S3 has no atomic swap: new and changed files go up first, so a page never links to a file
    that is missing, and deletions come after the whole upload succeeded.
    """
    import mimetypes

    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    prefix = target.prefix.strip("/") + "/" if target.prefix.strip("/") else ""
    client = boto3.client("s3", region_name=target.region or None,
                          endpoint_url=target.endpoint_url or None)
    try:
        remote: dict[str, str] = {}
        for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=target.destination, Prefix=prefix):
            for entry in page.get("Contents", []):
                remote[entry["Key"][len(prefix):]] = entry["ETag"].strip('"')
        plan = Plan()
        uploads = []
        for rel in site_files(output_dir):
            local = hashlib.md5((output_dir / rel).read_bytes(), usedforsecurity=False).hexdigest()
            if rel not in remote:
                plan.added.append(rel)
            elif remote[rel] != local:
                plan.changed.append(rel)
            else:
                continue
            uploads.append(rel)
        plan.deleted = sorted(set(remote) - set(site_files(output_dir)))
        if dry_run:
            return plan
        for rel in sorted(uploads, key=lambda r: r.endswith(".html")):  # assets before pages
            kind = mimetypes.guess_type(rel)[0] or "application/octet-stream"
            if kind.startswith("text/") or kind in ("application/json", "application/xml",
                                                    "application/javascript"):
                kind += "; charset=utf-8"
            cache = CACHE_LONG if rel.startswith(HASHED) else CACHE_SHORT
            client.upload_file(str(output_dir / rel), target.destination, prefix + rel,
                               ExtraArgs={"ContentType": kind, "CacheControl": cache})
        for start in range(0, len(plan.deleted), 1000):
            batch = plan.deleted[start : start + 1000]
            client.delete_objects(Bucket=target.destination, Delete={
                "Objects": [{"Key": prefix + rel} for rel in batch], "Quiet": True})
    except (BotoCoreError, ClientError) as exc:
        raise DeployError(f"S3 deploy to {target.destination} failed: {exc}; files already "
                          "uploaded are new or changed ones, nothing was deleted: run the "
                          "deploy again") from None
    return plan
