"""The wheel carries every stage's package, the default theme and the preview client, and works
outside the source tree; caches are keyed on the code of every sub-package."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import REPO, item


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from the checkout, unpacked where it would be installed."""
    wheels = tmp_path_factory.mktemp("wheels")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", str(wheels), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = wheels.glob("newsdigest-*.whl")
    target = tmp_path_factory.mktemp("site-packages")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    return target


def run_python(code: str, packages: Path, cwd: Path) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          env={"PYTHONPATH": str(packages), "PATH": "/usr/bin:/bin",
                               "SOURCE_DATE_EPOCH": "1795132800"}, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_wheel_holds_every_package_the_theme_and_the_client(unpacked: Path):
    package = unpacked / "newsdigest"
    sources = {p.relative_to(REPO / "newsdigest").as_posix()
               for p in (REPO / "newsdigest").rglob("*") if p.is_file()
               and "__pycache__" not in p.parts}
    shipped = {p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()}
    assert sources <= shipped
    for folder in ("templates", "static"):
        theme = {p.relative_to(REPO / folder).as_posix()
                 for p in (REPO / folder).rglob("*") if p.is_file()}
        assert {f"theme/{folder}/{name}" for name in theme} <= shipped


def test_the_installed_package_builds_a_site_outside_the_repository(unpacked: Path,
                                                                    tmp_path: Path):
    site = tmp_path / "site"
    (site / "content").mkdir(parents=True)
    (site / "content" / "2026-10-01-story.md").write_text(item("Installed"), encoding="utf-8")
    (site / "site.toml").write_text('[site]\ntitle = "Elsewhere"\n', encoding="utf-8")
    out = run_python(
        "import newsdigest, sys\n"
        "from newsdigest.cli import main\n"
        "from newsdigest.render import default_theme_dir\n"
        "from newsdigest.serve.server import CLIENT_DIR\n"
        "print(newsdigest.__file__)\n"
        "print(default_theme_dir())\n"
        "print((CLIENT_DIR / 'reload.js').is_file())\n"
        "sys.exit(main(['build', '--offline', '--no-search', '--quiet']))\n",
        unpacked, site)
    module, theme, client = out.splitlines()[:3]
    assert Path(module).is_relative_to(unpacked)
    assert Path(theme) == unpacked / "newsdigest" / "theme"
    assert client == "True"
    page = (site / "public" / "news" / "2026" / "10" / "01" / "story" / "index.html")
    assert "Installed" in page.read_text(encoding="utf-8")
    assert (site / "public" / "css" / "site.css").is_file()


def test_the_code_fingerprint_covers_modules_of_every_sub_package(unpacked: Path,
                                                                  tmp_path: Path):
    code = "from newsdigest.fingerprint import CODE; print(CODE)"
    before = run_python(code, unpacked, tmp_path)
    module = unpacked / "newsdigest" / "stories" / "grouping.py"
    module.write_text(module.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    assert run_python(code, unpacked, tmp_path) != before
