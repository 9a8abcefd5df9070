"""A branch of a git remote (gh-pages): committed with history, pushed in one step."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from newsdigest.config.deploy import Target
from newsdigest.deploy.targets import DeployError, Plan, copy_files


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
    copy_files(output_dir, files, work)
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
