"""Deploy the built site to a target from site.toml [deploy.NAME], through tools made for it.

Targets: "directory" (a local or mounted folder: staged beside it and swapped in, unchanged
files hard-linked), "rsync" (any rsync destination, --delay-updates so files appear together),
"s3" (a bucket, or a prefix of one: changed files by ETag, deletions last),
"git" (a branch such as gh-pages of a remote: plain git, history kept, pushed in one step).
Secrets never live in site.toml: a git remote or rsync destination with a password in it is
refused; credentials come from the environment (SSH agent, git credential helpers).

Nothing of anyone else's is deleted: a folder (directory, rsync) is replaced only when it is
missing, empty, or holds the marker an earlier deploy left (DEPLOY_MARKER), and never when it
overlaps the project; an S3 deploy deletes only keys its own record in the bucket lists. What is
sent is only the regular files the build wrote: a symbolic link planted in the output could
point anywhere (~/.ssh, /etc), so none is followed or copied.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsdigest.build import search
from newsdigest.build.output import (
    MARKER,
    TEMP_PREFIX,
    WRITING,
    Manifest,
    make_staging,
    rename_exchange,
    repair_mode,
)
from newsdigest.config.deploy import Target
from newsdigest.errors import EXIT_USAGE, NewsdigestError

if TYPE_CHECKING:
    from newsdigest.config.site import SiteConfig

# Files whose names change with their content may be cached for a year; pages must stay fresh.
HASHED = tuple(f"{index}/{part}/" for index in ("pagefind", "pagefind-recent")
               for part in ("fragment", "index", "filter"))
CACHE_LONG = "public, max-age=31536000, immutable"
CACHE_SHORT = "public, max-age=300, must-revalidate"
# In a folder target: says an earlier deploy made it, so the next may replace it. In an S3
# prefix: the record of the keys this site uploaded, the only ones a deploy may delete.
DEPLOY_MARKER = ".newsdigest-deploy"
DEPLOY_MARKER_TEXT = "made by newsdigest deploy: each deploy replaces this folder\n"
EXCLUDED = {MARKER, WRITING, DEPLOY_MARKER}
# Made by Pagefind in a folder of its own and swapped in whole: not in the build's manifest.
SEARCH_FOLDERS = (f"{search.FOLDER}/", f"{search.RECENT}/")
DRY_RUN_OUTPUT = "deploy-dry-run"  # in the cache folder: what `deploy --dry-run` builds
LIST_SECONDS = 120  # the wall-clock limit on listing a remote rsync target
IO_TIMEOUT = "--timeout=120"  # rsync gives up on a connection silent for this long


class DeployError(NewsdigestError):
    """A deploy step failed; the message says what state the target is in and what to do."""


class DeployRefused(DeployError):
    """The target holds, or is, something a deploy must not replace; nothing was changed."""

    exit_code = EXIT_USAGE


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


def project_folders(config: SiteConfig, project: Path) -> dict[str, Path]:
    """What a deploy must never replace nor write into, by the name an error gives it."""
    folders = {"the project": project, "the content folder": config.content_dir,
               "the templates folder": config.templates_dir,
               "the static folder": config.static_dir, "the cache": config.cache_dir,
               "the output folder": config.output_dir}
    if config.images.cache is not None:
        folders["the image cache"] = config.images.cache
    return folders


def check_folder(target: Path, protected: Mapping[str, Path]) -> None:
    """Refuse a folder a deploy would replace unless it is missing, empty or made by a deploy,
    or when it overlaps one of the project's folders (as output.check_output_dir does for the
    output folder, with a marker of its own: a deployed site is not an output folder)."""
    where = target.resolve()
    if where == Path(where.anchor) or where == Path.home().resolve():
        raise DeployRefused(f"deploy target {where} is refused: a deploy replaces the whole "
                            "folder; choose one of its own")
    folders = [(folder.resolve(), name) for name, folder in protected.items()]
    # named after the innermost folder that holds it, else the outermost one it holds
    holding = sorted((f for f in folders if where.is_relative_to(f[0])), key=_depth)
    held = sorted((f for f in folders if f[0].is_relative_to(where)), key=_depth)
    if holding or held:
        folder, name = holding[-1] if holding else held[0]
        raise DeployRefused(f"deploy target {where} overlaps {name} ({folder}); a deploy "
                            "replaces the whole folder: choose one outside it")
    if where.exists() and not where.is_dir():
        raise DeployRefused(f"deploy target {where} exists and is not a folder")
    try:
        foreign = where.is_dir() and any(where.iterdir())
    except OSError as exc:
        raise DeployRefused(f"deploy target {where} cannot be read ({exc.strerror}): nothing "
                            "in it can be checked, so nothing is replaced") from None
    if foreign and not _is_regular(where / DEPLOY_MARKER):
        raise DeployRefused(_foreign(str(where)))


def _depth(folder: tuple[Path, str]) -> int:
    return len(folder[0].parts)


def _foreign(where: str) -> str:
    return (f"deploy target {where} is not empty and was not made by a newsdigest deploy (no "
            f"{DEPLOY_MARKER} file in it): a deploy replaces the whole folder; choose an empty "
            f"one, or add {DEPLOY_MARKER} to it if everything in it may go")


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def check_destination(target: Target, protected: Mapping[str, Path]) -> None:
    """The checks that need no connection, before anything is built: a local folder target."""
    if target.kind == "directory":
        check_folder(directory_path(target), protected)
    elif target.kind == "rsync" and (local := rsync_local_path(target.destination)):
        check_folder(local, protected)


def directory_path(target: Target) -> Path:
    return Path(target.destination).expanduser().resolve()


def rsync_local_path(destination: str) -> Path | None:
    """The folder of a local rsync destination; None for a remote one. As rsync reads it: a
    colon before the first slash names a host (host:path, host::module), so does rsync://."""
    if destination.startswith("rsync://") or ":" in destination.split("/", 1)[0]:
        return None
    return Path(destination).resolve()


def site_files(output_dir: Path, manifest: Manifest | None = None) -> list[str]:
    """The files of the built site to deploy, relative to the output folder.

    Only regular files, found without following a symbolic link. Where the build's manifest
    describes the output as it is (every file it lists with the size and mtime it was written
    with), only those files and the search index: anything else was put there by someone
    else. A manifest that does not (a build --no-cache since) says nothing about the output.
    """
    found = _regular_files(output_dir)
    if manifest is not None and _describes(manifest, found):
        return sorted(rel for rel in found if rel in manifest or rel.startswith(SEARCH_FOLDERS))
    return sorted(found)


def _describes(manifest: Manifest, found: dict[str, tuple[int, int]]) -> bool:
    try:
        return all(found.get(path) == (size, mtime_ns)
                   for path, (_, size, mtime_ns) in manifest.items())
    except (TypeError, ValueError):  # a manifest of another shape: not this output's record
        return False


def _regular_files(root: Path, bookkeeping: bool = False) -> dict[str, tuple[int, int]]:
    """Every regular file under `root` (relative posix path -> size, mtime), by lstat: a
    symbolic link, to a file or to a folder, is neither listed nor entered. Markers and
    temporary files (EXCLUDED, TEMP_PREFIX) only with `bookkeeping`."""
    found: dict[str, tuple[int, int]] = {}
    pending = [("", str(root))]
    while pending:
        prefix, folder = pending.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append((f"{prefix}{entry.name}/", entry.path))
                    elif entry.is_file(follow_symlinks=False) and (
                            bookkeeping or (entry.name not in EXCLUDED
                                            and not entry.name.startswith(TEMP_PREFIX))):
                        info = entry.stat(follow_symlinks=False)
                        found[prefix + entry.name] = (info.st_size, info.st_mtime_ns)
        except FileNotFoundError:
            if folder != str(root):
                raise DeployError(f"{folder} vanished while listing {root}: is a build "
                                  "running? Deploy again once it is done") from None
        except OSError as exc:
            raise DeployError(f"cannot list {folder}: {exc.strerror}") from None
    return found


def _digest(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


def plan_directory(output_dir: Path, files: list[str], target: Path) -> Plan:
    plan = Plan()
    present = set(_regular_files(target))
    for rel in files:
        if rel not in present:
            plan.added.append(rel)
        else:
            src, dst = output_dir / rel, target / rel
            if src.stat().st_size != dst.stat().st_size or _digest(src) != _digest(dst):
                plan.changed.append(rel)
    plan.deleted = sorted(present - set(files))
    return plan


def deploy_directory(output_dir: Path, files: list[str], target: Path, dry_run: bool,
                     protected: Mapping[str, Path]) -> Plan:
    """Stage the new site beside the target (unchanged files hard-linked), then swap it in."""
    check_folder(target, protected)
    plan = plan_directory(output_dir, files, target)
    if dry_run:
        return plan
    if _is_regular(target / DEPLOY_MARKER) and not plan.transfers and not plan.deleted:
        repair_mode(target)
        return plan
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = make_staging(target, "deploy")
    changed = set(plan.added) | set(plan.changed)
    try:
        (staging / DEPLOY_MARKER).write_text(DEPLOY_MARKER_TEXT)
        for rel in files:
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


def deploy_rsync(output_dir: Path, files: list[str], destination: str, dry_run: bool,
                 protected: Mapping[str, Path], work: Path) -> Plan:
    """Mirror the site with rsync --delete: the deploy marker first (so the next deploy knows
    the folder is ours), then the output without any file that is not one of the site's."""
    if not shutil.which("rsync"):
        raise DeployError("rsync is not installed (apt-get install rsync)")
    local = rsync_local_path(destination)
    if local is not None:
        check_folder(local, protected)
    else:
        _check_remote_folder(destination)
    marker, rules = work / "marker", work / "exclude"
    shutil.rmtree(work, ignore_errors=True)
    marker.mkdir(parents=True)
    (marker / DEPLOY_MARKER).write_text(DEPLOY_MARKER_TEXT)
    rules.write_bytes(_exclusions(output_dir, files))
    # Without --links rsync skips every symbolic link; the rules leave out the rest, and
    # --delete-excluded takes what they name out of the mirror too. Of two sources holding the
    # same name the first wins: the marker is always ours.
    command = ["rsync", "--recursive", "--times", "--checksum", "--delete", "--delete-excluded",
               "--delay-updates", "--itemize-changes", IO_TIMEOUT, "--from0",
               f"--exclude-from={rules}"]
    if dry_run:
        command.append("--dry-run")
    done = subprocess.run([*command, f"{marker}/", f"{output_dir}/", destination],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise DeployError(f"rsync failed: {done.stderr.strip()[-500:]}; with --delay-updates "
                          "the files already sent are in hidden folders, the live files "
                          "are unchanged: run the deploy again")
    plan = Plan()
    for line in done.stdout.splitlines():
        flags, _, path = line.partition(" ")
        if path.strip() == DEPLOY_MARKER:
            continue
        if flags.startswith("*deleting"):
            plan.deleted.append(path.strip())
        elif flags.startswith(">f") or flags.startswith("<f"):
            (plan.added if "+++++++" in flags else plan.changed).append(path)
    return plan


def _exclusions(output_dir: Path, files: list[str]) -> bytes:
    """rsync filter rules (NUL-separated, anchored at the site's root) naming every regular
    file of the output that is not a file of the site: by its outermost folder that holds no
    file of the site, else by itself."""
    site_folders = {rel[:at] for rel in files for at, char in enumerate(rel) if char == "/"}
    rules = set()
    for rel in set(_regular_files(output_dir, bookkeeping=True)) - set(files):
        if rel == DEPLOY_MARKER:
            continue  # the marker source comes first: a file of that name here is not sent
        cut = next((at for at, char in enumerate(rel) if char == "/" and
                    rel[:at] not in site_folders), None)
        rules.add(rel if cut is None else rel[:cut + 1])
    # A rule with a wildcard character is a pattern, where a backslash escapes; else literal.
    escaped = (re.sub(r"([*?\[\\])", r"\\\1", rule) if any(c in rule for c in "*?[") else rule
               for rule in sorted(rules))
    return b"".join(b"/" + os.fsencode(rule) + b"\0" for rule in escaped)


def _copy_files(output_dir: Path, files: list[str], into: Path) -> None:
    made: set[str] = set()
    source, into_text = str(output_dir), str(into)
    for rel in files:
        destination = os.path.join(into_text, rel)
        folder = os.path.dirname(destination)
        if folder not in made:  # once per folder, not once per file
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        shutil.copy2(os.path.join(source, rel), destination, follow_symlinks=False)


def _check_remote_folder(destination: str) -> None:
    """A remote target cannot be looked at from here, but rsync can list it: refuse unless it
    is missing, empty or holds the deploy marker, as a local folder (rsync --delete would
    otherwise delete everything else in it)."""
    folder = destination if destination.endswith((":", "/")) else destination + "/"
    try:
        done = subprocess.run(["rsync", "--list-only", "--no-motd", IO_TIMEOUT, folder],
                              capture_output=True, text=True, timeout=LIST_SECONDS)
    except subprocess.TimeoutExpired:
        raise DeployError(f"cannot list {destination} to check it may be replaced: no answer "
                          f"in {LIST_SECONDS} s; nothing was changed") from None
    if done.returncode == 23 and "No such file or directory" in done.stderr:
        return  # missing: rsync makes it
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[0]
        raise DeployError(f"cannot list {destination} to check it may be replaced ({last}); "
                          "nothing was changed")
    entries = [line.split(None, 4) for line in done.stdout.splitlines()]
    names = {fields[4]: fields[0] for fields in entries if len(fields) == 5}
    names.pop(".", None)
    if names and not names.get(DEPLOY_MARKER, "").startswith("-"):
        raise DeployRefused(_foreign(destination))


def _git(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise DeployError(f"git {args[0]} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def deploy_git(output_dir: Path, files: list[str], target: Target, work: Path,
               site_title: str, dry_run: bool) -> Plan:
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
    # The branch as checked out may hold symbolic links (anyone who can push made them): each
    # is removed as a link, never followed, and `git add -A` records what replaces it.
    for entry in work.iterdir():
        if entry.name != ".git":
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    _copy_files(output_dir, files, work)
    count = len(files)
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


def deploy_s3(output_dir: Path, files: list[str], target: Target, dry_run: bool) -> Plan:
    """Upload what changed (by MD5, S3's ETag) with its type and cache policy; delete last.

    S3 has no atomic swap: new and changed files go up first, so a page never links to a file
    that is missing, and deletions come after the whole upload succeeded. A bucket may hold
    other things than the site (no prefix, or someone else's keys under it): only the keys
    that the record kept in the bucket (DEPLOY_MARKER, under the prefix) lists are deleted.
    """
    import mimetypes

    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    prefix = target.prefix.strip("/") + "/" if target.prefix.strip("/") else ""
    record = prefix + DEPLOY_MARKER
    bucket = target.destination
    client = boto3.client("s3", region_name=target.region or None,
                          endpoint_url=target.endpoint_url or None)
    try:
        remote: dict[str, str] = {}
        for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                if entry["Key"] != record:
                    remote[entry["Key"][len(prefix):]] = entry["ETag"].strip('"')
        owned = _uploaded_keys(client, bucket, record)
        plan = Plan()
        uploads = []
        for rel in files:
            local = hashlib.md5((output_dir / rel).read_bytes(), usedforsecurity=False).hexdigest()
            if rel not in remote:
                plan.added.append(rel)
            elif remote[rel] != local:
                plan.changed.append(rel)
            else:
                continue
            uploads.append(rel)
        # Only what a deploy of this site put there: other keys of the bucket are someone else's.
        plan.deleted = sorted((owned & set(remote)) - set(files))
        if dry_run:
            return plan
        for rel in sorted(uploads, key=lambda r: r.endswith(".html")):  # assets before pages
            kind = mimetypes.guess_type(rel)[0] or "application/octet-stream"
            if kind.startswith("text/") or kind in ("application/json", "application/xml",
                                                    "application/javascript"):
                kind += "; charset=utf-8"
            cache = CACHE_LONG if rel.startswith(HASHED) else CACHE_SHORT
            client.upload_file(str(output_dir / rel), bucket, prefix + rel,
                               ExtraArgs={"ContentType": kind, "CacheControl": cache})
        # Recorded before anything is deleted, so that a deploy cut short still knows every
        # key it has to clean up (uploaded now, or to delete next time).
        if owned != set(files) | set(plan.deleted):
            _record_keys(client, bucket, record, set(files) | set(plan.deleted))
        for start in range(0, len(plan.deleted), 1000):
            batch = plan.deleted[start : start + 1000]
            client.delete_objects(Bucket=bucket, Delete={
                "Objects": [{"Key": prefix + rel} for rel in batch], "Quiet": True})
        if plan.deleted:
            _record_keys(client, bucket, record, set(files))
    except (BotoCoreError, ClientError) as exc:
        raise DeployError(f"S3 deploy to {bucket} failed: {exc}; files already "
                          "uploaded are new or changed ones, nothing was deleted: run the "
                          "deploy again") from None
    return plan


def _uploaded_keys(client: Any, bucket: str, record: str) -> set[str]:
    """The keys (below the prefix) that deploys of this site uploaded; none if never deployed
    by a version that keeps the record, or if the record is unreadable: then nothing is
    deleted, which at worst leaves old files behind."""
    from botocore.exceptions import ClientError

    try:
        body = client.get_object(Bucket=bucket, Key=record)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return set()
        raise
    try:
        keys = json.loads(body)["keys"]
    except (ValueError, KeyError, TypeError):
        return set()
    return {key for key in keys if isinstance(key, str)} if isinstance(keys, list) else set()


def _record_keys(client: Any, bucket: str, record: str, keys: set[str]) -> None:
    body = json.dumps({"made by": "newsdigest deploy: the keys it may replace or delete",
                       "keys": sorted(keys)}, indent=0).encode()
    client.put_object(Bucket=bucket, Key=record, Body=body,
                      ContentType="application/json; charset=utf-8", CacheControl="no-store")
