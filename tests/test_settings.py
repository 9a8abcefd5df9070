"""site.toml: no credential in any URL of any setting, and files in the content folder that are
not news items (build.ignore)."""

from __future__ import annotations

import pytest
from conftest import item

from newsdigest.config.site import url_secrets

SITE = '[site]\ntitle = "Settings"\nbase_url = "https://settings.example/"\n'
GOOD = item("Good", "2026-10-01T10:00:00Z", "https://e.com/good")

# (setting as it appears in site.toml, the setting named in the message, the secret)
SECRETS = [
    ('[site]\nbase_url = "https://admin:hunter2@settings.example/"\n', "site.base_url",
     "hunter2"),
    (SITE + '[deploy.pages]\ntype = "git"\n'
     'remote = "https://ghp_16C7e42F292c6912E7710c838347Ae178B4a@github.com/o/r.git"\n',
     "deploy.pages.remote", "ghp_16C7e42F292c6912E7710c838347Ae178B4a"),
    (SITE + '[deploy.pages]\ntype = "git"\nremote = "https://x-access-token@github.com/o/r"\n',
     "deploy.pages.remote", "x-access-token"),
    (SITE + '[deploy.b]\ntype = "s3"\nbucket = "b"\n'
     'endpoint_url = "https://key:s3cr3tvalue@s3.example.com"\n', "deploy.b.endpoint_url",
     "s3cr3tvalue"),
    ('[site]\nbase_url = "https://settings.example/?access_token=tok3nvalue"\n', "site.base_url",
     "tok3nvalue"),
    (SITE + '[deploy.b]\ntype = "s3"\nbucket = "b"\n'
     'endpoint_url = "https://s3.example.com/?X-Amz-Signature=s1gvalue"\n',
     "deploy.b.endpoint_url", "s1gvalue"),
    (SITE + '[topics."AI"]\nimage = "https://cdn.example/ai.jpg?api_key=k3yvalue"\n',
     "topics.AI.image", "k3yvalue"),
    (SITE + '[deploy.s]\ntype = "rsync"\ndestination = "deploy:pa55word@host.example:/www/"\n',
     "deploy.s.destination", "pa55word"),
]


@pytest.mark.parametrize("settings, setting, secret", SECRETS,
                         ids=[s[1] + "-" + s[2][:6] for s in SECRETS])
def test_a_credential_in_any_url_setting_is_refused(make_site, capsys, settings, setting,
                                                    secret):
    site = make_site({"content/good.md": GOOD}, settings)
    assert site.build() == 2
    err = capsys.readouterr().err
    lines = err.strip().split("\n")
    assert len(lines) == 1, err  # one line, not one per check that noticed
    assert lines[0].startswith(f"error: {site.root / 'site.toml'}: {setting}: "), err
    assert "keep it out of site.toml" in err
    assert secret not in err
    assert not site.public.exists()


@pytest.mark.parametrize("destination", [
    "git@github.com:owner/repo.git",  # ssh: the credential is the SSH agent's key
    "ssh://git@github.com/owner/repo.git",
    "https://github.com/owner/repo.git",
])
def test_remotes_without_credentials_are_accepted(make_site, destination):
    site = make_site({"content/good.md": GOOD},
                     SITE + f'[deploy.pages]\ntype = "git"\nremote = "{destination}"\n')
    assert site.build("--no-search") == 0


def test_url_secrets_reads_urls_inside_text():
    assert url_secrets("mirror at https://m.example/?token=abc, see docs")
    assert url_secrets("deploy@host.example:/var/www/") == []  # an ssh user, no password
    assert url_secrets("https://example.org/a?page=2&q=key+words") == []


def test_a_base_url_override_with_a_credential_is_refused(make_site, capsys):
    site = make_site({"content/good.md": GOOD}, SITE)
    assert site.build("--base-url", "https://me:hunter2@settings.example/") == 2
    err = capsys.readouterr().err
    assert "--base-url: base_url: the URL has a password in it" in err
    assert "hunter2" not in err


def test_readme_and_underscore_files_are_not_items(make_site, capsys):
    site = make_site({
        "content/good.md": GOOD,
        "content/README.md": "# How this folder works\n\nNo front matter here.\n",
        "content/2026/readme.txt": "notes",
        "content/_ideas.md": "half an idea",
        "content/_drafts/draft.md": "---\ntitle: [unfinished\n---\n",
        "content/digests/2026-10-01.md": "A word from the editor.\n",  # an editor's note
    }, SITE)
    assert site.build("--no-search") == 0
    captured = capsys.readouterr()
    assert "README" not in captured.err and "_drafts" not in captured.err, captured.err
    assert "built 1 items" in captured.out
    note = site.html("digest/daily/2026-10-01/").xpath("//section[contains(@class,'edition-note')]")
    assert "A word from the editor." in note[0].text_content()
    assert not list(site.public.rglob("*README*")) and not list(site.public.rglob("_ideas*"))


def test_ignore_patterns_from_settings_replace_the_defaults(make_site, capsys):
    site = make_site({
        "content/good.md": GOOD,
        "content/drafts/wip.md": "not yet",
        "content/_sidebar.md": item("Sidebar", "2026-10-02T10:00:00Z", "https://e.com/side"),
    }, SITE + '[build]\nignore = ["drafts/*"]\n')
    assert site.build("--no-search") == 0
    assert "built 2 items" in capsys.readouterr().out  # good.md and _sidebar.md


def test_ignore_must_be_a_list_of_patterns(make_site, capsys):
    site = make_site({}, SITE + '[build]\nignore = "README*"\nstrict = "yes"\n')
    assert site.build() == 2
    err = capsys.readouterr().err
    assert "build.ignore: expected a list of file name patterns" in err
    assert "build.strict: expected true or false" in err


def test_a_change_of_ignore_builds_what_a_clean_build_does(make_site):
    from test_fields import tree

    files = {"content/good.md": GOOD,
             "content/_extra.md": item("Extra", "2026-10-02T10:00:00Z", "https://e.com/x")}
    site = make_site(files, SITE)
    assert site.build("--no-search") == 0
    site.write("site.toml", SITE + "[build]\nignore = []\n")
    assert site.build("--no-search") == 0
    warm = tree(site.public)
    assert any("Extra" in p.read_text() for p in site.public.rglob("*.html"))
    assert site.build("--no-search", "--no-cache", "--output", str(site.root / "clean")) == 0
    assert tree(site.root / "clean") == warm
