"""Download one image from an untrusted URL: http(s) only, public addresses only, bounded.

The address is checked where the socket connects, not in a separate look-up, so a host name
that resolves to a public address once and to 127.0.0.1 the next time (DNS rebinding) gets
nowhere. Redirects are followed here, hop by hop, with the same checks on each.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import lru_cache, partial
from urllib.parse import urljoin, urlsplit

AGENT = "newsdigest-images/1 (+https://pypi.org/project/newsdigest/)"
MAX_REDIRECTS = 4
_REDIRECTS = {301, 302, 303, 307, 308}


@dataclass(frozen=True)
class FetchLimits:
    timeout: float  # to connect, and between two reads
    max_bytes: int
    allow_private: bool = False
    allow_loopback: bool = False

    @property
    def deadline(self) -> float:
        """For the whole download: a server that trickles bytes is cut off too."""
        return self.timeout * 4


class Lookups:
    """The host name look-ups of one build: each host is resolved once, and never waited on
    longer than the timeout (the C resolver has its own, of 5 s or more, for each try)."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self._lock = threading.Lock()
        self._found: dict[str, Future] = {}

    def addresses(self, host: str) -> list[tuple]:
        with self._lock:
            future = self._found.get(host)
            if future is None:
                future = self._found[host] = Future()
                # A daemon thread: one stuck in the resolver does not hold the process.
                threading.Thread(target=self._resolve, args=(host, future), daemon=True).start()
        try:
            return future.result(self.timeout)
        except FutureTimeout:
            raise TimeoutError(f"looking up {host} timed out") from None

    @staticmethod
    def _resolve(host: str, future: Future) -> None:
        try:
            future.set_result(socket.getaddrinfo(host, None, type=socket.SOCK_STREAM))
        except OSError as exc:
            future.set_exception(exc)


class FetchFailed(Exception):
    """A download that did not give an image. `lasting` failures will fail again (404, refused
    address); the others (timeout, no route) may pass later, so the page can still point at the
    URL."""

    def __init__(self, reason: str, lasting: bool):
        super().__init__(reason)
        self.reason = reason
        self.lasting = lasting


def fetch(url: str, limits: FetchLimits, lookups: Lookups | None = None) -> bytes:
    """The body of `url`, following at most MAX_REDIRECTS redirects; FetchFailed otherwise."""
    started = time.monotonic()
    lookups = lookups or Lookups(limits.timeout)
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchFailed(f"not an http(s) URL: {url[:80]}", lasting=True)
        try:
            status, location, body = _get(parts, limits, lookups, started)
        except FetchFailed:
            raise
        except TimeoutError:
            raise FetchFailed("timed out", lasting=False) from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise FetchFailed(f"cannot connect: {_short(exc)}", lasting=False) from None
        if status in _REDIRECTS:
            if not location:
                raise FetchFailed(f"HTTP {status} without a Location", lasting=True)
            url = urljoin(url, location)
            continue
        if status != 200:
            raise FetchFailed(f"HTTP {status}", lasting=400 <= status < 500)
        return body
    raise FetchFailed(f"more than {MAX_REDIRECTS} redirects", lasting=True)


def _get(parts, limits: FetchLimits, lookups: Lookups,  # noqa: ANN001
         started: float) -> tuple[int, str, bytes]:
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    connection: http.client.HTTPConnection
    if https:
        connection = http.client.HTTPSConnection(parts.hostname, port, timeout=limits.timeout,
                                                 context=_tls_context())
    else:
        connection = http.client.HTTPConnection(parts.hostname, port, timeout=limits.timeout)
    # http.client connects through this attribute; HTTPS wraps the socket it returns.
    connection._create_connection = partial(_connect_checked, limits, lookups)  # type: ignore[attr-defined]
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("GET", target, headers={
            "User-Agent": AGENT, "Accept": "image/avif,image/webp,image/*;q=0.8",
            "Accept-Encoding": "identity"})
        response = connection.getresponse()
        if response.status != 200:
            return response.status, response.getheader("Location", ""), b""
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > limits.max_bytes:
            raise FetchFailed(f"larger than {limits.max_bytes // 1024} KB", lasting=True)
        return 200, "", _read_capped(response, limits, started)
    finally:
        connection.close()


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    # Loading the system's certificates takes tens of milliseconds: once per process.
    return ssl.create_default_context()


def _read_capped(response: http.client.HTTPResponse, limits: FetchLimits,
                 started: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read(64 * 1024):
        size += len(chunk)
        if size > limits.max_bytes:
            raise FetchFailed(f"larger than {limits.max_bytes // 1024} KB", lasting=True)
        if time.monotonic() - started > limits.deadline:
            raise FetchFailed("timed out", lasting=False)
        chunks.append(chunk)
    return b"".join(chunks)


def _connect_checked(limits: FetchLimits, lookups: Lookups, address: tuple[str, int],
                     timeout: float | None = None, source_address: object = None
                     ) -> socket.socket:
    """Connect to the first allowed address of the host; the socket is bound to that address."""
    host, port = address
    refused = ""
    last_error: OSError | None = None
    for family, kind, proto, _, found in lookups.addresses(host):
        sockaddr = (found[0], port, *found[2:])
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        why = refusal(ip, limits)
        if why:
            refused = f"refused {why} address {ip}"
            continue
        sock = socket.socket(family, kind, proto)
        sock.settimeout(timeout)
        try:
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            last_error = exc
            continue
        return sock
    if refused and last_error is None:
        raise FetchFailed(refused, lasting=True)
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
