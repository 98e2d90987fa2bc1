"""A fictional monitoring history for the demo: months of probe results, recorded as a worker would.

No probe leaves the machine: each round claims the due targets (`schedule.claim_due`) and records
invented results for them (`recording.record_results`) at a past moment, so the status history,
redirect edges and hopping candidates are exactly what the worker would have written. Every
site's fate is fixed by its name, so every demo shows the same history.
"""

import random
import zlib
from datetime import timedelta

from sitealert.monitoring import conf
from sitealert.monitoring.probe import CONNECT_TIMEOUT, DNS_NXDOMAIN, TIMEOUT, ProbeResult
from sitealert.monitoring.recording import record_results
from sitealert.monitoring.schedule import claim_due, sync_targets

WORKER_ID = "demo-history"
MONITORED_DAYS = 150  # more than MONITOR_STALE_DAYS (90): some sites are due for a stale-entry review
ROUND_DAYS = 3
LEASE_SECONDS = 300

# Share of sites per fate, in thousandths of the name's hash, in this order.
FATES = (
    ("online", 560),
    ("gone_long_ago", 90),     # offline since the early rounds: listed for a stale-entry review
    ("gone_recently", 90),     # went offline in the last weeks
    ("intermittent", 80),      # offline now and then (timeouts), back online
    ("hopping", 110),          # redirects to a new, unlisted domain: a hopping candidate
    ("moved_to_listed", 70),   # redirects to another listed site: recorded, no candidate
)
# Addresses from the documentation ranges (RFC 5737): nothing real answers there.
ADDRESS_PREFIXES = ("192.0.2.", "198.51.100.", "203.0.113.")


def _hash(target):
    return zlib.crc32(target.encode("ascii"))


def fate_of(target):
    point = _hash(target) % 1000
    for fate, share in FATES:
        if point < share:
            return fate
        point -= share
    return "online"


def hopping_destination(target):
    """The fictional new home of a hopping site: another name under a reserved TLD, listed by nobody."""
    label, _, tld = target.rpartition(".")
    first = label.split(".")[-1]
    word = ("new", "mirror", "proxy", "club")[_hash(target) % 4]
    return f"{first}-{word}.{'test' if tld == 'example' else 'example'}"


def _address(target):
    value = _hash(target)
    return ADDRESS_PREFIXES[value % 3] + str(1 + value % 254)


def _hop(url, target, status, location=None):
    hop = {"url": url, "status": status, "address": _address(target)}
    if location:
        hop["location"] = location
    return hop


def _online(target, destination=None):
    start = f"https://{target}/"
    if destination is None:
        return ProbeResult(target=target, online=True, status_code=200, final_url=start,
                           hops=[_hop(start, target, 200)], bytes_read=18_000 + _hash(target) % 40_000)
    final = f"https://{destination}/"
    return ProbeResult(target=target, online=True, status_code=200, final_url=final,
                       hops=[_hop(start, target, 301, final), _hop(final, destination, 200)],
                       bytes_read=20_000 + _hash(destination) % 40_000)


def _offline(target, failure, detail):
    start = f"https://{target}/"
    hop = {"url": start, "status": None, "address": None if failure == DNS_NXDOMAIN else _address(target),
           "error": failure}
    return ProbeResult(target=target, online=False, failure=failure, detail=detail, final_url="", hops=[hop])


def demo_result(target, day, days, others):
    """What a probe of `target` found on `day` (0 = the first round, `days` = today).

    `others` is the sorted list of monitored targets, for sites that moved to another listed one.
    """
    fate = fate_of(target)
    turn = 10 + _hash(target) % 30  # the day something happened to the site
    if fate == "gone_long_ago" and day >= turn:
        return _offline(target, DNS_NXDOMAIN, f"{target}: the domain name does not exist")
    if fate == "gone_recently" and day >= days - turn:
        return _offline(target, CONNECT_TIMEOUT, f"{target}: no answer within 5 seconds")
    if fate == "intermittent" and (day // ROUND_DAYS + _hash(target)) % 4 == 0:
        return _offline(target, TIMEOUT, f"{target}: the page did not arrive within 20 seconds")
    if fate == "hopping" and day >= days - 3 * turn:
        return _online(target, hopping_destination(target))
    if fate == "moved_to_listed" and day >= days - 2 * turn and len(others) > 1:
        other = others[(others.index(target) + 1 + _hash(target) % (len(others) - 1)) % len(others)]
        return _online(target, other)
    return _online(target)


def record_monitoring_history(now):
    """Probe rounds every ROUND_DAYS over the last MONITORED_DAYS, recorded through the worker's own code."""
    config = conf.load()
    rng = random.Random(2026)
    start = now - timedelta(days=MONITORED_DAYS)
    sync_targets(now=start)
    others = None
    for day in range(0, MONITORED_DAYS + 1, ROUND_DAYS):
        moment = start + timedelta(days=day, hours=-2 if day == MONITORED_DAYS else 0)
        claims = claim_due(WORKER_ID, 100_000, LEASE_SECONDS, now=moment)
        if others is None:
            others = sorted(claim["target"] for claim in claims)
        items = [(claim, demo_result(claim["target"], day, MONITORED_DAYS, others)) for claim in claims]
        record_results(WORKER_ID, items, config, moment, rng=rng)
