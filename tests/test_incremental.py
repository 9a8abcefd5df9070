"""Incremental builds: only what changed is rendered and written, and the result is always
exactly what a clean build would produce."""

from __future__ import annotations

import os
import pickle
import re
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import item

from newsdigest.build import output, plan, steps
from newsdigest.build.pipeline import BuildOptions, BuildReport, build_site
from newsdigest.build.records import manifest_path
from newsdigest.cli import main
from newsdigest.config.site import load_config
from newsdigest.errors import ContentInvalid

NOW = datetime(2026, 11, 20, tzinfo=UTC)
SETTINGS = """\
[site]
title = "Test Digest"
base_url = "https://news.example/digest/"
page_size = 3
"""


def corpus() -> dict[str, str]:
    files = {}
    topics = [("AI",), ("AI", "Robotics"), ("Computer Vision",), ("Robotics", "AI Policy")]
    for n in range(14):
        files[f"content/2026-10-{n + 1:02d}-story-{n}.md"] = item(
            title=f"Story number {n}",
            date=f"2026-10-{n + 1:02d}T{8 + n % 5:02d}:00:00Z",
            url=f"https://example.com/story/{n}",
            topics=topics[n % len(topics)],
            body="Some *Markdown* body.\n" if n % 3 == 0 else "",
        )
    return files


def build(site, **options) -> BuildReport:
    config = load_config(site.root / "site.toml")
    return build_site(config, BuildOptions(now=NOW, workers=1,
                                           search=False, offline=True, **options))


def theme_template_changed(site, name: str, old: str, new: str) -> None:
    """The site's own copy of a theme template, with `old` replaced by `new`."""
    theme = Path(__file__).resolve().parent.parent / "templates" / name
    assert old in theme.read_text(), old
    (site.root / "templates").mkdir(exist_ok=True)
    (site.root / "templates" / name).write_text(theme.read_text().replace(old, new))


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".newsdigest"
    }


def mtimes(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns
            for p in folder.rglob("*") if p.is_file()}


def assert_same_as_clean_build(site, tmp_path: Path, **options) -> None:
    clean = tmp_path / "clean"
    config = load_config(site.root / "site.toml").with_overrides(output_dir=clean)
    build_site(config, BuildOptions(now=NOW, workers=1, use_cache=False,
                                    search=False, offline=True, **options))
    assert tree(site.public) == tree(clean)


@pytest.fixture
def site(make_site):
    site = make_site(corpus(), SETTINGS)
    first = build(site)
    assert first.write.full
    return site


def test_nothing_changed_renders_and_writes_nothing(site):
    before = mtimes(site.public)
    report = build(site)
    assert (report.write.rendered, report.write.written, report.write.deleted) == (0, 0, 0)
    assert mtimes(site.public) == before


def test_editing_one_item_rebuilds_its_page_and_its_lists_only(site, tmp_path):
    before = mtimes(site.public)
    path = site.root / "content/2026-10-05-story-4.md"
    path.write_text(path.read_text().replace("Story number 4", "Story number four, edited"))
    report = build(site)
    after = mtimes(site.public)
    changed = {p for p in after if after[p] != before.get(p)}
    assert "news/2026/10/05/story-4/index.html" in changed
    # Untouched stories keep their files (and mtimes): only pages that show story 4 change.
    assert "news/2026/10/14/story-13/index.html" not in changed
    for rel in changed:
        assert b"Story number four, edited" in (site.public / rel).read_bytes(), rel
    # (6 of them are digest files that list it: its daily and weekly editions, their archive
    # page and the three edition feeds.)
    assert report.write.rendered < 26
    assert_same_as_clean_build(site, tmp_path)


def test_rewritten_files_are_readable_like_new_ones(site):
    # A web server reads the output as another user: a page rewritten by an incremental build
    # must keep the permissions a new file gets (0644 under umask 022), not a temp file's 0600.
    umask = os.umask(0o022)
    os.umask(umask)
    path = site.root / "content/2026-10-05-story-4.md"
    path.write_text(path.read_text().replace("Story number 4", "Story number four"))
    report = build(site)
    assert report.write.written > 0
    modes = {rel: stat.S_IMODE((site.public / rel).stat().st_mode)
             for rel in ("index.html", "news/2026/10/05/story-4/index.html", "sitemap.xml")}
    assert modes == dict.fromkeys(modes, 0o666 & ~umask)
    # Files an earlier version left at 0600 are made readable, bytes and mtimes untouched.
    if umask & 0o044 == 0:
        page = site.public / "news/2026/10/06/story-5/index.html"
        page.chmod(0o600)
        before = page.stat().st_mtime_ns
        build(site, explain=True)
        assert stat.S_IMODE(page.stat().st_mode) == 0o666 & ~umask
        assert page.stat().st_mtime_ns == before


def test_every_output_folder_is_readable_like_a_new_folder(site):
    # The output folder is swapped in from a staging folder, which mkdtemp makes private
    # (0700): a web server reading the site as another user could not enter it.
    umask = os.umask(0o022)
    os.umask(umask)
    folders = [site.public, *(p for p in site.public.rglob("*") if p.is_dir())]
    assert {stat.S_IMODE(p.stat().st_mode) for p in folders} == {0o777 & ~umask}
    if umask & 0o055 == 0:
        # an output folder an earlier version left private is repaired, even by a build that
        # has nothing to write
        site.public.chmod(0o700)
        assert build(site).write.written == 0
        assert stat.S_IMODE(site.public.stat().st_mode) == 0o777 & ~umask


def test_adding_an_item_shifts_pagination_exactly_like_a_clean_build(site, tmp_path):
    site.write("content/2026-10-20-fresh.md", item(
        title="A fresh story", date="2026-10-20T09:00:00Z", url="https://example.com/fresh",
        topics=("AI",)))
    report = build(site)
    assert report.write.rendered > 0
    assert (site.public / "news/2026/10/20/fresh/index.html").exists()
    assert_same_as_clean_build(site, tmp_path)


def test_removing_an_item_deletes_its_page_and_empty_folders(site, tmp_path):
    (site.root / "content/2026-10-03-story-2.md").unlink()
    report = build(site)
    assert report.write.deleted >= 1
    assert not (site.public / "news/2026/10/03").exists()
    assert_same_as_clean_build(site, tmp_path)


def test_unpublishing_an_item_removes_it_everywhere(site, tmp_path):
    path = site.root / "content/2026-10-07-story-6.md"
    path.write_text(path.read_text().replace("quality: 50", "quality: 50\npublished: false"))
    build(site)
    assert not (site.public / "news/2026/10/07/story-6").exists()
    for page in site.public.rglob("*.*"):
        assert b"Story number 6<" not in page.read_bytes(), page
    assert_same_as_clean_build(site, tmp_path)


def mark_the_item_template(site) -> None:
    """The site's own item.html: the theme's with a comment in its main block."""
    templates = site.root / "templates"
    templates.mkdir()
    theme_item = Path(__file__).resolve().parent.parent / "templates" / "item.html"
    (templates / "item.html").write_text(
        theme_item.read_text().replace("{% block main %}", "{% block main %}<!-- edited -->"))


def test_item_template_change_rerenders_item_pages_only(site, tmp_path):
    mark_the_item_template(site)
    report = build(site)
    item_pages = sorted(site.public.glob("news/*/*/*/*/index.html"))
    assert report.write.rendered == len(item_pages) == 14
    assert all("<!-- edited -->" in p.read_text() for p in item_pages)
    assert_same_as_clean_build(site, tmp_path)


@pytest.fixture
def kept_sizes(monkeypatch) -> list[int]:
    """How many item pages each build took as the last build made them (kept_item_pages)."""
    sizes: list[int] = []
    choose = plan.kept_item_pages

    def counting(*args):
        kept = choose(*args)
        sizes.append(len(kept))
        return kept

    monkeypatch.setattr(plan, "kept_item_pages", counting)
    return sizes


def test_an_edit_leaves_the_item_pages_it_does_not_reach_unplanned(site, tmp_path,
                                                                   kept_sizes):
    # After edits alone, item pages whose story and "more" stories were not edited are
    # taken as the last build made them (plan.kept_item_pages): not planned, not checked.
    edit(site, "2026-10-05-story-4.md", "Story number 4", "Story number four")
    report = build(site)
    assert report.patched == ["2026-10-05-story-4.md"]
    # story 4's page and the pages that show it below theirs are planned; the others not
    assert 6 <= kept_sizes[-1] < 14
    config = load_config(site.root / "site.toml").with_overrides(output_dir=tmp_path / "full")
    full = build_site(config, BuildOptions(now=NOW, workers=1, use_cache=False, search=False,
                                           offline=True))
    assert report.pages == full.pages  # the kept pages are still the site's
    assert_same_as_clean_build(site, tmp_path)
    edit(site, "2026-10-05-story-4.md", "Story number four", "Story number 4")
    build(site)
    assert_same_as_clean_build(site, tmp_path / "back")


def test_an_edit_leaves_the_lists_it_does_not_reach_unplanned(site, tmp_path, monkeypatch):
    # Like those item pages, the list pages and API documents that show no edited story
    # are taken as the last build made them (SitePlan.kept_lists): no output is made of
    # them, unless their file changed on disk.
    plans = []
    planned = steps.plan_outputs
    monkeypatch.setattr(steps, "plan_outputs",
                        lambda *args: plans.append(planned(*args)) or plans[-1])
    other_topic = site.public / "topics/computer-vision/index.html"  # story 4 is in AI alone
    good = other_topic.read_bytes()
    other_topic.write_bytes(good.replace(b"Story number", b"Tampered XYZ"))
    edit(site, "2026-10-05-story-4.md", "Story number 4", "Story number four")
    report = build(site)
    assert report.patched == ["2026-10-05-story-4.md"]
    made = {output.path for output in plans[-1].outputs}
    # the page of its topic that shows it, and its API document
    assert any(path.startswith("topics/ai/") for path in made)
    assert any(path.startswith("api/topics/ai/") for path in made)
    assert "api/topics/computer-vision/index.json" in plans[-1].kept_lists
    assert "topics/computer-vision/index.html" in made  # changed on disk: made again
    assert other_topic.read_bytes() == good
    assert_same_as_clean_build(site, tmp_path)
    edit(site, "2026-10-05-story-4.md", "Story number four", "Story number 4")
    build(site)
    assert "topics/computer-vision/index.html" in plans[-1].kept_lists
    assert_same_as_clean_build(site, tmp_path / "back")


def test_an_addition_leaves_the_item_pages_it_does_not_reach_unplanned(site, tmp_path,
                                                                       kept_sizes):
    # After an addition, item pages whose story and "more" stories are as they were are
    # taken as the last build made them; the added story's page and those that now show it
    # below theirs are made, and so is every list (the stories on them shift).
    item_pages = set(site.public.glob("news/*/*/*/*/index.html"))
    site.write(f"content/{ADDED_STORY}", item(
        title="An added story", date="2026-10-05T16:00:00Z", url="https://example.com/a",
        topics=("AI",)))
    report = build(site)
    assert report.patched == [ADDED_STORY]
    [added] = set(site.public.glob("news/*/*/*/*/index.html")) - item_pages
    link = "/" + added.parent.relative_to(site.public).as_posix() + "/"
    shown_below = {p.relative_to(site.public).as_posix() for p in item_pages
                   if link in p.read_text()}
    assert len(shown_below) >= 2
    assert shown_below <= set(report.write.changed)
    assert 0 < kept_sizes[-1] == len(item_pages) - len(shown_below)  # the others
    assert_same_as_clean_build(site, tmp_path / "added")
    # an edit after it: the lists are taken again too
    edit(site, "2026-10-08-story-7.md", "Story number 7", "Story number seven")
    assert build(site).patched == ["2026-10-08-story-7.md"]
    assert_same_as_clean_build(site, tmp_path / "edited")


@pytest.mark.parametrize("seed", [1, 2])
def test_a_page_shows_every_story_its_fingerprint_covers(make_site, seed):
    # A page whose stories were not edited is taken as the last build fingerprinted it
    # (plan.Reuse): so every story whose fingerprint is in the values a page's fingerprint
    # covers must be among the stories it says it shows (PageSpec.shows).
    import random

    from newsdigest.build.discover import find_sources
    from newsdigest.build.gather import gather

    rng = random.Random(seed)
    site = make_site({f"content/s{n}.md": _story(n, rng) for n in range(24)},
                     SETTINGS + '[digest]\ntopic_editions = ["AI", "Robotics"]\n'
                     "[images]\ngeneric_threshold = 3\n")
    config = load_config(site.root / "site.toml")
    options = BuildOptions(now=NOW, workers=1, search=False, offline=True)
    sources = find_sources(config)
    front = gather(config, options, sources, NOW)
    made = plan.plan_site(config, options, NOW, sources.discovery, front)
    prints = {story.fingerprint for story in front.index.stories}
    checked = 0
    for page in made.pages:
        if page.shows is None:
            continue
        values = repr(page.context if page.inputs is None else page.inputs)
        covered = {key for key in prints if key in values}
        assert covered <= {story.fingerprint for story in page.shows}, page.path
        checked += bool(covered)
    assert checked > 20
    assert {page.template for page in made.pages if page.shows is not None} >= {
        "index.html", "topic.html", "topics.html", "archive_month.html", "digest.html",
        "digest_archive.html", "moved.html"}
    # and the API's documents, kept the same way (plan._meta_outputs)
    from newsdigest.render import api

    documents = [d for d in api.documents(front.index, config) if d.shows is not None]
    for document in documents:
        covered = {key for key in prints if key in repr(document.inputs)}
        assert covered <= {story.fingerprint for story in document.shows}, document.path
    assert sum(bool(d.shows) for d in documents) > 5


def test_an_item_template_changed_with_an_edit_remakes_every_item_page(site, tmp_path):
    # The item pages an edit does not reach are left as the last build made them only when
    # it made them with the same templates.
    mark_the_item_template(site)
    edit(site, "2026-10-05-story-4.md", "Story number 4", "Story number four")
    report = build(site)
    assert report.patched == ["2026-10-05-story-4.md"]
    item_pages = sorted(site.public.glob("news/*/*/*/*/index.html"))
    assert all("<!-- edited -->" in p.read_text() for p in item_pages)
    assert_same_as_clean_build(site, tmp_path)


def test_card_template_change_reaches_every_page_that_shows_cards(site):
    templates = site.root / "templates"
    templates.mkdir()
    card = Path(__file__).resolve().parent.parent / "templates" / "_card.html"
    (templates / "_card.html").write_text(card.read_text().replace('class="card', 'class="card x'))
    build(site)
    home = (site.public / "index.html").read_text()
    assert 'class="card x' in home
    assert 'class="card x' in (site.public / "topics/ai/index.html").read_text()
    assert 'class="card' not in (site.public / "archive/index.html").read_text()


def test_archive_rows_are_kept_by_month_and_an_edit_renders_its_own(site, tmp_path,
                                                                     monkeypatch):
    # A month's archive page shows a row per story, kept between builds with the other rows
    # of its month (Theme.row): an edit renders its own story's row alone, and a new row
    # template reaches every month's page, no kept row reused.
    from newsdigest.render.theme import Theme

    build(site)
    rendered = []
    render = Theme.render

    def counting(theme, name, context):
        if name == "_row.html":
            rendered.append(context["story"].item.title)
        return render(theme, name, context)

    monkeypatch.setattr(Theme, "render", counting)
    edit(site, "2026-10-05-story-4.md", "Story number 4", "Story number four")
    assert build(site).patched == ["2026-10-05-story-4.md"]
    assert rendered == ["Story number four"]
    month = site.html("archive/2026/10/")
    assert "Story number four" in month.xpath("//li[@class='row']/a/text()")
    assert_same_as_clean_build(site, tmp_path / "edit")
    theme_template_changed(site, "_row.html", '<li class="row">', '<li class="row" data-v2>')
    build(site)
    rows = site.html("archive/2026/10/").xpath("//li[@class='row']")
    assert rows and all(row.get("data-v2") is not None for row in rows)
    assert_same_as_clean_build(site, tmp_path / "template")


def test_imported_macro_change_reaches_exactly_the_pages_that_import_it(site, tmp_path):
    # The importing templates' own sources did not change: their references come from the
    # cache of parsed templates, and must still lead to the new macros.
    build(site)
    archive = site.public / "archive" / "index.html"
    before = archive.stat().st_mtime_ns
    templates = site.root / "templates"
    templates.mkdir()
    macros = Path(__file__).resolve().parent.parent / "templates" / "_macros.html"
    (templates / "_macros.html").write_text(
        macros.read_text().replace('<time datetime=', '<time class="edited" datetime=')
        .replace('class="pagination"', 'class="pagination edited"'))
    build(site)
    for page in ("news/2026/10/14/story-13/index.html", "index.html", "topics/ai/index.html",
                 "archive/2026/10/index.html"):
        assert 'edited"' in (site.public / page).read_text(), page
    assert archive.stat().st_mtime_ns == before  # archive.html imports no macros
    assert_same_as_clean_build(site, tmp_path)


def test_settings_change_reaches_every_page(site, tmp_path):
    toml = site.root / "site.toml"
    toml.write_text(toml.read_text().replace("Test Digest", "Renamed Digest"))
    build(site)
    for page in site.public.rglob("*.html"):
        assert "Renamed Digest" in page.read_text(), page
    assert_same_as_clean_build(site, tmp_path)


def test_static_change_is_a_copy_without_rendering(site):
    site.write("static/css/site.css", "body { color: red; }\n")
    report = build(site)
    assert report.write.rendered == 1
    assert (site.public / "css/site.css").read_text() == "body { color: red; }\n"


def test_a_changed_or_deleted_output_file_is_restored(site):
    page = site.public / "news/2026/10/02/story-1/index.html"
    good = page.read_bytes()
    page.write_text("tampered")
    (site.public / "topics/index.html").unlink()
    report = build(site)
    assert report.write.rendered == 2
    assert page.read_bytes() == good
    assert (site.public / "topics/index.html").exists()


def test_files_changed_on_disk_are_restored_in_a_rebuild_that_patches_an_edit(site, tmp_path):
    # The files on disk are checked in a forked process (output.DiskCheck) while the build
    # reads its content: a page the edit does not reach, changed or deleted behind the
    # build's back, is still made again, and a private one made readable.
    other = site.public / "news/2026/10/10/story-9/index.html"
    good = other.read_bytes()
    other.write_bytes(good.replace(b"Story number 9", b"Tampered!!!!!!"))  # same size
    os.utime(other, ns=(1, 1))
    (site.public / "archive/index.html").unlink()
    private = site.public / "news/2026/10/06/story-5/index.html"
    private.chmod(0o600)
    path = site.root / "content/2026-10-05-story-4.md"
    path.write_text(path.read_text().replace("Story number 4", "Story number four"))
    report = build(site)
    assert report.patched == ["2026-10-05-story-4.md"]
    assert other.read_bytes() == good
    assert "news/2026/10/10/story-9/index.html" in report.write.changed
    assert (site.public / "archive/index.html").exists()
    assert stat.S_IMODE(private.stat().st_mode) & 0o044 == 0o044 & ~_umask()
    assert_same_as_clean_build(site, tmp_path)
    assert build(site).write.rendered == 0  # and then nothing is left to do


def test_a_rebuild_keeps_the_manifest_s_changes_in_a_journal_beside_it(site, tmp_path,
                                                                      monkeypatch):
    # After an edit, or a removal, only the manifest's changed entries are written
    # (output.save_manifest); read back, it names every file as it is on disk.
    manifest_file = manifest_path(load_config(site.root / "site.toml"))
    journal = output.journal_path(manifest_file)
    whole = manifest_file.read_bytes()
    assert not journal.exists()
    path = site.root / "content/2026-10-05-story-4.md"
    path.write_text(path.read_text().replace("Story number 4", "Story number four"))
    build(site)
    (site.root / "content/2026-10-07-story-6.md").unlink()
    build(site)
    assert manifest_file.read_bytes() == whole and journal.exists()
    manifest = output.load_manifest(manifest_file)
    assert output.not_as_written(manifest, site.public) == set()
    assert "news/2026/10/07/story-6/index.html" not in manifest
    assert set(manifest) == {rel for rel in tree(site.public) if not rel.startswith(".")}
    # A journal is of one whole file: another one in its place (written, or only touched)
    # does not take it: the pages its entries were of are made again, to the same bytes.
    os.utime(manifest_file)
    assert output.load_manifest(manifest_file) == pickle.loads(whole)
    report = build(site)
    assert report.write.rendered > 0 and report.write.written == 0
    assert_same_as_clean_build(site, tmp_path)
    # Past MOST_JOURNALED changes, the whole file is written again and its journal dropped.
    monkeypatch.setattr(output, "MOST_JOURNALED", 0)
    path.write_text(path.read_text().replace("Story number four", "Story number 4"))
    build(site)
    assert not journal.exists()
    assert output.not_as_written(output.load_manifest(manifest_file), site.public) == set()
    assert build(site).write.rendered == 0


def test_the_list_pages_sitemap_is_kept_until_an_edit_moves_a_last_change(site, tmp_path):
    # Its lastmod dates are the newest change of each list's stories: an edit that leaves
    # every story's date as it was leaves the file as it is, without finding each page's
    # (plan.Reuse.dates_kept); one that changes a date makes it again, and so does the
    # build after, whose own edit changes none.
    sitemap = site.public / "sitemap-pages.xml"
    story, other = (site.root / f"content/2026-10-{n}.md"
                    for n in ("05-story-4", "09-story-8"))
    original = story.read_text()

    def built() -> bool:
        before = sitemap.stat().st_mtime_ns, sitemap.read_bytes()
        report = build(site)
        assert report.patched is not None
        assert_same_as_clean_build(site, tmp_path / str(len(list(tmp_path.iterdir()))))
        return "sitemap-pages.xml" in report.write.changed or (
            sitemap.stat().st_mtime_ns, sitemap.read_bytes()) != before

    story.write_text(original.replace("Story number 4", "Story number four"))
    assert not built()
    story.write_text(original.replace("---\n", "---\nupdatedDateTime: 2026-11-02T09:00:00Z\n",
                                      1))
    assert built()
    assert "2026-11-02T09:00:00" in sitemap.read_text()
    other.write_text(other.read_text().replace("Story number 8", "Story number eight"))
    assert not built()  # made again, to the same bytes
    story.write_text(original)
    assert built()
    assert "2026-11-02" not in sitemap.read_text()


def _umask() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def test_explain_says_why_a_page_was_rebuilt(site):
    path = site.root / "content/2026-10-05-story-4.md"
    path.write_text(path.read_text().replace("Story number 4", "Story four"))
    report = build(site, explain=True)
    assert ("news/2026/10/05/story-4/index.html: what it shows changed (its items or the "
            "settings)") in report.explanations
    # the card template: the pages that show cards, each saying why
    theme_template_changed(site, "_card.html", '<article class="card',
                           '<article data-v2 class="card')
    report = build(site, explain=True)
    assert "index.html: a template it uses changed (_card.html)" in report.explanations
    assert not any("what it shows changed" in line for line in report.explanations)


def test_explain_names_the_changed_template_a_page_uses_through_another(site):
    # item.html imports _macros.html: its pages name the macros, not the template they name
    templates = site.root / "templates"
    templates.mkdir()
    macros = Path(__file__).resolve().parent.parent / "templates" / "_macros.html"
    (templates / "_macros.html").write_text(
        macros.read_text().replace("<time datetime=", '<time class="x" datetime='))
    report = build(site, explain=True)
    assert ("news/2026/10/05/story-4/index.html: a template it uses changed (_macros.html)"
            in report.explanations)
    assert not any("archive/index.html" in line for line in report.explanations)
    # and both, when two changed
    (templates / "_picture.html").write_text(
        (macros.parent / "_picture.html").read_text() + "\n")
    (templates / "_macros.html").write_text(macros.read_text())
    report = build(site, explain=True)
    assert ("news/2026/10/05/story-4/index.html: a template it uses changed "
            "(_macros.html, _picture.html)") in report.explanations


def test_explain_says_when_the_kept_site_state_was_patched(make_site, capsys):
    site = make_site(corpus(), SETTINGS)
    assert site.build("--no-search") == 0
    edit(site, "2026-10-05-story-4.md", "Story number 4", "Story four")
    capsys.readouterr()
    assert site.build("--no-search", "--explain") == 0
    out = capsys.readouterr().out
    assert ("kept the last build's site state, patched with 1 edited or added item: "
            "2026-10-05-story-4.md") in out.splitlines()
    assert "rebuilt news/2026/10/05/story-4/index.html: what it shows changed" in out


def test_no_cache_build_is_full_and_keeps_unchanged_files_mtimes(site):
    before = mtimes(site.public)
    report = build(site, use_cache=False)
    assert report.write.full and report.write.written == 0
    assert mtimes(site.public) == before


def test_a_copy_of_the_cache_from_another_output_is_not_trusted(site, tmp_path):
    config = load_config(site.root / "site.toml").with_overrides(output_dir=tmp_path / "other")
    report = build_site(config, BuildOptions(now=NOW, workers=1, search=False, offline=True))
    assert report.write.full


def test_parallel_build_equals_serial_build(make_site, tmp_path, monkeypatch):
    from newsdigest.build import plan

    # cards and API JSON made up front by workers, as in a large site's full build
    monkeypatch.setattr(plan, "FRAGMENTS_PARALLEL_THRESHOLD", 50)
    files = corpus()
    for n in range(14, 500):  # enough outputs to cross the parallel threshold
        files[f"content/extra-{n}.md"] = item(
            title=f"Extra {n}", date=f"2026-09-{1 + n % 28:02d}T10:{n % 60:02d}:00Z",
            url=f"https://example.com/extra/{n}", topics=("AI", f"T{n % 7}"))
    site = make_site(files, SETTINGS)
    config = load_config(site.root / "site.toml")
    build_site(config, BuildOptions(now=NOW, workers=2, use_cache=False,
                                    search=False, offline=True))
    serial = config.with_overrides(output_dir=tmp_path / "serial")
    build_site(serial, BuildOptions(now=NOW, workers=1, use_cache=False,
                                    search=False, offline=True))
    assert tree(site.public) == tree(tmp_path / "serial")


def test_mtime_only_touch_reuses_the_parsed_item(site):
    path = site.root / "content/2026-10-05-story-4.md"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    report = build(site)
    assert report.parsed == 1 and report.write.written == 0


def test_an_item_that_falls_due_appears_although_no_file_changed(site):
    site.write("content/2026-11-21-tomorrow.md", item(
        title="Tomorrow's story", date="2026-11-21T09:00:00Z", url="https://example.com/t"))
    assert build(site).excluded == {"future": ["2026-11-21-tomorrow.md"]}
    assert build(site).write.rendered == 0
    config = load_config(site.root / "site.toml")
    later = build_site(config, BuildOptions(now=datetime(2026, 11, 22, tzinfo=UTC), workers=1,
                                                search=False, offline=True))
    assert later.excluded == {} and later.write.rendered > 0
    assert (site.public / "news/2026/11/21/tomorrow/index.html").exists()


def test_unchanged_rebuild_still_reports_skipped_files_and_exclusions(site):
    site.write("content/bad.md", "---\ntitle: [\n---\n")
    site.write("content/draft.md", item(title="Draft", url="https://example.com/d",
                                        published="false"))
    first = build(site, skip_invalid=True)
    again = build(site, skip_invalid=True)
    assert again.write.rendered == 0
    assert [str(p) for p in again.skipped] == [str(p) for p in first.skipped] != []
    assert again.excluded == first.excluded == {"unpublished": ["draft.md"]}


def edit(site, rel: str, old: str, new: str) -> None:
    path = site.root / "content" / rel
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_text_edits_patch_the_kept_site_state_and_build_like_a_clean_build(site, tmp_path):
    # Title, excerpt, body and update date: the usual corrections change no story's place, so
    # the build patches the last build's grouped, pictured state instead of remaking it.
    edit(site, "2026-10-05-story-4.md", "Story number 4", "Story number four, corrected")
    edit(site, "2026-10-04-story-3.md", "quality: 50", "quality: 50\nexcerpt: A new summary")
    edit(site, "2026-10-04-story-3.md", "Some *Markdown* body.", "A **rewritten** body.")
    edit(site, "2026-10-08-story-7.md", "quality: 50",
         "quality: 50\nupdatedDateTime: 2026-11-02T10:00:00Z\nwhy: It matters.\n"
         'readingMinutes: 5\ndiscussion: ["https://lobste.rs/s/x"]')
    report = build(site)
    assert sorted(report.patched or ()) == ["2026-10-04-story-3.md", "2026-10-05-story-4.md",
                                            "2026-10-08-story-7.md"]
    assert_same_as_clean_build(site, tmp_path / "a")
    page = (site.public / "news/2026/10/04/story-3/index.html").read_text()
    assert "A new summary" in page and "<strong>rewritten</strong>" in page
    # The next build patches the same kept state with every file changed since it was made.
    edit(site, "2026-10-05-story-4.md", "corrected", "corrected twice")
    assert sorted(build(site).patched or ()) == ["2026-10-04-story-3.md",
                                                 "2026-10-05-story-4.md",
                                                 "2026-10-08-story-7.md"]
    assert_same_as_clean_build(site, tmp_path / "b")
    # A build that adds a file patches it in too, and keeps that state instead: the next
    # build patches only what changed since.
    site.write("content/2026-10-20-new.md", item(title="New", date="2026-10-20T09:00:00Z",
                                                 url="https://example.com/new"))
    assert build(site).patched == ["2026-10-04-story-3.md", "2026-10-05-story-4.md",
                                   "2026-10-08-story-7.md", "2026-10-20-new.md"]
    assert_same_as_clean_build(site, tmp_path / "new")
    edit(site, "2026-10-05-story-4.md", "corrected twice", "corrected thrice")
    assert build(site).patched == ["2026-10-05-story-4.md"]
    assert_same_as_clean_build(site, tmp_path / "c")


@pytest.mark.parametrize(("rel", "old", "new"), [
    ("2026-10-05-story-4.md", "2026-10-05T", "2026-10-15T"),  # its date: lists reorder
    ("2026-10-05-story-4.md", '  - "AI"', '  - "Chips"'),  # its topics
    ("2026-10-05-story-4.md", "https://example.com/story/4", "https://example.com/story/3"),
    ("2026-10-05-story-4.md", "quality: 50", "quality: 90"),  # scores choose top stories
    ("2026-10-05-story-4.md", "quality: 50", "quality: 50\npublished: false"),
    ("2026-10-05-story-4.md", "quality: 50", "quality: [50"),  # now invalid
    ("2026-10-05-story-4.md", "name: Example News", "name: Other News"),  # its provider
    ("2026-10-05-story-4.md", "quality: 50", "quality: 50\nkind: sponsor"),  # out of feeds
])
def test_edits_that_shape_the_site_are_not_patched(site, tmp_path, rel, old, new):
    edit(site, rel, old, new)
    if "[" in new:
        with pytest.raises(ContentInvalid):
            build(site)
        return
    report = build(site)
    assert report.patched is None
    assert_same_as_clean_build(site, tmp_path)


def test_a_title_edited_into_another_storys_is_merged_with_it(site, tmp_path):
    # Same day, same headline: one story. The kept state cannot know that; grouping decides.
    site.write("content/2026-10-05-other.md", item(
        title="Chipmaker unveils a faster inference accelerator", date="2026-10-05T07:00:00Z",
        url="https://other.example/chip", topics=("AI",)))
    build(site)
    edit(site, "2026-10-05-story-4.md", "Story number 4",
         "Chipmaker unveils a faster inference accelerator")
    report = build(site)
    assert report.patched is None
    assert report.index is not None and report.index.merged
    assert_same_as_clean_build(site, tmp_path / "one")
    # Two titles edited alike in one go meet too.
    edit(site, "2026-10-08-story-7.md", "Story number 7", "Robots learn to fold laundry fast")
    edit(site, "2026-10-08-story-7.md", "2026-10-08T", "2026-10-09T")
    build(site)
    edit(site, "2026-10-09-story-8.md", "Story number 8", "Robots learn to fold laundry fast")
    edit(site, "2026-10-08-story-7.md", "Robots learn", "Robots now learn")
    edit(site, "2026-10-09-story-8.md", "Robots learn", "Robots now learn")
    report = build(site)
    assert report.patched is None and len(report.index.merged) == 2
    assert_same_as_clean_build(site, tmp_path / "two")


def test_a_title_edit_that_splits_a_merged_story_is_not_patched(site, tmp_path):
    # The lead of a merged story is merged by its title: a new title makes two stories again.
    for name, quality in (("lead", 90), ("second", 20)):
        site.write(f"content/2026-10-05-{name}.md", item(
            title="Chipmaker unveils a faster inference accelerator",
            date="2026-10-05T07:00:00Z", url=f"https://{name}.example/chip",
            quality=str(quality)).replace("quality: 50\n", ""))
    assert build(site).index.merged == {"2026-10-05-lead.md": ("2026-10-05-second.md",)}
    edit(site, "2026-10-05-lead.md", "unveils a faster", "ships its fastest")
    report = build(site)
    assert report.patched is None and not report.index.merged
    assert_same_as_clean_build(site, tmp_path)


def test_a_kept_state_is_not_patched_once_a_future_item_falls_due(site):
    site.write("content/2026-11-21-tomorrow.md", item(
        title="Tomorrow's story", date="2026-11-21T09:00:00Z", url="https://example.com/t"))
    build(site)
    edit(site, "2026-10-05-story-4.md", "Story number 4", "Story number four")
    config = load_config(site.root / "site.toml")
    later = build_site(config, BuildOptions(now=datetime(2026, 11, 22, tzinfo=UTC), workers=1,
                                            search=False, offline=True))
    assert later.patched is None and later.excluded == {}
    assert (site.public / "news/2026/11/21/tomorrow/index.html").exists()


def test_a_kept_state_from_other_settings_or_notes_is_not_used(site, tmp_path):
    (site.root / "site.toml").write_text(SETTINGS.replace("page_size = 3", "page_size = 4"))
    edit(site, "2026-10-05-story-4.md", "Story number 4", "Story number four")
    assert build(site).patched is None
    site.write("content/digests/2026-W41.md", "---\ntitle: Week\n---\nA *note*.\n")
    edit(site, "2026-10-05-story-4.md", "Story number four", "Story number 4")
    assert build(site).patched is None
    edit(site, "2026-10-05-story-4.md", "Story number 4", "Story number four")
    assert build(site).patched == ["2026-10-05-story-4.md"]
    assert_same_as_clean_build(site, tmp_path)


def _story(n: int, rng) -> str:
    """A random but valid item: topics, scores, pictures, bodies and related links vary."""
    topics = rng.sample(["AI", "Robotics", "Computer Vision", "AI Policy", "Chips"],
                        rng.randint(0, 2))
    day = rng.randint(1, 20)
    pictures = rng.choice([
        "", "images:\n  - url: https://img.example/shared.jpg\n    width: 1200\n    height: 630",
        f"images:\n  - url: https://img.example/{n}.jpg\n    width: 1200\n    height: 675"])
    related = rng.choice([
        "", f"related:\n  - title: Coverage of {n}\n    url: https://other.example/{n}",
        f"related:\n  - title: Earlier\n    url: https://example.com/story/{rng.randint(0, 30)}"])
    lines = "\n".join(line for line in (pictures, related) if line)
    if rng.random() < 0.3:  # the same story from several sources: merged into one
        title, day = "The same headline appears everywhere today", 12
    else:
        title = f"Story {n}"
    text = item(title=title, date=f"2026-11-{day:02d}T{rng.randint(6, 20):02d}:00:00Z",
                url=f"https://example.com/story/{n}", topics=tuple(topics),
                body=rng.choice(["", "Some *Markdown* body.\n"]))
    text = text.replace("quality: 50", f"quality: {rng.randint(10, 95)}")
    text = text.replace("heat: 10", f"heat: {rng.randint(0, 400)}")
    front, _, body = text.partition("\n---\n")
    return f"{front}\n{lines}\n---\n{body}" if lines else text


def _random_site(make_site, seed: int, count: int):
    """A seeded random generator and a built site of `count` random stories."""
    import random

    rng = random.Random(seed)
    site = make_site({f"content/s{n}.md": _story(n, rng) for n in range(count)},
                     SETTINGS + "[images]\ngeneric_threshold = 3\n")
    build(site)
    return rng, site


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_edit_sequences_build_exactly_like_clean_builds(make_site, tmp_path, seed):
    # Edits, additions, removals, duplicates, unpublishing, notes and setting changes in a
    # seeded random order: after every one, the incremental build must equal a clean build.
    rng, site = _random_site(make_site, seed, 18)
    count = 18

    def some_file() -> Path:
        return rng.choice(sorted((site.root / "content").glob("s*.md")))

    def rewrite(old: str, new: str) -> None:
        path = some_file()
        path.write_text(path.read_text().replace(old, new, 1))

    def set_field(name: str, value: str) -> None:
        path = some_file()
        text = re.sub(rf"(?m)^{name}: .*\n", "", path.read_text())
        path.write_text(text.replace("quality:", f"{name}: {value}\nquality:", 1))

    def append(text: str) -> None:
        path = some_file()
        path.write_text(path.read_text() + text)

    def add() -> None:
        nonlocal count
        site.write(f"content/s{count}.md", _story(count, rng))
        count += 1

    titled: list[Path] = []  # the files whose title was last edited, the latest last

    def edit_a_title() -> None:
        path = some_file()
        path.write_text(path.read_text().replace('title: "', 'title: "Edited ', 1))
        titled.append(path)

    def undo_an_edit() -> None:
        # the latest title edit undone: the file is again as the kept site state has it,
        # but not as the last build, whose pages show the edit
        while titled:
            path = titled.pop()
            if path.exists() and 'title: "Edited ' in path.read_text():
                path.write_text(path.read_text().replace('title: "Edited ', 'title: "', 1))
                return

    steps = [
        add,
        undo_an_edit,
        undo_an_edit,
        lambda: some_file().write_text(_story(rng.randint(0, 99), rng)),  # anything changes
        lambda: some_file().unlink(),
        edit_a_title,
        edit_a_title,
        # text edits, which patch the kept site state, unless a title now matches another's
        lambda: rewrite("title: \"",
                        "title: \"The same headline appears everywhere today\"\nx: \""),
        lambda: set_field("excerpt", f"Summary {rng.randint(1, 99)}"),
        lambda: set_field("updatedDateTime", f"2026-11-{rng.randint(10, 19)}T10:00:00Z"),
        lambda: append(f"More body {rng.randint(1, 99)}.\n"),
        lambda: rewrite("quality: 50", "quality: 50\npublished: false"),
        lambda: rewrite("heat: ", "heat: 3"),
        lambda: rewrite("name: Example News", f"name: Wire {rng.randint(1, 9)}"),
        lambda: rewrite("topics:", "topics:\n  - \"Chips\""),
        lambda: rewrite("publishedDateTime: 2026-11-0", "publishedDateTime: 2026-11-1"),
        lambda: rewrite(":00:00Z", ":30:00Z"),
        lambda: site.write("content/digests/2026-W46.md",
                           f"---\ntitle: Week {rng.randint(1, 9)}\n---\nThe *week* in AI.\n"),
        lambda: (site.root / "site.toml").write_text(
            (site.root / "site.toml").read_text().replace(
                "page_size = 3", f"page_size = {rng.choice([2, 3, 4])}")),
        # an output file changed or deleted behind the build's back (checked in a thread
        # while the build reads its content): restored, whatever else changed
        lambda: rng.choice(sorted(p for p in site.public.rglob("*")
                                  if p.is_file() and p.name != ".newsdigest")).write_text("x"),
        lambda: rng.choice(sorted(site.public.rglob("index.html"))).unlink(),
    ]
    for step in range(20):
        rng.choice(steps)()
        report = build(site)
        assert not report.skipped, report.skipped
        try:
            assert_same_as_clean_build(site, tmp_path / f"step-{step}")
        except AssertionError:
            pytest.fail(f"seed {seed}, step {step}: incremental build differs from a clean one")


@pytest.mark.parametrize("seed", [7, 8])
def test_random_text_edits_and_undos_build_exactly_like_clean_builds(make_site, tmp_path,
                                                                    seed):
    # Edits that leave every story in place, and edits undone, one build after each: the
    # site is patched from one kept state throughout, and the item pages no edit of this
    # build or the last reaches are taken as the last build made them.
    rng, site = _random_site(make_site, seed, 14)
    files = sorted((site.root / "content").glob("s*.md"))
    originals = {path: path.read_text() for path in files}
    patched, edited = 0, []
    for step in range(12):
        if edited and rng.random() < 0.5:
            path = edited.pop(rng.randrange(len(edited)))
            path.write_text(originals[path])  # undone: as the kept state has it
        else:
            path = rng.choice(files)
            old = path.read_text()
            path.write_text(rng.choice([
                old.replace('title: "', f'title: "Edit {step} ', 1),
                old.replace("heat:", f"excerpt: Summary {step}\nheat:", 1),
                old + f"\nMore body {step}.\n",
            ]))
            edited.append(path)
        report = build(site)
        patched += report.patched is not None
        try:
            assert_same_as_clean_build(site, tmp_path / f"step-{step}")
        except AssertionError:
            pytest.fail(f"seed {seed}, step {step}: incremental build differs from a clean one")
    assert patched >= 8


def test_cards_made_before_the_page_workers_are_not_handed_back_by_them(make_site,
                                                                         monkeypatch):
    # A full build makes every card and story JSON first; the page workers inherit them and
    # must not send them back to the parent as their own (megabytes through pipes, held twice).
    # (The archive rows are theirs: each month's page renders its own.)
    from newsdigest.build import output
    from newsdigest.render.fragments import Fragments

    monkeypatch.setattr(output, "PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr(plan, "FRAGMENTS_PARALLEL_THRESHOLD", 1)
    handed_back: list[int] = []
    real_add = Fragments.add
    monkeypatch.setattr(Fragments, "add", lambda self, pieces: (
        handed_back.append(len(pieces)) if self.folder.name in ("cards", "api") else None,
        real_add(self, pieces))[1])
    site = make_site(corpus(), SETTINGS)  # never built: a full build, with a cache to fill
    config = load_config(site.root / "site.toml")
    report = build_site(config, BuildOptions(now=NOW, workers=2, search=False, offline=True))
    assert report.write.full
    assert handed_back and sum(handed_back) == 0
    assert len(list((site.root / ".cache" / "cards").glob("*.pickle"))) > 0


def test_a_template_error_in_a_worker_names_the_file_and_leaves_the_site(make_site,
                                                                         monkeypatch, capsys):
    # The cards are rendered by forked workers before any page: an error there must reach
    # the user as the template's file and line, with the previous site left untouched.
    from newsdigest import parallel
    from newsdigest.build import output
    from newsdigest.cli import main

    files = corpus()
    for n in range(14, 120):  # enough stories for the cards to be shared between workers
        files[f"content/extra-{n}.md"] = item(
            title=f"Extra {n}", date=f"2026-09-{1 + n % 28:02d}T10:{n % 60:02d}:00Z",
            url=f"https://example.com/extra/{n}", topics=("AI",))
    site = make_site(files, SETTINGS)
    build(site)
    monkeypatch.setattr(output, "PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr(plan, "FRAGMENTS_PARALLEL_THRESHOLD", 1)
    forked = []
    real_fork_map = parallel.fork_map
    monkeypatch.setattr(parallel, "fork_map", lambda task, total, workers, chunk: (
        forked.append(total > chunk and workers > 1), real_fork_map(task, total, workers,
                                                                    chunk))[1])
    before = {p: p.read_bytes() for p in site.public.rglob("*") if p.is_file()}
    theme_card = Path(__file__).resolve().parent.parent / "templates" / "_card.html"
    (site.root / "templates").mkdir(exist_ok=True)
    broken = theme_card.read_text().replace('<h3 class="card-title">',
                                            '<h3 class="card-title">{{ story.no_such_field }}', 1)
    assert broken != theme_card.read_text()
    (site.root / "templates" / "_card.html").write_text(broken)
    code = main(["build", "--config", str(site.root / "site.toml"), "--no-cache",
                 "--no-search", "--offline", "--jobs", "2"])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    line = 1 + broken.split("\n").index(next(t for t in broken.split("\n")
                                              if "no_such_field" in t))
    assert f"_card.html:{line}: template error:" in err and "no_such_field" in err
    assert {p: p.read_bytes() for p in site.public.rglob("*") if p.is_file()} == before
    assert forked[-1]  # the cards (the last shared task) were made by worker processes


def test_cards_and_api_json_made_in_workers_are_kept_for_the_next_build(site, tmp_path,
                                                                         monkeypatch):
    # Adding an item moves every card to another page: the cards (and each story's API JSON)
    # rendered by the worker processes are kept, so the next build reuses them, and a change
    # to the card template or the settings makes them unusable.
    import pickle

    from newsdigest.build import output

    monkeypatch.setattr(output, "PARALLEL_THRESHOLD", 1)  # workers even for a small site
    monkeypatch.setattr(plan, "FRAGMENTS_PARALLEL_THRESHOLD", 1)
    site.write("content/2026-10-20-fresh.md", item(
        title="A fresh story", date="2026-10-20T09:00:00Z", url="https://example.com/fresh"))
    config = load_config(site.root / "site.toml")
    build_site(config, BuildOptions(now=NOW, workers=2, search=False, offline=True))

    def kept(kind: str) -> dict:
        pieces: dict = {}
        for shard in (site.root / ".cache" / kind).glob("*.pickle"):
            pieces.update(pickle.loads(shard.read_bytes())[1])
        return pieces

    cards, jsons = kept("cards"), kept("api")
    assert len({fp for fp, _ in cards}) == 15 and len(jsons) == 15  # every story, once
    assert all("<article class=\"card" in html for html in cards.values())
    site.write("content/2026-10-21-newer.md", item(
        title="A newer story", date="2026-10-21T09:00:00Z", url="https://example.com/newer"))
    build_site(config, BuildOptions(now=NOW, workers=2, search=False, offline=True))
    assert len(kept("api")) == 16
    assert_same_as_clean_build(site, tmp_path)
    # Another page size: what a card shows does not change, but the settings it may read did.
    (site.root / "site.toml").write_text(SETTINGS.replace("page_size = 3", "page_size = 4"))
    build(site)
    assert_same_as_clean_build(site, tmp_path / "after-settings")
    # A new card template: no kept card may be reused.
    theme_template_changed(site, "_card.html", '<article class="card',
                           '<article data-v2 class="card')
    build(site)
    home = (site.public / "index.html").read_text()
    assert home.count("<article data-v2") == home.count("<article") > 0
    assert_same_as_clean_build(site, tmp_path / "after-template")


def test_the_preview_server_patches_the_site_state_it_keeps_in_memory(site, tmp_path):
    # The preview server keeps the last build's front half in memory: an edit that moves no
    # story patches it (no file read but the edited one), and the site is a clean build's.
    from newsdigest.build.gather import WarmState

    config = load_config(site.root / "site.toml")
    options = BuildOptions(now=NOW, workers=1, search=False, offline=True)
    warm = WarmState()
    assert build_site(config, options, warm=warm).patched is None
    rel = "2026-10-05-story-4.md"
    edit(site, rel, "Story number 4", "Story four")
    report = build_site(config, options, warm=warm)
    assert report.patched == [rel] and report.parsed == 1
    assert_same_as_clean_build(site, tmp_path / "edit")
    edit(site, rel, "Story four", "Story four, again")  # its new version is the one kept
    assert build_site(config, options, warm=warm).patched == [rel]
    assert_same_as_clean_build(site, tmp_path / "again")
    # an added story of its own is patched in too, and kept
    site.write("content/2026-10-20-fresh.md", item(
        title="A fresh story", date="2026-10-20T09:00:00Z", url="https://example.com/fresh"))
    assert build_site(config, options, warm=warm).patched == ["2026-10-20-fresh.md"]
    assert_same_as_clean_build(site, tmp_path / "added")
    # a broken edit fails the build; once fixed, the site is right again
    edit(site, rel, "Story four, again", "Story four, fixed")
    edit(site, rel, "publishedDateTime: 2026-10-05T12:00:00Z", "publishedDateTime: soon")
    with pytest.raises(ContentInvalid):
        build_site(config, options, warm=warm)
    edit(site, rel, "publishedDateTime: soon", "publishedDateTime: 2026-10-05T12:00:00Z")
    build_site(config, options, warm=warm)
    assert_same_as_clean_build(site, tmp_path / "fixed")
    edit(site, rel, "Story four, fixed", "Story four, last")
    assert build_site(config, options, warm=warm).patched == [rel]
    assert_same_as_clean_build(site, tmp_path / "last")


def why(site, capsys, page: str) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = main(["why", page, "--config", str(site.root / "site.toml"), "--offline"])
    return code, capsys.readouterr().out.splitlines()


def test_why_says_what_the_next_build_would_do_with_a_page_and_writes_nothing(site, capsys):
    page = "news/2026/10/05/story-4/index.html"
    code, out = why(site, capsys, "news/2026/10/05/story-4/")
    assert code == 0
    assert out[0] == f"{page}: up to date: neither rendered nor written"
    # (_row.html: the macros it imports render archive rows with it)
    assert out[1] == ("  made with: _card.html, _coverage.html, _macros.html, _picture.html, "
                      "_row.html, _subscribe.html, base.html, item.html")
    assert out[2].startswith("  shows: 2026-10-05-story-4.md, ")  # then its "More on" stories
    # an edition page shows the stories of its sections, which sit inside the edition
    edition = next((site.public / "digest" / "daily").iterdir())
    shown = why(site, capsys, str(edition))[1]
    assert shown[2].startswith("  shows: ") and ".md" in shown[2], shown
    edit(site, "2026-10-05-story-4.md", "Story number 4", "Story four")
    before = mtimes(site.public)
    # the same page as a URL of the site, and as a file in the output folder
    for name in ("https://news.example/digest/news/2026/10/05/story-4/",
                 "/digest/news/2026/10/05/story-4/", str(site.public / "news/2026/10/05/story-4")):
        assert why(site, capsys, name)[1][0] == (
            f"{page}: rebuilt: what it shows changed (its items or the settings)"), name
    assert why(site, capsys, str(site.public / "archive" / "index.html"))[1][0] == (
        "archive/index.html: up to date: neither rendered nor written")
    assert mtimes(site.public) == before  # nothing written
    # the build does what it said
    report = build(site, explain=True)
    assert f"{page}: what it shows changed (its items or the settings)" in report.explanations
    assert not any(line.startswith("archive/index.html") for line in report.explanations)
    assert why(site, capsys, page)[1][0] == f"{page}: up to date: neither rendered nor written"
    (site.public / page).write_text("tampered")
    assert why(site, capsys, page)[1][0] == (
        f"{page}: rebuilt: file on disk differs from the last build")


def test_why_names_new_deleted_and_unknown_files_and_changed_templates(site, capsys):
    site.write("content/2026-10-20-new.md", item(title="A new story", date="2026-10-20T09:00:00Z",
                                                 url="https://example.com/new"))
    (site.root / "content/2026-10-05-story-4.md").unlink()
    assert why(site, capsys, "news/2026/10/20/new/")[1][0] == (
        "news/2026/10/20/new/index.html: rebuilt: new page")
    assert why(site, capsys, "news/2026/10/05/story-4/")[1][0] == (
        "news/2026/10/05/story-4/index.html: deleted: no longer a file of the site")
    code, out = why(site, capsys, "news/2026/10/06/story-55/")
    assert code == 2
    assert out[0] == "news/2026/10/06/story-55/index.html: not a file of the site"
    assert out[1].startswith("  did you mean: news/2026/10/06/story-5/index.html")
    build(site)
    templates = site.root / "templates"
    templates.mkdir()
    macros = Path(__file__).resolve().parent.parent / "templates" / "_macros.html"
    (templates / "_macros.html").write_text(macros.read_text() + "{# edited #}\n")
    assert why(site, capsys, "news/2026/10/20/new/")[1][0] == (
        "news/2026/10/20/new/index.html: rebuilt: a template it uses changed (_macros.html)")


def test_adding_the_newest_item_leaves_full_archive_pages_unwritten(make_site, tmp_path):
    # Archive pages are numbered from the oldest (render/pages.py `cut`): an added newest item
    # changes a list's front page and its top page m, and every `page_size` adds a split makes
    # page m + 1 and changes the navigation of the two pages below m. No other page of the
    # list, in HTML or in the API, is written again.
    site = make_site(corpus(), SETTINGS.replace("page_size = 3", "page_size = 2"))
    build(site)
    lists = ("", "topics/ai/", "api/news/", "api/topics/ai/")  # 14 and 8 items: m is 6 and 3
    for n, split in ((0, False), (1, True)):
        before = mtimes(site.public)
        tops = {folder: len(list((site.public / folder).glob("page/*/"))) for folder in lists}
        site.write(f"content/2026-10-2{n}-fresh-{n}.md", item(
            title=f"A fresh story {n}", date=f"2026-10-2{n}T09:00:00Z",
            url=f"https://example.com/fresh/{n}", topics=("AI",)))
        changed = build(site).write.changed
        assert {"index.html", "topics/ai/index.html", "api/news/index.json",
                "api/topics/ai/index.json", f"news/2026/10/2{n}/fresh-{n}/index.html"} <= set(
            changed)
        for folder in lists:
            top = tops[folder]
            page = re.compile(re.escape(folder) + r"page/(\d+)/index\.(html|json)")
            written = sorted(int(m[1]) for m in map(page.fullmatch, changed) if m)
            # on a split, pages m - 2 and m - 1 link the new page m + 1 in their numbers; the
            # API's documents only link the next newer and older ones
            low = top if folder.startswith("api/") else top - 2
            assert written == (list(range(low, top + 2)) if split else [top]), folder
        assert not [p for p in changed if "/robotics/" in p]  # a list the item is not in
        after = mtimes(site.public)
        assert [p for p in before if p not in changed and after[p] != before[p]] == []
        assert_same_as_clean_build(site, tmp_path)


ADDED_STORY = "2026-10-20-added.md"


@pytest.mark.parametrize(("added", "patched"), [
    # a story of its own under the site's topics: put in its place, the lists, archive,
    # feeds and editions made again around it
    (item(title="An added story", date="2026-10-20T09:00:00Z", url="https://example.com/a",
          topics=("AI", "Robotics")), True),
    (item(title="An older added story", date="2026-10-03T09:30:00Z",
          url="https://example.com/b", topics=("Computer Vision",)), True),
    (item(title="An added picture", date="2026-10-21T09:00:00Z", url="https://example.com/c",
          images='[{url: "https://img.example/c.jpg", width: 1200, height: 630}]'), True),
    # what reshapes the site more: grouped again as a clean build is
    (item(title="A copy", date="2026-10-20T09:00:00Z",
          url="https://example.com/story/4"), False),  # the same source URL
    (item(title="Related", date="2026-10-20T09:00:00Z", url="https://example.com/r",
          related='[{title: "Four", webUrl: "https://example.com/story/4"}]'), False),
    (item(title="New topic", date="2026-10-20T09:00:00Z", url="https://example.com/n",
          topics=("Quantum",)), False),
    (item(title="Spelt otherwise", date="2026-10-20T09:00:00Z", url="https://example.com/s",
          topics=("robotics",)), False),  # may become the topic's name
    (item(title="A draft", date="2026-10-20T09:00:00Z", url="https://example.com/d",
          published="false"), False),
    (item(title="Later", date="2026-12-20T09:00:00Z", url="https://example.com/l"), False),
    (item(title="Keyed", date="2026-10-20T09:00:00Z", url="https://example.com/k",
          story="chips-act"), False),
])
def test_an_added_story_of_its_own_is_patched_in_like_a_clean_build(site, tmp_path, added,
                                                                      patched):
    site.write(f"content/{ADDED_STORY}", added)
    report = build(site)
    assert (report.patched == [ADDED_STORY]) is patched, report.patched
    assert_same_as_clean_build(site, tmp_path / "added")
    # the state is kept with it: an edit after patches that edit alone
    edit(site, "2026-10-08-story-7.md", "Story number 7", "Story number seven")
    assert build(site).patched == ["2026-10-08-story-7.md"]
    assert_same_as_clean_build(site, tmp_path / "edited")


def test_an_added_item_that_takes_another_pages_url_fails_as_in_a_clean_build(site):
    site.write(f"content/{ADDED_STORY}", item(
        title="Another", date="2026-10-05T15:00:00Z", url="https://other.example/x",
        slug="story-4"))
    with pytest.raises(ContentInvalid, match="same URL /news/2026/10/05/story-4/"):
        build(site)


def test_items_added_one_after_another_are_each_patched_in(site, tmp_path):
    for n in range(4):
        rel = f"2026-10-2{n}-added-{n}.md"
        site.write(f"content/{rel}", item(
            title=f"Added {n}", date=f"2026-10-2{n}T09:00:00Z",
            url=f"https://example.com/added/{n}", topics=(("AI",), ("Robotics", "AI"))[n % 2]))
        assert build(site).patched == [rel]
        assert_same_as_clean_build(site, tmp_path / f"added-{n}")
    # two added alike in one go meet: grouped as one story
    for n in (8, 9):
        site.write(f"content/2026-10-28-twin-{n}.md", item(
            title="Twins of one story today", date="2026-10-28T09:00:00Z",
            url=f"https://example.com/twin/{n}"))
    report = build(site)
    assert report.patched is None and len(report.index.merged) == 1
    assert_same_as_clean_build(site, tmp_path / "twins")


@pytest.mark.slow
@pytest.mark.parametrize("seed", [4, 5, 6])
def test_random_additions_build_exactly_like_clean_builds(make_site, tmp_path, seed):
    # Added items in a seeded random mix with edits and removals (their topics, pictures,
    # related links, dates and duplicate headlines vary): patched in when each is a story of
    # its own, grouped again when not; after every step, the site is a clean build's.
    rng, site = _random_site(make_site, seed, 12)
    count, patched_in = 12, 0
    for step in range(14):
        roll = rng.random()
        files = sorted((site.root / "content").glob("s*.md"))
        if roll < 0.6:
            added = [f"s{count + n}.md" for n in range(rng.choice([1, 1, 2]))]
            for n, rel in enumerate(added):
                site.write(f"content/{rel}", _story(count + n, rng))
            count += len(added)
        elif roll < 0.8:
            target = rng.choice(files)
            target.write_text(target.read_text().replace('title: "', 'title: "Edited ', 1))
            added = []
        else:
            rng.choice(files).unlink()
            added = []
        report = build(site)
        assert not report.skipped, report.skipped
        patched_in += bool(added) and set(added) <= set(report.patched or ())
        try:
            assert_same_as_clean_build(site, tmp_path / f"step-{step}")
        except AssertionError:
            pytest.fail(f"seed {seed}, step {step}: incremental build differs from a clean one")
    assert patched_in >= 2  # the patch itself was tried, not only the full rebuild


def test_the_command_line_leaves_what_a_build_made_to_its_exit(make_site):
    """`newsdigest build` exits right after the build (cli.run): the site it gathered is
    handed over (keep_alive) rather than freed object by object as the build returns, both
    when it builds and when nothing changed."""
    import weakref

    from newsdigest.build.gather import GatheredSite

    site = make_site(corpus(), SETTINGS)
    held: list[object] = []
    assert main(["build", "--config", str(site.root / "site.toml")], keep_alive=held) == 0
    gathered = [part for kept in held if isinstance(kept, tuple) for part in kept
                if isinstance(part, GatheredSite)]
    assert len(gathered) == 1
    alive = weakref.ref(gathered[0].index)
    del gathered
    held.clear()
    assert alive() is None  # the caller frees them, when it wants to
    held = []
    assert main(["build", "--config", str(site.root / "site.toml")], keep_alive=held) == 0
    assert held  # what nothing-changed discovered
    assert main(["build", "--config", str(site.root / "site.toml")]) == 0  # nothing kept


def test_a_kept_states_stories_read_their_pictures_only_when_asked(make_site):
    """A kept state's stories (kept_state.KeptStory) leave their picture, logo and image file
    pickled until one of them is read or set; saved again unread, they stay as they were."""
    from dataclasses import replace

    from newsdigest.build import kept_state
    from newsdigest.build.discover import find_sources
    from newsdigest.build.gather import gather
    from newsdigest.stories.grouping import Story
    from newsdigest.stories.picture import Picture

    site = make_site({**corpus(), "content/2026-10-20-pictured.md": item(
        title="Pictured", date="2026-10-20T09:00:00Z", url="https://example.com/p",
        images='[{url: "https://img.example/p.jpg", width: 1200, height: 630}]')}, SETTINGS)
    config = load_config(site.root / "site.toml")
    options = BuildOptions(now=NOW, workers=1, search=False, offline=True)
    front = gather(config, options, find_sources(config), NOW)

    def saved(value: object) -> object:
        pieces = kept_state._pickled_lazily(value)
        return kept_state._unpickled_lazily(memoryview(b"".join(map(bytes, pieces))))

    looks = ("picture", "logo", "image_file")
    made = {story.path: story for story in front.index.stories}
    assert any(story.picture is not None for story in made.values())
    kept = saved(front.index.stories)
    assert len(kept) == len(made)
    for story in kept:
        with pytest.raises(AttributeError):  # nothing read yet
            Story.picture.__get__(story)
    first, second, *_ = kept
    assert [getattr(first, name) for name in looks] == [
        getattr(made[first.path], name) for name in looks]
    other = Picture("/img/other.jpg", 10, 10, "Other")
    second.picture = other  # set unread: its logo and image file are still as they were
    assert (second.picture, second.logo, second.image_file) == (
        other, made[second.path].logo, made[second.path].image_file)
    again = saved(kept)  # read, set and unread ones saved as they are now
    for story in again:
        expected = replace(made[story.path], picture=other) if story.path == second.path \
            else made[story.path]
        assert [getattr(story, name) for name in looks] == [
            getattr(expected, name) for name in looks], story.path
        assert (story.path, story.fingerprint, story.image) == (
            expected.path, expected.fingerprint, expected.image)
