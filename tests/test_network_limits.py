"""Every network request against servers on 127.0.0.1 that drip, redirect to private
addresses, or are not there at all: one wall-clock deadline per request and per stage, the
address checked on every hop, and `check` that names files and says when it has no network."""

from __future__ import annotations

import io
import ipaddress
import json
import shutil
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import PIL.Image
import pytest
from conftest import REPO, Site, item

from newsdigest.build.pipeline import BuildOptions, build_site
from newsdigest.check import NO_NETWORK, check_sources
from newsdigest.cli import main
from newsdigest.config.site import load_config
from newsdigest.images import fetch as fetch_module
from newsdigest.images.fetch import FetchFailed, FetchLimits, Lookups, fetch

DRIP_EVERY = 0.02  # each read gets a byte well within any socket timeout used here
DRIP_FOR = 4.0  # then the server gives up: a request not cut by its deadline lasts this long


def _png() -> bytes:
    out = io.BytesIO()
    PIL.Image.new("RGB", (400, 300), (200, 80, 40)).save(out, "PNG")
    return out.getvalue()


PNG = _png()


class Handler(BaseHTTPRequestHandler):
    requests: Counter = Counter()
    dripping = True  # False: /drip-body answers at once, with PNG

    def do_GET(self) -> None:  # noqa: N802
        Handler.requests[self.path] += 1
        try:
            self._answer()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up: what a deadline does

    do_HEAD = do_GET  # noqa: N815

    def _answer(self) -> None:
        if self.path.startswith("/drip-headers"):
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            self._drip()
        elif self.path.startswith("/drip-body") and not Handler.dripping:
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            self.wfile.write(PNG)
        elif self.path.startswith("/drip-body"):
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n"
                             b"Content-Length: 100000\r\n\r\n")
            if self.command == "GET":
                self._drip()
        elif self.path in REDIRECTS:
            self.send_response(302)
            self.send_header("Location", REDIRECTS[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send_response(200 if self.path == "/ok" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def _drip(self) -> None:
        ends = time.monotonic() + DRIP_FOR
        while time.monotonic() < ends:
            self.wfile.write(b"x")
            time.sleep(DRIP_EVERY)

    def log_message(self, *args: object) -> None:
        pass


REDIRECTS = {
    "/to-metadata": "http://169.254.169.254/latest/meta-data/",  # the cloud's credentials
    "/to-private": "http://10.1.2.3/admin",
}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The address of every connection attempted."""
    made: list[str] = []
    connect = socket.socket.connect

    def spy(sock: socket.socket, address: tuple) -> None:
        made.append(address[0])
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", spy)
    return made


# --- point 8: a deadline per download, inside reads, and per stage ------------------------------

@pytest.mark.parametrize("path", ["/drip-headers", "/drip-body"])
def test_a_slow_drip_download_is_cut_at_its_deadline(server, path):
    limits = FetchLimits(0.5, 1_000_000, allow_loopback=True, seconds=1.0)
    started = time.monotonic()
    with pytest.raises(FetchFailed) as caught:
        fetch(server + path, limits)
    took = time.monotonic() - started
    assert caught.value.reason == "timed out after 1 s" and caught.value.cause == "timeout"
    assert 0.9 < took < 1.8, took  # each read returned within 0.5 s; the download did not


@pytest.fixture
def tls_drip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An https server, trusted by the fetcher for this test only, that answers with a body
    sent a byte at a time: the reads then wait inside the TLS library."""
    cert, key = _self_signed(tmp_path)
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(cert, key)
    client_side = ssl.create_default_context(cafile=str(cert))
    monkeypatch.setattr(fetch_module, "_tls_context", lambda: client_side)
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        raw, _ = listener.accept()
        try:
            with server_side.wrap_socket(raw, server_side=True) as conn:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                ends = time.monotonic() + DRIP_FOR
                while time.monotonic() < ends:
                    conn.sendall(b"x")
                    time.sleep(DRIP_EVERY)
        except OSError:
            pass  # the client gave up

    threading.Thread(target=serve, daemon=True).start()
    with listener:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}/picture.jpg"


def _self_signed(folder: Path) -> tuple[Path, Path]:
    pytest.importorskip("cryptography")  # installed with moto, for the S3 tests
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


def test_a_slow_drip_over_tls_is_cut_at_its_deadline(tls_drip):
    started = time.monotonic()
    with pytest.raises(FetchFailed) as caught:
        fetch(tls_drip, FetchLimits(0.5, 1_000_000, allow_loopback=True, seconds=1.0))
    assert caught.value.reason == "timed out after 1 s"
    assert 0.9 < time.monotonic() - started < 1.8


def test_past_the_stage_deadline_no_download_starts_and_none_goes_on(server):
    Handler.requests.clear()
    limits = FetchLimits(0.5, 1_000_000, allow_loopback=True, seconds=0.8)
    lookups = Lookups(0.5, stage_seconds=1.2)
    causes, times = [], []
    started = time.monotonic()
    for n in range(3):
        with pytest.raises(FetchFailed) as caught:
            fetch(f"{server}/drip-body?{n}", limits, lookups)
        causes.append((caught.value.cause, caught.value.remember))
        times.append(time.monotonic() - started)
    # the first has its own 0.8 s; the second is cut at the stage's 1.2 s; the third never asks
    assert causes == [("timeout", True), ("stage", False), ("stage", False)]
    assert times[0] < 1.1 and 1.1 < times[1] < 1.7 and times[2] - times[1] < 0.1, times
    assert sum(Handler.requests.values()) == 2


def test_a_build_stops_downloading_at_the_image_stage_deadline(make_site, server, monkeypatch):
    monkeypatch.delenv("NEWSDIGEST_OFFLINE")
    images = "\n  - url: \"{}\"\n    width: 800\n    height: 600"
    site = make_site(
        {f"content/s{n}.md": item(f"Story {n}", url=f"https://example.com/{n}",
                                  images=images.format(f"{server}/drip-body?{n}"))
         for n in range(8)},
        # 0.1 s timeout: 0.4 s a download, 1.5 s all together; one at a time
        '[site]\ntitle = "T"\nbase_url = "https://t.example/"\n'
        "[images]\nallow_loopback = true\ntimeout = 0.1\nconcurrency = 1\n")
    config = load_config(site.root / "site.toml")
    now = datetime(2026, 11, 20, tzinfo=UTC)
    started = time.monotonic()
    report = build_site(config, BuildOptions(workers=1, search=False, now=now))
    took = time.monotonic() - started
    stage = [reason for reason in report.images.fallbacks if "all downloads together" in reason]
    assert stage == ["not fetched: all downloads together may take 1.5 s "
                     "(the next build tries again)"]
    skipped = report.images.fallbacks[stage[0]]
    assert len(skipped) >= 3 and took < 3.5, (len(skipped), took)  # 8 x 0.4 s without it
    cache = json.loads((site.root / ".cache/images/index.json").read_text())
    assert not set(skipped) & set(cache["remote"])
    assert "timed out after 0.4 s" in report.images.fallbacks
    # the next build (same inputs, same clock) asks for what this one skipped, and gets it
    Handler.dripping = False
    try:
        again = build_site(config, BuildOptions(workers=1, search=False, now=now))
    finally:
        Handler.dripping = True
    assert again.images.fetched == len(skipped)


# --- point 13: `check --external` -----------------------------------------------------------------

def test_check_refuses_redirects_to_private_addresses_and_names_the_file(make_site, server,
                                                                         connections, capsys):
    site = make_site({f"content/{name}.md": item(name, url=f"{server}/{path}")
                      for name, path in [("meta", "to-metadata"), ("lan", "to-private"),
                                         ("fine", "ok")]},
                     '[site]\nbase_url = "https://x.example/"\n')
    assert site.build("--no-search") == 0
    # loopback allowed (the first hop is this test's server), private addresses not
    assert main(["check", "--config", str(site.root / "site.toml"), "--external",
                 "--allow-loopback"]) == 1
    out = capsys.readouterr().out.splitlines()
    meta = next(line for line in out if "to-metadata" in line)
    assert meta.startswith(f"{site.root / 'content/meta.md'} (https://x.example/news/")
    assert meta.endswith(": not checked (a private or loopback address): refused link-local "
                         "address 169.254.169.254, redirected to "
                         "http://169.254.169.254/latest/meta-data/")
    lan = next(line for line in out if "to-private" in line)
    assert lan.endswith("refused private address 10.1.2.3, redirected to http://10.1.2.3/admin")
    assert not [line for line in out if "/ok" in line]
    # refused where the socket would connect: no packet ever left for them
    assert "127.0.0.1" in connections
    assert not {"169.254.169.254", "10.1.2.3"} & set(connections)


def test_check_cuts_a_slow_drip_source_at_its_deadline(server):
    started = time.monotonic()
    checked = check_sources([("https://x.example/news/a/", f"{server}/drip-headers")], None,
                            time.time(), timeout=0.5, deadline=1.0, allow_loopback=True)
    took = time.monotonic() - started
    assert [f.message for f in checked.findings] == [
        f"source {server}/drip-headers: unreachable (timed out after 1 s)"]
    assert 0.9 < took < 1.8, took


def test_without_network_check_says_so_once_and_caches_nothing(make_site, monkeypatch, capsys):
    def no_network(*args: object, **kwargs: object) -> list:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    site = make_site({f"content/s{n}.md": item(f"S{n}", url=f"https://host{n}.example/{n}")
                      for n in range(3)}, '[site]\nbase_url = "https://x.example/"\n')
    assert site.build("--no-search") == 0
    for _ in range(2):  # the second run asks again: nothing was remembered
        assert main(["check", "--config", str(site.root / "site.toml"), "--external"]) == 1
        captured = capsys.readouterr()
        assert captured.err.count(NO_NETWORK) == 1 and "source" not in captured.out
        assert "0 problems" in captured.err
    cache = site.root / ".cache/sources.json"
    assert not cache.exists() or json.loads(cache.read_text()) == {}
    # one host that does not resolve is that host's problem: reported, still not remembered
    site.write("content/s1.md", item("S1", url="https://host0.example/again"))
    site.write("content/s2.md", item("S2", url="https://host0.example/more"))
    assert site.build("--no-search") == 0
    assert main(["check", "--config", str(site.root / "site.toml"), "--external"]) == 1
    captured = capsys.readouterr()
    assert NO_NETWORK not in captured.err
    assert "source https://host0.example/0: unreachable (host not found)" in captured.out
    assert not cache.exists() or json.loads(cache.read_text()) == {}


# --- point 5: `check` of a site built with --base-url --------------------------------------------

def test_check_reads_the_base_url_the_site_was_built_with(tmp_path, capsys):
    site = Site(tmp_path / "sample")
    for name in ("content", "static", "templates"):
        shutil.copytree(REPO / name, site.root / name)
    shutil.copy(REPO / "site.toml", site.root / "site.toml")
    settings = ["--config", str(site.root / "site.toml")]
    assert site.build("--no-search", "--base-url", "https://x.org/digest/") == 0
    assert main(["check", *settings]) == 0
    assert "0 problems" in capsys.readouterr().err
    # the site.toml's base URL, given explicitly, is not the one the pages were made with
    assert main(["check", *settings, "--base-url", "https://digest.example.org/"]) == 1
    assert "broken link -> /digest/" in capsys.readouterr().out
    # an incremental build for another base URL records it too
    assert site.build("--no-search", "--base-url", "https://y.example/news/") == 0
    assert main(["check", *settings]) == 0
    assert (site.public / ".newsdigest").read_text().endswith("base_url: https://y.example/news/\n")
