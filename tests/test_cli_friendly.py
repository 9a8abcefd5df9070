"""The mistakes a new user makes first get one line that says what to do, never a traceback."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO, item

from newsdigest.cli import main


def test_build_py_without_the_venv_says_how_to_install(tmp_path):
    # -S: a Python without site-packages, as the system's is before `make build`.
    run = subprocess.run([sys.executable, "-S", "-E", str(REPO / "build.py"), "build"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "make build" in lines[0] and ".venv/bin/newsdigest" in lines[0]


def test_commands_find_site_toml_in_a_parent_folder(make_site, monkeypatch, capsys):
    site = make_site({"content/2026/10/2026-10-01-story.md": item("Found from below")})
    monkeypatch.chdir(site.root / "content" / "2026")
    assert main(["build", "--offline"]) == 0
    assert site.html("news/2026/10/01/story/").xpath("//h1/text()") == ["Found from below"]
    assert not (site.root / "content" / "2026" / "public").exists()


def test_outside_any_site_the_error_says_no_site_toml_was_found(tmp_path, monkeypatch,
                                                                 capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["build"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: no site.toml in {tmp_path} or any folder above it")
    assert "--config" in err and len(err.splitlines()) == 1
