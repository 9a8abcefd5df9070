"""Fetch the Nu Html Checker (vnu.jar) from the npm registry, without Node.

CI machines may have no npm; the jar only needs Java. The version and the registry's sha512 are
pinned so a republished or tampered tarball fails loudly instead of validating with something else.

Use: python3 .ci/fetch_vnu.py [DEST_JAR]   prints the jar's path; downloads only when it is missing.
The default place, outside the repository, is where tests/test_html_valid.py looks first.
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

VERSION = "26.9.27"
TARBALL = f"https://registry.npmjs.org/vnu-jar/-/vnu-jar-{VERSION}.tgz"
SHA512 = "TkQd5DFfOaWC9ebtvozTsrH2Vaod3jYg+vrOeREzIXxBexLz9+rS2DNtjn7+RPUiZhgli0SghgBX6RJRNea0KA=="
MEMBER = "package/build/dist/vnu.jar"
# Named by version, so changing the pin fetches the new jar instead of reusing an old one.
DEFAULT_JAR = Path.home() / ".cache" / "newsdigest" / f"vnu-{VERSION}.jar"


def _download(attempts: int = 3) -> bytes:
    """The tarball; a dropped connection is retried, a few times, before CI gives up."""
    for attempt in range(1, attempts + 1):
        try:
            # timeout bounds each socket operation, so a stalled download fails, not hangs.
            with urllib.request.urlopen(TARBALL, timeout=60) as response:
                return response.read()
        except OSError as exc:
            if attempt == attempts:
                sys.exit(f"vnu-jar {VERSION}: cannot download {TARBALL}: {exc}")
            time.sleep(5 * attempt)
    raise AssertionError("unreachable")


def fetch(dest: Path) -> None:
    if dest.exists():
        return
    data = _download()
    digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != SHA512:
        sys.exit(f"vnu-jar {VERSION}: sha512 {digest} does not match the pinned {SHA512}")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        jar = archive.extractfile(MEMBER)
        if jar is None:
            sys.exit(f"vnu-jar {VERSION}: {MEMBER} missing from the tarball")
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_suffix(".part")
        partial.write_bytes(jar.read())
        partial.replace(dest)  # whole jar or none: a cut download never looks installed


if __name__ == "__main__":
    jar = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_JAR
    fetch(jar)
    print(jar)
