"""A local or mounted folder: the new site staged beside it and swapped in with one rename."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from newsdigest.build.output import (
    make_staging,
    rename_exchange,
    repair_mode,
)
from newsdigest.deploy.targets import (
    DEPLOY_MARKER,
    DEPLOY_MARKER_TEXT,
    DeployError,
    Plan,
    check_folder,
    is_regular,
    plan_directory,
)


def deploy_directory(output_dir: Path, files: list[str], target: Path, dry_run: bool,
                     protected: Mapping[str, Path]) -> Plan:
    """Stage the new site beside the target (unchanged files hard-linked), then swap it in."""
    check_folder(target, protected)
    plan = plan_directory(output_dir, files, target)
    if dry_run:
        return plan
    if is_regular(target / DEPLOY_MARKER) and not plan.transfers and not plan.deleted:
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
