"""Fixed-window rate limits on the shared cache (the database cache in production)."""

import ipaddress
import time

from django.core.cache import cache


def hit(scope, key, limit, window):
    """Count one request; return seconds to wait (0 when allowed)."""
    now = int(time.time())
    bucket = now // window
    cache_key = f"rl:{scope}:{key}:{bucket}"
    added = cache.add(cache_key, 1, timeout=window + 1)
    if added:
        count = 1
    else:
        try:
            count = cache.incr(cache_key)
        except ValueError:
            cache.set(cache_key, 1, timeout=window + 1)
            count = 1
    if count > limit:
        return (bucket + 1) * window - now
    return 0


def refund(scope, key, window):
    """Give back one request counted by `hit` in the current window (a sign-in that succeeded)."""
    try:
        cache.decr(f"rl:{scope}:{key}:{int(time.time()) // window}")
    except ValueError:  # the window has turned over: nothing left to give back
        pass


def client_key(ip):
    """The rate-limit key of a client address: IPv6 clients by their /64, which one subscriber holds whole."""
    if not ip:
        return "-"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return str(ip)[:64]
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
