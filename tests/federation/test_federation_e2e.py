"""Federation between real installations, end to end (issue 16, point 6).

Real `sitealert serve` processes on loopback, each with its own database and SITE_URL, configured
with the `sitealert` commands an operator types (tests/federation/installations.py):

- `world`: a national installation (on PostgreSQL in the PostgreSQL pass) whose authority lists;
  a hub that subscribes to it through its API, has an authority of its own and publishes a signed
  mirror that Debian's nginx serves; an ad platform that subscribes to the hub's mirror.
- `ring`: three installations A, B, C that subscribe to one another through their APIs (A ⇄ B,
  A → B → C with C also subscribing to A), to show that nothing echoes, nothing is counted twice
  and the versions stop moving.

Each test uses its own targets and leaves the installations as it found them (servers running,
settings restored), so the tests hold in any order and on any xdist worker.
"""

import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

import pytest

from tests.distribution.mirror_harness import StaticNginx
from tests.federation.installations import Installation, serve_all, sign_in, submit_form

pytestmark = pytest.mark.slow

AGCOM = "Autorità per le Garanzie nelle Comunicazioni"
ARCOM = "Arcom"


@dataclass
class World:
    national: Installation
    hub: Installation
    platform: Installation
    mirror: StaticNginx
    tree: object
    agcom: str  # the national authority's slug
    arcom: str  # the hub's own authority's slug
    agcom_key: str  # its origin key everywhere else: "<national uid>:<slug>"
    arcom_key: str
    agcom_token: str  # a listings token of the national authority

    def propagate(self):
        """What the schedule does: the hub pulls the national list and publishes; the platform pulls the mirror."""
        self.hub.commands(["source", "pull", "national"], ["publish", self.tree])
        self.platform.pull("hub")

    def list_upstream(self, *targets):
        self.national.submit(self.agcom_token, *targets)

    def remove_upstream(self, *targets):
        self.national.remove(self.agcom_token, *targets)


def _close_one(thing):
    try:
        thing.close() if hasattr(thing, "close") else thing.stop()
    except Exception:  # noqa: BLE001 - the others must still be stopped
        pass


def _close(*things):
    """Stop them side by side: each server takes a few seconds to finish gracefully."""
    with ThreadPoolExecutor(max_workers=len(things)) as pool:
        list(pool.map(_close_one, [thing for thing in things if thing is not None]))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("federation-world")
    national = hub = platform = mirror = None
    try:
        national = Installation(base / "national", "SiteAlert Italia", postgresql=True)
        hub = Installation(base / "hub", "SiteAlert Hub")
        platform = Installation(base / "platform", "AdCo Platform")
        agcom, agcom_token = national.contributor(AGCOM, "IT", "alice")
        national.import_listings(agcom, [("films.example", "streaming-video")])
        arcom, _token = hub.contributor(ARCOM, "FR")
        hub.import_listings(arcom, [("hub-own.example", "cyberlocker")])
        tree = base / "hub-mirror"
        hub.commands(["source", "add", "national", "--api", national.url, "--token",
                      national.feed_token("SiteAlert Hub"), "--every", "60"],
                     ["keys", "init"], ["publish", tree])
        mirror = StaticNginx(base / "nginx", tree)
        platform.cli("source", "add", "hub", "--mirror", mirror.url,
                     "--root", hub.data_dir / "keys" / "root" / "1.root.json")
        serve_all(national, hub, platform)
        world = World(national, hub, platform, mirror, tree, agcom, arcom, f"{national.uid()}:{agcom}",
                      f"{hub.uid()}:{arcom}", agcom_token)
        world.propagate()
        yield world
    finally:
        _close(mirror, platform, hub, national)


@pytest.fixture(scope="module")
def ring(tmp_path_factory):
    base = tmp_path_factory.mktemp("federation-ring")
    installations = []
    try:
        authorities = (("A", "Agencia A", "ES"), ("B", "Behörde B", "DE"), ("C", "Autoridade C", "PT"))
        for name, _authority, _country in authorities:  # their command processes start side by side
            installations.append(Installation(base / name, f"SiteAlert {name}"))
        for installation, (name, authority, country) in zip(installations, authorities):
            slug, _token = installation.contributor(authority, country)
            installation.import_listings(slug, [(f"only-{name.lower()}.example", "streaming-video"),
                                                ("everyone.example", "streaming-video")])
            installation.key = f"{installation.uid()}:{slug}"
        serve_all(*installations)
        yield installations
    finally:
        _close(*installations)


def installation_name(value):
    """The installation a check match names: its name, whether the API gives an object or the name."""
    return value.get("name") if isinstance(value, dict) else value


def metric(text, name, source):
    match = re.search(rf'^{re.escape(name)}\{{source="{re.escape(source)}"\}} (\S+)$', text, re.M)
    assert match, f"no {name} for {source} in /metrics"
    return float(match.group(1))


def confirm_link(installation, email_address):
    [body] = [text for to, _subject, text in installation.mail() if email_address in to]
    [link] = re.findall(r"https?://\S+/review-requests/confirm/\S+/", body)
    return link


# --- National → hub (API) → platform (signed mirror) ----------------------------------------------

def test_a_national_listing_arrives_at_the_far_end_verified_and_attributed(world):
    national, hub, platform = world.national, world.hub, world.platform
    world.list_upstream("arrives.example")
    world.propagate()

    hub_state, platform_state = hub.source("national"), platform.source("hub")
    assert hub_state["last_error"] == "" and hub_state["version"] == national.feed_version()
    assert platform_state["last_error"] == "" and platform_state["version"] == hub.feed_version()
    assert world.agcom_key in platform_state["authorities"]  # attributed to the national authority, not the hub
    assert platform.listings_of(world.agcom_key)["arrives.example"] == "streaming-video"

    answer = platform.check("https://www.arrives.example/watch?v=1")
    assert answer["listed"], answer
    [match] = answer["matches"]
    assert (match["contributor"], match["country"], match["target"]) == (AGCOM, "IT", "arrives.example")
    assert installation_name(match["installation"]) == "SiteAlert Italia"
    assert match["procedure_url"].startswith(platform.url + "/")  # the local page, which links to its origin
    review = urlparse(match["review_url"])
    assert f"{review.scheme}://{review.netloc}{review.path}" == f"{national.url}/review-requests/new/"
    assert parse_qs(review.query)["target"] in (["arrives.example"], ["www.arrives.example"])

    # The site's operator follows the link: the request reaches the national authority's inbox.
    with national.browser() as requester:
        response = submit_form(requester, match["review_url"], {
            "target": "arrives.example", "name": "Sam Owner", "email": "owner@arrives.test",
            "relationship": "operator", "reasons": "We removed every infringing video in March.",
            "evidence": "https://arrives.test/notice", "homepage": ""})
        assert response.status_code == 302 and response.headers["location"] == "/review-requests/sent/"
        response = submit_form(requester, confirm_link(national, "owner@arrives.test"), {})
        assert response.status_code == 302 and "/review-requests/status/" in response.headers["location"]
    with national.browser() as alice:
        sign_in(alice, "alice")
        inbox = alice.get("/review-requests/inbox/")
        assert inbox.status_code == 200 and "arrives.example" in inbox.text
    assert not [mail for mail in platform.mail() + hub.mail() if "owner@arrives.test" in mail[0]]


def test_the_hubs_own_authority_reaches_the_platform_as_the_hubs(world):
    world.hub.import_listings(world.arcom, [("hub-later.example", "cyberlocker")])
    world.propagate()
    [match] = world.platform.check("hub-later.example")["matches"]
    assert (match["contributor"], match["country"]) == (ARCOM, "FR")
    assert installation_name(match["installation"]) == "SiteAlert Hub"
    assert match["review_url"].startswith(f"{world.hub.url}/review-requests/new/?target=")
    assert world.arcom_key in world.platform.source("hub")["authorities"]


def test_a_removal_upstream_is_removed_at_the_far_end(world):
    hub, platform = world.hub, world.platform
    world.list_upstream("removed-later.example")
    world.propagate()
    assert platform.check("removed-later.example")["listed"]

    world.remove_upstream("removed-later.example")
    world.propagate()
    assert not hub.check("removed-later.example")["listed"]
    assert not platform.check("removed-later.example")["listed"]
    assert "removed-later.example" not in platform.listings_of(world.agcom_key)
    assert platform.source("hub")["version"] == hub.feed_version()


def test_a_protected_target_on_the_hub_holds_the_federated_entry(world):
    hub, platform = world.hub, world.platform
    hub.django("from sitealert.cli.server_handlers import CLI_ACTOR\n"
               "from sitealert.listings.protection import add_protected_target\n"
               "add_protected_target('protected-here.example', 'Our own domain', actor=CLI_ACTOR)")
    world.list_upstream("shop.protected-here.example")
    world.propagate()

    held = hub.sql("SELECT l.status, l.held_for, o.origin FROM listings_listing l JOIN organizations_organization o "
                   "ON o.id = l.contributor_id WHERE l.target = %s", "shop.protected-here.example")
    assert held == [("held", "protected-here.example", world.agcom_key)]
    assert not hub.check("shop.protected-here.example")["listed"]
    assert not platform.check("shop.protected-here.example")["listed"]
    assert hub.source("national")["last_error"] == ""  # a hold is the operator's decision, not a failed pull


def test_after_the_hub_rotates_its_keys_the_platform_still_pulls(world):
    world.hub.commands(["keys", "rotate", "targets"], ["keys", "rotate", "root"])
    world.list_upstream("after-rotation.example")
    world.propagate()
    state = world.platform.source("hub")
    assert state["last_error"] == "" and state["version"] == world.hub.feed_version()
    assert world.platform.check("after-rotation.example")["listed"]


def test_during_an_upstream_outage_the_hub_keeps_its_list_records_the_error_and_lags(world):
    national, hub = world.national, world.hub
    world.list_upstream("before-outage.example")
    hub.pull("national")
    before = hub.source("national")
    national.stop()
    try:
        failed = hub.pull("national", check=False)
        assert failed.returncode == 1 and "national" in failed.stderr, failed
        during = hub.source("national")
        assert during["last_error"] and during["last_error_at"]
        assert (during["version"], during["last_success_at"]) == (before["version"], before["last_success_at"])
        assert hub.check("before-outage.example")["listed"]  # the last verified state is kept
        assert world.agcom_key in during["authorities"]
        first = metric(hub.metrics(), "sitealert_federation_lag_seconds", "national")
        time.sleep(1.5)
        second = metric(hub.metrics(), "sitealert_federation_lag_seconds", "national")
        assert second >= first + 1
    finally:
        national.start()
    hub.pull("national")
    after = hub.source("national")
    assert after["last_success_at"] > during["last_error_at"] and after["version"] == national.feed_version()


def test_history_pruned_upstream_means_a_full_resync(world):
    national, hub = world.national, world.hub
    world.list_upstream("before-prune.example")
    hub.pull("national")
    seen = hub.source("national")["version"]

    world.list_upstream("during-gap.example")
    world.remove_upstream("before-prune.example")
    national.django("from django.utils import timezone\n"
                    "from sitealert.listings.changelog import prune_history\n"
                    "prune_history(timezone.now())")
    token = national.feed_token(f"Prune check {seen}")
    gone = national.get("/api/v1/federation/listings", token, since=seen)
    assert gone.status_code == 410 and gone.json()["error"] == "resync_required", gone.text[:2000]

    hub.pull("national")
    state = hub.source("national")
    assert state["last_error"] == "" and state["version"] == national.feed_version()
    listed = hub.listings_of(world.agcom_key)
    assert "during-gap.example" in listed and "before-prune.example" not in listed
    assert hub.check("films.example")["listed"]  # what the gap did not touch is still there


def test_with_republish_off_the_hub_gives_its_subscribers_only_its_own(world):
    hub, platform = world.hub, world.platform
    world.list_upstream("not-republished.example")
    world.propagate()
    assert platform.check("not-republished.example")["listed"]

    # What the operator's change in the admin saves.
    hub.django("from sitealert.federation.models import Source\n"
               "Source.objects.filter(name='national').update(republish=False)")
    try:
        world.propagate()
        assert hub.check("not-republished.example")["listed"]  # the hub itself still carries it
        assert platform.listings_of(world.agcom_key) == {}
        assert not platform.check("not-republished.example")["listed"]
        assert platform.check("hub-own.example")["listed"]
        # The authority itself stays, read-only with its procedures (what a removed listing's
        # history links to); it lists nothing here any more.
        assert world.agcom_key in platform.source("hub")["authorities"]
    finally:
        hub.django("from sitealert.federation.models import Source\n"
                   "Source.objects.filter(name='national').update(republish=True)")
    world.propagate()
    assert platform.check("not-republished.example")["listed"]
    assert platform.source("hub")["last_error"] == ""


# --- A ring of installations ------------------------------------------------------------------------

def pull_everything(installations):
    for installation in installations:
        for name in installation.source_names():
            installation.pull(name)


def settled_versions(installations):
    """Pull everything until the versions stop moving (at most four rounds); returns them."""
    versions = None
    for _round in range(4):
        pull_everything(installations)
        now = [i.feed_version() for i in installations]
        if now == versions:
            return versions
        versions = now
    raise AssertionError(f"the versions keep moving: {versions}")


def subscribe(subscriber, upstream, name):
    subscriber.add_source(name, "--api", upstream.url, "--token", upstream.feed_token(f"{subscriber.name} ({name})"))


def test_a_mutual_subscription_echoes_nothing_and_settles(ring):
    a, b, c = ring
    subscribe(b, a, "a")
    subscribe(a, b, "b")
    versions = settled_versions([a, b])
    assert settled_versions([a, b]) == versions  # no ping-pong: another round changes nothing

    assert list(a.origins()) == [b.key]  # never its own back
    assert list(b.origins()) == [a.key]
    assert [m["contributor"] for m in a.check("only-a.example")["matches"]] == ["Agencia A"]
    assert sorted(m["contributor"] for m in a.check("everyone.example")["matches"]) == ["Agencia A", "Behörde B"]
    assert a.source("b")["last_error"] == "" and b.source("a")["last_error"] == ""


def test_a_chain_with_a_shortcut_brings_each_authority_once(ring):
    a, b, c = ring
    subscribe(b, a, "a")
    b.pull("a")
    subscribe(c, b, "b")  # first the chain A → B → C,
    c.pull("b")
    subscribe(c, a, "a")  # then the shortcut A → C
    versions = settled_versions([a, b, c])
    assert settled_versions([a, b, c]) == versions

    assert sorted(c.origins()) == sorted([a.key, b.key])
    assert a.key in c.source("b")["authorities"]  # the first source that brought it keeps it
    assert a.key not in c.source("a")["authorities"]
    assert c.source("a")["last_error"] == "" and c.source("b")["last_error"] == ""
    for target, expected in (("only-a.example", ["Agencia A"]),
                             ("everyone.example", ["Agencia A", "Autoridade C", "Behörde B"])):
        assert sorted(m["contributor"] for m in c.check(target)["matches"]) == expected
