"""Requests to untrusted URLs (image downloads, source link checks): http(s) only, public
addresses only, bounded in bytes and in wall-clock time.

The address is checked where the socket connects, not in a separate look-up, so a host name
that resolves to a public address once and to 127.0.0.1 the next time (DNS rebinding) gets
nowhere. Redirects are followed here, hop by hop, with the same checks on each.

Each request has one deadline for all its hops, enforced by a watchdog that shuts its socket
down: a server that sends a byte a second answers every read within the socket timeout, and
is still cut off at the deadline, whatever http.client is waiting for (headers, body, TLS).
"""

from __future__ import annotations

import errno
import http.client
import ipaddress
import math
import socket
import ssl
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal
from urllib.parse import SplitResult, urljoin, urlsplit

AGENT = "newsdigest-images/1 (+https://pypi.org/project/newsdigest/)"
MAX_REDIRECTS = 4
DOWNLOAD_TIMEOUTS = 4  # a download's deadline, in timeouts (16 s with the default 4 s)
STAGE_TIMEOUTS = 15  # the deadline of a build's downloads together (60 s by default)
_REDIRECTS = {301, 302, 303, 307, 308}
_PERMANENT = {301, 308}
_IMAGE_ACCEPT = "image/avif,image/webp,image/*;q=0.8"
# What a machine without a working network gives, as opposed to a host that is down
_KEPT_HEADERS = ("etag", "last-modified", "content-type")
_NO_ROUTE = {errno.ENETUNREACH, errno.ENETDOWN, errno.EHOSTUNREACH}

# Why a request failed, for callers that must tell the URL's fault from their own:
# refused: the address rules; network: the name did not resolve or there is no route (what a
# machine without network gives); stage: the stage's deadline passed (nothing known of the
# URL); timeout: this request's own deadline or socket timeout; other: the server's answer.
Cause = Literal["refused", "network", "stage", "timeout", "other"]


@dataclass(frozen=True)
class FetchLimits:
    timeout: float  # to connect, and between two reads
    max_bytes: int
    allow_private: bool = False
    allow_loopback: bool = False
    seconds: float | None = None  # for the whole request, redirects included; None: 4 timeouts
    max_redirects: int = MAX_REDIRECTS

    @property
    def deadline(self) -> float:
        """For the whole request: a server that trickles bytes is cut off too."""
        return self.seconds if self.seconds is not None else self.timeout * DOWNLOAD_TIMEOUTS


class Lookups:
    """What the requests of one stage share (a build's image downloads, one link check): each
    host name is resolved once, and never waited on longer than the timeout (the C resolver
    has its own, of 5 s or more, for each try); and the stage's deadline, made when the
    first request is due: past it no request starts and those under way are cut off.

    `stage_seconds`: None for STAGE_TIMEOUTS timeouts, math.inf for no stage deadline.
    """

    def __init__(self, timeout: float, stage_seconds: float | None = None):
        self.timeout = timeout
        self.stage_seconds = timeout * STAGE_TIMEOUTS if stage_seconds is None else stage_seconds
        self.stage_ends = time.monotonic() + self.stage_seconds
        self._lock = threading.Lock()
        self._found: dict[str, Future] = {}

    def addresses(self, host: str, wait: float | None = None) -> list[tuple]:
        """The host's addresses; TimeoutError after `wait` seconds (at most the timeout)."""
        with self._lock:
            future = self._found.get(host)
            if future is None:
                future = self._found[host] = Future()
                # A daemon thread: one stuck in the resolver does not hold the process.
                threading.Thread(target=self._resolve, args=(host, future), daemon=True).start()
        try:
            return future.result(self.timeout if wait is None else min(wait, self.timeout))
        except FutureTimeout:
            raise LookupTimeout(f"looking up {host} timed out") from None

    @staticmethod
    def _resolve(host: str, future: Future) -> None:
        try:
            future.set_result(socket.getaddrinfo(host, None, type=socket.SOCK_STREAM))
        except OSError as exc:
            future.set_exception(exc)


class LookupTimeout(TimeoutError):
    """The resolver did not answer in time: the network's trouble more than the host's."""


class FetchFailed(Exception):
    """A request that did not give an answer. `lasting` failures will fail again (404,
    refused address); the others (timeout, no route) may pass later, so the page can still
    point at the URL. `cause` says whose fault it is (see Cause)."""

    def __init__(self, reason: str, lasting: bool, cause: Cause = "other"):
        super().__init__(reason)
        self.reason = reason
        self.lasting = lasting
        self.cause = cause

    @property
    def remember(self) -> bool:
        """Whether the failure says something of the URL, worth keeping in a cache: not when
        the stage ran out of time before or while asking it."""
        return self.cause != "stage"


@dataclass(frozen=True)
class Answer:
    """The last hop's answer: its status, the body when asked for, and where the first
    permanent redirect on the way pointed ('' if none)."""

    status: int
    body: bytes = b""
    moved: str = ""
    # The validators and type of a 200 answer (etag, last-modified, content-type), for
    # conditional requests (feed ingestion): lower-case names.
    headers: dict[str, str] = field(default_factory=dict)


class _Watchdog:
    """Shuts the request's sockets down at its deadline: a read blocked in the kernel returns
    at once, whatever the socket timeout, and the request then fails as timed out."""

    def __init__(self, ends: float):
        self.ends = ends
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer: threading.Timer | None = None
        if math.isfinite(ends):
            self._timer = threading.Timer(max(0.0, ends - time.monotonic()), self._expire)
            self._timer.daemon = True
            self._timer.start()

    @property
    def passed(self) -> bool:
        return self.expired or time.monotonic() >= self.ends

    def remaining(self) -> float:
        """Seconds left; TimeoutError when none are."""
        left = self.ends - time.monotonic()
        if left <= 0 or self.expired:
            raise TimeoutError("deadline passed")
        return left

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if self.expired:
                raise TimeoutError("deadline passed")
            self._sockets.append(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                try:
                    # socket.socket's own: SSLSocket.shutdown would also drop its TLS state
                    # under the reading thread. A closed socket has no descriptor left (-1),
                    # so this never reaches a descriptor reused by another connection.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def fetch(url: str, limits: FetchLimits, lookups: Lookups | None = None) -> bytes:
    """The body of `url`, following at most limits.max_redirects redirects; FetchFailed
    otherwise."""
    answer = request(url, "GET", limits, lookups, read_body=True,
                     headers={"User-Agent": AGENT, "Accept": _IMAGE_ACCEPT})
    if answer.status != 200:
        raise FetchFailed(f"HTTP {answer.status}", lasting=400 <= answer.status < 500)
    return answer.body


def request(url: str, method: str, limits: FetchLimits, lookups: Lookups | None = None,
            read_body: bool = False, headers: dict[str, str] | None = None,
            fallback: tuple[int, ...] = (), then: str = "") -> Answer:
    """Ask `url` with `method`, following redirects, every hop's address checked where it
    connects, all within one deadline (limits.deadline, and the stage's). When the answer's
    status is in `fallback`, ask again with the method `then` (a server that refuses HEAD),
    within the same deadline. FetchFailed for anything but an HTTP answer."""
    lookups = lookups or Lookups(limits.timeout, stage_seconds=math.inf)
    started = time.monotonic()
    stage_first = lookups.stage_ends <= started + limits.deadline
    if stage_first and started >= lookups.stage_ends:
        raise _stage_over(lookups)
    watchdog = _Watchdog(min(started + limits.deadline, lookups.stage_ends))
    try:
        answer = _follow(url, method, limits, lookups, watchdog, read_body, headers or {})
        if answer.status in fallback and then:
            answer = _follow(url, then, limits, lookups, watchdog, read_body, headers or {})
    except FetchFailed as exc:
        if watchdog.passed and exc.cause != "refused":
            raise _timed_out(stage_first, limits, lookups) from None
        raise
    finally:
        watchdog.stop()
    if watchdog.expired:  # the body may have been cut short by the shutdown
        raise _timed_out(stage_first, limits, lookups)
    return answer


def _timed_out(stage_first: bool, limits: FetchLimits, lookups: Lookups) -> FetchFailed:
    if stage_first:
        return _stage_over(lookups)
    return FetchFailed(f"timed out after {limits.deadline:g} s", lasting=False, cause="timeout")


def _stage_over(lookups: Lookups) -> FetchFailed:
    return FetchFailed(f"not fetched: all downloads together may take {lookups.stage_seconds:g} s"
                       " (the next build tries again)", lasting=False, cause="stage")


def _follow(url: str, method: str, limits: FetchLimits, lookups: Lookups, watchdog: _Watchdog,
            read_body: bool, headers: dict[str, str]) -> Answer:
    moved = ""
    for hop in range(limits.max_redirects + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchFailed(f"not an http(s) URL: {url[:80]}", lasting=True)
        try:
            status, location, body, kept = _exchange(parts, method, limits, lookups, watchdog,
                                                     read_body, headers)
        except FetchFailed as exc:
            if hop and exc.cause == "refused":  # say where the redirects led
                raise FetchFailed(f"{exc.reason}, redirected to {url[:80]}", lasting=True,
                                  cause="refused") from None
            raise
        except LookupTimeout as exc:
            raise FetchFailed(f"cannot connect: {exc}", lasting=False, cause="network") from None
        except TimeoutError:
            raise FetchFailed("timed out", lasting=False, cause="timeout") from None
        except socket.gaierror as exc:
            raise FetchFailed(f"cannot connect: {_short(exc)}", lasting=False,
                              cause="network") from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            cause: Cause = "network" if getattr(exc, "errno", None) in _NO_ROUTE else "other"
            raise FetchFailed(f"cannot connect: {_short(exc)}", lasting=False,
                              cause=cause) from None
        if status not in _REDIRECTS:
            return Answer(status, body, moved, kept)
        if not location:
            raise FetchFailed(f"HTTP {status} without a Location", lasting=True)
        url = urljoin(url, location)
        if status in _PERMANENT and not moved:
            moved = url
    raise FetchFailed(f"more than {limits.max_redirects} redirects", lasting=True)


class _Connection(http.client.HTTPConnection):
    """http.client's exchange over a socket connected (and, for https, wrapped) here: to an
    allowed address only, and watched by the request's watchdog from its first byte."""

    def __init__(self, parts: SplitResult, limits: FetchLimits, lookups: Lookups,
                 watchdog: _Watchdog):
        self.tls = parts.scheme == "https"
        self.default_port = 443 if self.tls else 80  # the Host header names other ports only
        super().__init__(parts.hostname or "", parts.port or self.default_port,
                         timeout=limits.timeout)
        self.limits = limits
        self.lookups = lookups
        self.watchdog = watchdog

    def connect(self) -> None:
        sock = _connect_checked(self.limits, self.lookups, self.watchdog, self.host, self.port)
        if self.tls:
            sock = _tls_context().wrap_socket(sock, server_hostname=self.host,
                                              do_handshake_on_connect=False)
            self.watchdog.watch(sock)  # the same descriptor, under the object that now reads
            sock.do_handshake()
        self.sock = sock


def _exchange(parts: SplitResult, method: str, limits: FetchLimits, lookups: Lookups,
              watchdog: _Watchdog, read_body: bool,
              headers: dict[str, str]) -> tuple[int, str, bytes, dict[str, str]]:
    connection = _Connection(parts, limits, lookups, watchdog)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(method, target, headers={**headers, "Accept-Encoding": "identity"})
        response = connection.getresponse()
        if response.status != 200 or not read_body:
            return response.status, response.getheader("Location", ""), b"", {}
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > limits.max_bytes:
            raise FetchFailed(f"larger than {limits.max_bytes // 1024} KB", lasting=True)
        kept = {name: value for name in _KEPT_HEADERS
                if (value := response.getheader(name, ""))}
        return 200, "", _read_capped(response, limits), kept
    finally:
        connection.close()


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    # Loading the system's certificates takes tens of milliseconds: once per process.
    return ssl.create_default_context()


def _read_capped(response: http.client.HTTPResponse, limits: FetchLimits) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read(64 * 1024):
        size += len(chunk)
        if size > limits.max_bytes:
            raise FetchFailed(f"larger than {limits.max_bytes // 1024} KB", lasting=True)
        chunks.append(chunk)
    return b"".join(chunks)


def _connect_checked(limits: FetchLimits, lookups: Lookups, watchdog: _Watchdog, host: str,
                     port: int) -> socket.socket:
    """Connect to the first allowed address of the host; the socket is bound to that address."""
    refused = ""
    last_error: OSError | None = None
    for family, kind, proto, _, found in lookups.addresses(host, watchdog.remaining()):
        sockaddr = (found[0], port, *found[2:])
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        why = refusal(ip, limits)
        if why:
            refused = f"refused {why} address {ip}"
            continue
        sock = socket.socket(family, kind, proto)
        try:
            watchdog.watch(sock)
            sock.settimeout(min(limits.timeout, watchdog.remaining()))
            sock.connect(sockaddr)
            sock.settimeout(limits.timeout)  # then between two reads; the watchdog for all
        except OSError as exc:
            sock.close()
            last_error = exc
            continue
        return sock
    if refused and last_error is None:
        raise FetchFailed(refused, lasting=True, cause="refused")
    raise last_error or OSError(f"no address for {host}")


def refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, limits: FetchLimits) -> str:
    """Why an address may not be fetched from ('' when it may)."""
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    if ip.is_loopback:  # first: ::1 is also in a reserved IPv6 block
        return "" if limits.allow_loopback or limits.allow_private else "loopback"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return "reserved"
    if ip.is_link_local:
        return "" if limits.allow_private else "link-local"
    if not ip.is_global:
        return "" if limits.allow_private else "private"
    return ""


def _short(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror):
        return "host not found"
    text = str(exc) or type(exc).__name__
    return text[:120]
