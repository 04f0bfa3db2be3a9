"""Where a webhook may point: https on the public internet, checked at registration and
again before every delivery (DNS may change in between)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

MAX_URL_LENGTH = 2000


def _forbidden_address(address: str) -> str | None:
    """Why an address is not a public internet host (None: it is)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for name, flag in (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local (cloud metadata)", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
    ):
        if flag:
            return f"{address} is a {name} address"
    if not ip.is_global:
        return f"{address} is not a public internet address"
    return None


class ForbiddenAddress(Exception):
    """A webhook host that does not resolve, or resolves to a non-public address."""


def resolve_public(host: str, port: int) -> str:
    """The address to connect to for `host`: the first it resolves to, provided every
    address it resolves to is on the public internet (ForbiddenAddress otherwise)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise ForbiddenAddress(f"The host {host} does not resolve.") from None
    for info in infos:
        reason = _forbidden_address(str(info[4][0]))
        if reason is not None:
            raise ForbiddenAddress(f"The host {host} resolves to a forbidden address: {reason}.")
    return str(infos[0][4][0])


def url_refusal(url: str, *, allow_private: bool) -> str | None:
    """Why the worker must not send to this URL (None: it may).

    Checked at registration and again before every attempt, since DNS may change; the
    connection itself goes only where `resolve_public` says (`public_only_transport`).
    """
    if len(url) > MAX_URL_LENGTH:
        return f"At most {MAX_URL_LENGTH} characters."
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "Not a valid URL."
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "Give an absolute https:// URL."
    if parts.username is not None or parts.password is not None:
        return "Credentials in the URL are not accepted; authenticate by the signature."
    if allow_private:
        return None
    if parts.scheme != "https":
        return "Must be https."
    try:
        resolve_public(parts.hostname, port or 443)
    except ForbiddenAddress as refused:
        return str(refused)
    return None


class PublicOnlyBackend(httpcore.SyncBackend):
    """Opens connections only to the address `resolve_public` approves, so the address
    checked is the address connected to: DNS cannot answer the check with a public
    address and the connection with a private one (DNS rebinding). TLS still checks the
    certificate against the URL's host name."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            address = resolve_public(host, port)
        except ForbiddenAddress as refused:
            raise httpcore.ConnectError(str(refused)) from None
        return super().connect_tcp(address, port, timeout, local_address, socket_options)


def public_only_transport(limits: httpx.Limits) -> httpx.HTTPTransport:
    """An httpx transport whose connections go through `PublicOnlyBackend`."""
    transport = httpx.HTTPTransport(limits=limits, trust_env=False)
    # httpx offers no way to hand httpcore a network backend: give it its pool again,
    # built as httpx builds it, with ours.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=PublicOnlyBackend(),
    )
    return transport
