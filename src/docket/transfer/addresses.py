"""Which network addresses a transfer may reach: public ones, plus what the data centre allows.

A request names its files' locations, and a provider is not trusted with the data centre's
network: ``http://127.0.0.1:8080/admin``, ``http://169.254.169.254/`` (a cloud's metadata
service) or ``http://10.0.0.5/`` would make docket fetch from inside. So by default a host is
fetched only when every address it resolves to is public; ``[transfer] allow`` lists the hosts,
addresses and networks (CIDR) of the data centre's own servers that may be fetched anyway.

The check is made on the *resolved* addresses, never on the spelling of the host: ``2130706433``,
``0x7f.1``, ``017700000001`` and ``localhost`` all resolve to 127.0.0.1, and a DNS name may
resolve to anything. The caller connects to exactly the addresses checked here (see
:mod:`docket.transfer.http`), so a name that resolves differently a second time (DNS rebinding)
gains nothing.

Proxies. A proxy (``[transfer] proxies`` or the environment) is the data centre's choice and is
connected to without a check. The *target* is still checked where docket can: its name is
resolved here and refused if any address is not allowed (so ``2130706433`` or ``localhost``
cannot be fetched through the proxy either); a name that does not resolve here (a proxy is often
the only way out, DNS included) is left to the proxy, which resolves and connects itself and is
therefore where the data centre enforces its own rules for it. Pinning the address is not
possible through a proxy.

Every address of a name must pass, not just one: a name answering a public and a private
address is refused; a data centre whose own host has IPv4 and IPv6 addresses lists both
networks (or the host name) in ``[transfer] allow``.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from docket.errors import BadInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Ranges that ipaddress does not flag on every supported Python (is_global changed in 3.11.10,
# 3.12.4 and 3.13), named here so the policy does not depend on the interpreter's patch level.
_NOT_PUBLIC_V4 = [
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT: a provider's internal network, not the Internet
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, where cloud metadata services answer
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
]
_NOT_PUBLIC_V6 = [
    ipaddress.IPv6Network(n)
    for n in (
        "::/8",  # unspecified, loopback, IPv4-compatible (deprecated) addresses
        "100::/64",  # discard
        "2001::/23",  # IETF protocol assignments, Teredo among them
        "2001:db8::/32",
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
]
#: IPv6 forms that carry an IPv4 address: they reach that IPv4 address, so it must be public too.
_NAT64 = [ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48")]


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if any(ip in net for net in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IPAddress) -> bool:
    """Whether ``ip`` is a public unicast address of the Internet.

    Not public: loopback, private, link-local, CGNAT, multicast, reserved, unspecified,
    documentation and benchmarking ranges, and any IPv6 form that embeds such an IPv4 address.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None:
            return is_public(inner)
        if ip.scope_id:
            return False
        if any(ip in net for net in _NOT_PUBLIC_V6):
            return False
    elif any(ip in net for net in _NOT_PUBLIC_V4):
        return False
    flags = (ip.is_private, ip.is_loopback, ip.is_link_local, ip.is_multicast, ip.is_reserved,
             ip.is_unspecified)
    return ip.is_global and not any(flags)


def parse_address(text: str) -> IPAddress:
    """An address as getaddrinfo returns it (an IPv6 scope after ``%`` is kept)."""
    return ipaddress.ip_address(text)


def _norm_host(host: str) -> str:
    return host.strip().lower().rstrip(".").strip("[]")


@dataclass(frozen=True)
class AddressPolicy:
    """Public addresses, plus the hosts and networks a data centre allows (``[transfer] allow``)."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = field(default=())

    @classmethod
    def from_allow(cls, entries: Iterable[str] | None) -> AddressPolicy:
        """Parse ``[transfer] allow``: host names, addresses and CIDR networks.

        An entry that is neither a network nor a plausible host name is BadInput, so a typo
        (``10.0.0.0/33``) is reported instead of silently allowing nothing.
        """
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries or ():
            if not isinstance(entry, str) or not entry.strip():
                raise BadInput(f"[transfer] allow: {entry!r} is not a host, address or network")
            text = _norm_host(entry)
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
                continue
            except ValueError:
                pass
            if "/" in text or any(c.isspace() for c in text) or ":" in text or "@" in text:
                raise BadInput(
                    f"[transfer] allow: {entry!r} is not a host name, an address or a network "
                    "like 10.1.0.0/16"
                )
            hosts.add(text)
        return cls(frozenset(hosts), tuple(networks))

    def host_allowed(self, host: str) -> bool:
        """Whether the data centre allows ``host`` by name, whatever it resolves to."""
        return _norm_host(host) in self.hosts

    def permits(self, ip: IPAddress) -> bool:
        """Whether ``ip`` may be connected to: public, or inside an allowed network."""
        if any(ip in net for net in self.networks):
            return True
        inner = embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
        if inner is not None and any(inner in net for net in self.networks):
            return True
        return is_public(ip)


class ResolutionFailed(Exception):
    """A host name could not be resolved (or not in time); the message is safe to show."""


class NotPublic(Exception):
    """A host resolves to an address the policy refuses; only the host is named, not the address."""

    def __init__(self, host: str) -> None:
        self.host = host
        super().__init__(
            f"{host} is not a public address; docket fetches only from public addresses unless "
            "the data centre lists the host or its network in [transfer] allow"
        )


def resolve(host: str, port: int, timeout: float) -> list[IPAddress]:
    """Every address of ``host`` (TCP), within ``timeout`` seconds.

    getaddrinfo itself cannot be given a timeout, so it runs in a daemon thread that is
    abandoned when it takes too long; the configured timeout then bounds name resolution too.
    Numeric forms (``2130706433``, ``0x7f.1``) come back as the address they denote.
    """
    result: list[IPAddress] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            for family, _type, _proto, _name, sockaddr in infos:
                if family not in (socket.AF_INET, socket.AF_INET6):
                    continue
                text = str(sockaddr[0])
                if family == socket.AF_INET6 and len(sockaddr) >= 4 and sockaddr[3]:
                    text = f"{text.split('%')[0]}%{sockaddr[3]}"
                ip = parse_address(text)
                if ip not in result:
                    result.append(ip)
        except (OSError, UnicodeError, ValueError) as exc:
            error.append(exc)

    started = time.monotonic()
    worker = threading.Thread(target=run, name=f"docket-resolve-{host}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise ResolutionFailed(f"cannot resolve the host name {host} (no answer within "
                               f"{time.monotonic() - started:.3g} s)")
    if error or not result:
        raise ResolutionFailed(f"cannot resolve the host name {host}")
    return result


def vetted_addresses(host: str, port: int, policy: AddressPolicy, timeout: float) -> list[IPAddress]:
    """The addresses of ``host`` docket may connect to; NotPublic when any is refused.

    Every address must pass, not just one: a name resolving to a public *and* a private address
    is someone trying to have it both ways, and refusing it keeps the rule simple to state.
    """
    addresses = resolve(host, port, timeout)
    if policy.host_allowed(host):
        return addresses
    if not all(policy.permits(ip) for ip in addresses):
        raise NotPublic(host)
    return addresses
