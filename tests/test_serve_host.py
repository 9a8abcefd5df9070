"""The preview server answers only under its own name (issue 18, point 15): a DNS-rebinding page,
whose requests carry the attacker's host name, gets 421 for pages, drafts, the event stream and
the error pages alike. Real requests over loopback sockets, each with the Host header it forges."""

from __future__ import annotations

import http.client

import pytest
from conftest import item
from test_serve import FIRST_PAGE, SITE, Served, serve  # noqa: F401 - `serve` is a fixture

from newsdigest.serve.server import host_allowed

DRAFT = "content/2026-10-03-draft.md"
PATHS = ["/", "/" + FIRST_PAGE, "/news/2026/10/03/draft/", "/__newsdigest/events?since=x.0",
         "/__newsdigest/reload.js", "/no/such/page/", "/feed.xml", "/topics/ai"]


def request(served: Served, path: str, hosts: list[str], method: str = "GET"
            ) -> tuple[int, bytes]:
    """One request with exactly these Host headers, over a socket to the server's address."""
    address, port = served.url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    connection = http.client.HTTPConnection(address.strip("[]"), int(port), timeout=5)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for host in hosts:
            connection.putheader("Host", host)
        connection.endheaders()
        response = connection.getresponse()
        if response.getheader("Content-Type", "").startswith("text/event-stream"):
            return response.status, response.read1()  # a stream: its first chunk
        return response.status, response.read()
    finally:
        connection.close()


def port_of(served: Served) -> str:
    return served.url.rstrip("/").rsplit(":", 1)[1]


@pytest.fixture
def served(serve) -> Served:  # noqa: F811 - the imported fixture
    return serve({**SITE, DRAFT: item("Secret draft", "2026-10-03T10:00:00Z",
                                      "https://example.com/3", published="false")})


def test_another_host_name_gets_421_on_every_path_and_method(served):
    port = port_of(served)
    forged = [[f"rebind.example:{port}"], ["rebind.example"], [f"127.0.0.1.rebind.example:{port}"],
              [f"localhost.rebind.example:{port}"], ["[::1].rebind.example"], [""],
              [f"127.0.0.1:{port}", f"rebind.example:{port}"]]  # two Host headers
    for path in PATHS:
        for method in ("GET", "HEAD", "POST"):
            for hosts in forged:
                status, body = request(served, path, hosts, method)
                assert status == 421, (path, method, hosts)
                assert b"Secret draft" not in body and b"event:" not in body
                assert b"<" not in body  # no page at all, not even the 404 page


def test_the_names_of_the_bound_address_are_answered(served):
    port = port_of(served)
    for hosts in ([f"127.0.0.1:{port}"], ["127.0.0.1"], [f"localhost:{port}"], ["LocalHost"],
                  [f"[::1]:{port}"], ["[::1]"], [f"localhost.:{port}"]):
        status, body = request(served, "/news/2026/10/03/draft/", hosts)
        assert status == 200 and b"Secret draft" in body, hosts
        assert request(served, "/__newsdigest/events?since=x.0", hosts)[1].startswith(
            b"retry:"), hosts
    assert request(served, "/no/such/page/", [f"localhost:{port}"])[0] == 404


def test_the_host_given_is_answered_as_well(serve):  # noqa: F811
    served = serve(SITE, host="127.0.0.2")  # loopback too, but a name of its own
    port = port_of(served)
    assert served.url == f"http://127.0.0.2:{port}/"
    for name in ("127.0.0.2", "127.0.0.1", "localhost"):
        assert request(served, "/", [f"{name}:{port}"])[0] == 200, name
    assert request(served, "/", [f"rebind.example:{port}"])[0] == 421


def test_host_names_accepted_for_each_bound_address():
    assert host_allowed("myhost.lan:8000", "myhost.lan")
    assert host_allowed("[::1]:8000", "::1") and host_allowed("[::1]:8000", "[::1]")
    assert not host_allowed("myhost.lan:8000", "127.0.0.1")
    # Listening on every address: any IP address is this machine's (a rebinding page always
    # has a domain name), a domain name is not.
    for wildcard in ("0.0.0.0", "::", ""):
        assert host_allowed("192.0.2.7:8000", wildcard)
        assert host_allowed("[2001:db8::1]:8000", wildcard)
        assert not host_allowed("rebind.example:8000", wildcard)
    for malformed in ("localhost:80:80", "::1", "[::1", "[::1]x", "localhost:x", "localhost:٣",
                      ":8000", "[]"):
        assert not host_allowed(malformed, "127.0.0.1"), malformed
    assert host_allowed(None, "127.0.0.1")  # no Host at all: a hand-made HTTP/1.0 request
