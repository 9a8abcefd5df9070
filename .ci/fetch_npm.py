"""Fetch one file from a pinned npm package tarball, without Node: the test tools CI needs.

CI machines may have no npm. The Nu Html Checker (vnu-jar) only needs Java, and axe-core is one
script injected into Chromium, so the registry's tarball is all either needs. Each version and
the registry's sha512 are pinned: a republished or tampered tarball fails loudly instead of
testing with something else.

Use: python3 .ci/fetch_npm.py PACKAGE [DEST]   prints the file's path; downloads only when it is
missing. The default place, outside the repository, is where tests/test_html_valid.py looks.
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tarfile
import time
import urllib.request
from pathlib import Path
from typing import NamedTuple


class Pin(NamedTuple):
    version: str
    sha512: str  # the registry's dist.integrity, base64
    member: str  # the file wanted, inside the tarball


PINS = {
    "vnu-jar": Pin("26.9.27",
                   "TkQd5DFfOaWC9ebtvozTsrH2Vaod3jYg+vrOeREzIXxBexLz9+rS2DNtjn7+RPUiZhgli0SghgBX6RJRNea0KA==",
                   "package/build/dist/vnu.jar"),
    "axe-core": Pin("4.14.1",
                    "FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==",
                    "package/axe.min.js"),
}
CACHE = Path.home() / ".cache" / "newsdigest"


def default_path(package: str) -> Path:
    """Named by version, so changing a pin fetches the new file instead of reusing an old one."""
    pin = PINS[package]
    return CACHE / f"{package}-{pin.version}{Path(pin.member).suffix}"


def tarball_url(package: str) -> str:
    return f"https://registry.npmjs.org/{package}/-/{package}-{PINS[package].version}.tgz"


def _download(url: str, attempts: int = 3) -> bytes:
    """The tarball; a dropped connection is retried, a few times, before CI gives up."""
    for attempt in range(1, attempts + 1):
        try:
            # timeout bounds each socket operation, so a stalled download fails, not hangs.
            with urllib.request.urlopen(url, timeout=60) as response:
                return response.read()
        except OSError as exc:
            if attempt == attempts:
                sys.exit(f"cannot download {url}: {exc}")
            time.sleep(5 * attempt)
    raise AssertionError("unreachable")


def fetch(package: str, dest: Path) -> None:
    if dest.exists():
        return
    pin = PINS[package]
    data = _download(tarball_url(package))
    digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != pin.sha512:
        sys.exit(f"{package} {pin.version}: sha512 {digest} does not match the pinned {pin.sha512}")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        wanted = archive.extractfile(pin.member)
        if wanted is None:
            sys.exit(f"{package} {pin.version}: {pin.member} missing from the tarball")
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".part")
        partial.write_bytes(wanted.read())
        partial.replace(dest)  # whole file or none: a cut download never looks installed


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3) or sys.argv[1] not in PINS:
        sys.exit(f"usage: fetch_npm.py {{{','.join(PINS)}}} [DEST]")
    name = sys.argv[1]
    path = Path(sys.argv[2]) if len(sys.argv) == 3 else default_path(name)
    fetch(name, path)
    print(path)
