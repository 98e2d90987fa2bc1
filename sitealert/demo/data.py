"""Fictional demo data for `sitealert demo`.

Everything here is invented: the offices are labelled "Demo", every site is named under the
reserved top-level domains `.example` and `.test`, and every write goes through the same services
as the web, the API and the CLI, so the change log, the audit log and the held listing are exactly
what a real installation would show. Decisions and removals are dated over eighteen months, and
months of monitoring results are recorded by the worker's own code (`sitealert.demo.history`).
"""

import random
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from sitealert.core.actors import Actor
from sitealert.core.countries import country_name
from sitealert.demo.history import record_monitoring_history
from sitealert.demo.procedures import procedure_texts
from sitealert.listings.protection import add_protected_target
from sitealert.listings.services import EntryInput, remove_listings, submit_entries
from sitealert.organizations.models import Membership, Organization
from sitealert.organizations.services import create_member, create_organization
from sitealert.procedures.services import save_procedure

ALL_LANGUAGES = ("ar", "zh-hans", "en", "fr", "ru", "es")

CONTRIBUTOR_PASSWORD = "demo-contributor-2026"
USER_PASSWORD = "demo-user-2026"
OPERATOR_PASSWORD = "demo-operator-2026"

# The operator organization doubles as the marker: when it exists, the demo data was loaded.
OPERATOR_NAME = "SiteAlert Demo Operations"
OPERATOR_USERNAME = "demo-staff"
USER_ORG_NAME = "Demo Ad Exchange (ad-tech platform)"
USER_USERNAME = "demo-adtech"

LISTINGS_PER_CONTRIBUTOR = 48
SHARED_PER_CONTRIBUTOR = 4   # also listed by the next contributor: targets listed by two countries
REMOVED_PER_CONTRIBUTOR = 3  # removed again, so the change log carries tombstones


@dataclass(frozen=True)
class DemoContributor:
    country: str
    username: str
    languages: tuple
    reply_days: int

    @property
    def country_name(self):
        """In English, as every page written in English names the country."""
        return country_name(self.country, "en")

    @property
    def name(self):
        return f"Demo Copyright Office ({self.country_name})"


CONTRIBUTORS = (
    DemoContributor("IT", "demo-italy", ALL_LANGUAGES, 10),
    DemoContributor("KR", "demo-korea", ("en", "zh-hans"), 14),
    DemoContributor("BR", "demo-brazil", ("en", "es", "fr"), 15),
    DemoContributor("ES", "demo-spain", ("es", "en", "fr"), 10),
    DemoContributor("UA", "demo-ukraine", ("en", "fr"), 20),
    DemoContributor("JP", "demo-japan", ("en", "zh-hans", "es"), 14),
)

PROTECTED_TARGETS = (
    ("cdn.example", "Content delivery network used by thousands of lawful sites (demo)"),
    ("video-platform.example", "Major user-generated video platform (demo)"),
    ("cloud-hosting.example", "Hosting provider (demo)"),
    ("sitealert-demo.test", "This installation's own domain (demo)"),
)

# A page on the protected video platform: listing it is held until the operator reviews it.
HELD_TARGET = ("KR", "pirate-channel.video-platform.example", "streaming-video")

APPS = (
    ("IT", "android:example.demo.freemovies", "streaming-video"),
    ("IT", "ios:9999900001", "live-sports-iptv"),
    ("KR", "ios:9999900001", "live-sports-iptv"),
    ("BR", "android:example.demo.livefootball", "live-sports-iptv"),
    ("JP", "android:test.demo.mangareader", "publishing"),
    ("JP", "ios:9999900002", "publishing"),
    ("UA", "android:example.demo.musicbox", "streaming-music"),
)

PREFIXES = ("free", "watch", "stream", "live", "hd", "mega", "ultra", "daily", "best", "top", "fast", "instant",
            "cheap", "all", "go", "my")
CATEGORY_WORDS = {
    "streaming-video": ("movies", "films", "series", "cinema", "flix", "anime", "drama", "tv-shows"),
    "streaming-music": ("music", "mp3", "tunes", "songs", "albums"),
    "live-sports-iptv": ("sports", "football", "iptv", "matches", "kickoff", "racing"),
    "torrent-index": ("torrents", "magnets", "seeds", "tracker"),
    "cyberlocker": ("files", "uploads", "share", "locker", "vault"),
    "publishing": ("ebooks", "manga", "comics", "papers", "novels"),
    "software-games": ("games", "apps", "cracks", "roms", "warez"),
    "other": ("links", "portal", "hub"),
}

PRIVATE_NOTE = "Demo note: reported by a right holders' association. Seen only by this office and the operator."
REMOVAL_REASON = "Demo: the site closed down and the national decision was lifted."


def demo_logins():
    """(role, username, password) of every demo account, in the order `sitealert demo` prints them."""
    logins = [("operator staff (admin site)", OPERATOR_USERNAME, OPERATOR_PASSWORD)]
    logins += [(f"contributor, {c.country_name}", c.username, CONTRIBUTOR_PASSWORD) for c in CONTRIBUTORS]
    logins.append(("authorized user (ad-tech platform)", USER_USERNAME, USER_PASSWORD))
    return logins


def load_demo_data():
    """Create the demo world once; returns (created, logins). A second call creates nothing."""
    if Organization.objects.filter(kind=Organization.Kind.OPERATOR, name=OPERATOR_NAME).exists():
        return False, demo_logins()
    with transaction.atomic():
        cli = Actor(via="cli")
        operator = create_organization(kind=Organization.Kind.OPERATOR, name=OPERATOR_NAME, actor=cli)
        create_member(operator, username=OPERATOR_USERNAME, password=OPERATOR_PASSWORD,
                      email=f"{OPERATOR_USERNAME}@operator.example", staff=True, role=Membership.Role.ADMIN,
                      actor=cli)
        _protect_targets(cli)
        user_org = create_organization(kind=Organization.Kind.USER, name=USER_ORG_NAME, actor=cli)
        create_member(user_org, username=USER_USERNAME, password=USER_PASSWORD,
                      email=f"{USER_USERNAME}@adexchange.example", role=Membership.Role.ADMIN, actor=cli)
        contributors = {}
        for spec in CONTRIBUTORS:
            org = create_organization(kind=Organization.Kind.CONTRIBUTOR, name=spec.name, country=spec.country,
                                      actor=cli)
            create_member(org, username=spec.username, password=CONTRIBUTOR_PASSWORD,
                          email=f"{spec.username}@{spec.country.lower()}-office.example",
                          role=Membership.Role.ADMIN, actor=cli)
            _publish_procedures(org, spec)
            contributors[spec.country] = org
        now = timezone.now()
        _list_and_remove(contributors, now)
        record_monitoring_history(now)
    return True, demo_logins()


def _protect_targets(actor):
    for target, reason in PROTECTED_TARGETS:
        add_protected_target(target, reason, actor=actor)


def _publish_procedures(org, spec):
    actor = Actor(organization=org, via="cli")
    email = f"listings@{spec.country.lower()}-office.example"
    for language in spec.languages:
        texts = procedure_texts(language, office=spec.name, country=spec.country, email=email, days=spec.reply_days)
        save_procedure(org, language, texts, actor=actor)


def demo_domains(count, seed=2026):
    """`count` distinct (domain, category) pairs under .example and .test, the same on every run."""
    rng = random.Random(seed)
    pairs = [(f"{prefix}-{word}", category)
             for category, words in CATEGORY_WORDS.items() for word in words for prefix in PREFIXES]
    rng.shuffle(pairs)
    return [(f"{label}.{'example' if i % 2 else 'test'}", category)
            for i, (label, category) in enumerate(pairs[:count])]


def _entries_by_country(contributors, now):
    """{country: [EntryInput]}: each contributor's own slice, shared targets, apps and the held page."""
    countries = list(contributors)
    domains = demo_domains(LISTINGS_PER_CONTRIBUTOR * len(countries))
    # Each list starts with the contributor's own slice; the first few also go to the next one.
    wanted = {cc: domains[i * LISTINGS_PER_CONTRIBUTOR:(i + 1) * LISTINGS_PER_CONTRIBUTOR]
              for i, cc in enumerate(countries)}
    for i, cc in enumerate(countries):
        wanted[countries[(i + 1) % len(countries)]] += wanted[cc][:SHARED_PER_CONTRIBUTOR]
    for cc, target, category in APPS + (HELD_TARGET,):
        wanted[cc].append((target, category))
    entries = {}
    for i, (cc, targets) in enumerate(wanted.items()):
        # Decisions spread over the last eighteen months, so the statistics have a history to show.
        entries[cc] = [
            EntryInput(target=target, category=category, reference=f"DEMO-{cc}-2025-{n:04d}",
                       note=PRIVATE_NOTE if n % 7 == 0 else "",
                       review_after=date(2027, 6, 30) if n % 5 == 0 else None,
                       listed_at=now - timedelta(days=(n * 37 + i * 11) % 540))
            for n, (target, category) in enumerate(targets, start=1)
        ]
    return entries


def _list_and_remove(contributors, now):
    for i, (cc, entries) in enumerate(_entries_by_country(contributors, now).items()):
        org = contributors[cc]
        actor = Actor(organization=org, via="cli")
        report = submit_entries(org, entries, actor=actor)
        if not report.applied:
            raise RuntimeError(f"demo listings of {cc} were refused: {report.as_dict()}")
        # The last domains of a contributor's own slice are listed by nobody else: removing them
        # leaves tombstones in the change log. Each removal is dated between its listing and today,
        # months apart, as decisions are lifted over time.
        removed = entries[LISTINGS_PER_CONTRIBUTOR - REMOVED_PER_CONTRIBUTOR:LISTINGS_PER_CONTRIBUTOR]
        for n, entry in enumerate(removed):
            age = (now - entry.listed_at).days
            removed_at = now - timedelta(days=age * (n + 1 + i % 3) // (REMOVED_PER_CONTRIBUTOR + 4))
            report = remove_listings(org, [entry.target], REMOVAL_REASON, actor=actor, removed_at=removed_at)
            if not report.applied:
                raise RuntimeError(f"demo removals of {cc} were refused: {report.as_dict()}")
