"""Deploys destroy nothing of anyone else's and send nothing but the site (issue 18, points 1
and 2): a folder target is replaced only when missing, empty or made by a deploy, and never
when it overlaps the project; rsync --delete the same, local or remote; S3 deletes only keys
a deploy of the site uploaded; --dry-run writes nothing; symbolic links planted in the output
are neither followed nor sent."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import item

from newsdigest.cli import main


def files(count: int = 3) -> dict[str, str]:
    return {f"content/s{n}.md": item(f"Story {n}", f"2026-10-0{n + 1}T10:00:00Z",
                                     f"https://example.com/{n}", ("AI",)) for n in range(count)}


def settings(**targets: str) -> str:
    """site.toml with one [deploy.NAME] table per keyword: NAME='type = "..."\\n...'."""
    text = '[site]\ntitle = "Safe"\nbase_url = "https://safe.example/"\n'
    return text + "".join(f"[deploy.{name}]\n{table}\n" for name, table in targets.items())


def deploy(site, *args: str) -> int:
    return main(["deploy", "--config", str(site.root / "site.toml"), *args])


def refused(capsys, code: int) -> str:
    """The one line a refusal prints (exit 2, no traceback)."""
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: deploy target "), err
    assert "Traceback" not in out + err
    return lines[0]


def planned(out: str) -> list[str]:
    """The plan's lines of a deploy's output: "add PATH", "change PATH", "delete PATH"."""
    return [line for line in out.splitlines() if line.startswith(("add ", "change ", "delete "))]


def everything_under(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file()}


def test_a_folder_target_overlapping_the_project_is_refused(make_site, tmp_path, capsys,
                                                            monkeypatch):
    site = make_site(files(1), settings(here='type = "directory"\npath = "."'))
    monkeypatch.chdir(site.root)
    before = everything_under(site.root)
    assert deploy(site) == 2  # the case of the issue: it deleted site.toml, content/, .git
    assert f"deploy target {site.root} overlaps the project" in refused(capsys, 2)
    assert everything_under(site.root) == before
    for path, overlapped in ((".cache", "the cache"), ("content", "the content folder"),
                             ("public/www", "the output folder"), ("www", "the project"),
                             ("..", "the project"), ("static", "the static folder")):
        site.write("site.toml", settings(here=f'type = "directory"\npath = "{path}"'))
        line = refused(capsys, deploy(site, "--no-build"))
        assert f"{(site.root / path).resolve()} overlaps {overlapped}" in line, line
    assert not (site.root / "www").exists() and everything_under(site.root).keys() >= {
        "site.toml", "content/s0.md"}


def test_a_folder_target_of_someone_elses_is_refused_until_empty(make_site, tmp_path, capsys):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("my notes")
    site = make_site(files(), settings(share=f'type = "directory"\npath = "{theirs}"',
                                       mirror=f'type = "rsync"\ndestination = "{theirs}/"'))
    assert site.build("--no-search") == 0
    for target in ("share", "mirror"):
        line = refused(capsys, deploy(site, target, "--no-build"))
        assert f"deploy target {theirs}" in line and "not made by a newsdigest deploy" in line
        assert "--dry-run" not in line
        assert refused(capsys, deploy(site, target, "--no-build", "--dry-run")) == line
    assert everything_under(theirs) == {"notes.txt": b"my notes"}

    (theirs / "notes.txt").unlink()  # empty: the deploy may use it, and marks it as its own
    assert deploy(site, "share", "--no-build") == 0
    assert (theirs / ".newsdigest-deploy").is_file() and (theirs / "index.html").is_file()
    (theirs / "stray.html").write_text("left by hand in a deployed folder")
    assert deploy(site, "mirror", "--no-build") == 0  # marked: rsync --delete may run
    assert "delete stray.html" in capsys.readouterr().out
    assert not (theirs / "stray.html").exists() and (theirs / ".newsdigest-deploy").is_file()
    assert deploy(site, "share", "--no-build") == 0
    assert "share: transferred 0 files, 0 deleted" in capsys.readouterr().out


@pytest.fixture
def rsync_daemon(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An rsync daemon on 127.0.0.1 serving one writable module: a remote target that
    Python cannot look into, only rsync."""
    if not shutil.which("rsync"):
        pytest.skip("rsync is not installed (.ci/run installs it)")
    module = tmp_path / "remote"
    module.mkdir()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "rsyncd.conf"
    # as root the daemon would otherwise become nobody, who cannot write the module
    owner = f"uid = {os.getuid()}\ngid = {os.getgid()}\n" if os.geteuid() == 0 else ""
    config.write_text(f"use chroot = no\npid file = {tmp_path}/rsyncd.pid\n{owner}"
                      f"[site]\npath = {module}\nread only = no\n")
    daemon = subprocess.Popen(["rsync", "--daemon", "--no-detach", f"--config={config}",
                               f"--port={port}", "--address=127.0.0.1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or daemon.poll() is not None:
                    pytest.fail("the rsync daemon did not start")
                time.sleep(0.05)
        yield f"rsync://127.0.0.1:{port}/site/", module
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


def test_rsync_to_a_remote_folder_of_someone_elses_is_refused(make_site, capsys,
                                                             rsync_daemon):
    url, module = rsync_daemon
    (module / "notes.txt").write_text("my notes")
    site = make_site(files(), settings(server=f'type = "rsync"\ndestination = "{url}"'))
    assert site.build("--no-search") == 0
    line = refused(capsys, deploy(site, "--no-build"))
    assert f"deploy target {url} is not empty and was not made by a newsdigest deploy" in line
    assert everything_under(module) == {"notes.txt": b"my notes"}

    (module / "notes.txt").unlink()
    assert deploy(site, "--no-build") == 0
    assert "server: transferred" in capsys.readouterr().out
    assert (module / ".newsdigest-deploy").is_file() and (module / "index.html").is_file()
    assert deploy(site, "--no-build") == 0  # its own marker, sent with the site, is found
    assert "server: transferred 0 files, 0 deleted" in capsys.readouterr().out


def test_s3_deletes_only_keys_a_deploy_of_the_site_uploaded(make_site, capsys, s3):
    client, endpoint = s3
    foreign = {"backup/db.sql": b"someone's data", "news/2020/01/01/old/index.html": b"<p>old"}
    for key, body in foreign.items():
        client.put_object(Bucket="digest", Key=key, Body=body)
    site = make_site(files(), settings(bucket=f'type = "s3"\nbucket = "digest"\n'
                                              f'endpoint_url = "{endpoint}"'))  # no prefix
    assert site.build("--no-search") == 0
    assert deploy(site, "--no-build", "--dry-run") == 0
    assert not [line for line in planned(capsys.readouterr().out) if line.startswith("delete")]
    assert deploy(site, "--no-build") == 0
    assert ", 0 deleted" in capsys.readouterr().out
    (site.root / "content/s1.md").unlink()
    assert site.build("--no-search") == 0
    assert deploy(site, "--no-build") == 0
    deleted = {line.split()[1] for line in planned(capsys.readouterr().out)
               if line.startswith("delete")}
    assert "news/2026/10/02/s1/index.html" in deleted and not deleted & set(foreign)
    keys = {o["Key"] for o in client.list_objects_v2(Bucket="digest")["Contents"]}
    assert "news/2026/10/02/s1/index.html" not in keys and "index.html" in keys
    for key, body in foreign.items():
        assert client.get_object(Bucket="digest", Key=key)["Body"].read() == body


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[object, str]]:
    """A bucket "digest" on a moto S3 server on 127.0.0.1, and the server's URL."""
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
        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket="digest")
        yield client, endpoint
    finally:
        server.stop()


def test_a_dry_run_writes_neither_the_output_nor_the_target(make_site, tmp_path, capsys):
    live = tmp_path / "live"
    site = make_site(files(), settings(share=f'type = "directory"\npath = "{live}"'))
    assert deploy(site, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "add    index.html" in out and "share: would transfer" in out
    assert not site.public.exists() and not live.exists()  # it used to build public/

    assert site.build("--no-search") == 0
    before = everything_under(site.public)
    (site.root / "content/s2.md").unlink()
    assert deploy(site, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "add    news/2026/10/02/s1/index.html" in out and "s2/" not in out  # as it would be
    assert everything_under(site.public) == before and not live.exists()


def test_links_planted_in_the_output_are_not_deployed(make_site, tmp_path, capsys, s3):
    """A symbolic link to a file or a folder outside, and a file no build wrote: none of them
    reaches a folder, an rsync mirror, a git branch or a bucket."""
    client, endpoint = s3
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "id_rsa").write_text("TOPSECRET")
    live, mirror, remote = tmp_path / "live", tmp_path / "mirror", tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    _branch_with_a_link(remote, tmp_path / "seed", outside)
    site = make_site(files(), settings(
        share=f'type = "directory"\npath = "{live}"',
        server=f'type = "rsync"\ndestination = "{mirror}/"',
        pages=f'type = "git"\nremote = "{remote}"\nbranch = "gh-pages"\n'
              'author = "Bot <bot@example.org>"',
        bucket=f'type = "s3"\nbucket = "digest"\nendpoint_url = "{endpoint}"'))
    assert site.build("--no-search") == 0
    (site.public / "key.txt").symlink_to(outside / "id_rsa")
    (site.public / "news/keys").symlink_to(outside, target_is_directory=True)
    (site.public / "planted.txt").write_text("not made by the build")
    targets = ["share", "pages", "bucket"] + (["server"] if shutil.which("rsync") else [])
    for target in targets:
        assert deploy(site, target, "--no-build") == 0, capsys.readouterr()
    plan = "\n".join(planned(capsys.readouterr().out))
    assert "add    index.html" in plan and "key" not in plan and "planted" not in plan

    git = ["git", "--git-dir", str(remote)]
    tree = subprocess.run([*git, "ls-tree", "-r", "gh-pages"], capture_output=True, text=True,
                          check=True).stdout
    assert "index.html" in tree and "120000" not in tree  # no link committed, none kept
    blobs = subprocess.run([*git, "grep", "-l", "TOPSECRET", "gh-pages"], capture_output=True,
                           text=True).stdout
    assert blobs == ""
    keys = {o["Key"] for o in client.list_objects_v2(Bucket="digest")["Contents"]}
    folders = [live] + ([mirror] if "server" in targets else [])
    for deployed in [set(everything_under(f)) for f in folders] + [keys]:
        assert "index.html" in deployed
        assert not {p for p in deployed if "key" in p or "planted" in p or "id_rsa" in p}
    for folder in folders:
        assert not any(p.is_symlink() for p in folder.rglob("*"))
        assert b"TOPSECRET" not in b"".join(everything_under(folder).values())
    assert (outside / "id_rsa").read_text() == "TOPSECRET"


def _branch_with_a_link(remote: Path, work: Path, outside: Path) -> None:
    """Push a gh-pages whose tree holds a link to a folder outside, as anyone who can push
    could: the deploy must remove the link, not follow it into that folder."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "x", "GIT_AUTHOR_EMAIL": "x@example.org",
           "GIT_COMMITTER_NAME": "x", "GIT_COMMITTER_EMAIL": "x@example.org"}
    subprocess.run(["git", "init", "-q", "-b", "gh-pages", str(work)], check=True)
    (work / "latest").symlink_to(outside, target_is_directory=True)
    for args in (["add", "-A"], ["commit", "-q", "-m", "link"],
                 ["push", "-q", str(remote), "gh-pages"]):
        subprocess.run(["git", *args], cwd=work, env=env, check=True)
