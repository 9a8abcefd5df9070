"""`newsdigest check` finds each kind of breakage; `newsdigest deploy` to a folder and to a git
branch transfers only what changed."""

from __future__ import annotations

import os
import stat
import subprocess

from conftest import item

SETTINGS = """\
[site]
title = "Deploy Digest"
base_url = "https://example.org/digest/"

[deploy.share]
type = "directory"
path = "{target}"

[deploy.pages]
type = "git"
remote = "{remote}"
branch = "gh-pages"
cname = "digest.example.org"
author = "Digest Bot <bot@example.org>"
"""


def files() -> dict[str, str]:
    return {f"content/s{n}.md": item(f"Story {n}", f"2026-10-0{n + 1}T10:00:00Z",
                                     f"https://example.com/{n}", ("AI",)) for n in range(3)}


def make(make_site, tmp_path):
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    return make_site(files(), SETTINGS.format(target=tmp_path / "live", remote=remote))


def test_check_passes_a_fresh_build(make_site, tmp_path, capsys):
    site = make(make_site, tmp_path)
    site.build("--no-search")
    assert _main(site, "check") == 0
    assert "0 problems" in capsys.readouterr().err


def test_check_reports_each_kind_of_breakage(make_site, tmp_path, capsys):
    site = make(make_site, tmp_path)
    site.build("--no-search")
    page = site.public / "news/2026/10/01/s0/index.html"
    html = page.read_text()
    html = html.replace("</main>", '<a href="/digest/news/missing/">x</a>'
                        '<img src="/digest/img/none.png" alt="">'
                        '<img srcset="/digest/img/a.webp 320w, /digest/img/b.webp 640w" alt="">'
                        "</main>")
    html = html.replace('<meta name="description"', '<meta name="x"')
    page.write_text(html)
    (site.public / "orphan").mkdir()
    (site.public / "orphan/index.html").write_text(
        "<!doctype html><title>Orphan</title><meta name='description' content='x'>")
    (site.public / "feed.xml").write_text("<rss><channel></rss>")
    assert _main(site, "check") == 1
    out = capsys.readouterr().out
    assert "news/2026/10/01/s0/index.html: broken link -> /news/missing/" in out
    assert "broken link -> /img/none.png" in out and "broken link -> /img/b.webp" in out
    assert "news/2026/10/01/s0/index.html: no meta description" in out
    assert "orphan/index.html: orphan" in out
    assert "feed.xml: not well-formed XML" in out


def test_deploy_to_a_folder_twice_transfers_nothing_the_second_time(make_site, tmp_path,
                                                                    capsys):
    site = make(make_site, tmp_path)
    assert _main(site, "deploy", "share") == 0
    first = capsys.readouterr().out
    assert "share: transferred" in first and "transferred 0 files" not in first
    live = tmp_path / "live"
    assert (live / "index.html").exists() and not (live / ".newsdigest").exists()
    umask = os.umask(0o022)
    os.umask(umask)
    # swapped in from a private temporary folder, yet readable by the web server
    assert stat.S_IMODE(live.stat().st_mode) == 0o777 & ~umask
    if umask & 0o055 == 0:
        live.chmod(0o700)  # as an earlier version left it
    assert _main(site, "deploy", "share") == 0
    assert "share: transferred 0 files, 0 deleted" in capsys.readouterr().out
    assert stat.S_IMODE(live.stat().st_mode) == 0o777 & ~umask
    (site.root / "content/s2.md").unlink()
    assert _main(site, "deploy", "share", "--dry-run") == 0
    dry = capsys.readouterr().out
    assert "delete news/2026/10/03/s2/index.html" in dry and "would transfer" in dry
    assert (live / "news/2026/10/03/s2/index.html").exists()  # a dry run changes nothing
    assert site.build() == 0  # not even the output folder: --no-build deploys what this built
    assert _main(site, "deploy", "share", "--no-build") == 0
    assert not (live / "news/2026/10/03/s2").exists()


def test_deploy_to_a_git_branch_keeps_history(make_site, tmp_path, capsys):
    site = make(make_site, tmp_path)
    assert _main(site, "deploy", "pages") == 0
    remote = tmp_path / "remote.git"
    log = subprocess.run(["git", "--git-dir", str(remote), "log", "--format=%an|%s",
                          "gh-pages"], capture_output=True, text=True, check=True).stdout
    assert log.startswith("Digest Bot|Deploy Deploy Digest")
    tree = subprocess.run(["git", "--git-dir", str(remote), "ls-tree", "-r", "--name-only",
                           "gh-pages"], capture_output=True, text=True, check=True).stdout
    assert {".nojekyll", "CNAME", "index.html", "feed.xml"} <= set(tree.split())
    assert ".newsdigest" not in tree.split()
    capsys.readouterr()
    assert _main(site, "deploy", "pages") == 0
    assert "pages: transferred 0 files" in capsys.readouterr().out
    site.write("content/s9.md", item("Story 9", "2026-10-09T10:00:00Z", "https://example.com/9"))
    assert _main(site, "deploy", "pages") == 0
    count = subprocess.run(["git", "--git-dir", str(remote), "rev-list", "--count",
                            "gh-pages"], capture_output=True, text=True, check=True).stdout
    assert count.strip() == "2"


def test_a_failing_check_blocks_the_deploy_unless_forced(make_site, tmp_path, capsys):
    site = make(make_site, tmp_path)
    site.build()
    (site.public / "feed.xml").write_text("<broken")
    assert _main(site, "deploy", "share", "--no-build") == 1
    assert "nothing deployed" in capsys.readouterr().err
    assert not (tmp_path / "live").exists()
    assert _main(site, "deploy", "share", "--no-build", "--force") == 0


def test_secrets_in_settings_are_refused(make_site, tmp_path, capsys):
    site = make_site(files(), '[site]\nbase_url = "https://e.org/"\n[deploy.x]\ntype = "git"\n'
                     'remote = "https://user:hunter2@git.example/repo.git"\ntoken = "abc"\n')
    assert _main(site, "deploy") == 2
    err = capsys.readouterr().err
    assert "deploy.x.token: secrets do not belong in site.toml" in err
    assert "has a password in it" in err and "hunter2" not in err


def _main(site, *args: str) -> int:
    from newsdigest.cli import main

    command, rest = args[0], list(args[1:])
    return main([command, "--config", str(site.root / "site.toml"), *rest])


def test_deploy_to_s3_uploads_only_changes_with_types_and_cache_policy(make_site, tmp_path,
                                                                       capsys, monkeypatch):
    import boto3
    from moto.server import ThreadedMotoServer

    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket="digest")
        site = make_site(files(), '[site]\ntitle = "S3"\nbase_url = "https://s3.example/"\n'
                         f'[deploy.bucket]\ntype = "s3"\nbucket = "digest"\nprefix = "site"\n'
                         f'endpoint_url = "{endpoint}"\n')
        assert _main(site, "deploy") == 0
        first = capsys.readouterr().out
        assert "bucket: transferred" in first
        page = s3.head_object(Bucket="digest", Key="site/index.html")
        assert page["ContentType"] == "text/html; charset=utf-8"
        assert page["CacheControl"] == "public, max-age=300, must-revalidate"
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="digest")["Contents"]]
        fragment = next(k for k in keys if k.startswith("site/pagefind/0/fragment/"))
        assert "immutable" in s3.head_object(Bucket="digest", Key=fragment)["CacheControl"]
        assert "site/.newsdigest" not in keys
        assert _main(site, "deploy") == 0
        assert "bucket: transferred 0 files, 0 deleted" in capsys.readouterr().out
        (site.root / "content/s1.md").unlink()
        assert _main(site, "deploy") == 0
        assert "news/2026/10/02/s1/index.html" not in str(
            [o["Key"] for o in s3.list_objects_v2(Bucket="digest")["Contents"]])
    finally:
        server.stop()


def test_external_check_reports_dead_and_moved_sources(make_site, capsys):
    import http.server
    import threading

    class Sources(http.server.BaseHTTPRequestHandler):
        hits = 0

        def do_HEAD(self) -> None:
            Sources.hits += 1
            if self.path == "/moved":
                self.send_response(301)
                self.send_header("Location", "/alive")
            else:
                self.send_response(200 if self.path == "/alive" else 404)
            self.end_headers()

        do_GET = do_HEAD  # noqa: N815 - urllib follows a redirect with GET

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sources)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        site = make_site({f"content/{name}.md": item(name.title(), f"2026-10-0{n + 1}T10:00:00Z",
                                                     f"{base}/{name}")
                          for n, name in enumerate(["alive", "gone", "moved"])},
                         '[site]\nbase_url = "https://x.example/"\n')
        site.build("--no-search")
        assert _main(site, "check", "--external", "--allow-private", "--archive") == 1
        out = capsys.readouterr().out
        assert f"source {base}/gone: dead (HTTP 404); archived copy: " \
               f"https://web.archive.org/web/{base}/gone" in out
        assert f"source {base}/moved: moved permanently to {base}/alive" in out
        assert "/alive:" not in out
        hits = Sources.hits
        assert _main(site, "check", "--external", "--allow-private") == 1
        assert Sources.hits == hits  # answered from the day's cache
    finally:
        server.shutdown()
        server.server_close()


def test_external_check_does_not_probe_private_addresses_by_default(make_site, capsys):
    site = make_site({"content/a.md": item("A", "2026-10-01T10:00:00Z",
                                           "http://127.0.0.1:9/secret")},
                     '[site]\nbase_url = "https://x.example/"\n')
    site.build("--no-search")
    assert _main(site, "check", "--external") == 1
    assert "not checked (a private or loopback address)" in capsys.readouterr().out


def test_deploy_with_rsync_transfers_only_changes(make_site, tmp_path, capsys):
    import shutil

    import pytest

    if not shutil.which("rsync"):
        pytest.skip("rsync is not installed (.ci/run installs it)")
    live = tmp_path / "rsync-live"
    live.mkdir()
    site = make_site(files(), '[site]\ntitle = "R"\nbase_url = "https://r.example/"\n'
                     f'[deploy.server]\ntype = "rsync"\ndestination = "{live}/"\n')
    assert _main(site, "deploy") == 0
    assert "server: transferred" in capsys.readouterr().out
    assert (live / "index.html").exists() and not (live / ".newsdigest").exists()
    assert _main(site, "deploy") == 0
    assert "server: transferred 0 files, 0 deleted" in capsys.readouterr().out
    (site.root / "content/s0.md").unlink()
    assert _main(site, "deploy") == 0
    assert "delete news/2026/10/01/s0/index.html" in capsys.readouterr().out
    assert not (live / "news/2026/10/01/s0").exists()
