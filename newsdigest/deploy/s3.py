"""An S3 bucket or prefix: changed files by ETag, and only keys this site uploaded deleted."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from newsdigest.config.deploy import Target
from newsdigest.deploy.targets import DEPLOY_MARKER, DeployError, Plan


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
            cache = CACHE_LONG if HASHED.match(rel) else CACHE_SHORT
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


# Files whose names change with their content may be cached for a year; pages must stay fresh.
# (The whole search index is in shards, pagefind/0/, pagefind/1/, ...: build/search.py.)
HASHED = re.compile(r"pagefind(?:-recent)?/(?:\d+/)?(?:fragment|index|filter)/")


CACHE_LONG = "public, max-age=31536000, immutable"


CACHE_SHORT = "public, max-age=300, must-revalidate"
