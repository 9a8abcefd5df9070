"""`newsdigest serve`: the preview server with live reload.

Pieces: an HTTP server for the output folder (stdlib, one thread per request), a watcher that
hands over debounced batches of changes (watcher.py), the rebuild routing (preview.py), and a
Server-Sent Events stream that tells each open page what changed so it reloads itself, swaps
its stylesheets, or shows the build errors in an overlay. The reload script is added to HTML
responses as they are sent, so the files on disk never contain it.
"""

from __future__ import annotations

import errno
import ipaddress
import secrets
import socket
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, quote, unquote, urlsplit

from newsdigest.build.pipeline import BuildOptions
from newsdigest.config.site import SiteConfig
from newsdigest.errors import NewsdigestError, UsageError
from newsdigest.render.structured import inert_json
from newsdigest.serve.rebuild import ErrorEntry, Preview, Rebuild
from newsdigest.serve.watcher import Watcher

RESERVED = "/__newsdigest/"  # the server's own files; never looked up in the output folder
CLIENT_DIR = Path(__file__).parent / "client"
CLIENT_FILES = {"reload.js": "text/javascript; charset=utf-8",
                "overlay.css": "text/css; charset=utf-8"}
PING_SECONDS = 15.0  # keeps proxies from closing an idle event stream; finds closed tabs
HISTORY = 200  # reloads remembered for pages that connect late or come back from a hidden tab

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".xml": "application/xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".pdf": "application/pdf",
}
_FALLBACK_404 = (b"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                 b"<title>Not found</title></head><body><h1>Not found</h1>"
                 b"<p>No page here (the site may not have been built yet).</p></body></html>\n")


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000


class ServeLog(Protocol):
    """Where the server reports each rebuild (the CLI prints them)."""

    def rebuilt(self, rebuild: Rebuild, cause: str, config: SiteConfig) -> None: ...


class PortInUse(UsageError):
    """The port is taken by another program."""


def is_loopback(host: str) -> bool:
    """True when only this machine can reach the address."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
_WILDCARDS = frozenset({"", "0.0.0.0", "::"})


def host_allowed(header: str | None, bound: str) -> bool:
    """Whether a request's Host header names the address the server was bound to.

    A DNS-rebinding page reaches this server under its own domain name: its requests carry that
    name, which is refused, so it can read neither drafts nor build errors. Answered: the
    loopback names, the --host given, and when listening on every address, any IP address
    (a rebinding page never has one as its name). Any port: a forwarded port keeps the name.
    """
    if header is None:
        return True  # only a hand-made request omits it; every browser sends one
    name = _host_name(header.strip().lower())
    if name is None:
        return False
    bound = bound.strip("[]").lower()
    if name in LOOPBACK_NAMES or (name == bound and bound not in _WILDCARDS):
        return True
    if bound in _WILDCARDS:
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True
    return False


def _host_name(value: str) -> str | None:
    """The name in a Host header value (an IPv6 address without its brackets), or None when
    the value is not a name with an optional numeric port."""
    if value.startswith("["):
        name, bracket, rest = value[1:].partition("]")
        if not bracket:
            return None
    else:
        name, colon, port = value.partition(":")
        rest = colon + port
        name = name.removesuffix(".")  # 'localhost.' is the same name, fully qualified
    if rest and not (rest[0] == ":" and rest[1:].isascii() and rest[1:].isdigit()):
        return None  # also an IPv6 address without brackets
    return name or None


class PreviewServer:
    """Binds at once (so a taken port fails fast), builds on start(), serves until stop()."""

    def __init__(self, make_config: Callable[[str], SiteConfig], options: BuildOptions,
                 serve: ServeOptions, log: ServeLog, config_file: Path | None):
        self._http = _bind(serve.host, serve.port)
        try:
            port = self._http.server_address[1]
            self.url = f"http://{_url_host(serve.host)}:{port}/"
            self.preview = Preview(lambda: make_config(self.url), options)
        except BaseException:
            self._http.server_close()
            raise
        self.hub = Broadcast()
        self._http.bound_host = serve.host
        self._http.preview = self.preview
        self._http.hub = self.hub
        self._log = log
        self._config_file = config_file
        self._watcher: Watcher | None = None
        self._serving: threading.Thread | None = None

    def start(self) -> Rebuild:
        """Watch, build once, then answer requests (errors included: they show in the page)."""
        self._watcher = Watcher(self.preview.sources(self._config_file))
        self._watcher.start()  # before the build, so an edit made during it is not lost
        first = self.preview.build()
        self._publish(first, "")
        self._serving = threading.Thread(target=self._http.serve_forever, kwargs={
            "poll_interval": 0.2}, name="newsdigest-http", daemon=True)
        self._serving.start()
        return first

    def run(self) -> None:
        """Rebuild on each batch of changes until stop() (or Ctrl-C in the calling thread)."""
        assert self._watcher is not None, "start() first"
        root = self.preview.config.content_dir.parent
        while (changes := self._watcher.next_batch()) is not None:
            cause = changes.describe(root)
            self.preview.rebuild(changes, partial(self._publish, cause=cause))
            self._watcher.watch(self.preview.sources(self._config_file))

    def stop(self) -> None:
        """Make run() return; safe from any thread."""
        if self._watcher is not None:
            self._watcher.close()

    def close(self) -> None:
        """Stop watching, end the event streams, close the socket."""
        self.stop()
        self.hub.close()
        if self._serving is not None:
            self._http.shutdown()
            self._serving.join(timeout=5)
            self._serving = None
            self.preview.close()
        self._http.server_close()

    def _publish(self, rebuild: Rebuild, cause: str) -> None:
        if not rebuild.ok:
            self.hub.set_errors(rebuild.errors)
        else:
            if rebuild.kind == "build":
                self.hub.set_errors(())
            if rebuild.changed is None:
                self.hub.reload(None)
            elif rebuild.changed:
                self.hub.reload(tuple("/" + path for path in rebuild.changed))
        self._log.rebuilt(rebuild, cause, self.preview.config)


class Broadcast:
    """Build news for the open pages: numbered reloads and the current errors.

    Every page is served with the number of the last reload before it was read; its event
    stream starts from that number, so a change written while the page was loading, or while
    its tab was hidden, still reaches it.
    """

    def __init__(self) -> None:
        self.instance = secrets.token_hex(4)  # a restarted server is another instance
        self._cond = threading.Condition()
        self._number = 0
        self._reloads: deque[tuple[int, tuple[str, ...] | None]] = deque(maxlen=HISTORY)
        self._forgotten = 0  # the newest reload no longer in the history
        self._errors: tuple[ErrorEntry, ...] = ()
        self._errors_number = 0
        self._closed = False

    def token(self) -> str:
        with self._cond:
            return f"{self.instance}.{self._number}"

    def reload(self, paths: tuple[str, ...] | None) -> None:
        """Tell pages that these site paths changed (None: anything may have)."""
        with self._cond:
            self._number += 1
            if len(self._reloads) == HISTORY:
                self._forgotten = self._reloads[0][0]
            self._reloads.append((self._number, paths))
            self._cond.notify_all()

    def set_errors(self, errors: tuple[ErrorEntry, ...]) -> None:
        with self._cond:
            if errors != self._errors:
                self._number += 1
                self._errors, self._errors_number = errors, self._number
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def stream(self, since: str) -> Iterator[bytes]:
        """Server-Sent Events for one page, from its token on, until the server closes."""
        instance, _, number = since.partition(".")
        with self._cond:
            if instance != self.instance or not number.isdigit():
                cursor, missed = self._number, [None]  # a page from before a restart: reload
            else:
                cursor = min(int(number), self._number)
                missed = self._paths_after(cursor)
                cursor = self._number
            errors = self._errors
        yield b"retry: 1000\n\n"
        yield _event("status", {"errors": [asdict(e) for e in errors]})
        if missed:
            yield self._reload_event(missed)
        while True:
            with self._cond:
                if self._number == cursor and not self._closed:
                    self._cond.wait(PING_SECONDS)
                if self._closed:
                    return
                news = self._paths_after(cursor)
                errors_changed = self._errors_number > cursor
                errors, cursor = self._errors, self._number
            if errors_changed:
                yield _event("status", {"errors": [asdict(e) for e in errors]})
            if news:
                yield self._reload_event(news)
            if not (news or errors_changed):
                yield b": ping\n\n"

    def _paths_after(self, cursor: int) -> list[tuple[str, ...] | None]:
        if cursor < self._forgotten:
            return [None]  # older than the history: assume everything changed
        return [paths for number, paths in self._reloads if number > cursor]

    def _reload_event(self, batches: list[tuple[str, ...] | None]) -> bytes:
        if any(paths is None for paths in batches):
            merged: list[str] | None = None
        else:
            merged = sorted({path for paths in batches for path in paths or ()})
        return _event("reload", {"paths": merged, "build": self.token()})


def _event(name: str, data: object) -> bytes:
    return f"event: {name}\ndata: {inert_json(data)}\n\n".encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # open event streams must not hold up the exit
    bound_host = "127.0.0.1"  # --host: the Host headers answered are this one's (host_allowed)
    preview: Preview
    hub: Broadcast

    def handle_error(self, request: object, client_address: object) -> None:
        """A browser closing its connection is routine; anything else is a bug worth a trace."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


def _bind(host: str, port: int) -> _Server:
    server_class = _Server6 if ":" in host else _Server
    try:
        return server_class((host.strip("[]"), port), _Handler)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(
                f"port {port} on {host} is already in use (another server is running?); "
                f"stop it or choose another port with --port"
            ) from None
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EACCES) or isinstance(exc, socket.gaierror):
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        raise NewsdigestError(f"cannot listen on {host}:{port}: {exc}") from None


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0", "::", "[::]"):
        return "127.0.0.1"  # listening everywhere; this machine reaches it through loopback
    return f"[{host.strip('[]')}]" if ":" in host else host


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "newsdigest-serve"
    timeout = 60  # seconds a kept-alive connection may sit idle before its thread lets go
    _send_body = True

    def parse_request(self) -> bool:
        """Refuse, before any method sees it, a request made under another host's name."""
        if not super().parse_request():
            return False
        hosts = self.headers.get_all("Host") or []
        if len(hosts) <= 1 and host_allowed(hosts[0] if hosts else None,
                                            self.server.bound_host):
            return True
        self._send_body = self.command != "HEAD"
        self.close_connection = True
        self._send(HTTPStatus.MISDIRECTED_REQUEST,
                   b"misdirected request: this preview answers only under the name it listens "
                   b"on (127.0.0.1, localhost, [::1] or the --host given)\n",
                   "text/plain; charset=utf-8", extra={"Connection": "close"})
        return False

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        self._answer(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(send_body=False)

    def _refuse(self) -> None:
        self.close_connection = True  # its request body, if any, is not read
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"method not allowed\n",
                   "text/plain; charset=utf-8", extra={"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse  # noqa: N815

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Requests are not logged: the terminal is for build news."""

    def _answer(self, send_body: bool) -> None:
        self._send_body = send_body
        url_path = urlsplit(self.path).path
        if url_path.startswith(RESERVED):
            self._reserved(url_path[len(RESERVED):])
            return
        token = self.server.hub.token()  # before reading: a later write means a reload
        found = locate(self.server.preview.output_dir, url_path)
        if isinstance(found, Redirect):
            self._send(HTTPStatus.MOVED_PERMANENTLY, b"", "text/plain; charset=utf-8",
                       extra={"Location": found.location})
        elif found is None:
            self._not_found(token)
        else:
            try:
                data = found.read_bytes()
            except OSError:
                self._not_found(token)
                return
            content_type = content_type_for(found)
            if content_type.startswith("text/html"):
                data = inject(data, token, 200)
            self._send(HTTPStatus.OK, data, content_type)

    def _not_found(self, token: str) -> None:
        page = self.server.preview.output_dir / "404.html"
        try:
            data = page.read_bytes()
        except OSError:
            data = _FALLBACK_404
        self._send(HTTPStatus.NOT_FOUND, inject(data, token, 404), "text/html; charset=utf-8")

    def _reserved(self, name: str) -> None:
        if name == "events":
            since = parse_qs(urlsplit(self.path).query).get("since", [""])[0]
            self._events(since)
        elif name in CLIENT_FILES:
            self._send(HTTPStatus.OK, (CLIENT_DIR / name).read_bytes(), CLIENT_FILES[name])
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")

    def _events(self, since: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if not self._send_body:
            return
        try:
            for chunk in self.server.hub.stream(since):
                self.wfile.write(chunk)
                self.wfile.flush()
        except OSError:
            return  # the tab went away

    def _send(self, status: HTTPStatus, body: bytes, content_type: str,
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")  # every request sees the latest build
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self._send_body:
            try:
                self.wfile.write(body)
            except OSError:
                self.close_connection = True


@dataclass(frozen=True)
class Redirect:
    location: str


def locate(root: Path, url_path: str) -> Path | Redirect | None:
    """The file of the output folder a URL path names, a redirect to add '/', or None.

    None for anything that could leave the folder: '..' or '.' segments (also percent-encoded),
    backslashes, NUL, hidden files, and symbolic links that point outside.
    """
    try:
        decoded = unquote(url_path, errors="strict")
    except UnicodeDecodeError:
        return None
    if "\x00" in decoded or "\\" in decoded:
        return None
    segments = [s for s in decoded.split("/") if s]
    if any(s in (".", "..") or s.startswith(".") for s in segments):
        return None
    try:
        base = root.resolve(strict=True)
        candidate = base.joinpath(*segments)
        if candidate.is_dir():
            if not decoded.endswith("/"):
                return Redirect("/" + "/".join(quote(s) for s in segments) + "/")
            candidate = candidate / "index.html"
        real = candidate.resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return None
    if not real.is_relative_to(base) or not real.is_file():
        return None
    return real


def content_type_for(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")


def inject(html: bytes, token: str, status: int) -> bytes:
    """The page with the reload script added at the end of its <head> (or body, or file)."""
    tag = (f'<script src="{RESERVED}reload.js" data-build="{token}" data-status="{status}" '
           f"defer></script>\n").encode()
    lower = html.lower()
    at = lower.find(b"</head>")
    if at < 0:
        at = lower.rfind(b"</body>")
    if at < 0:
        return html + tag
    return html[:at] + tag + html[at:]
