"""`newsdigest init` (issue 23): a new site that builds, checks and serves clean, from the wheel
installed anywhere; a folder holding any of its files is refused; site.toml shows every
setting at its true default."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import sysconfig
import threading
import tomllib
import urllib.request
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import lxml.html
import pytest
import yaml
from conftest import REPO

from newsdigest import __version__
from newsdigest.cli import main
from newsdigest.config import site as site_settings
from newsdigest.config.digest import DigestSettings
from newsdigest.config.images import ImageSettings
from newsdigest.config.ingest import IngestSettings, Source
from newsdigest.config.site import load_config
from newsdigest.config.stories import StorySettings
from newsdigest.config.subscribe import SubscribeSettings
from newsdigest.images.stage import image_cache_dir
from newsdigest.init import STARTER_DIR, init_site

NOW = datetime(2026, 11, 12, 9, 30, 15, tzinfo=UTC)
EPOCH = str(int((NOW + timedelta(minutes=1)).timestamp()))  # the builds run a minute later
# `# name = value  # meaning`: a setting shown at its default
DEFAULT_LINE = re.compile(r"^# (\w+) = (.+?)(\s+#.*)?$")


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def example_lines(text: str) -> list[int]:
    """Indexes of the lines of the commented-out example tables ([deploy.pages], [sources.hf]):
    from a `# [table]` line to the next line that is not a comment or is a bare `#`."""
    found, inside = [], False
    for i, line in enumerate(text.splitlines()):
        inside = line.startswith("# [") or (inside and line.startswith("# "))
        if inside:
            found.append(i)
    return found


def settings_lines(text: str) -> list[int]:
    """Indexes of the commented-out defaults (not the lines of example tables)."""
    examples = set(example_lines(text))
    return [i for i, line in enumerate(text.splitlines())
            if DEFAULT_LINE.match(line) and i not in examples]


def uncommented(text: str, indexes: list[int]) -> str:
    lines = text.splitlines()
    for i in indexes:
        lines[i] = lines[i][2:]
    return "\n".join(lines) + "\n"


# --- the wheel, installed into a fresh venv outside the repository ---------------------------

@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding only the wheel built from the checkout; its dependencies come from the
    project's venv through a .pth file, so nothing is downloaded."""
    wheels = tmp_path_factory.mktemp("wheels")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", str(wheels), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = wheels.glob("newsdigest-*.whl")
    env = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True,
                   timeout=60)
    purelib = Path(subprocess.run(
        [env / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip())
    # A plain path line: the project venv's own .pth files (its editable newsdigest) stay
    # unread, so `import newsdigest` can only find the wheel.
    (purelib / "project-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # --ignore-installed: pip sees the project's editable install through the .pth file and
    # must neither take it for this one nor uninstall it.
    subprocess.run([env / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-deps",
                    "--ignore-installed", "--disable-pip-version-check", str(wheel)],
                   check=True, capture_output=True, timeout=120)
    return env


def run(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(["newsdigest", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_installed_wheel_makes_a_site_that_builds_checks_and_serves_anywhere(
        venv: Path, tmp_path: Path):
    where = run(venv, tmp_path, "--version")
    assert where.stdout.strip() == f"newsdigest {__version__}"
    module = subprocess.run([venv / "bin" / "python", "-c",
                             "import newsdigest; print(newsdigest.__file__)"], cwd=tmp_path,
                            env={}, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(module).is_relative_to(venv)

    made = run(venv, tmp_path, "init", "site", "--title", "Robotics Weekly")
    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines()[-3:] == ["cd site", "newsdigest serve", "newsdigest build"]
    site = tmp_path / "site"
    assert (site / "requirements.txt").read_text() == f"newsdigest=={__version__}\n"

    built = run(venv, site / "content", "build")  # site.toml is found upwards
    assert built.returncode == 0, built.stderr
    assert built.stderr == ""
    checked = run(venv, site, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout == "" and checked.stderr.endswith(": 0 problems\n")
    home = lxml.html.fromstring((site / "public" / "index.html").read_bytes())
    assert home.findtext(".//title").startswith("Robotics Weekly")
    assert (site / "public" / "pagefind").is_dir()  # the search index, from the venv too

    server = subprocess.Popen(["newsdigest", "serve", "--port", "0"], cwd=site,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env={"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(site)})
    watchdog = threading.Timer(60, server.kill)  # a hung server fails the test, not the run
    watchdog.start()
    try:
        for line in server.stdout:
            if line.startswith("serving "):
                url = line.split(" at ", 1)[1].split()[0]
                break
        else:
            pytest.fail("serve printed no address")
        with urllib.request.urlopen(url + "topics/getting-started/", timeout=10) as response:
            page = lxml.html.fromstring(response.read())
        assert page.findtext(".//title") == "Getting Started · Robotics Weekly"
        server.send_signal(signal.SIGINT)
        rest = server.communicate(timeout=20)[0]
    finally:
        watchdog.cancel()
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.returncode == 0
    assert rest.splitlines()[-1] == "stopped"


# --- the new site, in this process --------------------------------------------------------

@pytest.fixture
def new_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    folder = tmp_path / "digest"
    init_site(folder, "Robotics Weekly", None, NOW)
    return folder


def build(site: Path, output: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["build", "--config", str(site / "site.toml"), "--output", str(output),
                 "--no-cache", "--no-search", "--jobs", "1"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.err


def test_the_first_build_and_check_warn_of_nothing_and_show_every_kind_of_page(
        new_site: Path, capsys: pytest.CaptureFixture[str]):
    assert build(new_site, new_site / "public", capsys) == ""
    assert main(["check", "--config", str(new_site / "site.toml")]) == 0
    assert capsys.readouterr().err.endswith(": 0 problems\n")
    public = new_site / "public"
    item = lxml.html.fromstring((public / "news/2026/11/12/welcome/index.html").read_bytes())
    assert item.findtext(".//h1") == "Welcome to Robotics Weekly"
    # the picture and the logo, both local, made into thumbnails: nothing remote on the page
    sources = item.xpath("//img/@src") + item.xpath("//source/@srcset")
    assert sources and not [s for s in sources if s.startswith(("http:", "https:", "//"))]
    assert len(item.xpath("//img")) >= 2
    topic = lxml.html.fromstring((public / "topics/getting-started/index.html").read_bytes())
    assert "Welcome to Robotics Weekly" in topic.text_content()
    edition = lxml.html.fromstring((public / "digest/daily/2026-11-12/index.html").read_bytes())
    assert "This is an editor's note" in edition.text_content()
    assert (public / "digest/weekly/2026-W46/index.html").is_file()
    # the notes of templates/ and static/ are not published
    assert not [p for p in tree(public) if "README" in p]


def test_the_starter_pictures_are_small_and_local(new_site: Path):
    for name in ("welcome.jpg", "logo.png"):
        assert (STARTER_DIR / name).stat().st_size < 40 * 1024
    text = (new_site / "content/2026-11-12-welcome.md").read_text(encoding="utf-8")
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["publishedDateTime"] == NOW.replace(microsecond=0)
    assert [i["url"] for i in front["images"] + front["provider"]["images"]] == [
        "images/welcome.jpg", "logos/newsdigest.png"]


def test_site_toml_names_every_setting(new_site: Path):
    """A new setting fails this test until newsdigest/starter/site.toml shows it, commented
    out at its default, with what it does: the file is the settings' first documentation."""
    text = (new_site / "site.toml").read_text(encoding="utf-8")
    data = tomllib.loads(uncommented(text, settings_lines(text)))
    (topic,) = data["topics"].values()
    sections = ("site", "build", "digest", "images", "ingest", "subscribe", "stories")
    shown = {section: set(data[section]) for section in sections}
    # the tables of [deploy] and [sources] are examples: every key of a source is in one
    examples = tomllib.loads(uncommented(text, example_lines(text)))
    (source,) = examples["sources"].values()
    assert set(data) == {*sections, "topics", "sources", "deploy"}
    assert shown | {"topics": set(topic), "sources": set(source)} == {
        "site": set(site_settings._SITE_KEYS) | {"nofollow", "embed_hosts"},
        "build": (set(site_settings._BUILD_KEYS) | set(site_settings._RULES_KEYS)
                  | site_settings._RULES_FLAGS | {"ignore"}),
        "digest": {f.name for f in fields(DigestSettings)},
        "images": {f.name for f in fields(ImageSettings)},
        "topics": set(site_settings._TOPIC_KEYS),
        "ingest": {f.name for f in fields(IngestSettings)},
        "subscribe": {f.name for f in fields(SubscribeSettings)},
        "stories": {f.name for f in fields(StorySettings)},
        "sources": {f.name for f in fields(Source)} - {"name"},
    }


def test_uncommenting_any_default_changes_no_setting_and_no_output_byte(
        new_site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    config_file = new_site / "site.toml"
    text = config_file.read_text(encoding="utf-8")
    baseline = load_config(config_file)
    lines = settings_lines(text)
    assert len(lines) > 50
    for index in lines:  # each one alone: the settings are equal
        config_file.write_text(uncommented(text, [index]), encoding="utf-8")
        changed = load_config(config_file)
        assert image_cache_dir(changed) == image_cache_dir(baseline)
        # images.cache: unset means "images/ in the build cache", the same folder
        changed = replace(changed, images=replace(changed.images, cache=None))
        assert changed == baseline, text.splitlines()[index]
    config_file.write_text(text, encoding="utf-8")
    assert build(new_site, tmp_path / "before", capsys) == ""
    config_file.write_text(uncommented(text, lines), encoding="utf-8")  # all at once
    assert build(new_site, tmp_path / "after", capsys) == ""
    before, after = tree(tmp_path / "before"), tree(tmp_path / "after")
    assert before.keys() == after.keys()
    assert [path for path in before if before[path] != after[path]] == []


def test_the_example_deploy_targets_and_source_are_valid_once_uncommented(new_site: Path):
    config_file = new_site / "site.toml"
    text = config_file.read_text(encoding="utf-8")
    config_file.write_text(uncommented(text, example_lines(text)), encoding="utf-8")
    config = load_config(config_file)
    targets = {t.name: t.kind for t in config.deploy}
    assert targets == {"pages": "git", "share": "directory", "server": "rsync", "bucket": "s3"}
    assert [(s.name, s.url) for s in config.sources] == [
        ("hf", "https://huggingface.co/blog/feed.xml")]


def test_the_workflow_installs_the_pinned_version_builds_checks_and_publishes(new_site: Path):
    workflow = yaml.safe_load((new_site / ".github/workflows/pages.yml").read_text())
    steps = workflow["jobs"]["build"]["steps"]
    runs = [step["run"] for step in steps if "run" in step]
    assert runs[0] == "pip install -r requirements.txt"
    assert runs[1].startswith("newsdigest build --base-url") and runs[2] == "newsdigest check"
    assert any(step.get("uses", "").startswith("actions/upload-pages-artifact") for step in steps)
    assert workflow["jobs"]["deploy"]["steps"][0]["uses"].startswith("actions/deploy-pages")
    assert (new_site / "requirements.txt").read_text() == f"newsdigest=={__version__}\n"
    assert (new_site / ".gitignore").read_text().splitlines()[1:] == ["public/", ".cache/"]


# --- refusals ---------------------------------------------------------------------------------

def test_init_refuses_a_folder_holding_any_of_its_files_and_changes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    folder = tmp_path / "mine"
    (folder / "content").mkdir(parents=True)
    (folder / "content" / "story.md").write_text("mine\n")
    (folder / ".gitignore").write_text("mine\n")
    (folder / "notes.txt").write_text("mine\n")
    before = tree(folder)
    assert main(["init", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "content/, .gitignore" in err and "nothing written" in err
    assert tree(folder) == before
    assert sorted(p.name for p in folder.rglob("*")) == [".gitignore", "content", "notes.txt",
                                                         "story.md"]


def test_force_adds_only_the_missing_files_and_keeps_content_and_site_toml(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    folder = tmp_path / "mine"
    (folder / "content").mkdir(parents=True)
    (folder / "content" / "story.md").write_text("mine\n")
    (folder / "site.toml").write_text('[site]\ntitle = "Mine"\n')
    (folder / ".gitignore").write_text("mine\n")
    before = tree(folder)
    assert main(["init", str(folder), "--force", "--title", "Other"]) == 0
    out = capsys.readouterr().out
    assert "kept content/ (already there)" in out and "kept site.toml (already there)" in out
    after = tree(folder)
    assert {path: after[path] for path in before} == before  # nothing there was changed
    assert sorted(set(after) - set(before)) == [
        ".github/workflows/pages.yml", "requirements.txt", "static/.README.md",
        "templates/README.md"]


def test_a_bad_base_url_or_title_is_refused_before_anything_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    folder = tmp_path / "new"
    assert main(["init", str(folder), "--base-url", "ftp://example.org/"]) == 2
    assert main(["init", str(folder), "--base-url", "https://me:secret@example.org/"]) == 2
    assert main(["init", str(folder), "--title", "  "]) == 2
    err = capsys.readouterr().err
    assert "secret" not in err and len(err.splitlines()) == 3
    assert not folder.exists()


def test_the_base_url_and_a_title_with_quotes_are_written_as_given(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--title", 'The "Robot" \\ Report', "--base-url",
                 "https://you.github.io/digest"]) == 0
    assert capsys.readouterr().out.splitlines()[-3:] == ["cd .", "newsdigest serve",
                                                         "newsdigest build"]
    config = load_config(tmp_path / "site.toml")
    assert config.title == 'The "Robot" \\ Report'
    assert config.base_url == "https://you.github.io/digest/"
    item = next((tmp_path / "content").glob("*-welcome.md")).read_text(encoding="utf-8")
    assert yaml.safe_load(item.split("---\n")[1])["title"] == 'Welcome to The "Robot" \\ Report'
    assert os.path.isfile(tmp_path / ".github/workflows/pages.yml")


def test_a_file_or_link_where_a_folder_goes_is_refused_and_never_written_through(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    folder, elsewhere = tmp_path / "mine", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    (folder / "static").write_text("a file, not a folder\n")
    (folder / ".github").symlink_to(elsewhere)
    assert main(["init", str(folder)]) == 2
    assert "already holds static, .github: nothing written" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == [".github", "static"]
    assert main(["init", str(folder), "--force"]) == 0
    assert "kept static (already there)" in capsys.readouterr().out
    assert (folder / "static").read_text() == "a file, not a folder\n"
    assert list(elsewhere.iterdir()) == []  # nothing written through the link
    assert (folder / "site.toml").is_file() and (folder / "templates/README.md").is_file()
