"""Where a webhook may point: https on the public internet, checked at registration and
again before every delivery (DNS may change in between)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

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


def url_refusal(url: str, *, allow_private: bool) -> str | None:
    """Why the worker must not send to this URL (None: it may).

    Checked at registration and again before every attempt, since DNS may change.
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
        infos = socket.getaddrinfo(
            parts.hostname, port or 443, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (socket.gaierror, UnicodeError):
        return f"The host {parts.hostname} does not resolve."
    for info in infos:
        reason = _forbidden_address(str(info[4][0]))
        if reason is not None:
            return f"The host {parts.hostname} resolves to a forbidden address: {reason}."
    return None
