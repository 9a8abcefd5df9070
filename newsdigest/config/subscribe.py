"""The [subscribe] section of site.toml: the mailing tool a reader's subscribe form posts to.

Each provider's own public form, as its embed code writes it: the action URL and the field
names its server reads. The form is plain HTML (it works without JavaScript) and the pages'
Content-Security-Policy allows its one origin as a form action, nothing more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from newsdigest.urls import DOMAIN

PROVIDERS = ("buttondown", "listmonk", "mailchimp", "form")
# The settings each provider reads; any other one given is a mistake worth saying.
_NEEDS = {"buttondown": ("username",), "listmonk": ("url", "list"),
          "mailchimp": ("action",), "form": ("action",)}
_USERNAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # a Buttondown newsletter's name
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class SubscribeSettings:
    provider: str = ""  # empty: no subscribe form
    username: str = ""  # buttondown: the newsletter's username
    url: str = ""  # listmonk: the address listmonk is served at
    list: str = ""  # listmonk: the public list's UUID
    action: str = ""  # mailchimp: the embedded form's action URL; form: any https action


@dataclass(frozen=True)
class SubscribeForm:
    """What the form partial lays out: where it posts and the fields the provider reads."""

    provider: str
    action: str  # https URL
    email_field: str  # the name of the email input
    hidden: tuple[tuple[str, str], ...] = ()  # (name, value) sent as they are
    name_field: str = ""  # an optional name input ('' for none)
    trap: str = ""  # a bot-trap text input humans never see or fill ('' for none)

    @property
    def origin(self) -> str:
        """The one origin the pages' CSP allows forms to post to (its host checked by
        parse_subscribe: a space or a ';' in it would add a source or a directive)."""
        parts = urlsplit(self.action)
        return f"https://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def subscribe_form(settings: SubscribeSettings) -> SubscribeForm | None:
    """The form of the settings (already validated by `parse_subscribe`); None without one."""
    provider = settings.provider
    if provider == "buttondown":
        # Buttondown's embed code: POST `email` (and embed=1) to the newsletter's endpoint.
        return SubscribeForm(provider, "https://buttondown.com/api/emails/embed-subscribe/"
                             + quote(settings.username), "email", (("embed", "1"),))
    if provider == "listmonk":
        # listmonk's public subscription form: `email`, an optional `name`, `l` the list UUID
        # (and `nonce`, which its server wants empty: a field bots fill).
        return SubscribeForm(provider, settings.url.rstrip("/") + "/subscription/form",
                             "email", (("l", settings.list), ("nonce", "")), "name")
    if provider == "mailchimp":
        # Mailchimp's embedded form: `EMAIL`, and the off-screen `b_<u>_<id>` input its server
        # takes as a bot's when filled.
        query = dict(parse_qsl(urlsplit(settings.action).query))
        return SubscribeForm(provider, settings.action, "EMAIL",
                             trap=f"b_{query['u']}_{query['id']}")
    if provider == "form":
        return SubscribeForm(provider, settings.action, "email")
    return None


def parse_subscribe(data: Any, problems: list[str]) -> SubscribeSettings:
    """[subscribe] values; each bad one reported in `problems`, naming the setting and a fix.
    URLs are never quoted back: site.toml's credential check speaks of those that hold one."""
    if data is None:
        return SubscribeSettings()
    if not isinstance(data, dict):
        problems.append("[subscribe]: expected a table")
        return SubscribeSettings()
    known = {f.name for f in fields(SubscribeSettings)}
    values: dict[str, str] = {}
    for key, value in data.items():
        if key not in known:
            problems.append(f"subscribe.{key}: unknown setting (known: "
                            f"{', '.join(sorted(known))})")
        elif not isinstance(value, str):
            problems.append(f"subscribe.{key}: expected text, got {type(value).__name__}")
        else:
            values[key] = value.strip()
    provider = values.get("provider", "")
    if provider and provider not in PROVIDERS:
        problems.append(f"subscribe.provider: expected one of {', '.join(PROVIDERS)} "
                        f'(or "" for no form), got {provider!r}')
        return SubscribeSettings()
    for key in sorted(k for k in values if k != "provider" and values[k]):
        if key not in _NEEDS.get(provider, ()):
            problems.append(f"subscribe.{key}: not read " + (
                f'by provider = "{provider}" (it reads {", ".join(_NEEDS[provider])})'
                if provider else "without a provider (set subscribe.provider)"))
    for key in _NEEDS.get(provider, ()):
        if not values.get(key):
            problems.append(f'subscribe.{key}: provider = "{provider}" needs it')
    username, url, list_id = (values.get(k, "") for k in ("username", "url", "list"))
    action = values.get("action", "")
    if provider == "buttondown" and username and not _USERNAME.match(username):
        problems.append("subscribe.username: expected the newsletter's username "
                        "(letters, digits, - and _), as in buttondown.com/USERNAME")
    if provider == "listmonk":
        if url:
            _check_https(url, "subscribe.url", "the address listmonk is served at, "
                         "e.g. https://lists.example.org", problems, path_ok=True)
        if list_id and not _UUID.match(list_id):
            problems.append("subscribe.list: expected the public list's UUID (listmonk: "
                            "Lists > the list > UUID), e.g. 5e43c2ab-9a1b-4c1e-8f0e-4d1c2b3a4f5e")
    if provider == "mailchimp" and action:
        if _check_https(action, "subscribe.action", "the form action of Mailchimp's "
                        "embedded form code", problems, path_ok=True, query_ok=True):
            parts = urlsplit(action)
            query = dict(parse_qsl(parts.query))
            if (not (parts.hostname or "").endswith(".list-manage.com")
                    or parts.path.rstrip("/") != "/subscribe/post"
                    or not query.get("u") or not query.get("id")):
                problems.append("subscribe.action: expected Mailchimp's embedded form action, "
                                "https://<account>.<dc>.list-manage.com/subscribe/post?u=...&id=..."
                                " (Audience > Signup forms > Embedded forms)")
    if provider == "form" and action:
        _check_https(action, "subscribe.action", "the https URL your form posts to",
                     problems, path_ok=True, query_ok=True)
    return SubscribeSettings(**values)


def _check_https(url: str, setting: str, what: str, problems: list[str], *,
                 path_ok: bool = False, query_ok: bool = False) -> bool:
    """Whether `url` is an https URL of the accepted shape; says why not in `problems`."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is no number
    except ValueError:
        problems.append(f"{setting}: not a valid URL; expected {what}")
        return False
    if parts.scheme != "https" or not parts.hostname:
        problems.append(f"{setting}: expected an https URL (readers' addresses are sent to "
                        f"it): {what}")
        return False
    if parts.username is not None or parts.password is not None:
        return False  # site.toml's credential check says it (without quoting the URL)
    if not DOMAIN.fullmatch(parts.hostname):
        problems.append(f"{setting}: not a host name (letters, digits, - and . only; "
                        f"the pages' Content-Security-Policy names it): {what}")
        return False
    if (parts.query and not query_ok) or parts.fragment or (parts.path.strip("/")
                                                             and not path_ok):
        problems.append(f"{setting}: expected {what}, without a query or fragment")
        return False
    return True
