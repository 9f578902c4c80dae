"""Where webhooks may go, and the one way they are sent there.

An integrator's webhook URL is a request the portal makes on someone's say
(server-side request forgery): pointed at 127.0.0.1, 169.254.169.254 or
10.x it would reach what only the portal's network should. So, with DEBUG
off:

- the URL must be https;
- every address its host resolves to must be public: no loopback, private,
  link-local, shared (CGNAT), multicast, reserved, documentation or
  unspecified range, IPv4 or IPv6, and IPv4 inside IPv6 (mapped, NAT64,
  6to4) is judged as the IPv4 it carries;
- except what `KYC_WEBHOOK_ALLOWED_PRIVATE_HOSTS` lists on purpose (host
  names, allowed whatever they resolve to, or addresses and CIDR ranges).

With DEBUG on (a developer's machine) any http(s) URL is allowed. In sandbox
mode the portal's own origin (SITE_URL, where the sandbox's demo integrator
receives) is always allowed.

The URL is checked when it is set and again at each delivery, and the
delivery connects to the addresses that were checked: the host is resolved
once, and `post_pinned` connects to those addresses while the Host header,
TLS SNI and the certificate check still use the host name. A second DNS
answer (DNS rebinding) is never asked for.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as urllib3_connection

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookTargetRefused(Exception):
    """A webhook URL the rules refuse: nothing is sent to it, now or on a
    retry (the refusal is permanent until the URL or the settings change)."""


class WebhookHostUnresolved(Exception):
    """The webhook host has no address now (DNS failed): perhaps later."""


# --- the address rules (pure) ----------------------------------------------------------

# Ranges that are not the public internet (IANA special-purpose registries),
# with the name the refusal gives them. Checked in order; the first match names it.
NON_PUBLIC_NETWORKS = [
    (ipaddress.ip_network(cidr), label)
    for cidr, label in [
        ("0.0.0.0/8", "unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared, CGNAT"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "reserved"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "reserved"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/8", "reserved"),
        ("64:ff9b:1::/48", "private"),
        ("100::/64", "reserved"),
        ("2001::/23", "reserved"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("fc00::/7", "unique local"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    ]
]
NAT64 = ipaddress.ip_network("64:ff9b::/96")


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries and would reach: mapped
    (::ffff:a.b.c.d), NAT64 (64:ff9b::a.b.c.d) or 6to4 (2002:aabb:ccdd::)."""
    if address.version != 6:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def non_public_kind(address: IPAddress) -> str | None:
    """Why `address` is not on the public internet ("loopback", "private",
    …), or None when it is."""
    carried = embedded_ipv4(address)
    if carried is not None:
        return non_public_kind(carried)
    for network, label in NON_PUBLIC_NETWORKS:
        if address.version == network.version and address in network:
            return label
    # Python's own registry, in case a range is missing above.
    if not address.is_global or address.is_multicast:
        return "reserved"
    return None


@dataclass(frozen=True)
class AllowedPrivateHosts:
    """KYC_WEBHOOK_ALLOWED_PRIVATE_HOSTS, parsed: host names and networks."""

    names: frozenset[str]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    @classmethod
    def parse(cls, entries) -> "AllowedPrivateHosts":
        """Raises ValueError naming an entry that is neither a host name
        nor an address or CIDR range."""
        names, networks = set(), []
        for entry in (e.strip() for e in entries):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            name = _normal_host(entry)
            labels = name.split(".")
            if not all(label and len(label) <= 63 and label.replace("-", "").isalnum() for label in labels):
                raise ValueError(f"{entry!r} is neither a host name nor an address or CIDR range")
            names.add(name)
        return cls(frozenset(names), tuple(networks))

    def allows_name(self, host: str) -> bool:
        return _normal_host(host) in self.names

    def allows_address(self, address: IPAddress) -> bool:
        return any(address.version == n.version and address in n for n in self.networks)


def _normal_host(host: str) -> str:
    return host.strip().lower().rstrip(".")


# --- checking a URL ----------------------------------------------------------------------


DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class CheckedTarget:
    """A webhook URL that passed, with the addresses to connect to."""

    url: str
    host: str
    port: int
    addresses: tuple[str, ...]


def check_webhook_url(url: str) -> None:
    """When a URL is set: raises WebhookTargetRefused, or
    WebhookHostUnresolved when its host has no address yet. Where the rules
    do not apply (DEBUG on, the sandbox's own receiver) the host need not
    resolve yet: nothing about its address is checked."""
    _target(url, connecting=False)


def webhook_url_problem(url: str) -> str:
    """Why `url` cannot be a client's webhook URL, or "" when it can: what
    the commands that set one say before anything is stored."""
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        return f"not an http(s) URL: {url}"
    try:
        check_webhook_url(url)
    except (WebhookTargetRefused, WebhookHostUnresolved) as problem:
        return f"webhook URL refused: {problem}"
    return ""


def delivery_target(url: str) -> CheckedTarget:
    """Before a delivery: resolves the URL's host once and applies the
    rules; `post_pinned` then connects to the addresses returned."""
    return _target(url, connecting=True)


def _target(url: str, *, connecting: bool) -> CheckedTarget | None:
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        raise WebhookTargetRefused("the webhook URL is malformed") from None
    try:
        # The ASCII (IDNA) form is what DNS, the Host header and TLS use.
        host = (parts.hostname or "").encode("idna").decode("ascii")
    except UnicodeError:
        raise WebhookTargetRefused("the webhook URL's host name is not valid") from None
    if parts.scheme not in DEFAULT_PORTS or not host or port is None:
        raise WebhookTargetRefused("the webhook URL must be http(s)://host/…")
    exempt = settings.DEBUG or _is_sandbox_receiver(parts.scheme, host, port)
    if not exempt and parts.scheme != "https":
        raise WebhookTargetRefused("webhook URLs must use https")
    if exempt and not connecting:
        return None
    addresses = _resolve(host, port)
    if not exempt:
        allowed = AllowedPrivateHosts.parse(settings.KYC_WEBHOOK_ALLOWED_PRIVATE_HOSTS)
        if not allowed.allows_name(host):
            for address in addresses:
                parsed = ipaddress.ip_address(address)
                kind = non_public_kind(parsed)
                if kind and not allowed.allows_address(parsed):
                    raise WebhookTargetRefused(
                        f"{host} resolves to {address} ({kind}); webhooks go only to public addresses "
                        "(KYC_WEBHOOK_ALLOWED_PRIVATE_HOSTS lists private hosts allowed on purpose)"
                    )
    return CheckedTarget(url=url, host=host, port=port, addresses=addresses)


def _is_sandbox_receiver(scheme: str, host: str, port: int) -> bool:
    """The sandbox's demo integrator receives on the portal's own origin."""
    if not settings.SANDBOX_MODE:
        return False
    site = urlsplit(settings.SITE_URL)
    return (scheme, host, port) == (site.scheme, site.hostname, site.port or DEFAULT_PORTS.get(site.scheme))


def _resolve(host: str, port: int) -> tuple[str, ...]:
    """Every address of `host`, in the resolver's order, each once."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise WebhookHostUnresolved(f"cannot resolve {host}: {exc}") from None
    # An IPv6 answer may carry a zone ("fe80::1%eth0"): judged without it.
    addresses = tuple(dict.fromkeys(info[4][0].split("%")[0] for info in answers))
    if not addresses:
        raise WebhookHostUnresolved(f"cannot resolve {host}: no address")
    return addresses


# --- sending to the checked addresses ---------------------------------------------------


class _PinnedConnectionMixin:
    """Connects to the checked addresses, in the order they were resolved,
    instead of resolving the host again. `host` stays the URL's host name,
    so the Host header, SNI and the certificate check use it."""

    def __init__(self, *args, pinned_addresses: tuple[str, ...], **kwargs):
        super().__init__(*args, **kwargs)
        self.pinned_addresses = pinned_addresses

    def _new_conn(self):
        error = None
        for address in self.pinned_addresses:
            try:
                return urllib3_connection.create_connection(
                    (address, self.port), self.timeout,
                    source_address=self.source_address, socket_options=self.socket_options,
                )
            except TimeoutError as exc:
                error = ConnectTimeoutError(self, f"connection to {self.host} ({address}) timed out")
                error.__cause__ = exc
            except OSError as exc:
                error = NewConnectionError(self, f"failed to connect to {self.host} ({address}): {exc}")
                error.__cause__ = exc
        raise error


class _PinnedHTTPConnection(_PinnedConnectionMixin, HTTPConnection):
    pass


class _PinnedHTTPSConnection(_PinnedConnectionMixin, HTTPSConnection):
    pass


class _PinnedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


class PinnedAdapter(HTTPAdapter):
    """A requests adapter whose connections go to `target.addresses` only.
    One per delivery (redirects are not followed, so every request it sends
    is for the target's URL); its pool is closed with it. requests still
    sets the certificate checks on the pool (`cert_verify`)."""

    def __init__(self, target: CheckedTarget):
        self.target = target
        self._pools = []
        super().__init__(max_retries=0)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        pool_class = _PinnedHTTPSPool if urlsplit(request.url).scheme == "https" else _PinnedHTTPPool
        pool = pool_class(self.target.host, self.target.port, maxsize=1, pinned_addresses=self.target.addresses)
        self._pools.append(pool)
        return pool

    def close(self):
        for pool in self._pools:
            pool.close()
        super().close()


def post_pinned(target: CheckedTarget, *, data: bytes, headers: dict, timeout) -> int:
    """POSTs to the checked target and returns the HTTP status. The answer
    is not read, redirects are not followed, and no environment proxy or
    CA variable applies (a proxy would resolve the host itself)."""
    with requests.Session() as http:
        http.trust_env = False
        http.verify = settings.KYC_WEBHOOK_CA_BUNDLE or True
        adapter = PinnedAdapter(target)
        http.mount("http://", adapter)
        http.mount("https://", adapter)
        with http.post(
            target.url, data=data, headers=headers, timeout=timeout, allow_redirects=False, stream=True
        ) as response:
            return response.status_code
