"""Fixed-window rate limits on the shared cache (the database cache in production)."""

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


def exhausted(scope, key, limit, window):
    """Seconds to wait if `limit` requests were already counted in this window (0 otherwise); counts nothing."""
    now = int(time.time())
    bucket = now // window
    count = cache.get(f"rl:{scope}:{key}:{bucket}") or 0
    if count >= limit:
        return (bucket + 1) * window - now
    return 0
