"""The subscribe form of [subscribe] (issue 21): each provider's own public form, on the home
page, the digest pages and every footer; a plain HTML form a browser submits without
JavaScript; the Content-Security-Policy lets forms post to that one origin and no other."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from browser import browser_fixture, serve_folder  # noqa: F401 - provides `browser`
from conftest import item
from test_html_valid import _checker_errors, _tool, _validator

from newsdigest.render.theme import CONTENT_SECURITY_POLICY

SITE = '[site]\ntitle = "Sub Digest"\nbase_url = "https://news.example/"\n'
ITEMS = {
    "content/2026-10-01-a.md": item("Robots learn to fold laundry", url="https://e.com/1",
                                    topics=("Robotics",)),
    "content/2026-10-02-b.md": item("A new open model", "2026-10-02T10:00:00Z",
                                    "https://e.com/2", topics=("AI",)),
}
LIST_ID = "5e43c2ab-9a1b-4c1e-8f0e-4d1c2b3a4f5e"
PROVIDERS = {
    "buttondown": ('username = "aidigest"',
                   "https://buttondown.com/api/emails/embed-subscribe/aidigest", "email",
                   {"embed": "1"}),
    "listmonk": (f'url = "https://lists.example.org/"\nlist = "{LIST_ID}"',
                 "https://lists.example.org/subscription/form", "email",
                 {"l": LIST_ID, "nonce": ""}),
    "mailchimp": ('action = "https://ai.us21.list-manage.com/subscribe/post?u=ab12&id=cd34"',
                  "https://ai.us21.list-manage.com/subscribe/post?u=ab12&id=cd34", "EMAIL", {}),
    "form": ('action = "https://forms.example.net/f/digest"',
             "https://forms.example.net/f/digest", "email", {}),
}


def policy_with(origin: str) -> str:
    return CONTENT_SECURITY_POLICY.replace("form-action 'self'", f"form-action 'self' {origin}")


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_each_provider_gets_its_own_form_and_the_csp_allows_that_origin_only(make_site,
                                                                             provider):
    settings, action, email_field, hidden = PROVIDERS[provider]
    site = make_site(ITEMS, SITE + f'[subscribe]\nprovider = "{provider}"\n{settings}\n')
    assert site.build("--offline", "--no-search") == 0
    origin = "https://" + action.split("/")[2]
    expected_policy = policy_with(origin)
    for page in site.pages():
        tree = site.html(page.relative_to(site.public).as_posix())
        assert tree.xpath("//meta[@http-equiv='Content-Security-Policy']/@content") == [
            expected_policy], page
        # every footer has the form (a redirect stub for a moved story has no footer)
        assert len(tree.xpath("//footer//form[contains(@class,'subscribe-form')]")) == 1, page
    headers = (site.public / "_headers").read_text()
    assert f"Content-Security-Policy: {expected_policy}; frame-ancestors 'none'" in headers
    for path, place in (("", "home"), ("digest/", "digest"),
                        ("digest/weekly/2026-W40/", "edition")):
        tree = site.html(path)
        (form,) = tree.xpath(f"//main//form[contains(@class,'subscribe-{place}')]")
        assert (form.get("action"), form.get("method")) == (action, "post")
        (email,) = form.xpath(".//input[@type='email']")
        assert email.get("name") == email_field
        assert email.get("required") is not None and email.get("autocomplete") == "email"
        (label,) = form.xpath(f".//label[@for='{email.get('id')}']")
        assert label.text_content() == "Email address"
        assert {i.get("name"): i.get("value") for i in form.xpath(
            ".//input[@type='hidden']")} == hidden
        assert form.xpath(".//button[@type='submit']/text()") == ["Subscribe"]
        names = form.xpath(".//input[@type='text']/@name")
        assert names == {"listmonk": ["name"], "mailchimp": ["b_ab12_cd34"]}.get(provider, [])
    assert site.html("").xpath("//form[@role='search']/@action") == ["/search/"]


def test_no_provider_no_form_and_forms_post_only_to_the_site(make_site):
    site = make_site(ITEMS, SITE)
    assert site.build("--offline", "--no-search") == 0
    for page in site.pages():
        tree = site.html(page.relative_to(site.public).as_posix())
        assert not tree.xpath("//form[contains(@class,'subscribe')]"), page
        assert tree.xpath("//meta[@http-equiv='Content-Security-Policy']/@content") == [
            CONTENT_SECURITY_POLICY]
    assert "form-action 'self';" in (site.public / "_headers").read_text()


def test_a_sites_own_headers_file_is_copied_as_it_is(make_site):
    site = make_site(ITEMS, SITE + '[subscribe]\nprovider = "buttondown"\nusername = "x"\n')
    site.write("static/_headers", "/*\n  X-Frame-Options: DENY\n")
    assert site.build("--offline", "--no-search") == 0
    assert (site.public / "_headers").read_text() == "/*\n  X-Frame-Options: DENY\n"


@pytest.mark.parametrize(("settings", "expected"), [
    ('provider = "substack"', 'subscribe.provider: expected one of buttondown, listmonk, '
     'mailchimp, form (or "" for no form), got \'substack\''),
    ('provider = "buttondown"', 'subscribe.username: provider = "buttondown" needs it'),
    ('provider = "buttondown"\nusername = "a digest"', "subscribe.username: expected the "
     "newsletter's username"),
    ('provider = "form"\naction = "http://forms.example.net/f"', "subscribe.action: expected "
     "an https URL (readers' addresses are sent to it)"),
    ('provider = "form"\naction = "javascript:alert(1)"', "subscribe.action: expected an https"),
    ('provider = "listmonk"\nurl = "https://lists.example.org"\nlist = "newsletter"',
     "subscribe.list: expected the public list's UUID"),
    ('provider = "mailchimp"\naction = "https://evil.example/subscribe/post?u=a&id=b"',
     "subscribe.action: expected Mailchimp's embedded form action"),
    ('provider = "form"\naction = "https://f.example/x"\nusername = "me"',
     'subscribe.username: not read by provider = "form" (it reads action)'),
    ('action = "https://f.example/x"', "subscribe.action: not read without a provider"),
    ('provider = "form"\naction = 3', "subscribe.action: expected text, got int"),
    # the host goes into the CSP's form-action: no second source, no second directive
    ('provider = "form"\naction = "https://forms.example.net;report-uri https://x.example/"',
     "subscribe.action: not a host name"),
    ('provider = "form"\naction = "https://forms.example net/f"',
     "subscribe.action: not a host name"),
    ('provider = "listmonk"\nurl = "https://lists.example.org\'"\n'
     f'list = "{LIST_ID}"', "subscribe.url: not a host name"),
])
def test_bad_settings_are_one_located_line_each(make_site, capsys, settings, expected):
    site = make_site(ITEMS, SITE + f"[subscribe]\n{settings}\n")
    assert site.build("--offline") == 2
    err = capsys.readouterr().err
    assert f"site.toml: {expected}" in err
    assert "Traceback" not in err and not (site.public).exists()


def test_a_credential_in_the_action_is_refused_and_never_echoed(make_site, capsys):
    site = make_site(ITEMS, SITE + '[subscribe]\nprovider = "form"\n'
                     'action = "https://forms.example.net/f?api_key=s3cr3tvalue"\n')
    assert site.build("--offline") == 2
    err = capsys.readouterr().err
    assert "subscribe.action: the URL has a credential in it (?api_key=)" in err
    assert "s3cr3tvalue" not in err and len(err.strip().splitlines()) == 1


def test_the_form_submits_without_javascript_and_the_policy_lets_it(browser, make_site):
    """A real browser, scripts off: the email is required, then the form posts the provider's
    fields to its action (answered here by a route: no test reaches the internet) and the
    page's own CSP reports nothing."""
    settings, action, _, _ = PROVIDERS["listmonk"]
    site = make_site(ITEMS, SITE + f'[subscribe]\nprovider = "listmonk"\n{settings}\n')
    assert site.build("--offline", "--no-search") == 0
    posted: list[str] = []

    def answer(route):
        posted.append(route.request.post_data or "")
        route.fulfill(status=200, content_type="text/html", body="<p>Thanks</p>")

    with serve_folder(site.public) as base:
        context = browser.new_context(java_script_enabled=False)
        try:
            page = context.new_page()
            violations: list[str] = []
            page.on("console", lambda m: violations.append(m.text)
                    if "Content Security Policy" in m.text else None)
            page.route(action, answer)
            page.goto(base)
            form = page.locator("main form.subscribe-home")
            form.locator("button").click()  # empty: the browser refuses, nothing is sent
            assert posted == [] and page.url == base
            form.locator("input[type=email]").fill("reader@example.com")
            form.locator("input[name=name]").fill("Ada")
            with page.expect_navigation():
                form.locator("button").click()
            assert page.url == action
            assert parse_qs(posted[0], keep_blank_values=True) == {
                "email": ["reader@example.com"], "name": ["Ada"], "l": [LIST_ID], "nonce": [""]}
            assert violations == []
        finally:
            context.close()


def test_pages_with_the_form_pass_the_html_checker_and_axe(browser, make_site):
    axe_script = _tool("NEWSDIGEST_AXE_JS", "axe-core").read_text(encoding="utf-8")
    settings = PROVIDERS["mailchimp"][0]  # its bot trap is the one hidden field readers skip
    more = {f"content/2026-10-{day:02d}-x.md": item(f"Story {day}", f"2026-10-{day:02d}T09:00:00Z",
                                                    f"https://e.com/x{day}", topics=(f"T{day}",))
            for day in range(3, 8)}  # enough pages for the checker's own sanity check
    site = make_site(ITEMS | more, SITE + f'[subscribe]\nprovider = "mailchimp"\n{settings}\n')
    assert site.build("--offline", "--no-search") == 0
    java, jar = _validator()
    assert _checker_errors(java, jar, site.public) == []
    with serve_folder(site.public) as base:
        context = browser.new_context(viewport={"width": 390, "height": 900}, bypass_csp=True)
        try:
            tab = context.new_page()
            found = []
            for path in ("", "digest/weekly/2026-W40/"):
                tab.goto(base + path, wait_until="load")
                tab.add_script_tag(content=axe_script)
                result = tab.evaluate("axe.run(document, {resultTypes: ['violations']})")
                found += [f"/{path}: {rule['id']}: {[n['target'] for n in rule['nodes'][:3]]}"
                          for rule in result["violations"]]
        finally:
            context.close()
    assert found == []
