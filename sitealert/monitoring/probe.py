"""One probe of one listed domain: DNS, then HTTP(S) one redirect hop at a time.

No Django here: the worker feeds probes from the database and writes their results back.

Safety: every address is checked against `AddressPolicy` after resolution, at every hop, and the
connection goes to that checked address (`PinnedBackend`): a name is resolved once per probe,
so a second, different DNS answer (rebinding) can never be what we connect to.
"""

import ipaddress
import ssl
import threading
import time
from dataclasses import dataclass, field

import certifi
import dns.exception
import dns.nameserver
import dns.resolver
import httpcore
import httpx

from sitealert.hosts import registrable_domain

# Failure kinds: why a probe found a site offline.
DNS_NXDOMAIN = "dns_nxdomain"
DNS_NO_ADDRESS = "dns_no_address"
DNS_ERROR = "dns_error"
BLOCKED_ADDRESS = "blocked_address"
CONNECT_REFUSED = "connect_refused"
CONNECT_TIMEOUT = "connect_timeout"
CONNECT_ERROR = "connect_error"
TLS_ERROR = "tls_error"
CONNECTION_RESET = "connection_reset"
TIMEOUT = "timeout"
PROTOCOL_ERROR = "protocol_error"
HTTP_ERROR = "http_error"
REDIRECT_LIMIT = "redirect_limit"
REDIRECT_INVALID = "redirect_invalid"

# Failures worth another try with the next scheme (https failed, http may answer).
CONNECTION_FAILURES = {CONNECT_REFUSED, CONNECT_TIMEOUT, CONNECT_ERROR, TLS_ERROR, CONNECTION_RESET, PROTOCOL_ERROR}
REDIRECT_STATUSES = {301, 302, 303, 307, 308}


class ProbeFailure(Exception):
    def __init__(self, kind, detail=""):
        super().__init__(detail or kind)
        self.kind, self.detail = kind, detail


class PolitenessWait(Exception):
    """Going on would break the per-domain politeness delay within this probe's time budget."""

    def __init__(self, seconds):
        super().__init__(seconds)
        self.seconds = seconds


NAT64 = ipaddress.ip_network("64:ff9b::/96")

# The ranges of IANA's special-purpose address registries (iana-ipv4-special-registry,
# iana-ipv6-special-registry) that are not globally reachable, plus multicast, kept here rather than
# taken from `ipaddress`, whose idea of "global" changes between Python versions (3.11 lets
# 192.0.0.8 and 3fff::/20 through). A whole block is refused where the registry makes a few
# anycast exceptions inside it (192.0.0.0/24, 2001::/23): a listed site is not an anycast service.
SPECIAL_PURPOSE_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8",  # "this network" (RFC 791)
    "10.0.0.0/8",  # private (RFC 1918)
    "100.64.0.0/10",  # shared address space (RFC 6598)
    "127.0.0.0/8",  # loopback (RFC 1122)
    "169.254.0.0/16",  # link local (RFC 3927)
    "172.16.0.0/12",  # private (RFC 1918)
    "192.0.0.0/24",  # IETF protocol assignments, 192.0.0.8 the dummy address (RFC 6890, RFC 7600)
    "192.0.2.0/24",  # documentation TEST-NET-1 (RFC 5737)
    "192.88.99.0/24",  # deprecated 6to4 relay anycast (RFC 7526)
    "192.168.0.0/16",  # private (RFC 1918)
    "198.18.0.0/15",  # benchmarking (RFC 2544)
    "198.51.100.0/24",  # documentation TEST-NET-2 (RFC 5737)
    "203.0.113.0/24",  # documentation TEST-NET-3 (RFC 5737)
    "224.0.0.0/4",  # multicast (RFC 5771)
    "240.0.0.0/4",  # reserved, and 255.255.255.255 the limited broadcast (RFC 1112, RFC 8190)
    "::/128",  # unspecified (RFC 4291)
    "::1/128",  # loopback (RFC 4291)
    "::ffff:0:0/96",  # IPv4-mapped (RFC 4291); `canonical` checks the IPv4 address instead
    "64:ff9b:1::/48",  # local-use IPv4/IPv6 translation (RFC 8215)
    "100::/64",  # discard-only (RFC 6666)
    "100:0:0:1::/64",  # dummy IPv6 prefix (RFC 9780)
    "2001::/23",  # IETF protocol assignments: Teredo, benchmarking, ORCHID (RFC 2928)
    "2001:db8::/32",  # documentation (RFC 3849)
    "2002::/16",  # 6to4, which embeds an IPv4 address we would not check (RFC 3056)
    "3fff::/20",  # documentation (RFC 9637)
    "5f00::/16",  # segment routing SIDs (RFC 9602)
    "fc00::/7",  # unique local (RFC 4193)
    "fe80::/10",  # link local (RFC 4291)
    "fec0::/10",  # deprecated site local (RFC 3879)
    "ff00::/8",  # multicast (RFC 4291)
))
# Of IPv6, only global unicast is assigned to sites (RFC 4291, RFC 3587): the rest is refused whole.
IPV6_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")


def special_purpose(ip):
    """Whether `ip` (as `AddressPolicy.canonical` gives it) is in a range that is not globally routable."""
    if ip.version == 6 and ip not in IPV6_GLOBAL_UNICAST:
        return True
    return any(ip in network for network in SPECIAL_PURPOSE_NETWORKS if network.version == ip.version)


class AddressPolicy:
    """Refuses every address that is not globally routable, unless an allowlisted network holds it."""

    def __init__(self, allow_networks=()):
        self.allow_networks = tuple(allow_networks)

    @staticmethod
    def canonical(address):
        """The address, with IPv4 addresses embedded in IPv6 (mapped, NAT64) taken out."""
        ip = ipaddress.ip_address(address)
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.version == 6 and ip in NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        return ip

    def allows(self, address):
        try:
            ip = self.canonical(address)
        except ValueError:
            return False
        if any(ip in network for network in self.allow_networks if network.version == ip.version):
            return True
        return not special_purpose(ip)


class Politeness:
    """At most one request per `delay` seconds to each registrable domain, within this process."""

    def __init__(self, delay):
        self.delay = delay
        self._next = {}
        self._lock = threading.Lock()

    def try_acquire(self, key):
        """0 and the slot is taken, or how long to wait (nothing reserved)."""
        if self.delay <= 0:
            return 0.0
        with self._lock:
            now = time.monotonic()
            free = self._next.get(key, 0.0)
            if free > now:
                return free - now
            self._reserve(key, now)
            return 0.0

    def reserve(self, key):
        """Reserve the next free slot; return how long to wait for it."""
        if self.delay <= 0:
            return 0.0
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next.get(key, 0.0))
            self._reserve(key, slot)
            return slot - now

    def _reserve(self, key, slot):
        self._next[key] = slot + self.delay
        if len(self._next) > 50_000:
            now = time.monotonic()
            self._next = {k: v for k, v in self._next.items() if v > now}


class PinnedBackend(httpcore.NetworkBackend):
    """Connects only to the address this probe resolved and checked for the host, never resolving again."""

    def __init__(self, pins, policy, ports):
        self.pins, self.policy, self.ports = pins, policy, ports
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        address = self.pins.get(host)
        if address is None or not self.policy.allows(address):
            raise ProbeFailure(BLOCKED_ADDRESS, f"{host}: no checked address")
        return self._inner.connect_tcp(address, self.ports.get(port, port), timeout=timeout,
                                       local_address=local_address, socket_options=socket_options)


class PinnedTransport(httpx.HTTPTransport):
    def __init__(self, backend, ssl_context):
        super().__init__(verify=ssl_context, retries=0)
        # httpx takes no network backend; its connection pool does.
        self._pool = httpcore.ConnectionPool(ssl_context=ssl_context, network_backend=backend, retries=0,
                                             max_connections=4)


@dataclass
class Attempt:
    """Following the redirects from one starting URL."""

    url: str
    hops: list = field(default_factory=list)
    failure: str = ""
    detail: str = ""
    status_code: int | None = None
    bytes_read: int = 0
    truncated: bool = False
    body: bytearray | None = None  # kept only by `Prober.fetch`
    headers: dict = field(default_factory=dict)  # of the final answer, kept only by `Prober.fetch`

    @property
    def online(self):
        return not self.failure

    @property
    def final_url(self):
        return self.hops[-1]["url"] if self.hops else self.url


@dataclass
class ProbeResult:
    target: str
    online: bool = False
    failure: str = ""
    detail: str = ""
    status_code: int | None = None
    final_url: str = ""
    hops: list = field(default_factory=list)
    attempts: list = field(default_factory=list)  # earlier schemes that failed: [{url, failure, detail}]
    bytes_read: int = 0
    truncated: bool = False
    elapsed: float = 0.0
    defer: float = 0.0  # > 0: not probed (politeness); try again after this many seconds

    @classmethod
    def from_attempt(cls, target, attempt, earlier):
        return cls(target=target, online=attempt.online, failure=attempt.failure, detail=attempt.detail,
                   status_code=attempt.status_code, final_url=attempt.final_url, hops=attempt.hops,
                   attempts=[{"url": a.url, "failure": a.failure, "detail": a.detail} for a in earlier],
                   bytes_read=attempt.bytes_read, truncated=attempt.truncated)

    def as_record(self):
        return {
            "status_code": self.status_code, "final_url": self.final_url, "hops": self.hops,
            "attempts": self.attempts, "bytes": self.bytes_read, "truncated": self.truncated,
            "elapsed_ms": round(self.elapsed * 1000), "failure": self.failure, "detail": self.detail[:300],
        }

    def domain_hops(self):
        return domain_hops(self.hops)


def domain_hops(hops):
    """(from_host, to_host) for each redirect of a chain that leaves a registrable domain."""
    edges = []
    for hop in hops:
        location = hop.get("location")
        if not location:
            continue
        source, destination = host_of(hop["url"]), host_of(location)
        if source and destination and site_of(source) != site_of(destination):
            edges.append((source, destination))
    return edges


def host_of(url):
    try:
        return httpx.URL(url).raw_host.decode("ascii").lower()
    except (httpx.InvalidURL, UnicodeDecodeError):
        return ""


def site_of(host):
    """The registrable domain of a host; the host itself where it has none (an address)."""
    return registrable_domain(host) or host


def classify(exc):
    """The failure kind of an exception raised while talking to a site."""
    chain, seen = [], exc
    while seen is not None and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    if any(isinstance(e, ssl.SSLError) for e in chain):
        return TLS_ERROR
    if isinstance(exc, httpx.ConnectTimeout):
        return CONNECT_TIMEOUT
    if isinstance(exc, httpx.TimeoutException) or any(isinstance(e, TimeoutError) for e in chain):
        return TIMEOUT
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return CONNECT_REFUSED
    if any(isinstance(e, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)) for e in chain):
        return CONNECTION_RESET
    if isinstance(exc, httpx.ConnectError):
        return CONNECT_ERROR
    if isinstance(exc, (httpx.ProtocolError, httpx.DecodingError, httpx.InvalidURL)):
        return PROTOCOL_ERROR
    return CONNECTION_RESET if isinstance(exc, httpx.NetworkError) else PROTOCOL_ERROR


class Prober:
    """Probes targets; thread-safe, one per worker process."""

    def __init__(self, config):
        self.config = config
        self.policy = AddressPolicy(config.allow_networks)
        self.politeness = Politeness(config.politeness_delay)
        self.ports = {80: config.http_port, 443: config.https_port}
        self.ssl_context = ssl.create_default_context(cafile=certifi.where())
        self.resolver = self._resolver(config)
        self.headers = {"User-Agent": config.user_agent, "Accept": "*/*"}

    @staticmethod
    def _resolver(config):
        if not config.resolvers:
            return dns.resolver.Resolver()
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(address, port) for address, port in config.resolvers]
        return resolver

    def probe(self, target):
        started = time.monotonic()
        wait = self.politeness.try_acquire(site_of(target))
        if wait > 0:
            return ProbeResult(target=target, defer=wait)
        deadline = started + self.config.total_timeout
        pins = {}
        transport = PinnedTransport(PinnedBackend(pins, self.policy, self.ports), self.ssl_context)
        earlier = []
        # The transport alone, without httpx.Client: no cookies, no proxies from the environment,
        # no automatic redirects, and a third less CPU per probe.
        with transport:
            for index, scheme in enumerate(self.config.schemes):
                try:
                    attempt = self._follow(transport, pins, f"{scheme}://{target}/", deadline)
                except PolitenessWait as exc:
                    return ProbeResult(target=target, defer=exc.seconds, elapsed=time.monotonic() - started)
                last = index == len(self.config.schemes) - 1
                if attempt.online or last or attempt.failure not in CONNECTION_FAILURES or len(attempt.hops) > 1:
                    break
                earlier.append(attempt)
        result = ProbeResult.from_attempt(target, attempt, earlier)
        result.elapsed = time.monotonic() - started
        return result

    def fetch(self, url, *, headers=None, max_bytes, total_timeout):
        """GET one document at `url` under the probe's rules (every address checked and pinned,
        redirects followed one hop at a time up to the limit), keeping its body and headers.

        A body over `max_bytes` ends the read with `truncated` set; the caller refuses it.
        """
        deadline = time.monotonic() + total_timeout
        pins = {}
        transport = PinnedTransport(PinnedBackend(pins, self.policy, self.ports), self.ssl_context)
        attempt = Attempt(url=url, body=bytearray())
        with transport:
            try:
                self._follow(transport, pins, url, deadline, attempt=attempt,
                             headers={**self.headers, **(headers or {})}, max_bytes=max_bytes)
            except PolitenessWait as exc:
                attempt.failure, attempt.detail = TIMEOUT, f"politeness delay of {exc.seconds:.1f}s"
        return attempt

    def _follow(self, transport, pins, start, deadline, *, attempt=None, headers=None, max_bytes=None):
        attempt = attempt or Attempt(url=start)
        url = httpx.URL(start)
        site = site_of(host_of(start))
        for _ in range(self.config.max_hops + 1):
            host = url.raw_host.decode("ascii").lower()
            hop = {"url": str(url), "status": None, "address": None}
            attempt.hops.append(hop)
            try:
                hop["address"] = self._address_for(host, pins, deadline, hop)
                if site_of(host) != site:
                    site = site_of(host)
                    self._wait_politely(site, deadline)
                response_location = self._request(transport, url, deadline, attempt, hop, headers, max_bytes)
            except ProbeFailure as failure:
                hop["error"] = failure.kind
                attempt.failure, attempt.detail = failure.kind, failure.detail
                return attempt
            if response_location is None:
                return attempt
            url = response_location
        attempt.failure = REDIRECT_LIMIT
        attempt.detail = f"more than {self.config.max_hops} redirects"
        return attempt

    def _wait_politely(self, site, deadline):
        wait = self.politeness.reserve(site)
        if wait <= 0:
            return
        if time.monotonic() + wait >= deadline:
            raise PolitenessWait(wait)
        time.sleep(wait)

    def _remaining(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ProbeFailure(TIMEOUT, "the probe's total time ran out")
        return remaining

    def _address_for(self, host, pins, deadline, hop):
        if host in pins:
            return pins[host]
        try:
            addresses = [AddressPolicy.canonical(host.strip("[]"))]
        except ValueError:
            addresses = self._resolve(host, "A", deadline) or self._resolve(host, "AAAA", deadline)
            if not addresses:
                raise ProbeFailure(DNS_NO_ADDRESS, f"{host} has no A or AAAA record") from None
        allowed = [a for a in addresses if self.policy.allows(a)]
        refused = [str(a) for a in addresses if not self.policy.allows(a)]
        if refused:
            hop["refused"] = refused
        if not allowed:
            raise ProbeFailure(BLOCKED_ADDRESS, f"{host} -> {', '.join(refused)}: not a public address")
        pins[host] = str(AddressPolicy.canonical(allowed[0]))
        return pins[host]

    def _resolve(self, host, rdtype, deadline):
        lifetime = min(self.config.dns_timeout, self._remaining(deadline))
        try:
            answer = self.resolver.resolve(host, rdtype, search=False, raise_on_no_answer=False, lifetime=lifetime)
        except dns.resolver.NXDOMAIN:
            raise ProbeFailure(DNS_NXDOMAIN, f"{host} does not exist (NXDOMAIN)") from None
        except dns.exception.Timeout:
            raise ProbeFailure(DNS_ERROR, f"no DNS answer for {host} in {lifetime:.1f}s") from None
        except (dns.resolver.NoNameservers, dns.exception.DNSException) as exc:
            raise ProbeFailure(DNS_ERROR, f"{host}: {exc}"[:300]) from None
        if answer.rrset is None:
            return []
        return [ipaddress.ip_address(r.address) for r in answer.rrset]

    def _request(self, transport, url, deadline, attempt, hop, headers=None, max_bytes=None):
        """Send one GET; return the next URL for a redirect, None for a final answer."""
        remaining = self._remaining(deadline)
        timeout = httpx.Timeout(remaining, connect=min(self.config.connect_timeout, remaining))
        request = httpx.Request("GET", url, headers=headers or self.headers, extensions={"timeout": timeout.as_dict()})
        try:
            response = transport.handle_request(request)
            try:
                hop["status"] = attempt.status_code = response.status_code
                location = response.headers.get("location")
                if response.status_code in REDIRECT_STATUSES and location:
                    try:
                        next_url = url.join(location.strip())
                    except httpx.InvalidURL:
                        raise ProbeFailure(REDIRECT_INVALID, f"bad Location {location[:200]!r}") from None
                    if next_url.scheme not in ("http", "https") or not next_url.raw_host:
                        raise ProbeFailure(REDIRECT_INVALID, f"redirect to {str(next_url)[:200]}")
                    hop["location"] = str(next_url)
                    return next_url
                if attempt.body is not None:
                    attempt.headers = dict(response.headers)
                self._read_body(response, deadline, attempt, max_bytes or self.config.max_bytes)
            finally:
                response.close()
        except ProbeFailure:
            raise
        except (httpx.HTTPError, OSError) as exc:
            raise ProbeFailure(classify(exc), str(exc)[:300] or type(exc).__name__) from None
        if attempt.status_code >= 500:
            raise ProbeFailure(HTTP_ERROR, f"HTTP {attempt.status_code}")
        return None

    def _read_body(self, response, deadline, attempt, limit):
        for chunk in response.iter_raw():
            attempt.bytes_read += len(chunk)
            if attempt.body is not None:
                attempt.body += chunk
            if attempt.bytes_read >= limit:
                attempt.bytes_read, attempt.truncated = limit, True
                if attempt.body is not None:
                    del attempt.body[limit:]
                return
            if time.monotonic() > deadline:
                raise ProbeFailure(TIMEOUT, "the body did not arrive within the probe's total time")
