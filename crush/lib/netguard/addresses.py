"""Which addresses a request may go to, and the address a numeric host names (read like inet_aton)."""

from __future__ import annotations

import ipaddress
import re

from crush.lib.netguard.errors import UrlRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# --- address policy -------------------------------------------------------------------------------

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# Never a destination, even with allow_private: nothing can answer from these (and Linux quietly routes a
# connect to 0.0.0.0 to the local host).
_NEVER_V4 = [
    (_V4("0.0.0.0/8"), "an unspecified"),
    (_V4("224.0.0.0/4"), "a multicast"),
    (_V4("255.255.255.255/32"), "a broadcast"),
]
_NEVER_V6 = [
    (_V6("::/128"), "an unspecified"),
    (_V6("ff00::/8"), "a multicast"),
]

# Not globally routable (IANA special-purpose registries); refused unless allow_private.
_SPECIAL_V4 = [
    (_V4("10.0.0.0/8"), "a private"),
    (_V4("100.64.0.0/10"), "a shared (carrier-grade NAT)"),
    (_V4("127.0.0.0/8"), "a loopback"),
    (_V4("169.254.0.0/16"), "a link-local"),  # includes the cloud metadata address 169.254.169.254
    (_V4("172.16.0.0/12"), "a private"),
    (_V4("192.0.0.0/24"), "a reserved"),
    (_V4("192.0.2.0/24"), "a documentation"),
    (_V4("192.88.99.0/24"), "a reserved"),
    (_V4("192.168.0.0/16"), "a private"),
    (_V4("198.18.0.0/15"), "a benchmarking"),
    (_V4("198.51.100.0/24"), "a documentation"),
    (_V4("203.0.113.0/24"), "a documentation"),
    (_V4("240.0.0.0/4"), "a reserved"),
]
_SPECIAL_V6 = [
    (_V6("::1/128"), "a loopback"),
    (_V6("::/8"), "a reserved"),  # includes the deprecated IPv4-compatible ::a.b.c.d
    (_V6("64:ff9b:1::/48"), "a private NAT64"),
    (_V6("100::/64"), "a discard-only"),
    (_V6("2001::/23"), "a reserved"),  # IETF protocol assignments, Teredo included
    (_V6("2001:db8::/32"), "a documentation"),
    (_V6("3fff::/20"), "a documentation"),
    (_V6("fc00::/7"), "a unique-local"),
    (_V6("fe80::/10"), "a link-local"),
    (_V6("fec0::/10"), "a site-local"),
]
_GLOBAL_UNICAST_V6 = _V6("2000::/3")
_NAT64_V6 = _V6("64:ff9b::/96")


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::a.b.c.d, 6to4 2002:…)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64_V6:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def address_refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why `address` may not be connected to ("a loopback", …), or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            address = ipaddress.IPv6Address(str(address).split("%")[0])  # fe80::1%eth0 is still fe80::1
        embedded = _embedded_v4(address)
        if embedded is not None:
            reason = address_refusal(embedded, allow_private=allow_private)
            if reason is not None or address.ipv4_mapped is not None:
                return reason
        never: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]] = list(_NEVER_V6)
        special: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]] = list(_SPECIAL_V6)
    else:
        never, special = list(_NEVER_V4), list(_SPECIAL_V4)
    for network, reason in never:
        if address in network:
            return reason
    if allow_private:
        return None
    for network, reason in special:
        if address in network:
            return reason
    if isinstance(address, ipaddress.IPv6Address) and address not in _GLOBAL_UNICAST_V6:
        return "a reserved"
    return None


# --- host parsing ---------------------------------------------------------------------------------

_NUMERIC_PART = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")


def _parse_ipv4_number(part: str) -> int | None:
    if part.startswith("0x"):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8) if re.fullmatch(r"[0-7]+", part) else None
    return int(part)


def numeric_host(host: str) -> IPAddress | None:
    """The address a numeric host names, read like inet_aton (and the WHATWG URL parser) reads it.

    `2130706433`, `0x7f.1`, `017700000001`, `127.1`, `127.0.0.1.` → 127.0.0.1. None for a DNS name.
    Raises UrlRefused for a host that ends in a number but is not a valid address (`1.2.3.4.5`, `0x1g.1`).
    """
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise UrlRefused("URL refused: the host is not a valid IPv6 address") from None
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if not _NUMERIC_PART.match(parts[-1]):
        return None
    numbers = [_parse_ipv4_number(part) if _NUMERIC_PART.match(part) else None for part in parts]
    if len(parts) > 4 or any(number is None for number in numbers):
        raise UrlRefused("URL refused: the host is not a valid IPv4 address")
    values = [number for number in numbers if number is not None]
    *leading, last = values
    if any(value > 255 for value in leading) or last >= 256 ** (5 - len(values)):
        raise UrlRefused("URL refused: the host is not a valid IPv4 address")
    packed = last
    for index, value in enumerate(leading):
        packed += value << (8 * (3 - index))
    return ipaddress.IPv4Address(packed)
