"""Any rsync destination, local or remote, refused unless it is ours or empty."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from newsdigest.deploy.targets import (
    DEPLOY_MARKER,
    DEPLOY_MARKER_TEXT,
    DeployError,
    DeployRefused,
    Plan,
    check_folder,
    not_ours,
    regular_files,
    rsync_local_path,
)


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
    for rel in set(regular_files(output_dir, bookkeeping=True)) - set(files):
        if rel == DEPLOY_MARKER:
            continue  # the marker source comes first: a file of that name here is not sent
        cut = next((at for at, char in enumerate(rel) if char == "/" and
                    rel[:at] not in site_folders), None)
        rules.add(rel if cut is None else rel[:cut + 1])
    # A rule with a wildcard character is a pattern, where a backslash escapes; else literal.
    escaped = (re.sub(r"([*?\[\\])", r"\\\1", rule) if any(c in rule for c in "*?[") else rule
               for rule in sorted(rules))
    return b"".join(b"/" + os.fsencode(rule) + b"\0" for rule in escaped)


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
        raise DeployRefused(not_ours(destination))


LIST_SECONDS = 120  # the wall-clock limit on listing a remote rsync target


IO_TIMEOUT = "--timeout=120"  # rsync gives up on a connection silent for this long
